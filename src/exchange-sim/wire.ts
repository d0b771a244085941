/**
 * Binance USDⓈ-M wire formats of the market data the double serves (binance-usdm.md §5.3; the REST klines,
 * fundingRate and premiumIndex responses). Prices are the archive's decimal strings, unchanged; times are ms
 * epoch numbers. The bars carry OHLCV and, from the official 12-column kline files, the taker buy base volume;
 * the quote volume, trade count and taker buy quote volume are not carried ("0" / 0) and the first/last trade
 * ids are -1. The taker buy volume is never made up: a bar without it (an OHLCV file, bars built from trades
 * without the column) has a REST row cut after the trade count (9 columns: no taker buy base, taker buy quote,
 * ignore) and a kline message without `V` and `Q`, which a client reads as "not known" (never as 0). Binance
 * itself always sends them.
 */
import { compareDecimals } from "../adapters/market/csv.ts";
import type { Bar, FundingSettlement, MarkPriceKline } from "../adapters/market/types.ts";
import type { UpcomingFunding } from "./market-history.ts";

/**
 * A REST kline: the 12 columns of `GET /fapi/v1/klines` (open time, O, H, L, C, volume, close time, quote volume,
 * trades, taker buy base, taker buy quote, ignore), or its first 9 when the bar has no taker buy volume.
 */
export type KlineRow =
  | [number, string, string, string, string, string, number, string, number]
  | [number, string, string, string, string, string, number, string, number, string, string, string];

/**
 * `bar` as a row of `GET /fapi/v1/klines`: 12 columns with its taker buy volume (column 9) when it has one, else
 * cut after the trade count (see the module comment).
 */
export function klineRow(bar: Bar): KlineRow {
  const { openTime, open, high, low, close, volume, closeTime, takerBuyVolume } = bar;
  return takerBuyVolume === undefined
    ? [openTime, open, high, low, close, volume, closeTime, "0", 0]
    : [openTime, open, high, low, close, volume, closeTime, "0", 0, takerBuyVolume, "0", "0"];
}

/**
 * A mark-price kline as a row of `GET /fapi/v1/markPriceKlines`: open time, O, H, L, C, then Binance's ignored
 * columns ("0", the close time, "0", 0, "0", "0", "0"): always 12 columns.
 */
export function markKlineRow(bar: Bar): KlineRow {
  const { openTime, open, high, low, close, closeTime } = bar;
  return [openTime, open, high, low, close, "0", closeTime, "0", 0, "0", "0", "0"];
}

/**
 * The `<symbol>@kline_1m` message of `bar` at event time `eventTime`; `closed` is its `k.x`. `V` (taker buy base
 * volume) and `Q` (taker buy quote volume, not carried: "0") only when the bar has a taker buy volume.
 */
export function klineMessage(bar: Bar, closed: boolean, eventTime: number): Record<string, unknown> {
  const taker = bar.takerBuyVolume === undefined ? {} : { V: bar.takerBuyVolume, Q: "0" };
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
      ...taker,
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
