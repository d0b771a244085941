/**
 * Binance USDⓈ-M wire formats of the market data the double serves (binance-usdm.md §5.3; the REST klines,
 * fundingRate and premiumIndex responses). Prices are the archive's decimal strings, unchanged; times are ms
 * epoch numbers. The archive's bars carry OHLCV only, so the quote volume, trade count and taker-buy columns
 * are "0" / 0 and the first/last trade ids -1.
 */
import { compareDecimals } from "../adapters/market/csv.ts";
import type { Bar, FundingSettlement, MarkPriceKline } from "../adapters/market/types.ts";
import type { UpcomingFunding } from "./market-history.ts";

/** A REST kline: the 12 columns of `GET /fapi/v1/klines`. */
export type KlineRow = [
  number,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  number,
  string,
  string,
  string,
];

/** `bar` as a row of `GET /fapi/v1/klines`: open time, O, H, L, C, volume, close time, quote volume, trades, taker-buy base, taker-buy quote, ignore. */
export function klineRow(bar: Bar): KlineRow {
  return [
    bar.openTime,
    bar.open,
    bar.high,
    bar.low,
    bar.close,
    bar.volume,
    bar.closeTime,
    "0",
    0,
    "0",
    "0",
    "0",
  ];
}

/** The `<symbol>@kline_1m` message of `bar` at event time `eventTime`; `closed` is its `k.x`. */
export function klineMessage(bar: Bar, closed: boolean, eventTime: number): Record<string, unknown> {
  return {
    e: "kline",
    E: eventTime,
    s: bar.symbol,
    k: {
      t: bar.openTime,
      T: bar.closeTime,
      s: bar.symbol,
      i: "1m",
      f: -1,
      L: -1,
      o: bar.open,
      c: bar.close,
      h: bar.high,
      l: bar.low,
      v: bar.volume,
      n: 0,
      x: closed,
      q: "0",
      V: "0",
      Q: "0",
      B: "0",
    },
  };
}

/** One mark price of a minute's path: ms epoch and price. */
export interface MarkTick {
  time: number;
  price: string;
}

/**
 * The mark prices the markPrice streams publish for one minute. With the minute's 1m mark kline: its open, its
 * extremes (low then high on a rising kline, high then low on a falling one) and its close, at +0 s, +20 s,
 * +40 s and +59 s of the minute, so the first, highest, lowest and last of them are the kline's O, H, L, C.
 * Without one: the bar's close at +59 s.
 */
export function markTicks(bar: Bar, mark?: MarkPriceKline): MarkTick[] {
  const t = bar.openTime;
  if (mark === undefined) return [{ time: t + 59_000, price: bar.close }];
  const rising = compareDecimals(mark.close, mark.open) >= 0;
  const [first, second] = rising ? [mark.low, mark.high] : [mark.high, mark.low];
  return [
    { time: t, price: mark.open },
    { time: t + 20_000, price: first },
    { time: t + 40_000, price: second },
    { time: t + 59_000, price: mark.close },
  ];
}

/**
 * The `<symbol>@markPrice[@1s]` message (`markPriceUpdate`) of one mark tick: `p` the mark, `i` and `P` the
 * same price (the archive has no index price), `r` and `T` the announced funding rate and time.
 */
export function markPriceMessage(
  symbol: string,
  tick: MarkTick,
  funding: UpcomingFunding,
): Record<string, unknown> {
  return {
    e: "markPriceUpdate",
    E: tick.time,
    s: symbol,
    p: tick.price,
    P: tick.price,
    i: tick.price,
    r: rateText(funding.rate),
    T: funding.time,
  };
}

/** An item of `GET /fapi/v1/fundingRate`. */
export function fundingRateItem(f: FundingSettlement): Record<string, unknown> {
  return {
    symbol: f.symbol,
    fundingRate: rateText(f.fundingRate),
    fundingTime: f.fundingTime,
    markPrice: f.markPrice,
  };
}

/**
 * A funding rate as Binance writes it: at least 8 decimals ("0.0000037" → "0.00000370"); the value is
 * unchanged (zeros are only appended, more decimals are kept).
 */
export function rateText(rate: string): string {
  const [whole, fraction = ""] = rate.split(".");
  return `${whole}.${fraction.padEnd(8, "0")}`;
}

/**
 * `GET /fapi/v1/premiumIndex` of one symbol at exchange time `now`: the mark price (also index and estimated
 * settle price, see `markPriceMessage`), the announced funding rate and time.
 */
export function premiumIndexItem(
  symbol: string,
  markPrice: string,
  funding: UpcomingFunding,
  now: number,
): Record<string, unknown> {
  return {
    symbol,
    markPrice,
    indexPrice: markPrice,
    estimatedSettlePrice: markPrice,
    lastFundingRate: rateText(funding.rate),
    interestRate: "0.00010000",
    nextFundingTime: funding.time,
    time: now,
  };
}
