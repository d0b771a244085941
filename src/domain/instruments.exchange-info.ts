/**
 * The `GET /fapi/v1/exchangeInfo` response (binance-usdm.md §1.1, §1.2) as perpsource reads it: a zod schema of the
 * raw payload that keeps what the execution and risk engines need and ignores the rest (Binance adds fields), the
 * conversion of each symbol into an `Instrument`, and the trimmed copy the repository bundles. Pure: no I/O.
 */
import { z } from "zod";
import type { Instrument, RateLimit } from "./instruments.ts";

/** An unsigned plain decimal string as Binance sends filter values ("0.10", "1000", "0"). */
const Decimal = z
  .string({ error: 'expected a decimal string such as "0.10"' })
  .regex(/^\d+(\.\d+)?$/, { error: 'expected a decimal string such as "0.10"' });
const Count = z
  .number({ error: "expected a non-negative integer" })
  .int({ error: "expected a non-negative integer" })
  .min(0, { error: "expected a non-negative integer" });
const Name = z.string({ error: "expected a string" }).min(1, { error: "expected a non-empty string" });
const Names = z.array(Name, { error: "expected a list of strings" });

/** The filters kept, by filterType (§1.2). Any other filter type (e.g. POSITION_RISK_CONTROL) is ignored. */
const FILTERS = {
  PRICE_FILTER: z.object({ minPrice: Decimal, maxPrice: Decimal, tickSize: Decimal }),
  LOT_SIZE: z.object({ minQty: Decimal, maxQty: Decimal, stepSize: Decimal }),
  MARKET_LOT_SIZE: z.object({ minQty: Decimal, maxQty: Decimal, stepSize: Decimal }),
  MIN_NOTIONAL: z.object({ notional: Decimal }),
  PERCENT_PRICE: z.object({ multiplierUp: Decimal, multiplierDown: Decimal, multiplierDecimal: Decimal }),
  MAX_NUM_ORDERS: z.object({ limit: Count }),
  MAX_NUM_ALGO_ORDERS: z.object({ limit: Count }),
} as const;
type FilterType = keyof typeof FILTERS;
type Filters = { [K in FilterType]: z.output<(typeof FILTERS)[K]> };
/** MAX_NUM_ALGO_ORDERS was removed from exchangeInfo on 2025-12-29 (§1.2): the only optional one. */
const OPTIONAL_FILTERS: ReadonlySet<FilterType> = new Set(["MAX_NUM_ALGO_ORDERS"]);
const isKnownFilter = (type: string): type is FilterType => Object.hasOwn(FILTERS, type);

/** The per-symbol fields kept in the bundled copy (besides `filters`). */
const SYMBOL_FIELDS = [
  "symbol",
  "contractType",
  "status",
  "baseAsset",
  "quoteAsset",
  "marginAsset",
  "onboardDate",
  "pricePrecision",
  "quantityPrecision",
  "liquidationFee",
  "marketTakeBound",
  "triggerProtect",
  "orderTypes",
  "timeInForce",
] as const;

const SymbolSchema = z
  .object({
    /** Binance lists a few non-ASCII names (e.g. 币安人生USDT): any name without whitespace. */
    symbol: z
      .string({ error: "expected a symbol such as BTCUSDT" })
      .regex(/^\S+$/u, { error: "expected a symbol such as BTCUSDT" }),
    contractType: z.string({ error: "expected a string" }),
    status: Name,
    baseAsset: Name,
    quoteAsset: Name,
    marginAsset: Name,
    onboardDate: Count,
    pricePrecision: Count,
    quantityPrecision: Count,
    liquidationFee: Decimal,
    marketTakeBound: Decimal,
    triggerProtect: Decimal,
    orderTypes: Names,
    timeInForce: Names,
    filters: z.array(z.looseObject({ filterType: Name }), { error: "expected a list of filters" }),
  })
  .transform((s, ctx): Instrument => {
    const found: Partial<Filters> = {};
    const seen = new Set<string>();
    s.filters.forEach((raw, i) => {
      const type = raw.filterType;
      if (!isKnownFilter(type)) return;
      if (seen.has(type)) {
        ctx.issues.push({ code: "custom", path: ["filters", i], message: `a second ${type}`, input: raw });
        return;
      }
      seen.add(type);
      const parsed = FILTERS[type].safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues)
          ctx.issues.push({ ...issue, path: ["filters", i, ...issue.path] } as z.core.$ZodRawIssue);
        return;
      }
      (found as Record<FilterType, unknown>)[type] = parsed.data;
    });
    for (const type of Object.keys(FILTERS) as FilterType[]) {
      if (!seen.has(type) && !OPTIONAL_FILTERS.has(type))
        ctx.issues.push({
          code: "custom",
          path: ["filters"],
          message: `no ${type} filter`,
          input: s.filters,
        });
    }
    if (ctx.issues.length > 0) return z.NEVER;
    const f = found as Filters;
    return {
      symbol: s.symbol,
      contractType: s.contractType,
      status: s.status,
      baseAsset: s.baseAsset,
      quoteAsset: s.quoteAsset,
      marginAsset: s.marginAsset,
      onboardDate: s.onboardDate,
      tickSize: f.PRICE_FILTER.tickSize,
      minPrice: f.PRICE_FILTER.minPrice,
      maxPrice: f.PRICE_FILTER.maxPrice,
      stepSize: f.LOT_SIZE.stepSize,
      minQty: f.LOT_SIZE.minQty,
      maxQty: f.LOT_SIZE.maxQty,
      marketStepSize: f.MARKET_LOT_SIZE.stepSize,
      marketMinQty: f.MARKET_LOT_SIZE.minQty,
      marketMaxQty: f.MARKET_LOT_SIZE.maxQty,
      minNotional: f.MIN_NOTIONAL.notional,
      multiplierUp: f.PERCENT_PRICE.multiplierUp,
      multiplierDown: f.PERCENT_PRICE.multiplierDown,
      multiplierDecimal: f.PERCENT_PRICE.multiplierDecimal,
      maxNumOrders: f.MAX_NUM_ORDERS.limit,
      maxNumAlgoOrders: f.MAX_NUM_ALGO_ORDERS?.limit ?? null,
      pricePrecision: s.pricePrecision,
      quantityPrecision: s.quantityPrecision,
      liquidationFee: s.liquidationFee,
      marketTakeBound: s.marketTakeBound,
      triggerProtect: s.triggerProtect,
      orderTypes: s.orderTypes,
      timeInForce: s.timeInForce,
    };
  });

const RateLimitSchema = z.object({
  rateLimitType: Name,
  interval: Name,
  intervalNum: Count,
  limit: Count,
});

const ExchangeInfoSchema = z
  .object({
    serverTime: Count,
    rateLimits: z.array(RateLimitSchema, { error: "expected a list of rate limits" }),
    symbols: z
      .array(SymbolSchema, { error: "expected a list of symbols" })
      .min(1, { error: "expected at least one symbol" }),
  })
  .check((ctx) => {
    const seen = new Set<string>();
    ctx.value.symbols.forEach((s, i) => {
      if (seen.has(s.symbol))
        ctx.issues.push({ code: "custom", path: ["symbols", i, "symbol"], message: "repeated", input: s });
      seen.add(s.symbol);
    });
  });

/** A validated exchangeInfo response: every symbol as an Instrument, in the response's order. */
export interface ExchangeInfo {
  /** Binance's serverTime when the response was produced, ms since epoch UTC. */
  readonly serverTime: number;
  /** The top-level `rateLimits` block (binance-usdm.md §5.1). */
  readonly rateLimits: readonly RateLimit[];
  readonly instruments: readonly Instrument[];
}

/** An exchangeInfo payload failed validation; `problems` holds one `JSON path: reason` line each. */
export class ExchangeInfoError extends Error {
  override name = "ExchangeInfoError";
  constructor(
    /** Where the payload came from: a file path, a URL, "the bundled snapshot". */
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    const shown = problems.slice(0, 5).join("; ");
    const more = problems.length > 5 ? `; … ${problems.length - 5} more` : "";
    super(`invalid exchangeInfo in ${source}: ${shown}${more}`);
  }
}

/**
 * Validates a parsed `GET /fapi/v1/exchangeInfo` body (raw, or the trimmed copy of `trimExchangeInfo`) and converts
 * each symbol into an Instrument (binance-usdm.md §1.2: PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, MIN_NOTIONAL,
 * PERCENT_PRICE and MAX_NUM_ORDERS required; MAX_NUM_ALGO_ORDERS optional; other filter types ignored).
 * @throws ExchangeInfoError naming `source` and the JSON path of each problem, e.g.
 *   `symbols[3] (ETHUSDT).filters[0].tickSize: expected a decimal string such as "0.10"`.
 */
export function parseExchangeInfo(json: unknown, source: string): ExchangeInfo {
  const parsed = ExchangeInfoSchema.safeParse(json);
  if (!parsed.success) {
    throw new ExchangeInfoError(
      source,
      parsed.error.issues.map((issue) => `${jsonPath(issue.path, json)}: ${issue.message}`),
    );
  }
  const { serverTime, rateLimits, symbols } = parsed.data;
  return { serverTime, rateLimits, instruments: symbols };
}

/**
 * The compact copy of a raw exchangeInfo body that the repository bundles: `serverTime`, `rateLimits` and, per
 * symbol, the fields `parseExchangeInfo` reads, with only the filters it knows. Still in Binance's format, so the
 * same parser reads it. Does not validate: parse the result (scripts/bundle-exchange-info.ts does).
 */
export function trimExchangeInfo(raw: unknown): unknown {
  const body = raw as { serverTime?: unknown; rateLimits?: unknown; symbols?: unknown };
  const symbols = Array.isArray(body.symbols) ? body.symbols : [];
  return {
    serverTime: body.serverTime,
    rateLimits: body.rateLimits,
    symbols: symbols.map((s: Record<string, unknown>) => ({
      ...Object.fromEntries(SYMBOL_FIELDS.map((key) => [key, s[key]])),
      filters: Array.isArray(s["filters"])
        ? s["filters"].filter((f: { filterType?: unknown }) => isKnownFilter(String(f?.filterType)))
        : s["filters"],
    })),
  };
}

/** `symbols[3] (ETHUSDT).filters[0].tickSize`: a zod path, with the symbol's name after its index. */
function jsonPath(path: readonly PropertyKey[], json: unknown): string {
  if (path.length === 0) return "(root)";
  let out = "";
  let node: unknown = json;
  for (const key of path) {
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
    node =
      node !== null && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    if (/^symbols\[\d+\]$/.test(out)) {
      const name = (node as { symbol?: unknown } | undefined)?.symbol;
      if (typeof name === "string") out += ` (${name})`;
    }
  }
  return out;
}
