/**
 * A backtest's symbols (issue 8 item 4): listed ones as they are; `"ALL"` resolved, once and before the run
 * writes anything, from the run's instruments snapshot and the data root's 1m kline folders and bars
 * (src/adapters/market/universe.ts) by `resolveUniverse` (src/domain/universe.ts). The run records the list it
 * trades (RunStarted's config and symbols), so a replay, a resume and `serve` see exactly those symbols.
 */
import { universeBars } from "../adapters/market/universe.ts";
import { ALL_SYMBOLS, type BacktestConfig, type BacktestRequest, windowOf } from "../config/schema.ts";
import { BAR_INTERVALS } from "../domain/bars/intervals.ts";
import type { InstrumentCatalog } from "../domain/instruments.catalog.ts";
import { describeSkipReason, resolveUniverse } from "../domain/universe.ts";
import { strategyWarmUp, warmUpWindow } from "./warm-up.ts";

/** The data root holds no usable market data for the requested symbols and window. */
export class MissingMarketDataError extends Error {
  override name = "MissingMarketDataError";
}

/** A backtest's configuration with its symbols listed, and the symbols `"ALL"` skipped. */
export interface BacktestSymbols {
  config: BacktestConfig;
  /** Symbol → why `"ALL"` does not trade it (sorted; empty for listed symbols). */
  skipped: Record<string, string>;
}

/**
 * `request` with its symbols listed: as given, or for `"ALL"` the universe of `catalog` and the data under
 * `dataRoot` (sorted; N = their number).
 * @throws MissingMarketDataError naming the window, the data root and the snapshot when `"ALL"` finds no symbol
 *   to trade; MarketDataError (file:line) for a malformed kline row read on the way.
 */
export async function backtestSymbols(
  request: BacktestRequest,
  dataRoot: string,
  catalog: InstrumentCatalog,
): Promise<BacktestSymbols> {
  if (request.symbols !== ALL_SYMBOLS)
    return { config: { ...request, symbols: request.symbols }, skipped: {} };
  const window = windowOf(request);
  const warmUp = strategyWarmUp(request);
  const bars = await universeBars(dataRoot, {
    warmUpFrom: warmUpWindow(request)?.from ?? window.from,
    ...window,
    intervalMs: BAR_INTERVALS[warmUp.interval],
    enough: warmUp.bars,
  });
  const universe = resolveUniverse({
    instruments: catalog.symbols().map((symbol) => catalog.get(symbol)),
    bars,
    warmUpBars: warmUp.bars,
  });
  const context = {
    snapshot: `${catalog.snapshotDate}, ${catalog.source}`,
    window: `${request.from}..${request.to}`,
    interval: warmUp.interval,
  };
  const skipped = Object.fromEntries(
    universe.skipped.map(({ symbol, reason }) => [symbol, describeSkipReason(reason, context)]),
  );
  if (universe.symbols.length === 0) {
    const reported = Object.entries(skipped).map(([symbol, reason]) => `${symbol}: ${reason}`);
    const why =
      bars.size === 0
        ? "no symbol has a folder in futures/um/monthly/klines or futures/um/ohlcv/klines"
        : reported.length > 0
          ? reported.join("; ")
          : `the symbols with kline folders, ${[...bars.keys()].join(", ")}, hold no bar in the window`;
    throw new MissingMarketDataError(
      `--symbols ${ALL_SYMBOLS}: no TRADING USDT perpetual of the instruments snapshot (${context.snapshot}) ` +
        `has 1m kline bars in ${context.window} under ${dataRoot} (${why})`,
    );
  }
  return { config: { ...request, symbols: [...universe.symbols] }, skipped };
}
