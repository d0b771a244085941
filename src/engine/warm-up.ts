/**
 * Warm-up before a backtest's window (issue 5 item 4): the strategy steps on the bars before `from` that the
 * files hold, as if flat; nothing is appended and its decisions are dropped. A strategy consuming funding also
 * gets the settlements from 8 h before the warm-up's first bar, so the rate in force there is known.
 */
import { archiveMarketEvents } from "../adapters/market/archive.ts";
import type { ArchiveFile } from "../adapters/market/types.ts";
import { type BacktestRequest, windowOf } from "../config/schema.ts";
import { BAR_INTERVALS, type BarInterval } from "../domain/bars/intervals.ts";
import { getStrategy, strategyParams } from "../strategies/registry.ts";
import type { TradingEngine } from "./trading-engine.ts";

/**
 * How far before the warm-up's first bar its settlements are read: one 8 h funding interval (the longest), so
 * the settlement in force at the first bar is among them (strategies.md §0 as-of funding).
 */
export const WARM_UP_FUNDING_LOOKBACK_MS = 8 * 3_600_000;

/**
 * A warm-up window, ms: bars with from ≤ openTime < to, and, for a strategy consuming funding, settlements with
 * fundingFrom ≤ fundingTime < to (`fundingFrom` = from − `WARM_UP_FUNDING_LOOKBACK_MS`; absent otherwise).
 */
export interface WarmUpWindow {
  from: number;
  to: number;
  fundingFrom?: number;
}

/**
 * The market time before the window that warms the strategy up: `warmupBars` (default: the strategy's own
 * `warmupBars`) bars of its first interval before `from`, ms, with `fundingFrom` when the strategy declares
 * `inputs(params).funding`; undefined for no warm-up.
 */
export function warmUpWindow(config: BacktestRequest): WarmUpWindow | undefined {
  const { bars: strategyBars, interval, funding } = strategyWarmUp(config);
  const bars = config.warmupBars ?? strategyBars;
  if (bars === 0) return undefined;
  const to = windowOf(config).from;
  const from = to - bars * BAR_INTERVALS[interval];
  return funding ? { from, to, fundingFrom: from - WARM_UP_FUNDING_LOOKBACK_MS } : { from, to };
}

/**
 * What the configured strategy needs to be warm: `bars` of its first `interval` (its own `warmupBars`, whatever
 * `backtest.warmupBars` reads before the window), and whether it consumes funding.
 * @throws Error for an unknown strategy; ZodError for invalid parameters.
 */
export function strategyWarmUp(config: BacktestRequest): {
  bars: number;
  interval: BarInterval;
  funding: boolean;
} {
  const strategy = getStrategy(config.strategy);
  const params = strategyParams(strategy, config);
  const inputs = strategy.inputs(params);
  return {
    bars: strategy.warmupBars(params),
    interval: inputs.intervals[0] ?? "1m",
    funding: inputs.funding,
  };
}

/**
 * Feeds `files`' market inputs of `window` (from `warmUpWindow`) to the engine's strategies in market order: the
 * bars and gaps inside [from, to), and with `fundingFrom` the settlements inside [fundingFrom, to).
 * @throws MarketDataError (file:line) for a malformed file.
 */
export async function warmUp(
  engine: TradingEngine,
  files: readonly ArchiveFile[],
  window: WarmUpWindow,
): Promise<void> {
  const { fundingFrom } = window;
  // Settlements before the first bar: the lookback's events, of which only the settlements are inputs.
  if (fundingFrom !== undefined && fundingFrom < window.from)
    for await (const e of archiveMarketEvents(files, { from: fundingFrom, to: window.from }))
      if (e.kind === "funding") engine.warmUp({ kind: "funding", funding: e.funding }, e.time);
  for await (const e of archiveMarketEvents(files, { from: window.from, to: window.to })) {
    if (e.kind === "bar") engine.warmUp({ kind: "bar", bar: e.bar }, e.time);
    else if (e.kind === "gap") engine.warmUp({ kind: "gap", gap: e.gap }, e.time);
    else if (fundingFrom !== undefined) engine.warmUp({ kind: "funding", funding: e.funding }, e.time);
  }
}
