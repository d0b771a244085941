/**
 * The USDⓈ-M book and trade wire formats (binance-usdm.md §5.3 payloads, §5.1 `depth`): `<s>@bookTicker`,
 * `<s>@aggTrade` and `<s>@depth…` stream messages and the `GET /fapi/v1/depth` body, parsed with zod and checked.
 * Prices and quantities stay the decimal strings exactly as received; times are ms epoch numbers; update ids are
 * numbers (safe integers: Binance's are ~5·10¹²). A message that breaks its format throws `BinanceWireError`
 * naming the message type and the field.
 */
import { z } from "zod";
import type { DepthSnapshot, DepthUpdate } from "../../domain/book/order-book.ts";
import type { BookTick } from "../market/ticks.ts";
import { BinanceWireError, checkWire } from "./market-wire.ts";

const decimal = z.string().regex(/^\d+(\.\d+)?$/, "an unsigned decimal string");
const id = z.number().int().nonnegative().refine(Number.isSafeInteger, "a safe integer");
const time = z.number().int().nonnegative();
const symbol = z.string().regex(/^[A-Z0-9]+$/, "an upper-case symbol");
const level = z.tuple([decimal, decimal]);

const bookTickerSchema = z.object({
  e: z.literal("bookTicker"),
  u: id,
  E: time,
  T: time,
  s: symbol,
  b: decimal,
  B: decimal,
  a: decimal,
  A: decimal,
});

const aggTradeSchema = z.object({
  e: z.literal("aggTrade"),
  E: time,
  s: symbol,
  a: id,
  p: decimal,
  q: decimal,
  nq: decimal.optional(),
  f: id,
  l: id,
  T: time,
  m: z.boolean(),
});

const depthUpdateSchema = z.object({
  e: z.literal("depthUpdate"),
  E: time,
  T: time,
  s: symbol,
  U: id,
  u: id,
  pu: z.number().int().min(-1),
  b: z.array(level),
  a: z.array(level),
});

const restDepthSchema = z.object({
  lastUpdateId: id,
  E: time.optional(),
  T: time,
  bids: z.array(level),
  asks: z.array(level),
});

/** An aggregate trade (`<s>@aggTrade`): the market trades of one taker order at one price. */
export interface AggTrade {
  kind: "aggTrade";
  symbol: string;
  /** `a`: aggregate trade id (consecutive per symbol). */
  aggId: number;
  /** `p`, quote asset. */
  price: string;
  /** `q`: quantity of all market trades, base asset. */
  qty: string;
  /** `nq`: quantity without RPI trades (since 2025-12-31; absent before). */
  nonRpiQty?: string;
  /** `f`, `l`: first and last trade id. */
  firstTradeId: number;
  lastTradeId: number;
  /** `T`: trade time, ms epoch. */
  time: number;
  /** `E`: event time, ms epoch. */
  eventTime: number;
  /** `m`: the buyer was the maker (a seller took liquidity). */
  buyerMaker: boolean;
}

/** A stream message of the book streams: the payload (the combined stream's `data`). */
export type BookStreamMessage =
  | { kind: "bookTicker"; tick: BookTick }
  | { kind: "aggTrade"; trade: AggTrade }
  | { kind: "depthUpdate"; update: DepthUpdate };

/**
 * The book or trade message of a stream payload, or undefined for any other event type.
 * @throws BinanceWireError for a bookTicker, aggTrade or depthUpdate message missing or mistyping a field, or an
 * aggTrade whose first trade id is after its last.
 */
export function parseBookMessage(message: unknown): BookStreamMessage | undefined {
  const type = (message as { e?: unknown } | null)?.e;
  if (type === "bookTicker") {
    const m = checkWire(bookTickerSchema, message, "bookTicker message");
    const tick: BookTick = {
      kind: "book",
      symbol: m.s,
      time: m.T,
      updateId: m.u,
      bidPrice: m.b,
      bidQty: m.B,
      askPrice: m.a,
      askQty: m.A,
    };
    return { kind: "bookTicker", tick };
  }
  if (type === "aggTrade") {
    const m = checkWire(aggTradeSchema, message, "aggTrade message");
    if (m.f > m.l) throw new BinanceWireError("aggTrade message", `first trade id ${m.f} > last ${m.l}`);
    const trade: AggTrade = {
      kind: "aggTrade",
      symbol: m.s,
      aggId: m.a,
      price: m.p,
      qty: m.q,
      ...(m.nq === undefined ? {} : { nonRpiQty: m.nq }),
      firstTradeId: m.f,
      lastTradeId: m.l,
      time: m.T,
      eventTime: m.E,
      buyerMaker: m.m,
    };
    return { kind: "aggTrade", trade };
  }
  if (type === "depthUpdate") {
    const m = checkWire(depthUpdateSchema, message, "depthUpdate message");
    if (m.U > m.u) throw new BinanceWireError("depthUpdate message", `U ${m.U} > u ${m.u}`);
    return {
      kind: "depthUpdate",
      update: {
        symbol: m.s,
        eventTime: m.E,
        transactionTime: m.T,
        firstUpdateId: m.U,
        finalUpdateId: m.u,
        previousFinalUpdateId: m.pu,
        bids: m.b,
        asks: m.a,
      },
    };
  }
  return undefined;
}

/** A `GET /fapi/v1/depth` body of `symbolName`. @throws BinanceWireError naming the field. */
export function depthSnapshotFromRest(symbolName: string, body: unknown): DepthSnapshot {
  const m = checkWire(restDepthSchema, body, `GET /fapi/v1/depth ${symbolName}`);
  return {
    symbol: symbolName,
    lastUpdateId: m.lastUpdateId,
    transactionTime: m.T,
    bids: m.bids,
    asks: m.asks,
  };
}
