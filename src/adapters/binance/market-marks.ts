/**
 * 1m mark-price klines aggregated from `<s>@markPrice@1s` messages (binance-usdm.md §5.3): the marks of a minute
 * (by their event time `E`) give its open (the mark with the lowest E), high, low and close (the highest E), the
 * decimal strings exactly as received. Only a minute watched whole has a mark kline: its first mark in its first
 * second, its last in its last second (Binance's @1s stream: E at +0.0xx s … +59.0xx s of every minute, 60 marks,
 * in the shared ws capture), all on one connection. A minute joined late, cut by a reconnect, or with a single
 * mark (exchange-sim without 1m mark data sends only the close at +59 s) has none: a partial one would put wrong
 * highs and lows in the log, where the archive feed has no mark at all.
 */
import { compareDecimals } from "../market/csv.ts";
import type { MarkPriceKline } from "../market/types.ts";
import { MINUTE_MS } from "./market-wire.ts";

const FIRST_SECOND = 1_000;

interface Bucket {
  kline: MarkPriceKline;
  openE: number;
  closeE: number;
  /** The connection epoch of its marks. */
  epoch: number;
  /** False once it held marks of two epochs. */
  oneConnection: boolean;
}

/** Per-symbol minute buckets of marks; see the module comment. */
export class MinuteMarks {
  private epoch = 0;
  private readonly buckets = new Map<string, Map<number, Bucket>>();

  /** The connection dropped or was replaced: later marks start a new epoch (see the module comment). */
  disconnected(): void {
    this.epoch++;
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
    if (bucket === undefined) {
      buckets.set(minute, {
        kline: { openTime: minute, open: price, high: price, low: price, close: price },
        openE: eventTime,
        closeE: eventTime,
        epoch: this.epoch,
        oneConnection: true,
      });
      return;
    }
    if (bucket.epoch !== this.epoch) bucket.oneConnection = false;
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
    if (bucket === undefined || !bucket.oneConnection) return undefined;
    const whole =
      bucket.openE - openTime < FIRST_SECOND && bucket.closeE - openTime >= MINUTE_MS - FIRST_SECOND;
    return whole ? { ...bucket.kline } : undefined;
  }
}
