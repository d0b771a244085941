/**
 * zod schemas of the dashboard's read routes (GET /bars, /fills, /pnl/symbols, /stream): their query parameters
 * (strict: an unknown one is a 400) and response shapes. Money and prices are exact decimal strings; times ms
 * since the epoch, UTC.
 */
import { z } from "zod";
import { BAR_INTERVALS } from "../../../domain/bars/intervals.ts";
import { ClientOrderId, Decimal, EpochMs, OrderSide, SymbolName } from "../../../events/catalog.ts";
import type { BarPoint, FillPoint, SymbolPnl } from "../../../projections/market-series.ts";
import { AsOfQuery, integerOr, MAX_INT } from "../schemas.ts";

/** `asOf` as every projection route takes it (see `AsOf` in ../schemas.ts). */
const asOf = AsOfQuery.shape.asOf;

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
