/**
 * The equity curve: equity (wallet balance + Σ unrealizedPnl at mark, in 10^-MONEY_SCALE USDT units) sampled
 * once per distinct bar closeTime, and its maximum drawdown, kept incrementally (O(1) per sample).
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

/** Sampling intervals of `EquityCurve.points`, in ms. */
export const curveIntervals = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  "1h": 3_600_000,
  "4h": 14_400_000,
  "1d": 86_400_000,
} as const;
/** A sampling interval name (`1m` … `1d`). */
export type CurveInterval = keyof typeof curveIntervals;

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
  private readonly times: number[] = [];
  private readonly values: bigint[] = [];
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
    this.times.push(time);
    this.values.push(equity);
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
    const { intervalMs, from = 0, to = Number.POSITIVE_INFINITY } = query;
    const out: EquityPoint[] = [];
    const n = this.times.length;
    for (let i = 0; i < n; i++) {
      const time = this.times[i]!;
      if (time < from) continue;
      if (time > to) break;
      const next = this.times[i + 1];
      const lastOfBucket =
        next === undefined || next > to || Math.floor(next / intervalMs) !== Math.floor(time / intervalMs);
      if (lastOfBucket) out.push({ time, equity: formatUnits(this.values[i]!, MONEY_SCALE) });
    }
    return out;
  }
}
