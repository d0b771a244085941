/**
 * Closed 1m bars of a past window over REST (`GET /fapi/v1/klines`, paged by 1 000), as the archive feed gives
 * them: the warm-up history of a live run (src/engine/live-run.ts `LiveRunDeps.history`).
 */
import { USDMClient } from "binance";
import { ceilMinute } from "../market/coverage.ts";
import { klineGap } from "../market/merge.ts";
import type { MarketEvent, MarketWindow } from "../market/types.ts";
import { compareMarketEvents } from "./market-order.ts";
import { type MarketRest, usdmMarketRest } from "./market-rest.ts";
import { MINUTE_MS } from "./market-wire.ts";

/** Where the history comes from: the exchange of the live feed (same defaults as `openLiveMarketFeed`). */
export interface LiveMarketHistoryOptions {
  symbols: readonly string[];
  restUrl?: string;
  testnet?: boolean;
}

/**
 * The bars of every symbol with window.from ≤ openTime < window.to, and the gaps between them, in the archive
 * merge's order (merge.ts rules: every minute of the window without a bar is in exactly one gap, reported right
 * before the bar after it, or at the first minute ≥ window.to for a hole at the end). No funding settlements.
 * Only closed minutes: window.to is first cut to the exchange's clock (`GET /fapi/v1/time`) floored to the minute,
 * so the minutes after that are neither bars nor gaps here (a live feed opened `from` there delivers them).
 * Rejects with the REST client's error or a `BinanceWireError`.
 */
export function liveMarketHistory(
  options: LiveMarketHistoryOptions,
): (window: MarketWindow) => AsyncIterable<MarketEvent> {
  const rest = usdmMarketRest(new USDMClient({ baseUrl: options.restUrl, testnet: options.testnet }));
  const symbols = [...new Set(options.symbols)].sort();
  return (window) => historyEvents(rest, symbols, window);
}

async function* historyEvents(
  rest: MarketRest,
  symbols: readonly string[],
  window: MarketWindow,
): AsyncGenerator<MarketEvent> {
  const events: MarketEvent[] = [];
  const serverTime = await rest.serverTime();
  const to = Math.min(window.to, serverTime - (serverTime % MINUTE_MS));
  const end = ceilMinute(to);
  for (const symbol of symbols) {
    let previous = ceilMinute(window.from) - MINUTE_MS;
    if (previous + MINUTE_MS >= end) continue;
    for (const bar of await rest.klines(symbol, window.from, to)) {
      const gap = klineGap(symbol, previous, bar.openTime);
      if (gap !== undefined) events.push({ kind: "gap", time: gap.toOpenTime, gap });
      events.push({ kind: "bar", time: bar.closeTime, bar });
      previous = bar.openTime;
    }
    const gap = klineGap(symbol, previous, end);
    if (gap !== undefined) events.push({ kind: "gap", time: gap.toOpenTime, gap });
  }
  yield* events.sort(compareMarketEvents);
}
