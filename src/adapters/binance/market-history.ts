/**
 * The warm-up history of a live run (src/engine/live-run.ts `LiveRunDeps.history`) over REST, as the archive feed
 * gives it: closed 1m bars of a past window (`GET /fapi/v1/klines`, paged by 1 000; each bar with its taker buy
 * volume when the row has one), the gaps between them, and for a strategy consuming funding the realized
 * settlements from `fundingFrom` (`GET /fapi/v1/fundingRate`, paged by 1 000).
 */
import { USDMClient } from "binance";
import type { Logger } from "pino";
import type { WarmUpWindow } from "../../engine/warm-up.ts";
import { ceilMinute } from "../market/coverage.ts";
import { klineGap } from "../market/merge.ts";
import type { Bar, FundingSettlement, MarketEvent } from "../market/types.ts";
import { compareMarketEvents } from "./market-order.ts";
import { type MarketRest, usdmMarketRest } from "./market-rest.ts";
import { type FundingRateRow, MINUTE_MS } from "./market-wire.ts";

/** Where the history comes from: the exchange of the live feed (same defaults as `openLiveMarketFeed`). */
export interface LiveMarketHistoryOptions {
  symbols: readonly string[];
  restUrl?: string;
  testnet?: boolean;
  /** Told how the history was fetched (requests, weight) and of every settlement it had to leave out. */
  logger?: Logger;
}

/**
 * How far before `fundingFrom` the settlements are asked, so the first one's interval comes from the one before
 * it (intervals are at most 8 h).
 */
const INTERVAL_LOOKBACK_MS = 9 * 3_600_000;
const HOUR_MS = 3_600_000;

/**
 * The history of `window` for every symbol, in the archive merge's order (merge.ts rules):
 * - bars with window.from ≤ openTime < window.to, and the gaps between them (every minute of the window without a
 *   bar is in exactly one gap, reported right before the bar after it, or at the first minute ≥ window.to for a
 *   hole at the end);
 * - with `window.fundingFrom`: the settlements with fundingFrom ≤ fundingTime < window.to, each with its interval
 *   from the settlement before it (8 h for the first one of a symbol) and the row's mark price, or, when the row
 *   has none (""), the close of the latest bar closing before it (`lastClose`, the archive's rule); a settlement
 *   with neither is left out and logged as a warning.
 * Only closed minutes: window.to is first cut to the exchange's clock (`GET /fapi/v1/time`) floored to the minute,
 * so the minutes after that are neither bars nor gaps here (a live feed opened `from` there delivers them).
 * Rejects with the REST client's error or a `BinanceWireError`.
 */
export function liveMarketHistory(
  options: LiveMarketHistoryOptions,
): (window: WarmUpWindow) => AsyncIterable<MarketEvent> {
  const client = new USDMClient({ baseUrl: options.restUrl, testnet: options.testnet });
  const { logger } = options;
  const rest = usdmMarketRest(client, {
    onWait: (usedWeight, waitMs) =>
      logger?.info({ usedWeight, waitMs }, "warm-up history: waiting for the next minute's request weight"),
  });
  const symbols = [...new Set(options.symbols)].sort();
  return (window) => historyEvents(rest, symbols, window, logger);
}

async function* historyEvents(
  rest: MarketRest,
  symbols: readonly string[],
  window: WarmUpWindow,
  logger: Logger | undefined,
): AsyncGenerator<MarketEvent> {
  const events: MarketEvent[] = [];
  const serverTime = await rest.serverTime();
  const to = Math.min(window.to, serverTime - (serverTime % MINUTE_MS));
  const end = ceilMinute(to);
  let bars = 0;
  let settlements = 0;
  for (const symbol of symbols) {
    let previous = ceilMinute(window.from) - MINUTE_MS;
    const minutes = previous + MINUTE_MS < end; // the window holds a closed minute
    const symbolBars = minutes ? await rest.klines(symbol, window.from, to) : [];
    for (const bar of symbolBars) {
      const gap = klineGap(symbol, previous, bar.openTime);
      if (gap !== undefined) events.push({ kind: "gap", time: gap.toOpenTime, gap });
      events.push({ kind: "bar", time: bar.closeTime, bar });
      previous = bar.openTime;
    }
    const gap = minutes ? klineGap(symbol, previous, end) : undefined;
    if (gap !== undefined) events.push({ kind: "gap", time: gap.toOpenTime, gap });
    bars += symbolBars.length;
    if (window.fundingFrom !== undefined && window.fundingFrom < to) {
      const rows = await rest.fundingRates(symbol, window.fundingFrom - INTERVAL_LOOKBACK_MS, to - 1);
      for (const funding of settlementsOf(symbol, rows, window.fundingFrom, symbolBars, logger)) {
        events.push({ kind: "funding", time: funding.fundingTime, funding });
        settlements++;
      }
    }
  }
  logger?.info(
    { symbols: symbols.length, from: window.from, to, fundingFrom: window.fundingFrom, bars, settlements },
    "warm-up history fetched",
  );
  yield* events.sort(compareMarketEvents);
}

/** The settlements of `rows` (in order) at or after `from`, as `historyEvents` says. */
function settlementsOf(
  symbol: string,
  rows: readonly FundingRateRow[],
  from: number,
  bars: readonly Bar[],
  logger: Logger | undefined,
): FundingSettlement[] {
  const out: FundingSettlement[] = [];
  let barIndex = -1; // the latest bar closing before the settlement
  for (const [i, row] of rows.entries()) {
    if (row.fundingTime < from) continue;
    const previous = rows[i - 1];
    const intervalMs = previous === undefined ? 8 * HOUR_MS : row.fundingTime - previous.fundingTime;
    while (barIndex + 1 < bars.length && bars[barIndex + 1]!.closeTime < row.fundingTime) barIndex++;
    const lastClose = barIndex >= 0 ? bars[barIndex]!.close : undefined;
    if (row.markPrice === "" && lastClose === undefined) {
      logger?.warn(
        { symbol, fundingTime: row.fundingTime },
        "warm-up history: a settlement without mark price before the first bar; left out",
      );
      continue;
    }
    out.push({
      symbol,
      fundingTime: row.fundingTime,
      fundingRate: row.fundingRate,
      fundingIntervalHours: Math.max(1, Math.round(intervalMs / HOUR_MS)),
      markPrice: row.markPrice !== "" ? row.markPrice : lastClose!,
      markPriceSource: row.markPrice !== "" ? "markPriceKline" : "lastClose",
    });
  }
  return out;
}
