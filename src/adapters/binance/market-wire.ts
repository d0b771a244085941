/**
 * The USDⓈ-M market wire formats the live market source reads (binance-usdm.md §5.3 payloads, §7.1 REST), parsed
 * and checked: `<s>@kline_1m` and `<s>@markPrice@1s` stream messages, `GET /fapi/v1/klines` rows and
 * `GET /fapi/v1/fundingRate` rows. A kline's taker buy base volume (`k.V`, REST column 9) becomes the bar's
 * `takerBuyVolume` when the message has it: Binance always sends it, the local double only when its data have it,
 * and a bar without it has none (never "0"). Prices and rates stay the decimal strings exactly as received; times are ms
 * epoch numbers. A message that breaks its format throws `BinanceWireError` naming the message type and field.
 */
import { z } from "zod";
import { compareDecimals } from "../market/csv.ts";
import type { Bar } from "../market/types.ts";

/** One minute in ms: the only kline interval the live source reads. */
export const MINUTE_MS = 60_000;

/** A malformed exchange message: `type` names it (e.g. `kline`, `GET /fapi/v1/klines`), the message the field. */
export class BinanceWireError extends Error {
  override readonly name = "BinanceWireError";

  constructor(
    readonly type: string,
    reason: string,
  ) {
    super(`malformed ${type}: ${reason}`);
  }
}

const price = z.string().regex(/^\d+(\.\d+)?$/, "a non-negative decimal string");
const rate = z.string().regex(/^-?\d+(\.\d+)?$/, "a decimal string");
const time = z.number().int().nonnegative();
const symbol = z.string().regex(/^[A-Z0-9]+$/, "an upper-case symbol");

const klineSchema = z.object({
  e: z.literal("kline"),
  E: time,
  s: symbol,
  k: z.object({
    t: time,
    T: time,
    s: symbol,
    i: z.literal("1m"),
    o: price,
    c: price,
    h: price,
    l: price,
    v: price,
    /** Taker buy base asset volume: Binance always sends it; the local double only when its data have it. */
    V: price.optional(),
    x: z.boolean(),
  }),
});

const markPriceSchema = z.object({
  e: z.literal("markPriceUpdate"),
  E: time,
  s: symbol,
  p: price,
  r: z.union([rate, z.literal("")]),
  T: time,
});

const restKlineSchema = z.tuple([time, price, price, price, price, price, time], z.unknown());
/** Index of the taker buy base asset volume in a `GET /fapi/v1/klines` row. */
const REST_TAKER_BUY_VOLUME = 9;

const restFundingSchema = z.object({
  symbol,
  fundingTime: time,
  fundingRate: rate,
  markPrice: z.union([price, z.literal("")]),
});

/** A `<s>@kline_1m` message: the kline as a `Bar`, and whether it is closed (`k.x`). */
export interface KlineMessage {
  kind: "kline";
  symbol: string;
  /** `E`: event time, ms epoch. */
  eventTime: number;
  closed: boolean;
  bar: Bar;
}

/** A `<s>@markPrice@1s` message (`markPriceUpdate`). */
export interface MarkPriceMessage {
  kind: "markPrice";
  symbol: string;
  /** `E`: event time, ms epoch; the mark belongs to the minute holding it. */
  eventTime: number;
  /** `p`, quote asset. */
  markPrice: string;
  /** `r`: the current funding-rate estimate for the settlement at `T` ("" on delivery contracts). */
  fundingRate: string;
  /** `T`: next funding time, ms epoch. */
  nextFundingTime: number;
}

/** A realized settlement as `GET /fapi/v1/fundingRate` returns it. */
export interface FundingRateRow {
  symbol: string;
  fundingTime: number;
  fundingRate: string;
  /** "" when Binance has none (old settlements). */
  markPrice: string;
}

/**
 * The market message of a stream payload (the SDK's `message` event: the combined stream's `data`), or undefined
 * for any other event type (which the live source ignores).
 * @throws BinanceWireError for a kline or markPriceUpdate message missing or mistyping a field, or a kline whose
 * times are not those of a 1m bar (t on a minute, T = t + 59 999).
 */
export function parseMarketMessage(message: unknown): KlineMessage | MarkPriceMessage | undefined {
  const type = (message as { e?: unknown } | null)?.e;
  if (type === "kline") {
    const m = checkWire(klineSchema, message, "kline message");
    const k = m.k;
    checkMinute(k.t, k.T, "kline message");
    if (k.s !== m.s) throw new BinanceWireError("kline message", `k.s ${k.s} differs from s ${m.s}`);
    const bar: Bar = {
      symbol: m.s,
      interval: "1m",
      openTime: k.t,
      closeTime: k.T,
      open: k.o,
      high: k.h,
      low: k.l,
      close: k.c,
      volume: k.v,
    };
    if (k.V !== undefined) bar.takerBuyVolume = takerBuyVolume(k.V, k.v, "kline message", "k.V");
    return { kind: "kline", symbol: m.s, eventTime: m.E, closed: k.x, bar };
  }
  if (type === "markPriceUpdate") {
    const m = checkWire(markPriceSchema, message, "markPriceUpdate message");
    return {
      kind: "markPrice",
      symbol: m.s,
      eventTime: m.E,
      markPrice: m.p,
      fundingRate: m.r,
      nextFundingTime: m.T,
    };
  }
  return undefined;
}

/**
 * One `GET /fapi/v1/klines` row (`[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades,
 * takerBuyVolume, …]`) as a 1m `Bar` of `symbol`, with `takerBuyVolume` (column 9) when the row has that column
 * (Binance's always do; the local double's only when its data have it): a row without it gives a bar without
 * it, never "0". @throws BinanceWireError naming the row's index for a malformed row (column 9 included: a
 * decimal string ≤ the volume).
 */
export function barFromRestKline(symbolName: string, row: unknown, index: number): Bar {
  const where = `GET /fapi/v1/klines ${symbolName} row ${index}`;
  const [openTime, open, high, low, close, volume, closeTime] = checkWire(restKlineSchema, row, where);
  checkMinute(openTime, closeTime, where);
  const bar: Bar = {
    symbol: symbolName,
    interval: "1m",
    openTime,
    closeTime,
    open,
    high,
    low,
    close,
    volume,
  };
  const taker = (row as unknown[])[REST_TAKER_BUY_VOLUME];
  if (taker !== undefined) {
    const checked = checkWire(price, taker, `${where} column ${REST_TAKER_BUY_VOLUME}`);
    bar.takerBuyVolume = takerBuyVolume(checked, volume, where, `column ${REST_TAKER_BUY_VOLUME}`);
  }
  return bar;
}

/** A taker buy volume checked against its bar's volume. @throws BinanceWireError when it exceeds it. */
function takerBuyVolume(taker: string, volume: string, where: string, field: string): string {
  if (compareDecimals(taker, volume) > 0)
    throw new BinanceWireError(
      where,
      `field ${field}: taker buy volume ${taker} exceeds the volume ${volume}`,
    );
  return taker;
}

/** One `GET /fapi/v1/fundingRate` row. @throws BinanceWireError naming the row's index for a malformed row. */
export function fundingRateRow(row: unknown, index: number): FundingRateRow {
  return checkWire(restFundingSchema, row, `GET /fapi/v1/fundingRate row ${index}`);
}

function checkMinute(openTime: number, closeTime: number, where: string): void {
  if (openTime % MINUTE_MS !== 0 || closeTime !== openTime + MINUTE_MS - 1) {
    throw new BinanceWireError(where, `open time ${openTime} / close time ${closeTime} are not a 1m bar's`);
  }
}

/** `value` parsed by `schema`. @throws BinanceWireError naming `where` and the first failing field. */
export function checkWire<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join(".") : "(message)";
  throw new BinanceWireError(where, `field ${field}: ${issue.message} (got ${JSON.stringify(value)})`);
}
