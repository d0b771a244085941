/**
 * 1m mark-price klines aggregated from `<s>@markPrice@1s` messages (binance-usdm.md §5.3): the marks of a minute
 * (by their event time `E`) give its open (the mark with the lowest E), high, low and close (the highest E), the
 * decimal strings exactly as received. Only a minute the connection watched from its start is complete: a minute
 * whose first mark came after a (re)connection and later than its first second, or that holds marks of two
 * connections (a drop in between), has no mark kline: a partial one would put wrong highs and lows in the log.
 */
import { compareDecimals } from "../market/csv.ts";
import type { MarkPriceKline } from "../market/types.ts";
import { MINUTE_MS } from "./market-wire.ts";

interface Bucket {
  kline: MarkPriceKline;
  openE: number;
  closeE: number;
  /** The connection epoch of its marks; undefined once it held marks of two epochs. */
  epoch: number | undefined;
  complete: boolean;
}

/** Per-symbol minute buckets of marks; see the module comment. */
export class MinuteMarks {
  private epoch = 0;
  private readonly buckets = new Map<string, Map<number, Bucket>>();
  /** Symbols that received a mark on the current connection. */
  private readonly seen = new Set<string>();

  /** The connection dropped or was replaced: later marks start a new epoch (see the module comment). */
  disconnected(): void {
    this.epoch++;
    this.seen.clear();
  }

  /** Adds one mark of `symbol` at event time `eventTime` (ms epoch), price `price` (decimal string). */
  add(symbol: string, eventTime: number, price: string): void {
    const minute = eventTime - (eventTime % MINUTE_MS);
    let buckets = this.buckets.get(symbol);
    if (buckets === undefined) {
      buckets = new Map();
      this.buckets.set(symbol, buckets);
    }
    const bucket = buckets.get(minute);
    const firstOfConnection = !this.seen.has(symbol);
    this.seen.add(symbol);
    if (bucket === undefined) {
      buckets.set(minute, {
        kline: { openTime: minute, open: price, high: price, low: price, close: price },
        openE: eventTime,
        closeE: eventTime,
        epoch: this.epoch,
        complete: !firstOfConnection || eventTime - minute < 1_000,
      });
      return;
    }
    if (bucket.epoch !== this.epoch) bucket.complete = false;
    const k = bucket.kline;
    if (eventTime < bucket.openE) {
      bucket.openE = eventTime;
      k.open = price;
    }
    if (eventTime >= bucket.closeE) {
      bucket.closeE = eventTime;
      k.close = price;
    }
    if (compareDecimals(price, k.high) > 0) k.high = price;
    if (compareDecimals(price, k.low) < 0) k.low = price;
  }

  /**
   * The complete mark kline of `symbol`'s minute `openTime` (ms epoch), or undefined; forgets that minute and
   * every earlier one of the symbol.
   */
  take(symbol: string, openTime: number): MarkPriceKline | undefined {
    const buckets = this.buckets.get(symbol);
    if (buckets === undefined) return undefined;
    const bucket = buckets.get(openTime);
    for (const minute of buckets.keys()) if (minute <= openTime) buckets.delete(minute);
    return bucket?.complete ? { ...bucket.kline } : undefined;
  }
}
