/**
 * The vocabulary of the pre-trade risk engine: the limits (all optional: an absent limit turns its rule off),
 * the snapshot of the account the rules look at, an order intent and a denial. Money in USDT, prices in quote
 * asset, quantities in base asset, ratios as decimal strings (0.15 = 15 %), times in market ms (UTC).
 */
import type { EventData } from "../../events/catalog.ts";

/** The trading state (ACTIVE, REDUCING: only orders that reduce a position, HALTED: no order). */
export type TradingState = EventData<"TradingStateChanged">["to"];

/** An order rate: at most `orders` orders sent within any `windowMs` of market time. */
export interface OrderRateLimit {
  orders: number;
  windowMs: number;
}

/** The limits an account trades under. Every field is optional; absent = that rule is off. */
export interface RiskLimits {
  /** Largest notional of one order (USDT). */
  maxOrderNotional?: string;
  /** Largest notional of one symbol's position after the order (USDT). */
  maxPositionNotional?: string;
  /** Largest gross exposure Σ|notional| after the order, open orders included (USDT). */
  maxGrossExposure?: string;
  /** Largest account leverage after the order: gross exposure / equity (a ratio, 3 = 3×). */
  maxLeverage?: string;
  /** Most positions open at once (symbols with a position or a working opening order). */
  maxOpenPositions?: number;
  /** Fat-finger band: an order's price more than this ratio from the mark is denied (0.05 = 5 %). */
  priceBand?: string;
  /** Order-rate limit in market time. */
  orderRate?: OrderRateLimit;
  /** Net realized loss of one UTC day (realized PnL − commission + funding) that changes the state (USDT, > 0). */
  dailyLossLimit?: string;
  /** The state a breached daily loss limit moves to (default REDUCING); back to ACTIVE at the next UTC day. */
  dailyLossAction?: "REDUCING" | "HALTED";
  /** Drawdown from peak equity that halts trading, latched until an operator resumes (0.15 = 15 %). */
  maxDrawdown?: string;
}

/** One position of the account at mark. */
export interface RiskPosition {
  symbol: string;
  positionSide: "BOTH" | "LONG" | "SHORT";
  /** Signed size (negative: short). */
  positionAmt: string;
  /** The mark the position is valued at (undefined before any price of the symbol). */
  markPrice: string | undefined;
}

/** A working order, valued for exposure: what may still fill. */
export interface RiskOpenOrder {
  symbol: string;
  positionSide: "BOTH" | "LONG" | "SHORT";
  side: "BUY" | "SELL";
  /** Remaining quantity (base asset). */
  quantity: string;
  /** reduceOnly or closePosition: it can only reduce. */
  reducing: boolean;
  /** The price it is valued at (see `orderValuationPrice`), undefined when none is known. */
  price: string | undefined;
}

/** What the rules see of the account at one moment. */
export interface RiskSnapshot {
  /** Market time of the snapshot (ms). */
  time: number;
  walletBalance: string;
  /** walletBalance + Σ unrealized PnL at mark. */
  equity: string;
  /** Highest equity seen (sampled at each mark and fill; the opening balance at first). */
  peakEquity: string;
  /** Net realized PnL of the UTC day of `time`: Σ realizedPnl − commission + funding fees. */
  realizedToday: string;
  /** Open positions (flat ones absent). */
  positions: readonly RiskPosition[];
  /** Latest mark per symbol. */
  marks: Readonly<Record<string, string>>;
  /** Working orders. */
  openOrders: readonly RiskOpenOrder[];
  /** Market times (ms) at which earlier orders were sent, oldest first (for the rate limit). */
  orderTimes: readonly number[];
  tradingState: TradingState;
}

/** The order a rule judges: its OrderSubmitted data, and for a MARKET order the price the decision was made at. */
export interface OrderIntent {
  order: EventData<"OrderSubmitted">;
  /** The price the strategy decided at (MARKET orders; e.g. EntrySignalled.referencePrice). */
  referencePrice?: string;
}

/** A refusal: the rule's name, a sentence, and the numbers behind it (decimal strings). */
export interface Denial {
  rule: string;
  reason: string;
  numbers: Record<string, string>;
}

/** A pre-trade rule: pure; undefined = the order passes this rule. */
export type PreTradeRule = (
  intent: OrderIntent,
  snapshot: RiskSnapshot,
  limits: RiskLimits,
) => Denial | undefined;
