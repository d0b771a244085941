/**
 * Incremental simple moving average over integer units (strategies.md §0 "Rolling primitives", §2.3 "SMA").
 *
 * The state is plain immutable JSON data (a new object per update) so it can live in an actor's context and be
 * compared between snapshots. Inputs are integers (e.g. prices in 10^-scale units from `toScaledUnits`), so
 * the running sum is exact; comparisons between two averages are exact integer cross-multiplications.
 */

/** Rolling window of the last `period` inputs and their exact sum. */
export type SmaState = {
  readonly period: number;
  /** The last min(period, seen) inputs, oldest first. */
  readonly window: readonly number[];
  /** Exact sum of `window`. */
  readonly sum: number;
};

/** An empty SMA of `period` inputs. Throws unless `period` is a positive integer. */
export function initialSma(period: number): SmaState {
  if (!Number.isInteger(period) || period < 1)
    throw new Error(`SMA period must be a positive integer, got ${period}`);
  return { period, window: [], sum: 0 };
}

/**
 * Adds one input (an integer) and drops the oldest when the window is full. O(period) copy, O(1) arithmetic.
 * Throws when `value` is not a safe integer or the running sum leaves the exact integer range.
 */
export function stepSma(state: SmaState, value: number): SmaState {
  if (!Number.isSafeInteger(value)) throw new Error(`SMA input must be a safe integer, got ${value}`);
  const full = state.window.length === state.period;
  const sum = full ? state.sum - state.window[0]! + value : state.sum + value;
  if (!Number.isSafeInteger(sum)) throw new Error(`SMA sum ${sum} exceeds the exact integer range`);
  // Full: drop the oldest; else keep every input.
  const window = appendCapped(state.window, value, full ? state.period : state.window.length + 1);
  return { period: state.period, window, sum };
}

/**
 * A new array: the last `capacity − 1` values of `values` (all of them when fewer), then `value`. Copied at
 * its final size in one pass (a `slice` then `push` copies twice), as it runs on every bar.
 */
export function appendCapped(values: readonly number[], value: number, capacity: number): number[] {
  const from = Math.max(0, values.length - capacity + 1);
  const length = values.length - from + 1;
  const out = new Array<number>(length);
  for (let i = 0; i < length - 1; i++) out[i] = values[from + i]!;
  out[length - 1] = value;
  return out;
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
