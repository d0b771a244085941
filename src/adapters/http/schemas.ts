/**
 * zod schemas of the HTTP API: the query/path parameters each route accepts (strict: an unknown parameter is
 * a 400) and the shapes of the responses. Integers in query strings are plain decimal digits; times are ms
 * since the Unix epoch, UTC; money is USDT as exact decimal strings.
 */
import { z } from "zod";
import { BAR_INTERVALS } from "../../domain/bars/intervals.ts";
import {
  ClientOrderId,
  Decimal,
  EpochMs,
  OrderPurpose,
  OrderSide,
  OrderType,
  PositionSide,
  SymbolName,
  TimeInForce,
  WorkingType,
} from "../../events/catalog.ts";
import {
  type AccountRiskView,
  type EquityPoint,
  MIN_CURVE_POINTS,
  type OrderView,
  orderStatuses,
  type PnlView,
  type PositionView,
  type RunView,
} from "../../projections/index.ts";

/**
 * A query-string integer in [min, max] (digits only, so "1e3", "0x10" and "1.0" are rejected); `meta` goes into
 * the OpenAPI document with the range.
 */
export function integer(min: number, max: number, meta: { default?: string } = {}) {
  const message = `expected an integer from ${min} to ${max}`;
  return z
    .string()
    .regex(/^-?\d{1,16}$/, message)
    .meta({ description: `an integer from ${min} to ${max} (decimal digits)`, ...meta })
    .transform(Number)
    .refine((n) => n >= min && n <= max, message);
}

/** `integer(min, max)`, `fallback` when absent (the OpenAPI document shows it as the default). */
export function integerOr(min: number, max: number, fallback: number) {
  return integer(min, max, { default: String(fallback) }).default(fallback);
}

/** Largest integer a position, revision or time can take in a query. */
export const MAX_INT = Number.MAX_SAFE_INTEGER;
/** A page size: 1..1000, default 100. */
const limit = integerOr(1, 1000, 100);
/** A stream name: the characters of Binance's clientOrderId plus the category prefix, ≤ 200 characters. */
const streamName = z
  .string()
  .regex(
    /^[A-Za-z0-9][.A-Za-z0-9:/_-]{0,199}$/,
    "expected a stream name like symbol-BTCUSDT or order-<clientOrderId>",
  )
  .meta({ description: "a stream name, e.g. symbol-BTCUSDT or order-<clientOrderId>" });

const DAY_MS = 86_400_000;
const TIME_MESSAGE =
  "expected ms since the epoch, a UTC day (YYYY-MM-DD) or an ISO time with a zone (e.g. 2025-05-05T12:00:00Z)";

/**
 * A market time in a query, as ms: digits (ms since the epoch), a UTC day (YYYY-MM-DD: its first ms, or with
 * `end` its last, so a day bound is inclusive), or an ISO 8601 time with a zone (`Z` or ±hh:mm; a time without
 * one would depend on the server's zone).
 */
function marketTime(end: "start" | "end") {
  const bound = end === "start" ? "from its first ms" : "through its last ms";
  const description = `${TIME_MESSAGE}; a UTC day counts ${bound}; inclusive`;
  return z
    .string()
    .meta({ description })
    .transform((raw, ctx) => {
      let ms = Number.NaN;
      if (/^\d{1,16}$/.test(raw)) ms = Number(raw);
      else if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) {
        const day = utcDay(raw);
        ms = end === "end" ? day + DAY_MS - 1 : day;
      } else ms = isoTime(raw);
      if (Number.isNaN(ms) || ms < 0 || ms > MAX_INT) {
        ctx.addIssue({ code: "custom", message: TIME_MESSAGE });
        return z.NEVER;
      }
      return ms;
    });
}

/** The ms of an ISO 8601 time with a zone (`2025-05-05T12:00:00Z`, `…:00.000+02:00`), or NaN for anything else. */
function isoTime(raw: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) return Number.NaN;
  return Number.isNaN(utcDay(raw.slice(0, 10))) ? Number.NaN : Date.parse(raw);
}

/** The first ms of the UTC day `YYYY-MM-DD`, or NaN when there is no such day (Date.parse rolls 02-30 over). */
function utcDay(day: string): number {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(day) ? ms : Number.NaN;
}

/** Routes without parameters accept none. */
export const NoQuery = z.strictObject({});

/**
 * Which state a projection route shows (`asOf`, see src/adapters/http/as-of.ts): the state after every event with
 * global position ≤ `position`, or the shortest log prefix holding every event whose `metadata.eventTime` ≤
 * `time` (ms, market time).
 */
export type AsOf = { position: number } | { time: number };

const AS_OF_MESSAGE =
  "expected a log position (an integer ≥ 0) or a market time: a UTC day (YYYY-MM-DD, its first ms) or an ISO " +
  "time with a zone (e.g. 2023-09-01T00:00:00Z)";

/**
 * `asOf`: digits are a global log position (0..2^53−1); a UTC day (`2023-09-01`: its first ms, 00:00:00.000Z) or an
 * ISO 8601 time with a zone is a market time. Absent: the live state.
 */
const asOf = z
  .string()
  .meta({
    description:
      "show the state as of a log position (an integer: every event with position ≤ it) or a market time (a " +
      "UTC day, its first ms, or an ISO time with a zone: the shortest log prefix holding every event whose " +
      "eventTime ≤ it); absent or at/past the live head: the live state. x-log-position names the position shown",
  })
  .transform((raw, ctx): AsOf => {
    if (/^\d{1,16}$/.test(raw) && Number(raw) <= MAX_INT) return { position: Number(raw) };
    const time = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? utcDay(raw) : isoTime(raw);
    if (!Number.isNaN(time) && time >= 0 && time <= MAX_INT) return { time };
    ctx.addIssue({ code: "custom", message: AS_OF_MESSAGE });
    return z.NEVER;
  })
  .optional();

/** The projection routes without other parameters (/runs, /positions, /risk, /orders/:clientOrderId): `asOf`. */
export const AsOfQuery = z.strictObject({ asOf });

/** Largest `maxPoints` of GET /pnl (bounds the body: about 50 bytes a point). */
export const MAX_CURVE_POINTS = 100_000;

/**
 * GET /pnl: equity-curve sampling interval (default 1h), optional inclusive time bounds (ms, a UTC day or an ISO
 * time, see `marketTime`), and the most points the curve may have (`maxPoints`,
 * MIN_CURVE_POINTS..MAX_CURVE_POINTS, default 2,000); `asOf` (see `AsOf`).
 */
export const PnlQuery = z
  .strictObject({
    maxPoints: integerOr(MIN_CURVE_POINTS, MAX_CURVE_POINTS, 2_000),
    interval: z
      .enum(Object.keys(BAR_INTERVALS) as [keyof typeof BAR_INTERVALS], {
        error: `expected one of ${Object.keys(BAR_INTERVALS).join(", ")}`,
      })
      .default("1h"),
    from: marketTime("start").optional(),
    to: marketTime("end").optional(),
    asOf,
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, {
    message: "expected to ≥ from",
    path: ["to"],
  });

/**
 * GET /orders: optional symbol, status and type filters, a page (limit 1..1000 default 100, offset ≥ 0) and `asOf`
 * (see `AsOf`).
 */
export const OrdersQuery = z.strictObject({
  symbol: SymbolName.optional(),
  status: z.enum(orderStatuses, { error: `expected one of ${orderStatuses.join(", ")}` }).optional(),
  type: z.enum(OrderType.options, { error: `expected one of ${OrderType.options.join(", ")}` }).optional(),
  limit,
  offset: integerOr(0, MAX_INT, 0),
  asOf,
});

/**
 * GET /decisions: optional symbol, inclusive market-time bounds on the decision's time (ms, a UTC day or an ISO
 * time, see `marketTime`), the order whose decision is wanted (`clientOrderId`), and a page (limit 1..1000
 * default 100, offset ≥ 0), oldest first like /orders; `asOf` (see `AsOf`).
 */
export const DecisionsQuery = z
  .strictObject({
    symbol: SymbolName.optional(),
    from: marketTime("start").optional(),
    to: marketTime("end").optional(),
    clientOrderId: ClientOrderId.optional(),
    limit,
    offset: integerOr(0, MAX_INT, 0),
    asOf,
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, {
    message: "expected to ≥ from",
    path: ["to"],
  });

/** GET /orders/:clientOrderId: an id matching Binance's clientOrderId pattern. */
export const OrderParams = z.strictObject({ clientOrderId: ClientOrderId });

/**
 * GET /events: without `stream`, the global log after position `from` (from the start when absent); with it,
 * the stream from revision `from` (default 0). At most `limit` events (1..1000, default 100).
 */
export const EventsQuery = z.strictObject({
  stream: streamName.optional(),
  from: integer(0, MAX_INT).optional(),
  limit,
});

/** POST /control/halt and /control/resume: why (recorded in TradingStateChanged.reason). */
export const ControlBody = z.strictObject(
  {
    reason: z
      .string({ error: "expected a reason: a text of 1 to 500 characters" })
      .trim()
      .min(1, { error: "expected a reason: a text of 1 to 500 characters" })
      .max(500, { error: "expected a reason: a text of 1 to 500 characters" }),
  },
  { error: 'expected a JSON body { "reason": "…" }' },
);

// ── responses ──────────────────────────────────────────────────────────────────────────────────────────────

/** Every 4xx/5xx body; `field` names the offending parameter of a 400. */
export const ErrorResponse = z.object({
  error: z.string(),
  message: z.string(),
  field: z.string().optional(),
});

/** GET /health. */
export const HealthResponse = z.strictObject({
  /** "incomplete" while the latest run has a RunStarted and no RunCompleted (killed, or still being written). */
  status: z.enum(["ok", "incomplete"]),
  /** The latest run's id, null before any RunStarted. */
  runId: z.string().nullable(),
  /** Global position of the last event folded into the projections, null before any. */
  lastPosition: z.number().int().nullable(),
  /** Number of events folded. */
  events: z.number().int().nonnegative(),
  /** eventTime (market time, ms) of the last event folded, null before any. */
  lastEventTime: EpochMs.nullable(),
  /** Whether the control routes (POST /control/halt|resume) are enabled: the server has a control token. */
  control: z.enum(["enabled", "disabled"]),
});

/** GET /runs: every run in start order. */
export const RunsResponse = z.strictObject({
  runs: z.array(
    z.strictObject({
      runId: z.string(),
      mode: z.enum(["backtest", "paper", "testnet", "live"]),
      strategy: z.string(),
      symbols: z.array(SymbolName),
      from: EpochMs,
      to: EpochMs,
      config: z.record(z.string(), z.unknown()),
      startTime: EpochMs,
      completed: z.boolean(),
      completedTime: EpochMs.nullable(),
      events: z.number().int().nonnegative(),
      bars: z.number().int().nonnegative(),
      fundingSettlements: z.number().int().nonnegative(),
      orders: z.number().int().nonnegative(),
      fills: z.number().int().nonnegative(),
      lastPosition: z.number().int(),
      lastEventTime: EpochMs,
    }) satisfies z.ZodType<RunView>,
  ),
});

export const PositionResponse: z.ZodType<PositionView> = z.object({
  symbol: SymbolName,
  /** Hedge mode only (absent in one-way mode). */
  positionSide: z.enum(["LONG", "SHORT"]).optional(),
  side: z.enum(["LONG", "SHORT", "FLAT"]),
  positionAmt: Decimal,
  entryPrice: Decimal,
  markPrice: Decimal.nullable(),
  unrealizedPnl: Decimal,
  notional: Decimal,
  updateTime: EpochMs,
  leverage: z.number().int().min(1).max(125),
  marginType: z.enum(["ISOLATED", "CROSSED"]),
  isolatedWallet: Decimal.nullable(),
  initialMargin: Decimal.nullable(),
  maintMargin: Decimal.nullable(),
  marginRatio: Decimal.nullable(),
  liquidationPrice: Decimal.nullable(),
});

/** GET /positions. */
export const PositionsResponse = z.object({ positions: z.array(PositionResponse) });

export const EquityPointResponse: z.ZodType<EquityPoint> = z.object({ time: EpochMs, equity: Decimal });

const PnlFields: z.ZodType<PnlView> = z.object({
  initialBalance: Decimal.nullable(),
  walletBalance: Decimal,
  realizedPnl: Decimal,
  fees: Decimal,
  funding: Decimal,
  liquidationFees: Decimal,
  insuranceFundCovered: Decimal,
  netPnl: Decimal,
  unrealizedPnl: Decimal,
  equity: Decimal,
  maxDrawdown: Decimal,
  maxDrawdownRatio: Decimal.nullable(),
  fills: z.number().int().nonnegative(),
  fundingPayments: z.number().int().nonnegative(),
  liquidations: z.number().int().nonnegative(),
});

/**
 * GET /pnl: the account's PnL plus the equity curve sampled at `interval` (last sample of each bucket),
 * downsampled to `maxPoints` when longer (exact at the extremes, see `keepExtremes`).
 */
export const PnlResponse = z.intersection(
  PnlFields,
  z.object({
    interval: z.enum(Object.keys(BAR_INTERVALS)),
    equityCurve: z.strictObject({
      points: z.array(EquityPointResponse),
      totalPoints: z.number().int().nonnegative(),
      downsampled: z.boolean(),
    }),
  }),
);

export const OrderResponse: z.ZodType<OrderView> = z.object({
  clientOrderId: ClientOrderId,
  orderId: z.string().nullable(),
  symbol: SymbolName,
  side: OrderSide,
  type: OrderType,
  purpose: OrderPurpose,
  positionSide: PositionSide,
  quantity: Decimal.nullable(),
  price: Decimal.nullable(),
  timeInForce: TimeInForce.nullable(),
  triggerPrice: Decimal.nullable(),
  activatePrice: Decimal.nullable(),
  callbackRate: Decimal.nullable(),
  workingType: WorkingType.nullable(),
  reduceOnly: z.boolean(),
  closePosition: z.boolean(),
  algoStatus: z
    .enum(["NEW", "TRIGGERING", "TRIGGERED", "FINISHED", "CANCELED", "REJECTED", "EXPIRED"])
    .nullable(),
  triggeredAt: Decimal.nullable(),
  triggeredOrderId: z.string().nullable(),
  siblingClientOrderId: ClientOrderId.nullable(),
  status: z.enum(orderStatuses),
  executedQty: Decimal,
  avgPrice: Decimal,
  commission: Decimal,
  submitTime: EpochMs,
  updateTime: EpochMs,
  cancelReason: z
    .enum(["siblingFilled", "positionClosed", "protectionFailed", "user", "liquidation", "shutdown"])
    .nullable(),
  expireReason: z.string().nullable(),
  expiryReason: z.number().int().nullable(),
  rejectCode: z.number().int().nullable(),
  rejectReason: z.string().nullable(),
  deniedBy: z
    .object({ rule: z.string(), reason: z.string(), numbers: z.record(z.string(), z.string()) })
    .nullable(),
  fills: z.array(
    z.object({
      tradeId: z.string(),
      price: Decimal,
      quantity: Decimal,
      commission: Decimal,
      maker: z.boolean(),
      time: EpochMs,
      realizedPnl: Decimal.nullable(),
    }),
  ),
});

const traceEventFields = {
  eventId: z.string(),
  position: z.number().int(),
  /** Market time of the event, ms. */
  time: EpochMs,
  /** The event's data as recorded (see the event catalog). */
  data: z.record(z.string(), z.unknown()),
};

/** One decision of GET /decisions (`DecisionView`). */
export const DecisionResponse = z.strictObject({
  runId: z.string(),
  symbol: SymbolName,
  strategy: z.string(),
  time: EpochMs,
  input: z
    .discriminatedUnion("type", [
      z.strictObject({
        type: z.literal("BarClosed"),
        eventId: z.string(),
        symbol: SymbolName,
        openTime: EpochMs,
        closeTime: EpochMs,
        close: Decimal,
      }),
      z.strictObject({
        type: z.literal("MarketDataGapDetected"),
        eventId: z.string(),
        symbol: SymbolName,
        fromOpenTime: EpochMs,
        toOpenTime: EpochMs,
        missingBars: z.number().int().positive(),
      }),
      z.strictObject({
        type: z.literal("FundingRateSettled"),
        eventId: z.string(),
        symbol: SymbolName,
        fundingTime: EpochMs,
        fundingRate: Decimal,
      }),
    ])
    .nullable(),
  factors: z.strictObject({ type: z.literal("FactorComputed"), ...traceEventFields }).nullable(),
  decision: z
    .strictObject({
      type: z.enum(["TargetPositionSet", "EntrySignalled", "SignalSuppressed"]),
      ...traceEventFields,
    })
    .nullable(),
  followUps: z.array(
    z.strictObject({
      type: z.enum([
        "PositionProtectionRequested",
        "InvalidRiskAtFill",
        "PositionUnprotected",
        "EntryFailed",
        "PositionClosed",
      ]),
      ...traceEventFields,
    }),
  ),
  orders: z.array(z.intersection(OrderResponse, z.object({ causationId: z.string() }))),
});

/** GET /decisions: the page and the number of decisions matching the filters. */
export const DecisionsResponse = z.strictObject({
  total: z.number().int().nonnegative(),
  limit: z.number().int(),
  offset: z.number().int(),
  decisions: z.array(DecisionResponse),
});

/** GET /orders: the page and the number of orders matching the filters. */
export const OrdersResponse = z.object({
  total: z.number().int().nonnegative(),
  limit: z.number().int(),
  offset: z.number().int(),
  orders: z.array(OrderResponse),
});

const TradingStateName = z.enum(["ACTIVE", "REDUCING", "HALTED"]);

/**
 * GET /risk: exposure at mark; the trading state, its last change and the denials per rule; each limit of the
 * run (RiskLimitsSet) with the account's current use of it (null for a limit judged per order, or off).
 */
export const RiskResponse: z.ZodType<AccountRiskView> = z.object({
  tradingState: TradingStateName.nullable(),
  lastStateChange: z
    .object({
      accountId: z.string(),
      from: TradingStateName,
      to: TradingStateName,
      by: z.string(),
      reason: z.string(),
      numbers: z.record(z.string(), z.string()).optional(),
      time: EpochMs,
    })
    .nullable(),
  stateChanges: z.number().int().nonnegative(),
  ordersDenied: z.number().int().nonnegative(),
  deniedByRule: z.record(z.string(), z.number().int().positive()),
  peakEquity: Decimal.nullable(),
  realizedToday: Decimal,
  limits: z.array(
    z.object({
      name: z.string(),
      limit: z.union([z.string(), z.number(), z.null()]),
      use: Decimal.nullable(),
    }),
  ),
  equity: Decimal,
  grossExposure: Decimal,
  netExposure: Decimal,
  leverage: Decimal.nullable(),
  configuredLeverage: z.number().positive().nullable(),
  initialMargin: Decimal.nullable(),
  exposures: z.array(
    z.object({
      symbol: SymbolName,
      positionSide: z.enum(["LONG", "SHORT"]).optional(),
      positionAmt: Decimal,
      markPrice: Decimal,
      notional: Decimal,
      signedNotional: Decimal,
      initialMargin: Decimal.nullable(),
    }),
  ),
});

/** POST /control/halt|resume: the change appended, or the state it already was in. */
export const ControlResponse = z.strictObject({
  changed: z.boolean(),
  tradingState: TradingStateName,
  stream: z.string(),
  change: z
    .strictObject({
      accountId: z.string(),
      from: TradingStateName,
      to: TradingStateName,
      by: z.literal("operator"),
      reason: z.string(),
    })
    .nullable(),
});

/** GET /events: recorded events and the `from` of the next page (null when this page is empty). */
export const EventsResponse = z.object({
  events: z.array(
    z.object({
      stream: z.string(),
      revision: z.number().int().nonnegative(),
      position: z.number().int(),
      eventId: z.string(),
      type: z.string(),
      data: z.record(z.string(), z.unknown()),
      metadata: z.object({ correlationId: z.string(), causationId: z.string(), eventTime: EpochMs }),
    }),
  ),
  next: z.number().int().nullable(),
});

/** GET /metrics: the Prometheus text exposition format (version 0.0.4). */
export const MetricsResponse = z
  .string()
  .describe("Prometheus text format: perpsource_* families from the event log, and the process metrics");
