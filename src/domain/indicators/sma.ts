/**
 * Incremental simple moving average over integer units (strategies.md §0 "Rolling primitives", §2.3 "SMA").
 *
 * The state is immutable (a new object per update, sharing its window's buffer with the previous one: see
 * `RollingWindow`); `smaToJson` / `smaFromJson` give and take its JSON form. Inputs are integers (e.g. prices
 * in 10^-scale units from `toScaledUnits`), so the running sum is exact; comparisons between two averages are
 * exact integer cross-multiplications.
 */

/**
 * The last values appended (at most the `capacity` each append names), oldest first. Immutable: a view
 * [start, end) of an append-only buffer that a window and the windows appended from it share, so an append
 * copies nothing (amortised O(1) instead of O(capacity) per bar). An append to a window that is no longer the
 * buffer's latest (an older state stepped again) copies its values to a buffer of its own first, and the dead
 * prefix is dropped once it outgrows `COMPACT_AFTER` × capacity, so a window holds O(capacity) memory.
 * JSON: the values, oldest first (`toJSON`).
 */
export class RollingWindow {
  private constructor(
    private readonly buffer: number[],
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** A window holding `values` (copied), oldest first. */
  static of(values: readonly number[]): RollingWindow {
    return new RollingWindow(values.slice(), 0, values.length);
  }

  /** How many values it holds. */
  get length(): number {
    return this.end - this.start;
  }

  /** The `i`-th value, oldest first (0 ≤ i < length). */
  at(i: number): number {
    return this.buffer[this.start + i]!;
  }

  /** A window of this one's last `capacity − 1` values (all when fewer), then `value`. This one is unchanged. */
  append(value: number, capacity: number): RollingWindow {
    let buffer = this.buffer;
    let start = this.start;
    let end = this.end;
    if (buffer.length !== end || start > COMPACT_AFTER * capacity) {
      buffer = buffer.slice(Math.max(start, end - capacity + 1), end);
      start = 0;
      end = buffer.length;
    }
    buffer.push(value);
    end++;
    return new RollingWindow(buffer, Math.max(start, end - capacity), end);
  }

  /** The values, oldest first (a new array). */
  toArray(): number[] {
    return this.buffer.slice(this.start, this.end);
  }

  /** See `toArray`: a window's JSON is its values. */
  toJSON(): number[] {
    return this.toArray();
  }
}

/** See `RollingWindow`: its buffer is compacted once its dead prefix exceeds this many capacities. */
const COMPACT_AFTER = 3;

/** Rolling window of the last `period` inputs and their exact sum. */
export type SmaState = {
  readonly period: number;
  /** The last min(period, seen) inputs, oldest first. */
  readonly window: RollingWindow;
  /** Exact sum of `window`. */
  readonly sum: number;
};

/** `SmaState` as JSON (a checkpoint's form): the window as an array, oldest first. */
export type SmaStateJson = {
  readonly period: number;
  readonly window: readonly number[];
  readonly sum: number;
};

/** An empty SMA of `period` inputs. Throws unless `period` is a positive integer. */
export function initialSma(period: number): SmaState {
  if (!Number.isInteger(period) || period < 1)
    throw new Error(`SMA period must be a positive integer, got ${period}`);
  return { period, window: RollingWindow.of([]), sum: 0 };
}

/**
 * Adds one input (an integer) and drops the oldest when the window is full. O(1) amortised.
 * Throws when `value` is not a safe integer or the running sum leaves the exact integer range.
 */
export function stepSma(state: SmaState, value: number): SmaState {
  if (!Number.isSafeInteger(value)) throw new Error(`SMA input must be a safe integer, got ${value}`);
  const full = state.window.length === state.period;
  const sum = full ? state.sum - state.window.at(0) + value : state.sum + value;
  if (!Number.isSafeInteger(sum)) throw new Error(`SMA sum ${sum} exceeds the exact integer range`);
  return { period: state.period, window: state.window.append(value, state.period), sum };
}

/** The JSON form of `state` (plain data, field order as in `SmaState`). */
export function smaToJson(state: SmaState): SmaStateJson {
  return { period: state.period, window: state.window.toArray(), sum: state.sum };
}

/**
 * The state of `json` (from `smaToJson`, possibly through a JSON round trip).
 * Throws naming `name` and the field unless the period is a positive integer, the window holds at most `period`
 * safe integers and the sum is their exact sum.
 */
export function smaFromJson(json: unknown, name: string): SmaState {
  const o = json as Partial<SmaStateJson> | null;
  if (typeof o !== "object" || o === null) throw new Error(`${name}: expected { period, window, sum }`);
  const { period, window, sum } = o;
  if (!Number.isInteger(period) || period! < 1)
    throw new Error(`${name}.period: expected a positive integer`);
  if (!Array.isArray(window) || window.length > period! || !window.every((v) => Number.isSafeInteger(v)))
    throw new Error(`${name}.window: expected at most ${period} safe integers`);
  if (sum !== window.reduce((a: number, v: number) => a + v, 0))
    throw new Error(`${name}.sum: expected the sum of the window`);
  return { period: period!, window: RollingWindow.of(window), sum: sum as number };
}

/** True once the window holds `period` inputs (SMA_n is valid only when all n inputs are present). */
export function smaReady(state: SmaState): boolean {
  return state.window.length === state.period;
}

/** The mean of the window in input units (float64), or undefined before the window is full. */
export function smaValue(state: SmaState): number | undefined {
  return smaReady(state) ? state.sum / state.period : undefined;
}

/**
 * Exact sign of SMA_a − SMA_b: compares `sum_a · n_b` with `sum_b · n_a` (BigInt when the products leave the
 * safe integer range). Returns -1, 0 or 1. Throws when either average is not ready.
 */
export function compareSma(a: SmaState, b: SmaState): -1 | 0 | 1 {
  if (!smaReady(a) || !smaReady(b)) throw new Error("compareSma: both averages must have full windows");
  const left = a.sum * b.period;
  const right = b.sum * a.period;
  if (Number.isSafeInteger(left) && Number.isSafeInteger(right))
    return left > right ? 1 : left < right ? -1 : 0;
  const l = BigInt(a.sum) * BigInt(b.period);
  const r = BigInt(b.sum) * BigInt(a.period);
  return l > r ? 1 : l < r ? -1 : 0;
}
