/**
 * The backtest report of one run, read from its folded projections (no I/O, no accounting of its own): the
 * run, the account's PnL (pnl.ts), the statistics of report-stats.ts over the equity curve and the trades
 * (trades.ts), monthly returns, a per-symbol table, the trade list, and the equity and drawdown curves for
 * charts. `perpsource report` prints it (`--json`) and renders it (`--out`).
 */
import { canonical, Dec } from "../domain/decimal.ts";
import { keepExtremes } from "./equity-curve.ts";
import { MONEY_SCALE, toUnits } from "./fixed-point.ts";
import type { Projections, RunView, TradeView } from "./index.ts";
import {
  cagr,
  calmarRatio,
  DAY_MS,
  drawdownStats,
  exposure,
  finite,
  type MonthlyReturn,
  monthlyReturns,
  PERIODS_PER_YEAR,
  sampleStdDev,
  shareOfGross,
  sharpeRatio,
  simpleReturns,
  sortinoRatio,
  type TradeStats,
  tradeStats,
} from "./report-stats.ts";

/** Points of the charted curve at most (downsampled by `keepExtremes`: its extremes and max drawdown exact). */
export const REPORT_CURVE_POINTS = 2_000;

/** A run's report. Money in USDT decimal strings, ratios as numbers (null when undefined), times in ms. */
export interface RunReport {
  run: {
    runId: string;
    mode: RunView["mode"];
    strategy: string;
    symbols: string[];
    /** RunStarted's window, ms. */
    from: number;
    to: number;
    completed: boolean;
    /** `strategy SYMBOLS YYYY-MM-DD..YYYY-MM-DD`: the UTC days of from and of the window's last ms (to − 1). */
    label: string;
    /** The run's configuration as RunStarted recorded it. */
    config: Record<string, unknown>;
  };
  /** The PnL projection's figures at the end of the log. */
  account: {
    initialBalance: string;
    equity: string;
    walletBalance: string;
    realizedPnl: string;
    fees: string;
    funding: string;
    liquidationFees: string;
    netPnl: string;
    unrealizedPnl: string;
  };
  stats: RunStats;
  monthlyReturns: MonthlyReturn[];
  symbols: SymbolReport[];
  /** Every trade, in the order they opened; an open one with its unrealized PnL at the last mark. */
  trades: ReportTrade[];
  /** The equity curve and its drawdown from the running peak, downsampled to ≤ REPORT_CURVE_POINTS. */
  curve: { points: CurvePoint[]; totalPoints: number; downsampled: boolean };
}

/** The statistics of a run (report-stats.ts states every formula). */
export interface RunStats extends TradeStats {
  /** RunStarted.from and the last equity sample's time, ms; the period is endTime − startTime. */
  startTime: number;
  endTime: number;
  periodDays: number;
  /** equity / initialBalance − 1. */
  totalReturn: number | null;
  cagr: number | null;
  /** Sample standard deviation of the daily returns × √365. */
  volatility: number | null;
  sharpe: number | null;
  sortino: number | null;
  calmar: number | null;
  /** Daily returns the ratios were computed on. */
  dailyReturns: number;
  maxDrawdown: string;
  maxDrawdownRatio: number | null;
  maxDrawdownPeakTime: number | null;
  maxDrawdownTroughTime: number | null;
  maxDrawdownRecoveryTime: number | null;
  maxDrawdownDurationMs: number;
  longestUnderwaterMs: number;
  /** Trades still open at the end (not in the trade statistics). */
  openTrades: number;
  /** Share of the period with at least one position open. */
  exposure: number | null;
  /** Σ realized PnL before costs (the PnL projection's realizedPnl). */
  grossPnl: string;
  fees: string;
  funding: string;
  liquidationFees: string;
  /** fees / |grossPnl|, funding (signed as received) / |grossPnl|. */
  feesShareOfGross: number | null;
  fundingShareOfGross: number | null;
}

/** One symbol's line. Money in USDT. */
export interface SymbolReport {
  symbol: string;
  /** Closed and open trades. */
  trades: number;
  openTrades: number;
  wins: number;
  /** Wins / closed trades; null without a closed trade. */
  winRate: number | null;
  realizedPnl: string;
  fees: string;
  funding: string;
  liquidationFees: string;
  /** Σ the trades' netPnl (realized − fees + funding − liquidation fees). */
  netPnl: string;
  /** Σ unrealized PnL of its open positions at the last mark. */
  unrealizedPnl: string;
  /** Share of the period with a position in the symbol. */
  exposure: number | null;
}

/** A trade of the list: the projection's, with an open trade's unrealized PnL (null once closed). */
export type ReportTrade = TradeView & { unrealizedPnl: string | null };

/**
 * A charted sample: equity (USDT) and its drawdown from the running peak of the full curve (a ratio ≥ 0,
 * floored to 12 decimals; null when that peak is ≤ 0).
 */
export interface CurvePoint {
  time: number;
  equity: string;
  drawdown: number | null;
}

/**
 * The report of the one run folded into `projections`.
 * @throws Error when the projections hold no run (no RunStarted) or no AccountOpened.
 */
export function runReport(projections: Projections): RunReport {
  const run = projections.latestRun();
  if (run === null) throw new Error("the log holds no run (no RunStarted)");
  const pnl = projections.pnl();
  if (pnl.initialBalance === null) throw new Error(`run ${run.runId} has no AccountOpened`);
  const full = projections.equityCurve();
  const daily = projections.equityCurve({ intervalMs: DAY_MS });
  const trades = projections.trades();
  const startTime = run.from;
  const endTime = full.at(-1)?.time ?? startTime;
  const periodMs = endTime - startTime;
  const returns = simpleReturns([pnl.initialBalance, ...daily.map((p) => p.equity)]);
  const drawdown = drawdownStats(full);
  const cagrValue = full.length === 0 ? null : cagr(pnl.initialBalance, pnl.equity, periodMs);
  const sd = returns && sampleStdDev(returns);
  const initial = new Dec(pnl.initialBalance);
  const stats: RunStats = {
    startTime,
    endTime,
    periodDays: periodMs / DAY_MS,
    totalReturn: initial.lte(0) ? null : finite(new Dec(pnl.equity).div(initial).minus(1).toNumber()),
    cagr: cagrValue,
    volatility: sd === null ? null : finite(sd * Math.sqrt(PERIODS_PER_YEAR)),
    sharpe: returns && sharpeRatio(returns),
    sortino: returns && sortinoRatio(returns),
    calmar: calmarRatio(cagrValue, drawdown.maxDrawdownRatio),
    dailyReturns: returns?.length ?? 0,
    maxDrawdown: drawdown.maxDrawdown,
    maxDrawdownRatio: drawdown.maxDrawdownRatio,
    maxDrawdownPeakTime: drawdown.peakTime,
    maxDrawdownTroughTime: drawdown.troughTime,
    maxDrawdownRecoveryTime: drawdown.recoveryTime,
    maxDrawdownDurationMs: drawdown.durationMs,
    longestUnderwaterMs: drawdown.longestUnderwaterMs,
    ...tradeStats(trades),
    openTrades: trades.filter((t) => t.open).length,
    exposure: exposure(trades, startTime, endTime),
    grossPnl: pnl.realizedPnl,
    fees: pnl.fees,
    funding: pnl.funding,
    liquidationFees: pnl.liquidationFees,
    feesShareOfGross: shareOfGross(pnl.fees, pnl.realizedPnl),
    fundingShareOfGross: shareOfGross(pnl.funding, pnl.realizedPnl),
  };
  const positions = projections.positions();
  const unrealizedOf = (t: TradeView) =>
    positions.find((p) => p.symbol === t.symbol && p.positionSide === t.positionSide)?.unrealizedPnl ?? "0";
  return {
    run: {
      runId: run.runId,
      mode: run.mode,
      strategy: run.strategy,
      symbols: run.symbols,
      from: run.from,
      to: run.to,
      completed: run.completed,
      label: `${run.strategy} ${run.symbols.join(",")} ${day(run.from)}..${day(Math.max(run.from, run.to - 1))}`,
      config: run.config,
    },
    account: {
      initialBalance: pnl.initialBalance,
      equity: pnl.equity,
      walletBalance: pnl.walletBalance,
      realizedPnl: pnl.realizedPnl,
      fees: pnl.fees,
      funding: pnl.funding,
      liquidationFees: pnl.liquidationFees,
      netPnl: pnl.netPnl,
      unrealizedPnl: pnl.unrealizedPnl,
    },
    stats,
    monthlyReturns: monthlyReturns(pnl.initialBalance, daily),
    symbols: symbolReports(run.symbols, trades, positions, startTime, endTime),
    trades: trades.map((t) => ({ ...t, unrealizedPnl: t.open ? unrealizedOf(t) : null })),
    curve: chartCurve(full),
  };
}

/** UTC day `YYYY-MM-DD` of a time in ms. */
function day(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

function symbolReports(
  runSymbols: readonly string[],
  trades: readonly TradeView[],
  positions: ReturnType<Projections["positions"]>,
  start: number,
  end: number,
): SymbolReport[] {
  const symbols = [...new Set([...runSymbols, ...trades.map((t) => t.symbol)])];
  return symbols.map((symbol) => {
    const own = trades.filter((t) => t.symbol === symbol);
    const closed = own.filter((t) => !t.open);
    const sum = (pick: (t: TradeView) => string) =>
      canonical(own.reduce((acc, t) => acc.plus(pick(t)), new Dec(0)));
    const wins = closed.filter((t) => new Dec(t.netPnl).gt(0)).length;
    const unrealized = positions
      .filter((p) => p.symbol === symbol)
      .reduce((acc, p) => acc.plus(p.unrealizedPnl), new Dec(0));
    return {
      symbol,
      trades: own.length,
      openTrades: own.length - closed.length,
      wins,
      winRate: closed.length === 0 ? null : wins / closed.length,
      realizedPnl: sum((t) => t.realizedPnl),
      fees: sum((t) => t.fees),
      funding: sum((t) => t.funding),
      liquidationFees: sum((t) => t.liquidationFee),
      netPnl: sum((t) => t.netPnl),
      unrealizedPnl: canonical(unrealized),
      exposure: exposure(own, start, end),
    };
  });
}

/** The curve downsampled for charts, each point with its drawdown from the full curve's running peak. */
function chartCurve(full: readonly { time: number; equity: string }[]): RunReport["curve"] {
  const units = full.map((p) => toUnits(p.equity, MONEY_SCALE));
  const kept = keepExtremes(units.length, (i) => units[i]!, REPORT_CURVE_POINTS);
  const peaks: bigint[] = [];
  let peak: bigint | null = null;
  for (const u of units) {
    peak = peak === null || u > peak ? u : peak;
    peaks.push(peak);
  }
  const points = kept.map((i) => {
    const p = peaks[i]!;
    const drawdown = p > 0n ? finite(Number(((p - units[i]!) * 10n ** 12n) / p) / 1e12) : null;
    return { time: full[i]!.time, equity: full[i]!.equity, drawdown };
  });
  return { points, totalPoints: full.length, downsampled: points.length < full.length };
}

/** The conventions every report states (report-stats.ts has the formulas). */
export const REPORT_CONVENTIONS =
  "Returns are simple, over daily closes (the last 1m equity sample of each UTC day; the first over the initial " +
  "balance); annualised over 365 days; risk-free rate 0. Sharpe = mean / sample sd × √365; Sortino = mean / " +
  "√(Σ min(r, 0)² / n) × √365; CAGR = (final / initial equity)^(365 days / period) − 1; Calmar = CAGR / max " +
  "drawdown. Max drawdown is the largest fall of the 1m equity curve from a running peak (USDT, and as a share " +
  "of that peak); its duration runs from the peak to the recovery (or the end). A trade is a position from flat " +
  "to flat (a flip closes one and opens the next); trade figures are net of fees, funding and liquidation fees, " +
  "over closed trades. Exposure is the share of the period with a position open. Undefined values are null (—).";

/** The document `perpsource report --json` prints and its HTML embeds: one report per store, in --store order. */
export interface ReportDocument {
  conventions: string;
  runs: (RunReport & {
    store: string;
    /** The configuration settings in which this run differs from another of the document (see configDifferences). */
    differences: Record<string, string>;
  })[];
}

/**
 * What tells runs apart: for each config, the leaves (dotted keys, e.g. `smaCross.leverage`; arrays are leaves)
 * whose value is not the same in every config, as JSON text (a key a config lacks is `absent`). One config, or
 * identical ones, give `{}` each.
 */
export function configDifferences(configs: readonly Record<string, unknown>[]): Record<string, string>[] {
  const flat = configs.map((c) => flatten(c));
  const keys = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();
  const differing = keys.filter((k) => new Set(flat.map((f) => f.get(k) ?? "absent")).size > 1);
  return flat.map((f) => Object.fromEntries(differing.map((k) => [k, f.get(k) ?? "absent"])));
}

function flatten(value: unknown, prefix = "", into = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === "" ? k : `${prefix}.${k}`, into);
  } else if (prefix !== "") into.set(prefix, JSON.stringify(value));
  return into;
}
