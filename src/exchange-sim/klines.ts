/**
 * REST klines (`klines`, `markPriceKlines`) of the published 1m bars, and of longer intervals aggregated from
 * them as Binance builds them: UTC-aligned
 * buckets (`floor(openTime / interval)`), O = first open, H = max high, L = min low, C = last close, volume the
 * exact sum, taker buy volume the exact sum when every minute of the bucket has one (else absent); only buckets closed at the exchange clock (closeTime = openTime + interval − 1 ≤ now). A bucket with
 * missing minutes is built from the minutes present (Binance has no holes to show).
 */
import { Decimal } from "decimal.js";
import { compareDecimals } from "../adapters/market/csv.ts";
import type { Bar } from "../adapters/market/types.ts";
import type { MarketHistory, PublishedBar, WindowQuery } from "./market-history.ts";

/** The fixed-length kline intervals the double serves, ms (binance-usdm.md §5.3; 3d, 1w and 1M are not served). */
export const KLINE_INTERVALS_MS: Readonly<Record<string, number>> = {
  "1m": 60_000,
  "3m": 3 * 60_000,
  "5m": 5 * 60_000,
  "15m": 15 * 60_000,
  "30m": 30 * 60_000,
  "1h": 3_600_000,
  "2h": 2 * 3_600_000,
  "4h": 4 * 3_600_000,
  "6h": 6 * 3_600_000,
  "8h": 8 * 3_600_000,
  "12h": 12 * 3_600_000,
  "1d": 86_400_000,
};

/** Which prices a kline carries: the trades' (`klines`) or the mark price's (`markPriceKlines`). */
export type KlineSource = "trade" | "mark";

/**
 * The 1m kline of a published minute in `source`'s prices. A mark kline is the minute's 1m mark-price kline, or,
 * without one, the bar's close as O, H, L and C (the one mark tick the stream published); its volume is "0".
 */
function minuteKline(published: PublishedBar, source: KlineSource): Bar {
  const { bar, mark } = published;
  if (source === "trade") return bar;
  const m = mark ?? { open: bar.close, high: bar.close, low: bar.close, close: bar.close };
  const { symbol, interval, openTime, closeTime } = bar;
  return {
    symbol,
    interval,
    openTime,
    closeTime,
    open: m.open,
    high: m.high,
    low: m.low,
    close: m.close,
    volume: "0",
  };
}

/**
 * The closed klines of `symbol` at `interval` (a key of KLINE_INTERVALS_MS) in `source`'s prices at exchange
 * time `now`, picked as Binance's klines endpoints pick them (openTime within [startTime, endTime]; the first
 * `limit` from startTime, else the last `limit`).
 */
export function klines(
  history: MarketHistory,
  symbol: string,
  interval: string,
  q: WindowQuery,
  now: number,
  source: KlineSource = "trade",
): Bar[] {
  const ms = KLINE_INTERVALS_MS[interval];
  if (ms === undefined) throw new RangeError(`unsupported kline interval ${interval}`);
  if (ms === 60_000) return history.bars(symbol, q).map((b) => minuteKline(b, source));
  // The 1m bars that can make up the answer: `limit` buckets from startTime, else up to endTime (or now).
  const span = (q.limit + 1) * ms;
  const from = q.startTime !== undefined ? q.startTime - (q.startTime % ms) : (q.endTime ?? now) - span;
  const to = q.startTime !== undefined ? from + span : (q.endTime ?? now);
  const minutes = history.bars(symbol, {
    startTime: Math.max(0, from),
    endTime: to + ms,
    limit: Number.MAX_SAFE_INTEGER,
  });
  const buckets = aggregate(
    minutes.map((b) => minuteKline(b, source)),
    interval,
    ms,
  ).filter((b) => b.closeTime <= now);
  const inRange = buckets.filter(
    (b) =>
      (q.startTime === undefined || b.openTime >= q.startTime) &&
      (q.endTime === undefined || b.openTime <= q.endTime),
  );
  return q.startTime !== undefined ? inRange.slice(0, q.limit) : inRange.slice(-q.limit);
}

/**
 * 1m bars (one symbol, in time order) aggregated into `ms`-long UTC buckets; a bucket's taker buy volume is the
 * sum of its minutes' when each has one, else absent.
 */
function aggregate(minutes: readonly Bar[], interval: string, ms: number): Bar[] {
  const out: Bar[] = [];
  let volume = new Decimal(0);
  let taker: Decimal | undefined;
  const close = (last: Bar | undefined) => {
    if (last === undefined) return;
    last.volume = volume.toFixed();
    if (taker === undefined) delete last.takerBuyVolume;
    else last.takerBuyVolume = taker.toFixed();
  };
  for (const m of minutes) {
    const openTime = m.openTime - (m.openTime % ms);
    const last = out.at(-1);
    if (last === undefined || last.openTime !== openTime) {
      close(last);
      volume = new Decimal(m.volume);
      taker = m.takerBuyVolume === undefined ? undefined : new Decimal(m.takerBuyVolume);
      out.push({ ...m, interval: interval as "1m", openTime, closeTime: openTime + ms - 1 });
      continue;
    }
    if (compareDecimals(m.high, last.high) > 0) last.high = m.high;
    if (compareDecimals(m.low, last.low) < 0) last.low = m.low;
    last.close = m.close;
    volume = volume.plus(m.volume);
    taker = taker === undefined || m.takerBuyVolume === undefined ? undefined : taker.plus(m.takerBuyVolume);
  }
  close(out.at(-1));
  return out;
}
