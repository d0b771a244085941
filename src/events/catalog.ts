/**
 * The event catalog: one zod schema per domain event type. Amounts, prices and quantities are exact decimal
 * strings (USDT for money, quote asset for prices, base asset for quantities); times are ms since epoch UTC.
 * Field names follow Binance's (clientOrderId, reduceOnly, positionAmt, entryPrice, markPrice, fundingRate,
 * walletBalance, commission) and the trading vocabulary (realizedPnl, fill, position).
 */
import { z } from "zod";
import { fastPaths } from "./catalog-fast.ts";
import { DECIMAL_PATTERN, SYMBOL_PATTERN } from "./patterns.ts";
import { compileFastPath } from "./schema-fast.ts";

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
/**
 * Binance USDⓈ-M order types (binance-usdm.md §2.3). The five conditional types follow the Algo Order lifecycle
 * (§2.4) until triggered; then a regular MARKET (…_MARKET types) or LIMIT (STOP, TAKE_PROFIT) order exists.
 */
export const OrderType = z.enum([
  "LIMIT",
  "MARKET",
  "STOP",
  "STOP_MARKET",
  "TAKE_PROFIT",
  "TAKE_PROFIT_MARKET",
  "TRAILING_STOP_MARKET",
]);
/** The conditional (algo) order types of binance-usdm.md §2.4. */
export const CONDITIONAL_ORDER_TYPES = [
  "STOP",
  "STOP_MARKET",
  "TAKE_PROFIT",
  "TAKE_PROFIT_MARKET",
  "TRAILING_STOP_MARKET",
] as const;
/** Time in force (§2.2): GTC, IOC, FOK, GTX (post-only), GTD (needs goodTillDate). */
export const TimeInForce = z.enum(["GTC", "IOC", "FOK", "GTX", "GTD"]);
/** One-way mode: BOTH; hedge mode: LONG or SHORT (§4.1). */
export const PositionSide = z.enum(["BOTH", "LONG", "SHORT"]);
/** The price a conditional order's trigger watches (§2.3): mark price, or the contract's last price. */
export const WorkingType = z.enum(["MARK_PRICE", "CONTRACT_PRICE"]);
/** Self-trade prevention (§2.2); an STP expiry gives status EXPIRED_IN_MATCH. */
export const SelfTradePreventionMode = z.enum(["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]);
/** Margin type of a symbol's positions (§4.1). */
export const MarginType = z.enum(["ISOLATED", "CROSSED"]);
/** The risk engine's trading state: ACTIVE, REDUCING (only reduce-only orders pass), HALTED (nothing passes). */
export const TradingState = z.enum(["ACTIVE", "REDUCING", "HALTED"]);
/**
 * Why an order exists: a bracket's entry, its two exits, an emergency reduce-only close, a move to a target
 * position, or the venue's liquidation (Binance's `autoclose-` orders, binance-usdm.md §3.2).
 */
export const OrderPurpose = z.enum(["ENTRY", "STOP_LOSS", "TAKE_PROFIT", "FLATTEN", "TARGET", "LIQUIDATION"]);

const manifestEntry = z.strictObject({
  /** Path relative to the data root, with forward slashes. */
  path: z.string().min(1),
  kind: z.enum(["klines", "fundingRate", "markPriceKlines", "trades", "bookTicker", "markPrice1s"]),
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
    /** The leverage-bracket snapshot the margins and liquidations used: `bundled` or a file, and its date. */
    brackets: z.strictObject({ source: z.string().min(1), snapshotDate: z.string().min(1) }).optional(),
  }),
  /**
   * A unit of work ended: everything the run decided up to its `marketEvents`-th market event is in the log, and
   * `state` holds the engine's and the venue's state at that point, so `backtest --resume` continues from here.
   */
  RunCheckpointed: z.strictObject({
    runId: z.string().min(1),
    /** Market events (bars, settlements, gaps) of the feed applied so far (0: a live run's opening). */
    marketEvents: z.number().int().nonnegative(),
    /**
     * The last of them: its time (ms), kind and symbol, to check the feed on resume; absent before the first (a
     * live run's checkpoint after its opening or after a venue report that came first).
     */
    cursor: z
      .strictObject({
        time: EpochMs,
        kind: z.enum(["bar", "funding", "gap"]),
        symbol: SymbolName,
      })
      .optional(),
    /** The engine's and the venue's state (JSON). */
    state: z.record(z.string(), z.unknown()),
  }),
  /**
   * The market inputs a live run's strategy warmed up on before its start (REST klines: bars and gaps of one
   * symbol, in order; for a strategy consuming funding, the settlements too), so the log holds every input the
   * strategy consumed (a backtest's warm-up is in its files). Recorded once per symbol, before the account opens.
   */
  WarmUpRecorded: z.strictObject({
    runId: z.string().min(1),
    symbol: SymbolName,
    /** The warm-up window [from, to) of the bars, ms. Settlements reach back 8 h before `from` (see inputs). */
    from: EpochMs,
    to: EpochMs,
    /**
     * In market order (time, then settlement < gap < bar): a closed 1m bar as `[openTime, open, high, low, close,
     * volume]`, or `[…, takerBuyVolume]` when its source had the taker buy base volume (closeTime = openTime +
     * 59 999); a gap (its market time is `toOpenTime`); or a funding settlement (its market time is
     * `fundingTime`; only for a strategy consuming funding, from `from` − 8 h, so that the rate in force at the
     * first bar is known). Logs written before taker volumes and settlements were recorded hold only 6-tuples
     * and gaps, and read back as they were.
     */
    inputs: z.array(
      z.union([
        z.tuple([EpochMs, Decimal, Decimal, Decimal, Decimal, Decimal]),
        z.tuple([EpochMs, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal]),
        z.strictObject({
          fromOpenTime: EpochMs,
          toOpenTime: EpochMs,
          missingBars: z.number().int().positive(),
        }),
        z.strictObject({
          fundingTime: EpochMs,
          fundingRate: Decimal,
          fundingIntervalHours: z.number().int().positive(),
          markPrice: Decimal,
          markPriceSource: z.enum(["markPriceKline", "lastClose"]),
        }),
      ]),
    ),
  }),
  /** Last event of a run: its counters (no wall-clock values, so the log stays deterministic). */
  RunCompleted: z.strictObject({
    runId: z.string().min(1),
    bars: z.number().int().nonnegative(),
    fundingSettlements: z.number().int().nonnegative(),
  }),

  // ── symbol-<SYMBOL> ─────────────────────────────────────────────────────────────────────────────────────
  /**
   * A closed kline (x = true). Prices in quote asset, volume in base asset. `markPrice`: the mark price at
   * closeTime (the close of the 1m mark-price kline of the minute), present only when the run has one for it;
   * positions are marked to it instead of the close (binance-usdm.md §4.2 unrealized PnL at the mark).
   */
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
    /**
     * Base volume bought by takers, present only when the bar's source has it (the official 12-column kline
     * layout's taker_buy_volume); absent, never "0", for OHLCV sources.
     */
    takerBuyVolume: Decimal.optional(),
    markPrice: Decimal.optional(),
    /**
     * A live run's mark-price kline of the minute besides its close (`markPrice`): open, high and low, which the
     * simulated venue triggers and liquidates on, so a replay or a what-if matches the bar as the run did.
     * Absent in backtests (their mark files are in the manifest).
     */
    markOpen: Decimal.optional(),
    markHigh: Decimal.optional(),
    markLow: Decimal.optional(),
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
  /**
   * What a strategy computed at a decision (the first link of the decision trace): bar → FactorComputed → the
   * decision it caused (TargetPositionSet, EntrySignalled, SignalSuppressed) → orders → fills.
   */
  FactorComputed: z.strictObject({
    symbol: SymbolName,
    strategy: z.string().min(1),
    paramsVersion: z.number().int().positive(),
    /** openTime of the bar the values were computed at (e.g. a 1h bar's). */
    barOpenTime: EpochMs,
    /**
     * The values by name, as the strategy defines them (multifactor-v2: strategies.md §1.4 A–I, then its §1.6
     * sizing): float64 numbers, decimal strings for money and quantities, flags; null for a value not yet valid.
     */
    factors: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])),
  }),
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
    /**
     * Hedge mode: a second order sent after `clientOrderId` (the close of the other side comes first, then the
     * move of the target's side; binance-usdm.md §4.1). Absent in one-way mode.
     */
    secondClientOrderId: ClientOrderId.optional(),
    /**
     * Why no order was sent: atTarget; belowMinNotional (the change floors to 0 or is worth less than
     * MIN_NOTIONAL); orderPending (an earlier target order still works); band (the strategy's trade band holds it).
     */
    reason: z.enum(["atTarget", "belowMinNotional", "orderPending", "band"]).optional(),
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
  /**
   * The intent to send an order, durable before the venue sees it (binance-usdm.md §2.2–2.4 parameters; the
   * venue validates them and answers with Binance's codes).
   */
  OrderSubmitted: z.strictObject({
    clientOrderId: ClientOrderId,
    symbol: SymbolName,
    side: OrderSide,
    type: OrderType,
    purpose: OrderPurpose,
    positionSide: PositionSide,
    /** Base asset; absent only with closePosition. */
    quantity: Decimal.optional(),
    reduceOnly: z.boolean(),
    /** Limit price: LIMIT, STOP, TAKE_PROFIT. */
    price: Decimal.optional(),
    /** LIMIT, STOP and TAKE_PROFIT (default GTC at the venue). */
    timeInForce: TimeInForce.optional(),
    /** GTD expiry, ms (second precision). */
    goodTillDate: EpochMs.optional(),
    /** Trigger price of STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET orders (algo `triggerPrice`). */
    triggerPrice: Decimal.optional(),
    workingType: WorkingType.optional(),
    priceProtect: z.boolean().optional(),
    /** STOP_MARKET / TAKE_PROFIT_MARKET: close the whole position when triggered (no quantity, no reduceOnly). */
    closePosition: z.boolean().optional(),
    /** TRAILING_STOP_MARKET: activation price (default: the latest price at placement). */
    activatePrice: Decimal.optional(),
    /** TRAILING_STOP_MARKET: callback in percent, 0.1–10 (1 = 1 %). */
    callbackRate: Decimal.optional(),
    selfTradePreventionMode: SelfTradePreventionMode.optional(),
    /** The other leg of a one-cancels-the-other bracket. */
    siblingClientOrderId: ClientOrderId.optional(),
  }),
  /**
   * The pre-trade risk engine refused the order before it reached the venue: the rule and its numbers
   * (limits and values as decimal strings). Final.
   */
  OrderDenied: z.strictObject({
    clientOrderId: ClientOrderId,
    symbol: SymbolName,
    /** The rule's name, e.g. maxOrderNotional, tradingStateHalted, priceBand. */
    rule: z.string().min(1),
    reason: z.string().min(1),
    numbers: z.record(z.string(), z.string()),
  }),
  /** The venue acknowledged the order: status NEW, or algo status NEW for a conditional order. */
  OrderAccepted: z.strictObject({
    clientOrderId: ClientOrderId,
    /** The venue's order id (algoId for conditional orders). */
    orderId: z.string().min(1),
  }),
  /** A conditional order's condition was met (algo status TRIGGERING), on the price its workingType watches. */
  OrderTriggering: z.strictObject({
    clientOrderId: ClientOrderId,
    /** Which price crossed the trigger, and its value (quote asset). */
    workingType: WorkingType,
    triggeredAt: Decimal,
  }),
  /**
   * The triggered conditional order is in the matching engine (algo status TRIGGERED): a regular MARKET or LIMIT
   * order with its own order id now works.
   */
  OrderTriggered: z.strictObject({
    clientOrderId: ClientOrderId,
    /** The matching-engine order id (ALGO_UPDATE `ai`). */
    orderId: z.string().min(1),
    /** The regular order's type (ALGO_UPDATE `act`). */
    actualType: z.enum(["MARKET", "LIMIT"]),
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
    reason: z.enum([
      "siblingFilled",
      "positionClosed",
      "protectionFailed",
      "user",
      "liquidation",
      "shutdown",
    ]),
  }),
  /**
   * The venue expired the order: status EXPIRED (IOC/FOK remainder, GTX that would take, GTD, reduce-only with
   * nothing to reduce, liquidation), or EXPIRED_IN_MATCH for a self-trade-prevention expiry.
   */
  OrderExpired: z.strictObject({
    clientOrderId: ClientOrderId,
    reason: z.string().min(1),
    /** Binance's expiry reason `er` (binance-usdm.md §3.1): 1 and 3 are STP expiries (EXPIRED_IN_MATCH). */
    expiryReason: z.number().int().min(0).max(9).optional(),
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
    /** Hedge mode (LONG and SHORT positions per symbol); absent = one-way mode (binance-usdm.md §4.1). */
    dualSidePosition: z.boolean().optional(),
  }),
  /** A symbol's leverage and margin type (ACCOUNT_CONFIG_UPDATE; §4.1): set before its first order. */
  SymbolConfigured: z.strictObject({
    symbol: SymbolName,
    /** Initial leverage, an integer 1–125 capped by the symbol's brackets. */
    leverage: z.number().int().min(1).max(125),
    marginType: MarginType,
  }),
  /** A fill booked to the account (ACCOUNT_UPDATE reason ORDER): position and wallet after it. */
  FillBooked: z.strictObject({
    symbol: SymbolName,
    /** BOTH in one-way mode; LONG or SHORT in hedge mode (absent = BOTH). */
    positionSide: PositionSide.optional(),
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
    /** Margin of an ISOLATED position after the fill (ACCOUNT_UPDATE `iw`); absent for cross margin. */
    isolatedWallet: Decimal.optional(),
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
    /** BOTH in one-way mode (absent = BOTH). */
    positionSide: PositionSide.optional(),
    /** The isolated position's margin after the payment; absent for cross margin. */
    isolatedWallet: Decimal.optional(),
  }),
  /**
   * The mark price crossed the position's liquidation price (binance-usdm.md §4.7–4.8): the symbol's orders were
   * expired, the position closed at `price`, the clearance fee charged. USDT unless stated.
   */
  PositionLiquidated: z.strictObject({
    symbol: SymbolName,
    /** The venue's liquidation order (Binance `autoclose-…`, §3.2). */
    clientOrderId: ClientOrderId,
    positionSide: PositionSide,
    marginType: MarginType,
    /** Signed size before liquidation, base asset. */
    positionAmt: Decimal,
    entryPrice: Decimal,
    /**
     * The mark price where it crossed liquidationPrice (the liquidation price itself, or the mark's open when the
     * bar opened beyond it), and the liquidation price of §4.7 at that moment.
     */
    markPrice: Decimal,
    liquidationPrice: Decimal,
    /** Close price (quote asset). */
    price: Decimal,
    /** Maintenance margin at markPrice (notional × MMR − cum). */
    maintMargin: Decimal,
    /** PnL booked: positionAmt × (price − entryPrice), but not below −(the wallet the loss comes out of). */
    realizedPnl: Decimal,
    /** liquidated notional × liquidationFee, capped at the remaining margin (§4.8). */
    clearanceFee: Decimal,
    /** Loss above the position's margin (isolated) or the wallet (cross) taken by the insurance fund; ≥ 0. */
    insuranceFundCovered: Decimal,
    walletBalance: Decimal,
  }),

  // ── risk-<accountId> ────────────────────────────────────────────────────────────────────────────────────
  /** The risk limits a run trades under (recorded once, before any order). */
  RiskLimitsSet: z.strictObject({
    accountId: z.string().min(1),
    limits: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
  }),
  /** The trading state changed, by a rule or by an operator, with the reason. */
  TradingStateChanged: z.strictObject({
    accountId: z.string().min(1),
    from: TradingState,
    to: TradingState,
    /** A rule's name (e.g. drawdownHalt, dailyLossLimit) or "operator". */
    by: z.string().min(1),
    reason: z.string().min(1),
    /** The numbers behind a rule's change (decimal strings). */
    numbers: z.record(z.string(), z.string()).optional(),
  }),
  /**
   * A reconciliation with the venue that changed something (src/engine/reconciliation.ts): how many lost venue
   * reports it recovered (booked as their own events before this one) and what it could not explain; a
   * TradingStateChanged by `reconciliation` follows when a discrepancy calls for REDUCING or HALTED.
   */
  VenueReconciled: z.strictObject({
    accountId: z.string().min(1),
    /** start (after the venue started), resync (stream reconnected, listenKey re-created), periodic. */
    trigger: z.enum(["start", "resync", "periodic"]),
    recovered: z.number().int().nonnegative(),
    discrepancies: z.array(
      z.strictObject({
        kind: z.enum([
          "unknownOrder",
          "unknownPosition",
          "positionMismatch",
          "orderNotAtVenue",
          "walletMismatch",
        ]),
        /** The discrepancy in words, with its numbers. */
        detail: z.string().min(1),
      }),
    ),
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

/** Each type's fast path (null: none), found on first use: the hand-written one, else one compiled from its schema. */
const fastPathCache = new Map<string, ((data: unknown) => unknown) | null>();

/**
 * The fast path of `type`: catalog-fast.ts's hand-written one, else the one schema-fast.ts compiles from its
 * schema, else undefined (zod only). A fast path returns the valid data's canonical copy, or undefined: ask zod.
 */
export function fastPath(type: string): ((data: unknown) => unknown) | undefined {
  let path = fastPathCache.get(type);
  if (path === undefined) {
    const schema = eventSchema(type);
    path = fastPaths.get(type) ?? (schema && compileFastPath(schema)) ?? null;
    fastPathCache.set(type, path);
  }
  return path ?? undefined;
}

/** The zod schema of event `type`, or undefined for a type the catalog does not have. */
export function eventSchema(type: string): z.ZodType | undefined {
  return Object.hasOwn(schemas, type) ? (schemas as Record<string, z.ZodType>)[type] : undefined;
}

/**
 * Validates `data` against the schema of `type` and returns it with the schema's key order (so serialised
 * events are canonical).
 * @throws EventSchemaError for an unknown type or the first failing field.
 */
export function validateEvent<T extends EventType>(type: T, data: unknown): EventData<T> {
  const fast = fastPath(type)?.(data);
  if (fast !== undefined) return fast as EventData<T>;
  const schema = eventSchema(type);
  if (!schema) throw new EventSchemaError(String(type), "type", "unknown event type");
  const result = schema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new EventSchemaError(type, issue.path.join(".") || "(root)", issue.message);
  }
  return result.data as EventData<T>;
}
