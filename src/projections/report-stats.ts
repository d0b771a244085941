/**
 * The statistics of a backtest report: pure functions of the equity curve and of the trades (round trips,
 * trades.ts), no I/O. Every formula and convention is stated here; `perpsource report` shows exactly these.
 *
 * Conventions:
 * - **Equity** is the projections' curve: wallet balance + Σ unrealized PnL at mark, one sample per bar
 *   closeTime (1m). Money is USDT as exact decimal strings; ratios are JSON numbers (float64).
 * - **Returns** are simple: rₖ = Eₖ / Eₖ₋₁ − 1 over **daily closes**, the last 1m sample of each UTC day
 *   (a day without a sample has no close; the next return spans it), with E₀ = the account's initial balance
 *   (AccountOpened). n days with a sample give n returns. A return from an equity ≤ 0 is undefined: the
 *   statistics built on returns are then null.
 * - **Annualisation**: 365 periods a year (crypto trades every day); risk-free rate 0.
 * - **Undefined is null**, never NaN or ±Infinity (a flat curve, no trade, no loss, a single day, …).
 */
import { canonical, Dec } from "../domain/decimal.ts";
import type { EquityPoint } from "./equity-curve.ts";
import { formatUnits, MONEY_SCALE, toUnits } from "./fixed-point.ts";
import type { TradeView } from "./trades.ts";

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;
/** Periods (days) per year used to annualise. */
export const PERIODS_PER_YEAR = 365;
/** Milliseconds in a year of `PERIODS_PER_YEAR` days. */
export const YEAR_MS = PERIODS_PER_YEAR * DAY_MS;

/** `x` when it is a finite number, else null (JSON has no NaN or Infinity). */
export function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/**
 * Simple returns between consecutive equities: `equities[k] / equities[k − 1] − 1` for k ≥ 1, computed
 * exactly and converted to float64. Null when some base equity is ≤ 0 (a return from nothing is undefined).
 */
export function simpleReturns(equities: readonly string[]): number[] | null {
  const out: number[] = [];
  for (let k = 1; k < equities.length; k++) {
    const base = new Dec(equities[k - 1]!);
    if (base.lte(0)) return null;
    out.push(new Dec(equities[k]!).div(base).minus(1).toNumber());
  }
  return out;
}

/** Arithmetic mean; null for no values. */
export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample standard deviation (n − 1 in the denominator); null for fewer than 2 values. */
export function sampleStdDev(values: readonly number[]): number | null {
  const m = mean(values);
  if (m === null || values.length < 2) return null;
  let squares = 0;
  for (const v of values) squares += (v - m) ** 2;
  return Math.sqrt(squares / (values.length - 1));
}

/**
 * Annualised Sharpe ratio of periodic simple returns, risk-free 0:
 * `mean(r) / sd(r) × √periodsPerYear`, sd the sample standard deviation (n − 1).
 * Null for fewer than 2 returns or sd = 0 (a flat or constant-growth curve).
 */
export function sharpeRatio(returns: readonly number[], periodsPerYear = PERIODS_PER_YEAR): number | null {
  const m = mean(returns);
  const sd = sampleStdDev(returns);
  if (m === null || sd === null || sd === 0) return null;
  return finite((m / sd) * Math.sqrt(periodsPerYear));
}

/**
 * Downside deviation, target 0: `√(Σ min(rₖ, 0)² / n)` over all n returns (the periods without a loss count
 * as 0, as in Sortino & Price). Null for no returns.
 */
export function downsideDeviation(returns: readonly number[]): number | null {
  if (returns.length === 0) return null;
  let squares = 0;
  for (const r of returns) if (r < 0) squares += r * r;
  return Math.sqrt(squares / returns.length);
}

/**
 * Annualised Sortino ratio, target and risk-free 0: `mean(r) / downsideDeviation(r) × √periodsPerYear`.
 * Null for fewer than 2 returns or no losing period (downside deviation 0).
 */
export function sortinoRatio(returns: readonly number[], periodsPerYear = PERIODS_PER_YEAR): number | null {
  const m = mean(returns);
  const dd = downsideDeviation(returns);
  if (m === null || dd === null || dd === 0 || returns.length < 2) return null;
  return finite((m / dd) * Math.sqrt(periodsPerYear));
}

/**
 * Compound annual growth rate: `(end / start)^(YEAR_MS / periodMs) − 1`; −1 when end ≤ 0 (everything lost).
 * Null when start ≤ 0 or periodMs ≤ 0. Over a short window it extrapolates hard (+1 % in 6 days ≈ +83 %).
 */
export function cagr(start: string, end: string, periodMs: number): number | null {
  const s = new Dec(start);
  const e = new Dec(end);
  if (s.lte(0) || !(periodMs > 0)) return null;
  if (e.lte(0)) return -1;
  return finite(e.div(s).toNumber() ** (YEAR_MS / periodMs) - 1);
}

/** Calmar ratio: `cagr / maxDrawdownRatio`; null when either is null or the drawdown is 0. */
export function calmarRatio(cagrValue: number | null, maxDrawdownRatio: number | null): number | null {
  if (cagrValue === null || maxDrawdownRatio === null || maxDrawdownRatio === 0) return null;
  return finite(cagrValue / maxDrawdownRatio);
}

/** The maximum drawdown of a curve and how long it lasted. Times in ms since the epoch, durations in ms. */
export interface DrawdownStats {
  /** max over samples i < j of Eᵢ − Eⱼ, USDT (the projections' definition); "0" when the curve never falls. */
  maxDrawdown: string;
  /** maxDrawdown / the peak it falls from (0.1 = 10 %); 0 without a fall; null when that peak is ≤ 0. */
  maxDrawdownRatio: number | null;
  /** The last sample at the peak before the maximum drawdown's fall; null without a fall. */
  peakTime: number | null;
  /** The sample at its bottom (the earliest one on a tie in USDT); null without a fall. */
  troughTime: number | null;
  /** The first sample after the trough back at or above the peak; null when it never recovered. */
  recoveryTime: number | null;
  /** (recoveryTime, or the last sample's time when it never recovered) − peakTime; 0 without a fall. */
  durationMs: number;
  /**
   * The longest underwater spell of the curve: the longest time from the last sample at a running maximum to
   * the first sample back at or above it (or the last sample, when it never gets back); 0 when never below.
   */
  longestUnderwaterMs: number;
}

/**
 * Maximum drawdown of `curve` (time-ordered samples), exact (fixed point), with its peak, trough, recovery and
 * duration, and the curve's longest underwater spell.
 */
export function drawdownStats(curve: readonly EquityPoint[]): DrawdownStats {
  const none: DrawdownStats = {
    maxDrawdown: "0",
    maxDrawdownRatio: 0,
    peakTime: null,
    troughTime: null,
    recoveryTime: null,
    durationMs: 0,
    longestUnderwaterMs: 0,
  };
  if (curve.length === 0) return none;
  let peak = toUnits(curve[0]!.equity, MONEY_SCALE);
  let peakTime = curve[0]!.time;
  let underwater = false;
  let longest = 0;
  let best: { fall: bigint; peak: bigint; peakTime: number; trough: number } | null = null;
  for (let i = 1; i < curve.length; i++) {
    const { time } = curve[i]!;
    const equity = toUnits(curve[i]!.equity, MONEY_SCALE);
    if (equity >= peak) {
      if (underwater) longest = Math.max(longest, time - peakTime);
      underwater = false;
      peak = equity;
      peakTime = time;
    } else {
      underwater = true;
      if (best === null || peak - equity > best.fall)
        best = { fall: peak - equity, peak, peakTime, trough: i };
    }
  }
  const last = curve[curve.length - 1]!.time;
  if (underwater) longest = Math.max(longest, last - peakTime);
  if (best === null) return { ...none, longestUnderwaterMs: longest };
  let recoveryTime: number | null = null;
  for (let i = best.trough + 1; i < curve.length && recoveryTime === null; i++) {
    if (toUnits(curve[i]!.equity, MONEY_SCALE) >= best.peak) recoveryTime = curve[i]!.time;
  }
  const maxDrawdown = formatUnits(best.fall, MONEY_SCALE);
  return {
    maxDrawdown,
    maxDrawdownRatio:
      best.peak > 0n
        ? finite(new Dec(maxDrawdown).div(formatUnits(best.peak, MONEY_SCALE)).toNumber())
        : null,
    peakTime: best.peakTime,
    troughTime: curve[best.trough]!.time,
    recoveryTime,
    durationMs: (recoveryTime ?? last) - best.peakTime,
    longestUnderwaterMs: longest,
  };
}

/** The last sample of each UTC calendar month of a time-ordered curve, keyed `YYYY-MM`. */
export function monthlyCloses(curve: readonly EquityPoint[]): { month: string; close: EquityPoint }[] {
  const out: { month: string; close: EquityPoint }[] = [];
  for (const point of curve) {
    const month = new Date(point.time).toISOString().slice(0, 7);
    if (out.at(-1)?.month === month) out[out.length - 1]!.close = point;
    else out.push({ month, close: point });
  }
  return out;
}

/** One calendar month's return. */
export interface MonthlyReturn {
  /** UTC month, `YYYY-MM`. */
  month: string;
  /** Equity at the month's last sample, USDT. */
  equity: string;
  /** equity / (the previous month's close, or the initial balance for the first month) − 1; null when that base ≤ 0. */
  return: number | null;
}

/**
 * Monthly simple returns: each UTC month's last sample of `curve` over the previous month's (the first month
 * over `initialBalance`).
 */
export function monthlyReturns(initialBalance: string, curve: readonly EquityPoint[]): MonthlyReturn[] {
  let base = new Dec(initialBalance);
  return monthlyCloses(curve).map(({ month, close }) => {
    const equity = new Dec(close.equity);
    const r = base.lte(0) ? null : finite(equity.div(base).minus(1).toNumber());
    base = equity;
    return { month, equity: close.equity, return: r };
  });
}

/** What the closed trades add up to. Money in USDT decimal strings. */
export interface TradeStats {
  /** Closed trades (open ones are left out of every figure here). */
  trades: number;
  /** Closed trades with netPnl > 0, and with netPnl < 0 (a trade at exactly 0 is neither). */
  wins: number;
  losses: number;
  /** wins / trades; null without a closed trade. */
  winRate: number | null;
  /** Σ netPnl of the winners (≥ 0). */
  grossProfit: string;
  /** |Σ netPnl of the losers| (≥ 0). */
  grossLoss: string;
  /** grossProfit / grossLoss; null when grossLoss is 0 (no losing trade). */
  profitFactor: number | null;
  /** Σ netPnl / trades, the mean net result per closed trade (8 decimals, half-even); null without a trade. */
  expectancy: string | null;
  /** grossProfit / wins and −grossLoss / losses (8 decimals); null without a winner / loser. */
  averageWin: string | null;
  averageLoss: string | null;
  /** The best and the worst closed trade's netPnl; null without a trade. */
  largestWin: string | null;
  largestLoss: string | null;
  /** Mean time in the market of a closed trade (exitTime − entryTime), ms; null without a trade. */
  averageDurationMs: number | null;
}

/** Trade statistics over the closed trades of `trades` (net of fees, funding and clearance fees). */
export function tradeStats(trades: readonly TradeView[]): TradeStats {
  const closed = trades.filter((t) => !t.open);
  let wins = 0;
  let losses = 0;
  let profit = new Dec(0);
  let loss = new Dec(0);
  let best: Dec | null = null;
  let worst: Dec | null = null;
  let duration = 0;
  for (const t of closed) {
    const net = new Dec(t.netPnl);
    if (net.gt(0)) {
      wins++;
      profit = profit.plus(net);
    } else if (net.lt(0)) {
      losses++;
      loss = loss.minus(net);
    }
    if (best === null || net.gt(best)) best = net;
    if (worst === null || net.lt(worst)) worst = net;
    duration += t.exitTime! - t.entryTime;
  }
  const n = closed.length;
  const per = (sum: Dec, count: number) =>
    count === 0 ? null : canonical(sum.div(count).toDecimalPlaces(8));
  return {
    trades: n,
    wins,
    losses,
    winRate: n === 0 ? null : wins / n,
    grossProfit: canonical(profit),
    grossLoss: canonical(loss),
    profitFactor: loss.isZero() ? null : finite(profit.div(loss).toNumber()),
    expectancy: per(profit.minus(loss), n),
    averageWin: per(profit, wins),
    averageLoss: per(loss.neg(), losses),
    largestWin: best === null ? null : canonical(best),
    largestLoss: worst === null ? null : canonical(worst),
    averageDurationMs: n === 0 ? null : duration / n,
  };
}

/**
 * Exposure: the share of [start, end] (ms) covered by the union of the trades' time in the market,
 * [entryTime, exitTime] (an open trade: up to `end`), clipped to the window; a number in [0, 1]. Null when
 * end ≤ start.
 */
export function exposure(trades: readonly TradeView[], start: number, end: number): number | null {
  if (!(end > start)) return null;
  const spans = trades
    .map((t) => [Math.max(start, t.entryTime), Math.min(end, t.exitTime ?? end)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let reach = start;
  for (const [a, b] of spans) {
    if (b <= reach) continue;
    covered += b - Math.max(a, reach);
    reach = b;
  }
  return covered / (end - start);
}

/**
 * A cost as a share of the gross PnL: `cost / |grossPnl|` (fees: positive = fees paid; funding: pass it signed
 * as received, so negative = funding paid). Null when grossPnl is 0.
 */
export function shareOfGross(cost: string, grossPnl: string): number | null {
  const gross = new Dec(grossPnl).abs();
  return gross.isZero() ? null : finite(new Dec(cost).div(gross).toNumber());
}
