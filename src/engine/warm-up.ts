/**
 * Warm-up before a backtest's window (issue 5 item 4): the strategy steps on the bars before `from` that the
 * files hold, as if flat; nothing is appended and its decisions are dropped.
 */
import { archiveMarketEvents } from "../adapters/market/archive.ts";
import type { ArchiveFile } from "../adapters/market/types.ts";
import { type BacktestRequest, windowOf } from "../config/schema.ts";
import { BAR_INTERVALS, type BarInterval } from "../domain/bars/intervals.ts";
import { getStrategy, strategyParams } from "../strategies/registry.ts";
import type { TradingEngine } from "./trading-engine.ts";

/**
 * The market time before the window that warms the strategy up: `warmupBars` (default: the strategy's own
 * `warmupBars`) bars of its first interval before `from`, ms; undefined for no warm-up.
 */
export function warmUpWindow(config: BacktestRequest): { from: number; to: number } | undefined {
  const { bars: strategyBars, interval } = strategyWarmUp(config);
  const bars = config.warmupBars ?? strategyBars;
  if (bars === 0) return undefined;
  const from = windowOf(config).from;
  return { from: from - bars * BAR_INTERVALS[interval], to: from };
}

/**
 * What the configured strategy needs to be warm: `bars` of its first `interval` (its own `warmupBars`, whatever
 * `backtest.warmupBars` reads before the window).
 * @throws Error for an unknown strategy; ZodError for invalid parameters.
 */
export function strategyWarmUp(config: BacktestRequest): { bars: number; interval: BarInterval } {
  const strategy = getStrategy(config.strategy);
  const params = strategyParams(strategy, config);
  return { bars: strategy.warmupBars(params), interval: strategy.inputs(params).intervals[0] ?? "1m" };
}

/** Feeds the bars and gaps of `files` inside `window` (from `warmUpWindow`) to the engine's strategies. */
export async function warmUp(
  engine: TradingEngine,
  files: readonly ArchiveFile[],
  window: { from: number; to: number },
): Promise<void> {
  for await (const e of archiveMarketEvents(files, window)) {
    if (e.kind === "bar") engine.warmUp({ kind: "bar", bar: e.bar }, e.time);
    else if (e.kind === "gap") engine.warmUp({ kind: "gap", gap: e.gap }, e.time);
  }
}
