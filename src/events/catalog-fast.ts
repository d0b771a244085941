/**
 * Hand-written fast paths of the catalog's hottest schema (BarClosed: one per bar). A fast path only says
 * "valid": it returns the canonical copy (schema key order) of data the zod schema accepts with the same
 * output, or undefined, and the caller then runs the zod schema, which gives the result or the error. So the
 * checks and the error messages stay zod's; `test/events-catalog-fast.test.ts` checks the fast path against
 * zod on valid and broken data.
 */
import type { EventData, EventType } from "./catalog.ts";
import { DECIMAL_PATTERN, SYMBOL_PATTERN } from "./patterns.ts";

const BAR_KEYS = new Set([
  "symbol",
  "interval",
  "openTime",
  "closeTime",
  "open",
  "high",
  "low",
  "close",
  "volume",
]);

const isEpochMs = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isDecimal = (v: unknown): v is string => typeof v === "string" && DECIMAL_PATTERN.test(v);

/** BarClosed's data in schema key order when it is certainly valid, else undefined (ask zod). */
function fastBarClosed(data: unknown): EventData<"BarClosed"> | undefined {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const d = data as Record<string, unknown>;
  // Exactly the schema's keys (zod's strict check enumerates with for…in too).
  let keys = 0;
  for (const key in d) {
    if (!BAR_KEYS.has(key)) return undefined;
    keys++;
  }
  if (keys !== BAR_KEYS.size) return undefined;
  const { symbol, interval, openTime, closeTime, open, high, low, close, volume } = d;
  if (
    typeof symbol === "string" &&
    SYMBOL_PATTERN.test(symbol) &&
    interval === "1m" &&
    isEpochMs(openTime) &&
    isEpochMs(closeTime) &&
    isDecimal(open) &&
    isDecimal(high) &&
    isDecimal(low) &&
    isDecimal(close) &&
    isDecimal(volume)
  ) {
    return { symbol, interval, openTime, closeTime, open, high, low, close, volume };
  }
  return undefined;
}

/** The fast path of each event type that has one. */
export const fastPaths: ReadonlyMap<string, (data: unknown) => unknown> = new Map<
  EventType,
  (data: unknown) => unknown
>([["BarClosed", fastBarClosed]]);
