/**
 * What the double keeps of each order, algo order, trade and income entry, and their REST shapes as Binance
 * sends them (binance-usdm.md §2; node_modules/binance/lib/types/futures.d.ts: OrderResult, FuturesAlgoOrderResponse,
 * FuturesPositionTrade, IncomeHistory). Prices and quantities are canonical decimal strings, times ms.
 */
import type { AlgoStatus } from "../../actors/order.machine.ts";
import { canonical, Dec } from "../../domain/decimal.ts";

export type { AlgoStatus };

export type Side = "BUY" | "SELL";
export type PositionSide = "BOTH" | "LONG" | "SHORT";
export type OrderStatus = "NEW" | "PARTIALLY_FILLED" | "FILLED" | "CANCELED" | "EXPIRED" | "EXPIRED_IN_MATCH";
export type ConditionalType =
  | "STOP"
  | "STOP_MARKET"
  | "TAKE_PROFIT"
  | "TAKE_PROFIT_MARKET"
  | "TRAILING_STOP_MARKET";

/** A matching-engine order: a LIMIT or MARKET order, a triggered algo order's child, or a liquidation order. */
export interface OrderRecord {
  orderId: number;
  /** For a triggered algo order: its clientAlgoId (§2.4 note); for a liquidation: `autoclose-…`. */
  clientOrderId: string;
  symbol: string;
  side: Side;
  positionSide: PositionSide;
  type: "LIMIT" | "MARKET" | "LIQUIDATION";
  /** The type as placed: the algo order's type for a triggered child. */
  origType: string;
  /** "0" for a closePosition child (no quantity of its own). */
  origQty: string;
  price: string;
  stopPrice: string;
  timeInForce: string;
  reduceOnly: boolean;
  closePosition: boolean;
  workingType: "MARK_PRICE" | "CONTRACT_PRICE";
  priceProtect: boolean;
  selfTradePreventionMode: string;
  goodTillDate: number;
  activatePrice?: string;
  priceRate?: string;
  status: OrderStatus;
  executedQty: string;
  /** Σ price × quantity of the fills (USDT). */
  cumQuote: string;
  time: number;
  updateTime: number;
  /** The algo order it was triggered from. */
  algoId?: number;
}

/** An algo (conditional) order of `/fapi/v1/algoOrder`. */
export interface AlgoRecord {
  algoId: number;
  clientAlgoId: string;
  symbol: string;
  side: Side;
  positionSide: PositionSide;
  orderType: ConditionalType;
  timeInForce: string;
  /** "0" with closePosition. */
  quantity: string;
  price: string;
  triggerPrice: string;
  workingType: "MARK_PRICE" | "CONTRACT_PRICE";
  selfTradePreventionMode: string;
  closePosition: boolean;
  priceProtect: boolean;
  reduceOnly: boolean;
  activatePrice?: string;
  callbackRate?: string;
  goodTillDate: number;
  algoStatus: AlgoStatus;
  createTime: number;
  updateTime: number;
  /** 0 until triggered. */
  triggerTime: number;
  /** The child's orderId once triggered ("" before). */
  actualOrderId: string;
  /** The reject reason (`rm`) of a REJECTED algo order. */
  rejectReason?: string;
}

/** One fill of `GET /fapi/v1/userTrades`. */
export interface TradeRecord {
  symbol: string;
  id: number;
  orderId: number;
  side: Side;
  price: string;
  qty: string;
  quoteQty: string;
  realizedPnl: string;
  commission: string;
  commissionAsset: "USDT";
  time: number;
  positionSide: PositionSide;
  buyer: boolean;
  maker: boolean;
}

export type IncomeType = "REALIZED_PNL" | "COMMISSION" | "FUNDING_FEE" | "INSURANCE_CLEAR";

/** One entry of `GET /fapi/v1/income`. */
export interface IncomeRecord {
  symbol: string;
  incomeType: IncomeType;
  income: string;
  asset: "USDT";
  info: string;
  time: number;
  tranId: number;
  tradeId: string;
}

/** The average fill price of an order: cumQuote / executedQty, "0" before any fill. */
export function avgPrice(o: Pick<OrderRecord, "cumQuote" | "executedQty">): string {
  const qty = new Dec(o.executedQty);
  return qty.isZero() ? "0" : canonical(new Dec(o.cumQuote).div(qty).toDecimalPlaces(12));
}

/** Whether an order still works (NEW or PARTIALLY_FILLED). */
export function isOpen(o: OrderRecord): boolean {
  return o.status === "NEW" || o.status === "PARTIALLY_FILLED";
}

/**
 * An order as Binance answers it: `query` (GET order, openOrders, allOrders: with `time`, without `cumQty`),
 * `new` (POST order: `cumQty`, no `time`), `cancel` (DELETE order: no `time`, `avgPrice`, `goodTillDate`),
 * following the SDK's OrderResult, NewOrderResult and CancelFuturesOrderResult.
 */
export function orderShape(
  o: OrderRecord,
  answer: "query" | "new" | "cancel" = "query",
): Record<string, unknown> {
  const shape = orderFields(o);
  if (answer === "query") delete shape.cumQty;
  else delete shape.time;
  if (answer === "cancel") {
    delete shape.avgPrice;
    delete shape.goodTillDate;
  }
  return shape;
}

function orderFields(o: OrderRecord): Record<string, unknown> {
  return {
    orderId: o.orderId,
    symbol: o.symbol,
    status: o.status,
    clientOrderId: o.clientOrderId,
    price: o.price,
    avgPrice: avgPrice(o),
    origQty: o.origQty,
    executedQty: o.executedQty,
    cumQty: o.executedQty,
    cumQuote: o.cumQuote,
    timeInForce: o.timeInForce,
    type: o.type,
    reduceOnly: o.reduceOnly,
    closePosition: o.closePosition,
    side: o.side,
    positionSide: o.positionSide,
    stopPrice: o.stopPrice,
    workingType: o.workingType,
    priceProtect: o.priceProtect,
    origType: o.origType,
    priceMatch: "NONE",
    selfTradePreventionMode: o.selfTradePreventionMode,
    goodTillDate: o.goodTillDate,
    ...(o.activatePrice === undefined ? {} : { activatePrice: o.activatePrice }),
    ...(o.priceRate === undefined ? {} : { priceRate: o.priceRate }),
    time: o.time,
    updateTime: o.updateTime,
  };
}

/** An algo order as the algo endpoints send it (FuturesQueryAlgoOrderResponse). */
export function algoShape(a: AlgoRecord, actualPrice: string): Record<string, unknown> {
  return {
    algoId: a.algoId,
    clientAlgoId: a.clientAlgoId,
    algoType: "CONDITIONAL",
    orderType: a.orderType,
    symbol: a.symbol,
    side: a.side,
    positionSide: a.positionSide,
    timeInForce: a.timeInForce,
    quantity: a.quantity,
    algoStatus: a.algoStatus,
    actualOrderId: a.actualOrderId,
    actualPrice,
    triggerPrice: a.triggerPrice,
    price: a.price,
    icebergQuantity: null,
    tpTriggerPrice: "0",
    tpPrice: "0",
    slTriggerPrice: "0",
    slPrice: "0",
    tpOrderType: "",
    selfTradePreventionMode: a.selfTradePreventionMode,
    workingType: a.workingType,
    priceMatch: "NONE",
    closePosition: a.closePosition,
    priceProtect: a.priceProtect,
    reduceOnly: a.reduceOnly,
    ...(a.activatePrice === undefined ? {} : { activatePrice: a.activatePrice }),
    ...(a.callbackRate === undefined ? {} : { callbackRate: a.callbackRate }),
    createTime: a.createTime,
    updateTime: a.updateTime,
    triggerTime: a.triggerTime,
    goodTillDate: a.goodTillDate,
  };
}
