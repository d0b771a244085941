/**
 * zod schemas of the dashboard's read routes (GET /bars, /fills, /pnl/symbols, /stream): their query parameters
 * (strict: an unknown one is a 400) and response shapes. Money and prices are exact decimal strings; times ms
 * since the epoch, UTC.
 */
import { z } from "zod";
import { BAR_INTERVALS } from "../../../domain/bars/intervals.ts";
import { ClientOrderId, Decimal, EpochMs, OrderSide, SymbolName } from "../../../events/catalog.ts";
import type { BarPoint, FillPoint, SymbolPnl } from "../../../projections/market-series.ts";
import { integerOr, MAX_INT } from "../schemas.ts";

/**
 * Which state a route shows: the state after every event with global position ≤ `position`, or the shortest log
 * prefix holding every event whose eventTime ≤ `time` (ms, market time).
 */
export type AsOf = { position: number } | { time: number };

const AS_OF_MESSAGE =
  "expected a log position (an integer ≥ 0) or a market time: an ISO time with a zone (e.g. 2023-09-01T00:00:00Z)";

/** `asOf`: digits are a global log position; an ISO 8601 time with a zone is a market time. Absent: live. */
const asOf = z
  .string()
  .meta({ description: "a log position (integer ≥ 0) or a market time (ISO 8601 with a zone); absent: live" })
  .transform((raw, ctx): AsOf => {
    if (/^\d{1,16}$/.test(raw) && Number(raw) <= MAX_INT) return { position: Number(raw) };
    const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(raw);
    const time = iso ? Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw) : Number.NaN;
    if (!Number.isNaN(time) && time >= 0) return { time };
    ctx.addIssue({ code: "custom", message: AS_OF_MESSAGE });
    return z.NEVER;
  })
  .optional();

/** Largest `maxPoints` of GET /bars. */
export const MAX_BAR_POINTS = 20_000;

/**
 * GET /bars: the bars of `symbol` (default: the first symbol of the log, by name) at `interval` (default 1m),
 * merged further when more than `maxPoints` (10..20,000, default 2,000); `asOf`.
 */
export const BarsQuery = z.strictObject({
  symbol: SymbolName.optional(),
  interval: z
    .enum(Object.keys(BAR_INTERVALS) as [keyof typeof BAR_INTERVALS], {
      error: `expected one of ${Object.keys(BAR_INTERVALS).join(", ")}`,
    })
    .default("1m"),
  maxPoints: integerOr(10, MAX_BAR_POINTS, 2_000),
  asOf,
});

/** GET /fills: fills of `symbol` (all when absent), newest first, a page (limit 1..1000, default 100); `asOf`. */
export const FillsQuery = z.strictObject({
  symbol: SymbolName.optional(),
  limit: integerOr(1, 1_000, 100),
  offset: integerOr(0, MAX_INT, 0),
  asOf,
});

/** GET /pnl/symbols: `asOf` only. */
export const SymbolPnlQuery = z.strictObject({ asOf });

/** GET /stream takes no query parameter (resume with the `Last-Event-ID` header). */
export const StreamQuery = z.strictObject({});

const Bar = z.strictObject({
  time: EpochMs.describe("openTime of the first bar merged"),
  open: Decimal,
  high: Decimal,
  low: Decimal,
  close: Decimal,
  volume: Decimal,
}) satisfies z.ZodType<BarPoint>;

/** GET /bars. */
export const BarsResponse = z.strictObject({
  /** The symbol shown; null when the log has no bars. */
  symbol: SymbolName.nullable(),
  interval: z.enum(Object.keys(BAR_INTERVALS)),
  /** Every symbol of the log (bars, fills or funding). */
  symbols: z.array(SymbolName),
  /** Bars of `interval` before downsampling. */
  totalBars: z.number().int().nonnegative(),
  /** How many `interval` bars each returned bar merges (1: none). */
  barsPerPoint: z.number().int().positive(),
  bars: z.array(Bar),
});

const Fill = z.strictObject({
  position: z.number().int(),
  time: EpochMs,
  symbol: SymbolName,
  clientOrderId: ClientOrderId,
  tradeId: z.string(),
  side: OrderSide,
  price: Decimal,
  quantity: Decimal,
  commission: Decimal,
  realizedPnl: Decimal,
  positionAmt: Decimal,
  liquidation: z.boolean(),
}) satisfies z.ZodType<FillPoint>;

/** GET /fills: the page and the number of fills matching. */
export const FillsResponse = z.strictObject({
  total: z.number().int().nonnegative(),
  limit: z.number().int(),
  offset: z.number().int(),
  fills: z.array(Fill),
});

/** GET /pnl/symbols. */
export const SymbolPnlResponse = z.strictObject({
  symbols: z.array(
    z.strictObject({
      symbol: SymbolName,
      realizedPnl: Decimal,
      fees: Decimal,
      liquidationFees: Decimal,
      fundingPaid: Decimal,
      fundingReceived: Decimal,
      netPnl: Decimal,
      fills: z.number().int().nonnegative(),
      fundingPayments: z.number().int().nonnegative(),
    }) satisfies z.ZodType<SymbolPnl>,
  ),
});

/**
 * GET /stream: Server-Sent Events, one per committed event:
 * `id: <position>`, `event: appended`, `data: {"position","type","stream","eventTime"}`; heartbeat comments.
 */
export const StreamResponse = z
  .string()
  .describe(
    'text/event-stream: per committed event "id: <position>", "event: appended", ' +
      'data {"position","type","stream","eventTime"}; ": heartbeat" comments; resume with Last-Event-ID',
  );
