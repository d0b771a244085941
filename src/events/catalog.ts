/**
 * The event catalog: one zod schema per domain event type. Amounts, prices and quantities are exact decimal
 * strings (USDT for money, quote asset for prices, base asset for quantities); times are ms since epoch UTC.
 * Field names follow Binance's (clientOrderId, reduceOnly, positionAmt, entryPrice, markPrice, fundingRate,
 * walletBalance, commission) and the trading vocabulary (realizedPnl, fill, position).
 */
import { z } from "zod";
import { fastPaths } from "./catalog-fast.ts";
import { DECIMAL_PATTERN, SYMBOL_PATTERN } from "./patterns.ts";

/** A decimal number as a string: optional minus, digits, optional fraction (no exponent). */
export const Decimal = z.string().regex(DECIMAL_PATTERN, 'expected a decimal string like "123.45"');
/** ms since the Unix epoch, UTC. */
export const EpochMs = z.number().int().nonnegative();
/** A Binance symbol, e.g. BTCUSDT. */
export const SymbolName = z.string().regex(SYMBOL_PATTERN, "expected an upper-case symbol like BTCUSDT");
/** Binance's newClientOrderId pattern. */
export const ClientOrderId = z.string().regex(/^[.A-Z:/a-z0-9_-]{1,36}$/, "expected a Binance clientOrderId");
/** Binance order side. */
export const OrderSide = z.enum(["BUY", "SELL"]);
/** Direction of a position or signal. */
export const PositionDirection = z.enum(["LONG", "SHORT"]);
/** The order types the engine sends (binance-usdm.md §2.3). */
export const OrderType = z.enum(["MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET"]);
/** Why an order exists: a bracket's entry, its two exits, an emergency reduce-only close, or a move to a target position. */
export const OrderPurpose = z.enum(["ENTRY", "STOP_LOSS", "TAKE_PROFIT", "FLATTEN", "TARGET"]);

const manifestEntry = z.strictObject({
  /** Path relative to the data root, with forward slashes. */
  path: z.string().min(1),
  kind: z.enum(["klines", "fundingRate", "markPriceKlines"]),
  symbol: SymbolName,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});

const schemas = {
  // ── run-<id> ────────────────────────────────────────────────────────────────────────────────────────────
  /** First event of a run: its full configuration and the manifest of its input files. */
  RunStarted: z.strictObject({
    runId: z.string().min(1),
    mode: z.enum(["backtest", "paper", "testnet", "live"]),
    strategy: z.string().min(1),
    symbols: z.array(SymbolName).min(1),
    from: EpochMs,
    to: EpochMs,
    /** The validated run configuration, as recorded (replay re-runs from it). */
    config: z.record(z.string(), z.unknown()),
    manifest: z.array(manifestEntry),
    /** The exchangeInfo snapshot the instruments came from: `bundled` or a file, and its date (UTC day). */
    instruments: z.strictObject({ source: z.string().min(1), snapshotDate: z.string().min(1) }).optional(),
  }),
  /**
   * A unit of work ended: everything the run decided up to its `marketEvents`-th market event is in the log, and
   * `state` holds the engine's and the venue's state at that point, so `backtest --resume` continues from here.
   */
  RunCheckpointed: z.strictObject({
    runId: z.string().min(1),
    /** Market events (bars, settlements, gaps) of the feed applied so far. */
    marketEvents: z.number().int().positive(),
    /** The last of them: its time (ms), kind and symbol, to check the feed on resume. */
    cursor: z.strictObject({
      time: EpochMs,
      kind: z.enum(["bar", "funding", "gap"]),
      symbol: SymbolName,
    }),
    /** The engine's and the venue's state (JSON). */
    state: z.record(z.string(), z.unknown()),
  }),
  /** Last event of a run: its counters (no wall-clock values, so the log stays deterministic). */
  RunCompleted: z.strictObject({
    runId: z.string().min(1),
    bars: z.number().int().nonnegative(),
    fundingSettlements: z.number().int().nonnegative(),
  }),

  // ── symbol-<SYMBOL> ─────────────────────────────────────────────────────────────────────────────────────
  /** A closed kline (x = true). Prices in quote asset, volume in base asset. */
  BarClosed: z.strictObject({
    symbol: SymbolName,
    interval: z.literal("1m"),
    openTime: EpochMs,
    closeTime: EpochMs,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
  }),
  /** Bars are missing between two closed bars: reported, never filled. Strategy state restarts its warm-up. */
  MarketDataGapDetected: z.strictObject({
    symbol: SymbolName,
    /** openTime of the first missing bar. */
    fromOpenTime: EpochMs,
    /** openTime of the bar that arrived after the gap. */
    toOpenTime: EpochMs,
    missingBars: z.number().int().positive(),
  }),
  /** A realized funding settlement (positive fundingRate: longs pay shorts). */
  FundingRateSettled: z.strictObject({
    symbol: SymbolName,
    fundingTime: EpochMs,
    /** Rate per funding interval, as a ratio (0.0001 = 0.01 %). */
    fundingRate: Decimal,
    /** Hours between settlements for this symbol at this time (8, 4 or 1). */
    fundingIntervalHours: z.number().int().positive(),
    /** Mark price used for the payment. */
    markPrice: Decimal,
    /** Where markPrice came from: the 8h mark-price kline open at the settlement, or the last 1m close. */
    markPriceSource: z.enum(["markPriceKline", "lastClose"]),
  }),
  // ── trade-<SYMBOL> ──────────────────────────────────────────────────────────────────────────────────────
  /** A strategy decided to enter: a MARKET entry follows, bracketed once it fills. */
  EntrySignalled: z.strictObject({
    symbol: SymbolName,
    /** The strategy's registered name, and the version of its parameter schema. */
    strategy: z.string().min(1),
    paramsVersion: z.number().int().positive(),
    direction: PositionDirection,
    /** openTime of the bar the decision was made on. */
    barOpenTime: EpochMs,
    /** The price the decision was made at. */
    referencePrice: Decimal,
    /** Planned stop-loss trigger, before the fill. */
    stopPrice: Decimal,
    /** Take-profit distance as a multiple of the risk the fill takes. */
    takeProfitRiskMultiple: Decimal,
    quantity: Decimal,
    entryClientOrderId: ClientOrderId,
    /** The numbers behind the decision (e.g. sma-cross's barIndex, smaShort, smaLong). */
    signal: z.record(z.string(), z.union([z.number(), z.string()])),
  }),
  /** A signal the strategy saw but did not act on, and why. */
  SignalSuppressed: z.strictObject({
    symbol: SymbolName,
    strategy: z.string().min(1),
    direction: PositionDirection,
    barOpenTime: EpochMs,
    /** The strategy's reason, e.g. sma-cross's positionOpen, cooldown, stopWindowTooShort, invalidRisk, quantityTooSmall. */
    reason: z.string().min(1),
  }),
  /**
   * A strategy set its target position: the MARKET order that moves the position there (reduce-only when it only
   * reduces), or why none was sent.
   */
  TargetPositionSet: z.strictObject({
    symbol: SymbolName,
    strategy: z.string().min(1),
    paramsVersion: z.number().int().positive(),
    barOpenTime: EpochMs,
    /** Signed target size, base asset (one-way mode). */
    targetPositionAmt: Decimal,
    /** Signed size when the target was set. */
    positionAmt: Decimal,
    referencePrice: Decimal,
    /** The order sent, absent when none was. */
    clientOrderId: ClientOrderId.optional(),
    /** Why no order was sent: atTarget, belowMinNotional (the change is worth less than MIN_NOTIONAL), orderPending. */
    reason: z.enum(["atTarget", "belowMinNotional", "orderPending"]).optional(),
    /** The numbers behind the decision. */
    signal: z.record(z.string(), z.union([z.number(), z.string()])),
  }),
  /** The entry filled; the bracket (stop-loss + take-profit) is placed, both reduce-only. */
  PositionProtectionRequested: z.strictObject({
    symbol: SymbolName,
    direction: PositionDirection,
    entryClientOrderId: ClientOrderId,
    entryPrice: Decimal,
    quantity: Decimal,
    stopPrice: Decimal,
    takeProfitPrice: Decimal,
    stopClientOrderId: ClientOrderId,
    takeProfitClientOrderId: ClientOrderId,
  }),
  /** The fill made the planned stop meaningless (risk ≤ 0): the position is flattened at once. */
  InvalidRiskAtFill: z.strictObject({
    symbol: SymbolName,
    direction: PositionDirection,
    entryClientOrderId: ClientOrderId,
    entryPrice: Decimal,
    stopPrice: Decimal,
    flattenClientOrderId: ClientOrderId,
  }),
  /** The entry order was rejected or canceled before any fill: the symbol is flat again, no position. */
  EntryFailed: z.strictObject({
    symbol: SymbolName,
    entryClientOrderId: ClientOrderId,
    reason: z.string().min(1),
  }),
  /** A protective exit was rejected or lost: the position is flattened with a reduce-only MARKET order. */
  PositionUnprotected: z.strictObject({
    symbol: SymbolName,
    reason: z.string().min(1),
    flattenClientOrderId: ClientOrderId,
  }),
  /** The symbol's position is flat again. */
  PositionClosed: z.strictObject({
    symbol: SymbolName,
    exitClientOrderId: ClientOrderId,
    exitPurpose: OrderPurpose,
  }),

  // ── order-<clientOrderId> ───────────────────────────────────────────────────────────────────────────────
  /** The intent to send an order, durable before the venue sees it. */
  OrderSubmitted: z.strictObject({
    clientOrderId: ClientOrderId,
    symbol: SymbolName,
    side: OrderSide,
    type: OrderType,
    purpose: OrderPurpose,
    positionSide: z.literal("BOTH"),
    quantity: Decimal,
    reduceOnly: z.boolean(),
    /** Trigger price of STOP_MARKET / TAKE_PROFIT_MARKET orders. */
    triggerPrice: Decimal.optional(),
    workingType: z.enum(["MARK_PRICE", "CONTRACT_PRICE"]).optional(),
    priceProtect: z.boolean().optional(),
    /** The other leg of a one-cancels-the-other bracket. */
    siblingClientOrderId: ClientOrderId.optional(),
  }),
  /** The venue acknowledged the order (status NEW). */
  OrderAccepted: z.strictObject({
    clientOrderId: ClientOrderId,
    /** The venue's order id (algoId for conditional orders). */
    orderId: z.string().min(1),
  }),
  /** A fill (execution type TRADE). */
  OrderFilled: z.strictObject({
    clientOrderId: ClientOrderId,
    symbol: SymbolName,
    side: OrderSide,
    tradeId: z.string().min(1),
    price: Decimal,
    quantity: Decimal,
    /** Cumulative filled quantity after this fill. */
    cumulativeQuantity: Decimal,
    /** Commission in USDT (fill notional × rate). */
    commission: Decimal,
    commissionAsset: z.literal("USDT"),
    maker: z.boolean(),
    /** Order status after the fill. */
    status: z.enum(["PARTIALLY_FILLED", "FILLED"]),
  }),
  OrderCanceled: z.strictObject({
    clientOrderId: ClientOrderId,
    reason: z.enum(["siblingFilled", "positionClosed", "protectionFailed", "user"]),
  }),
  /** The venue expired the order (status EXPIRED), e.g. a reduce-only order with nothing left to reduce. */
  OrderExpired: z.strictObject({
    clientOrderId: ClientOrderId,
    reason: z.string().min(1),
  }),
  OrderRejected: z.strictObject({
    clientOrderId: ClientOrderId,
    /** Binance error code (e.g. -2021, -4164) or 0 for a local rejection. */
    code: z.number().int(),
    reason: z.string().min(1),
  }),

  // ── account-<id> ────────────────────────────────────────────────────────────────────────────────────────
  AccountOpened: z.strictObject({
    accountId: z.string().min(1),
    asset: z.literal("USDT"),
    walletBalance: Decimal,
  }),
  /** A fill booked to the account (ACCOUNT_UPDATE reason ORDER): position and wallet after it. */
  FillBooked: z.strictObject({
    symbol: SymbolName,
    clientOrderId: ClientOrderId,
    tradeId: z.string().min(1),
    side: OrderSide,
    price: Decimal,
    quantity: Decimal,
    commission: Decimal,
    /** closedQty × side × (price − entryPrice), before commission (Binance `rp`). */
    realizedPnl: Decimal,
    /** Signed position size after the fill, base asset (one-way mode). */
    positionAmt: Decimal,
    entryPrice: Decimal,
    walletBalance: Decimal,
  }),
  /** A funding payment (ACCOUNT_UPDATE reason FUNDING_FEE); binance-usdm.md §4.4. */
  FundingFeeBooked: z.strictObject({
    symbol: SymbolName,
    fundingTime: EpochMs,
    fundingRate: Decimal,
    markPrice: Decimal,
    positionAmt: Decimal,
    /** Signed wallet change: −positionAmt × markPrice × fundingRate (USDT). */
    fundingFee: Decimal,
    walletBalance: Decimal,
  }),
} as const;

/** Every event type name. */
export type EventType = keyof typeof schemas;
/** The data shape of one event type. */
export type EventData<T extends EventType> = z.infer<(typeof schemas)[T]>;
/** A domain event: a type and its data. */
export type DomainEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

/** Every event type name, in catalog order. */
export const eventTypes = Object.keys(schemas) as EventType[];

/** An event's data failed its schema. The message names the event type and the field path. */
export class EventSchemaError extends Error {
  override name = "EventSchemaError";
  constructor(
    readonly eventType: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`event ${eventType} is invalid at field "${field}": ${problem}`);
  }
}

/**
 * Validates `data` against the schema of `type` and returns it with the schema's key order (so serialised
 * events are canonical).
 * @throws EventSchemaError for an unknown type or the first failing field.
 */
export function validateEvent<T extends EventType>(type: T, data: unknown): EventData<T> {
  const fast = fastPaths.get(type)?.(data);
  if (fast !== undefined) return fast as EventData<T>;
  const schema = Object.hasOwn(schemas, type) ? (schemas as Record<string, z.ZodType>)[type] : undefined;
  if (!schema) throw new EventSchemaError(String(type), "type", "unknown event type");
  const result = schema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new EventSchemaError(type, issue.path.join(".") || "(root)", issue.message);
  }
  return result.data as EventData<T>;
}
