/**
 * The equity curve: equity (wallet balance + Σ unrealizedPnl at mark, in 10^-MONEY_SCALE USDT units) sampled
 * once per distinct bar closeTime, and its maximum drawdown, kept incrementally (O(1) per sample). Read back
 * per interval bucket and downsampled to a bounded number of points, exact at the extremes (`keepExtremes`).
 */
import { Dec } from "../domain/decimal.ts";
import { quotient } from "./amounts.ts";
import { formatUnits, MONEY_SCALE } from "./fixed-point.ts";

/** One sample: equity in USDT right after the bars closing at `time` (ms since epoch, a bar closeTime). */
export interface EquityPoint {
  time: number;
  equity: string;
}

/** Largest peak-to-trough fall of the curve. */
export interface Drawdown {
  /** max over samples i < j of equity_i − equity_j, USDT; "0" for a curve that never falls. */
  maxDrawdown: string;
  /**
   * maxDrawdown / the peak it falls from (a ratio: 0.1 = 10 %), rounded half-even to 8 decimals; "0" when
   * there is no drawdown, null when that peak is ≤ 0. On a tie in USDT the earliest trough wins.
   */
  maxDrawdownRatio: string | null;
}

/** Which samples `EquityCurve.points` returns. */
export interface CurveQuery {
  /** Bucket width in ms (UTC-aligned, `floor(time / intervalMs)`); the last sample of each bucket is kept. */
  intervalMs: number;
  /** Inclusive bounds on the sample time, ms. */
  from?: number;
  to?: number;
}

interface DrawdownState {
  peak: bigint | null;
  maxDrawdown: bigint;
  peakOfMax: bigint | null;
}

function fold(state: DrawdownState, equity: bigint): void {
  if (state.peak === null || equity > state.peak) {
    state.peak = equity;
    return;
  }
  const fall = state.peak - equity;
  if (fall > state.maxDrawdown) {
    state.maxDrawdown = fall;
    state.peakOfMax = state.peak;
  }
}

/** The equity curve of an account and its running maximum drawdown. */
export class EquityCurve {
  /**
   * @param keepSamples false: keep only the last sample (the running drawdown stays exact): for a writer that
   *   needs the drawdown and the last equity, not the curve (its `points` then hold that sample alone).
   */
  constructor(private readonly keepSamples = true) {}

  private readonly times: number[] = [];
  private readonly values: bigint[] = [];
  /** values[i] formatted, filled on demand for samples that can no longer change (all but the last). */
  private readonly formatted: (string | undefined)[] = [];
  /** Drawdown over every sample except the last, which a bar of another symbol may still overwrite. */
  private readonly settled: DrawdownState = { peak: null, maxDrawdown: 0n, peakOfMax: null };

  /**
   * Records `equity` (10^-MONEY_SCALE USDT units) at `time`. A time not after the last sample's (another
   * symbol's bar with the same closeTime) replaces the last sample's equity.
   */
  sample(time: number, equity: bigint): void {
    const n = this.times.length;
    if (n > 0 && this.times[n - 1]! >= time) {
      this.values[n - 1] = equity;
      return;
    }
    if (n > 0) fold(this.settled, this.values[n - 1]!);
    if (n > 0 && !this.keepSamples) {
      this.times[0] = time;
      this.values[0] = equity;
      this.formatted.length = 0;
      return;
    }
    this.times.push(time);
    this.values.push(equity);
  }

  /** The equity of the last sample (10^-MONEY_SCALE USDT units), undefined before any. */
  lastEquity(): bigint | undefined {
    return this.values[this.values.length - 1];
  }

  /** Maximum drawdown over every sample so far. */
  drawdown(): Drawdown {
    const state = { ...this.settled };
    const last = this.values[this.values.length - 1];
    if (last !== undefined) fold(state, last);
    const maxDrawdown = formatUnits(state.maxDrawdown, MONEY_SCALE);
    const peak = state.peakOfMax;
    if (peak === null) return { maxDrawdown, maxDrawdownRatio: "0" };
    const ratio = peak > 0n ? quotient(new Dec(maxDrawdown), new Dec(formatUnits(peak, MONEY_SCALE))) : null;
    return { maxDrawdown, maxDrawdownRatio: ratio };
  }

  /** The samples within [from, to], downsampled to the last sample of each `intervalMs` bucket. */
  points(query: CurveQuery): EquityPoint[] {
    return this.view(query, Number.POSITIVE_INFINITY).points;
  }

  /**
   * The curve of `points(query)` with at most `maxPoints` points (≥ MIN_CURVE_POINTS): when it has more, it
   * is downsampled by `keepExtremes`, so its maximum, minimum and maximum drawdown are exactly those of
   * `points(query)`. O(samples in [from, to]); only the kept points are formatted.
   * @throws RangeError when maxPoints < MIN_CURVE_POINTS.
   */
  view(query: CurveQuery, maxPoints: number): CurveView {
    const steps = this.viewSteps(query, maxPoints);
    for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
  }

  /**
   * `view` as a generator that yields after every `chunk` samples scanned or points formatted, so a caller
   * can let other work run in between (nothing else is done at a yield); it returns the view. It reads the
   * curve as it was when started: samples added meanwhile are not in it, and the last sample's equity is the
   * one it had then.
   * @throws RangeError when maxPoints < MIN_CURVE_POINTS (on the first `next()`).
   */
  *viewSteps(query: CurveQuery, maxPoints: number, chunk = 2_048): Generator<void, CurveView, void> {
    if (!(maxPoints >= MIN_CURVE_POINTS)) {
      throw new RangeError(`maxPoints must be ≥ ${MIN_CURVE_POINTS}, got ${maxPoints}`);
    }
    const { intervalMs, from = 0, to = Number.POSITIVE_INFINITY } = query;
    const n = this.times.length;
    const lastValue = this.values[n - 1]!;
    const equityAt = (i: number) => (i === n - 1 ? lastValue : this.values[i]!);
    const format = (i: number): string => {
      if (i === n - 1) return formatUnits(lastValue, MONEY_SCALE);
      const memo = this.formatted[i] ?? formatUnits(this.values[i]!, MONEY_SCALE);
      this.formatted[i] = memo;
      return memo;
    };
    let i = lowerBound(this.times, from);
    // indices of the bucket-last samples, in a typed array (off the JS heap when large: no GC copying)
    const sampled = new Uint32Array(Math.max(0, n - i));
    let count = 0;
    let bucket = Math.floor(this.times[i]! / intervalMs);
    for (; i < n; i++) {
      const time = this.times[i]!;
      if (time > to) break;
      const next = i + 1 < n ? this.times[i + 1]! : Number.POSITIVE_INFINITY;
      const nextBucket = Math.floor(next / intervalMs);
      if (next > to || nextBucket !== bucket) sampled[count++] = i;
      bucket = nextBucket;
      if (i % chunk === chunk - 1) yield;
    }
    const kept = keepExtremes(count, (k) => equityAt(sampled[k]!), maxPoints);
    const points: EquityPoint[] = [];
    for (let k = 0; k < kept.length; k++) {
      const index = sampled[kept[k]!]!;
      points.push({ time: this.times[index]!, equity: format(index) });
      if (k % chunk === chunk - 1) yield;
    }
    return { points, totalPoints: count, downsampled: kept.length < count };
  }
}

/** The points a downsampled curve keeps, and how many the curve had. */
export interface CurveView {
  /** Kept samples, in time order. */
  points: EquityPoint[];
  /** Samples of the curve before downsampling. */
  totalPoints: number;
  /** Whether points were dropped (totalPoints > maxPoints). */
  downsampled: boolean;
}

/** Smallest `maxPoints` of `keepExtremes`: first, last, drawdown peak and trough, and one bucket's two extremes. */
export const MIN_CURVE_POINTS = 6;

/**
 * Indices (ascending) of the values a downsampled curve of `count` values (`valueAt(0)` … `valueAt(count − 1)`)
 * keeps: all of them when there are ≤ maxPoints; else
 * the first and the last, the peak and the trough of the maximum drawdown (the first such pair), and, with the
 * values cut into ⌊(maxPoints − 4) / 2⌋ buckets of consecutive indices, each bucket's highest and lowest value
 * (first on ties). At most maxPoints indices.
 *
 * Exact at the extremes: the global maximum and minimum are some bucket's extremes, so they are kept; the
 * kept values are a subsequence, so their maximum drawdown (max over i < j of v_i − v_j) is at most the full
 * curve's, and it is at least it because the full curve's own peak and trough are kept in order. Keeping only
 * bucket extremes would not suffice: a fall from 10 to 4 inside a bucket [1, 10, 4, 12] is lost.
 * @throws RangeError when maxPoints < MIN_CURVE_POINTS.
 */
export function keepExtremes(count: number, valueAt: (index: number) => bigint, maxPoints: number): number[] {
  if (!(maxPoints >= MIN_CURVE_POINTS)) {
    throw new RangeError(`maxPoints must be ≥ ${MIN_CURVE_POINTS}, got ${maxPoints}`);
  }
  const n = count;
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => i);
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  const buckets = Math.floor((maxPoints - 4) / 2);
  // maximum drawdown: `below` = peak − largest fall so far, so only a deeper trough costs a subtraction
  let peak = 0;
  let peakValue = valueAt(0);
  let below = peakValue;
  let drawdownPeak = 0;
  let drawdownTrough = 0;
  let bucket = 0;
  let bucketEnd = Math.floor(n / buckets);
  let high = 0;
  let highValue = peakValue;
  let low = 0;
  let lowValue = peakValue;
  for (let i = 0; i < n; i++) {
    const v = valueAt(i);
    if (v > peakValue) {
      below = v - (peakValue - below);
      peak = i;
      peakValue = v;
    } else if (v < below) {
      below = v;
      drawdownPeak = peak;
      drawdownTrough = i;
    }
    if (i === bucketEnd) {
      keep[high] = 1;
      keep[low] = 1;
      bucket++;
      bucketEnd = Math.floor(((bucket + 1) * n) / buckets);
      high = low = i;
      highValue = lowValue = v;
    } else if (v > highValue) {
      high = i;
      highValue = v;
    } else if (v < lowValue) {
      low = i;
      lowValue = v;
    }
  }
  keep[high] = 1;
  keep[low] = 1;
  keep[drawdownPeak] = 1;
  keep[drawdownTrough] = 1;
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) kept.push(i);
  return kept;
}

/** First index of the ascending `times` whose time is ≥ `time` (binary search). */
function lowerBound(times: readonly number[], time: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
