/**
 * Hand-written fast paths of the catalog's hottest schema (BarClosed: one per bar). A fast path only says
 * "valid": it returns the canonical copy (schema key order) of data the zod schema accepts with the same
 * output, or undefined, and the caller then runs the zod schema, which gives the result or the error. So the
 * checks and the error messages stay zod's; `test/events-catalog-fast.test.ts` checks the fast path against
 * zod on valid and broken data.
 */
import type { EventData, EventType } from "./catalog.ts";
import { isDecimalText, SYMBOL_PATTERN } from "./patterns.ts";

const isEpochMs = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isDecimal = (v: unknown): v is string => typeof v === "string" && isDecimalText(v);
/** The last symbol that matched `SYMBOL_PATTERN` (a run's bars repeat a few symbols: no regex for each). */
let lastSymbol = "";
const isSymbol = (v: unknown): v is string => {
  if (v === lastSymbol) return true;
  if (typeof v !== "string" || !SYMBOL_PATTERN.test(v)) return false;
  lastSymbol = v;
  return true;
};

/**
 * The number of BarClosed's keys among `d`'s enumerable ones (zod's strict check enumerates with for…in too), or
 * −1 when one is not a BarClosed key. A switch, not a set lookup: this runs for every key of every bar.
 */
function barKeys(d: object): number {
  let keys = 0;
  for (const key in d) {
    switch (key) {
      case "symbol":
      case "interval":
      case "openTime":
      case "closeTime":
      case "open":
      case "high":
      case "low":
      case "close":
      case "volume":
      case "takerBuyVolume":
      case "markPrice":
      case "markOpen":
      case "markHigh":
      case "markLow":
        keys++;
        break;
      default:
        return -1;
    }
  }
  return keys;
}

/**
 * BarClosed's data in schema key order when it is certainly valid, else undefined (ask zod). Its optional keys
 * (schema order: the taker-buy volume of a 12-column kline source, the mark at the close, a live run's whole
 * mark kline) are tested one by one by name, not in a loop over their names: this runs for every bar.
 */
function fastBarClosed(data: unknown): EventData<"BarClosed"> | undefined {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const d = data as Record<string, unknown>;
  const hasTakerBuyVolume = "takerBuyVolume" in d;
  const hasMarkPrice = "markPrice" in d;
  const hasMarkOpen = "markOpen" in d;
  const hasMarkHigh = "markHigh" in d;
  const hasMarkLow = "markLow" in d;
  // Exactly the schema's keys: its nine required ones and the optional ones present.
  const expected = 9 + +hasTakerBuyVolume + +hasMarkPrice + +hasMarkOpen + +hasMarkHigh + +hasMarkLow;
  if (barKeys(d) !== expected) return undefined;
  const { symbol, interval, openTime, closeTime, open, high, low, close, volume } = d;
  if (
    !isSymbol(symbol) ||
    interval !== "1m" ||
    !isEpochMs(openTime) ||
    !isEpochMs(closeTime) ||
    !isDecimal(open) ||
    !isDecimal(high) ||
    !isDecimal(low) ||
    !isDecimal(close) ||
    !isDecimal(volume) ||
    (hasTakerBuyVolume && !isDecimal(d.takerBuyVolume)) ||
    (hasMarkPrice && !isDecimal(d.markPrice)) ||
    (hasMarkOpen && !isDecimal(d.markOpen)) ||
    (hasMarkHigh && !isDecimal(d.markHigh)) ||
    (hasMarkLow && !isDecimal(d.markLow))
  )
    return undefined;
  const bar: EventData<"BarClosed"> = {
    symbol,
    interval: "1m",
    openTime,
    closeTime,
    open,
    high,
    low,
    close,
    volume,
  };
  if (hasTakerBuyVolume) bar.takerBuyVolume = d.takerBuyVolume as string;
  if (hasMarkPrice) bar.markPrice = d.markPrice as string;
  if (hasMarkOpen) bar.markOpen = d.markOpen as string;
  if (hasMarkHigh) bar.markHigh = d.markHigh as string;
  if (hasMarkLow) bar.markLow = d.markLow as string;
  return bar;
}

/** The fast path of each event type that has one. */
export const fastPaths: ReadonlyMap<string, (data: unknown) => unknown> = new Map<
  EventType,
  (data: unknown) => unknown
>([["BarClosed", fastBarClosed]]);

/**
 * `JSON.stringify(data)` for data that passed the catalog schema of `type` (e.g. the output of
 * `validateEvent`, or an event read from a store): the same text, written without the generic serializer for
 * BarClosed, whose validated fields need no escaping (symbol and decimals match their patterns, times are safe
 * integers) and come in schema key order.
 */
export function validatedDataJson(type: string, data: unknown): string {
  if (type !== "BarClosed") return JSON.stringify(data);
  const d = data as EventData<"BarClosed">;
  return (
    `{"symbol":"${d.symbol}","interval":"${d.interval}","openTime":${d.openTime},"closeTime":${d.closeTime},` +
    `"open":"${d.open}","high":"${d.high}","low":"${d.low}","close":"${d.close}","volume":"${d.volume}"` +
    (d.takerBuyVolume === undefined ? "" : `,"takerBuyVolume":"${d.takerBuyVolume}"`) +
    (d.markPrice === undefined ? "" : `,"markPrice":"${d.markPrice}"`) +
    // A live run's whole mark kline (absent in backtests).
    (d.markOpen === undefined ? "" : `,"markOpen":"${d.markOpen}"`) +
    (d.markHigh === undefined ? "" : `,"markHigh":"${d.markHigh}"`) +
    (d.markLow === undefined ? "" : `,"markLow":"${d.markLow}"`) +
    "}"
  );
}

/** `JSON.stringify(metadata)` for validated metadata (canonical key order). */
export function validatedMetadataJson(metadata: {
  correlationId: string;
  causationId: string;
  eventTime: number;
}): string {
  return (
    `{"correlationId":${JSON.stringify(metadata.correlationId)},` +
    `"causationId":${JSON.stringify(metadata.causationId)},"eventTime":${metadata.eventTime}}`
  );
}
