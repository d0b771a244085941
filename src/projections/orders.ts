/**
 * Orders projection: every order of the log, folded from its `order-<clientOrderId>` stream (the order machine's
 * transitions, src/actors/order.machine.ts: OrderSubmitted → OrderAccepted → [OrderTriggering → OrderTriggered]
 * → OrderFilled… | OrderCanceled | OrderExpired | OrderRejected | OrderDenied; binance-usdm.md §2.4, §3.1).
 */

import { type AlgoStatus, algoStatus, isConditionalType } from "../actors/order.machine.ts";
import { canonical, Dec } from "../domain/decimal.ts";
import type { EventData } from "../events/catalog.ts";
import { quotient, ZERO } from "./amounts.ts";

/**
 * Order statuses: Binance's (§3.1), plus PENDING_NEW between OrderSubmitted and OrderAccepted, TRIGGERING and
 * TRIGGERED for a conditional order between its trigger and its first fill, and DENIED by the risk engine.
 */
export const orderStatuses = [
  "PENDING_NEW",
  "NEW",
  "TRIGGERING",
  "TRIGGERED",
  "PARTIALLY_FILLED",
  "FILLED",
  "CANCELED",
  "EXPIRED",
  "EXPIRED_IN_MATCH",
  "REJECTED",
  "DENIED",
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/** One fill of an order. */
export interface OrderFillView {
  tradeId: string;
  /** Quote asset. */
  price: string;
  /** Base asset. */
  quantity: string;
  /** USDT. */
  commission: string;
  maker: boolean;
  /** eventTime of the fill, ms. */
  time: number;
  /** The fill's realized PnL before commission, USDT (its FillBooked `realizedPnl`); null until booked. */
  realizedPnl: string | null;
}

/** An order as the API shows it. Decimals are strings. */
export interface OrderView {
  clientOrderId: string;
  /** The venue's order id; null until OrderAccepted. */
  orderId: string | null;
  symbol: string;
  side: Submitted["side"];
  type: Submitted["type"];
  purpose: Submitted["purpose"];
  positionSide: Submitted["positionSide"];
  /** Ordered quantity, base asset; null for a closePosition order. */
  quantity: string | null;
  /** Limit price (LIMIT, STOP, TAKE_PROFIT), quote asset; null otherwise. */
  price: string | null;
  timeInForce: Submitted["timeInForce"] | null;
  /** Trigger price of STOP / STOP_MARKET / TAKE_PROFIT / TAKE_PROFIT_MARKET orders, quote asset; else null. */
  triggerPrice: string | null;
  /** TRAILING_STOP_MARKET's activation price and callback rate (percent); else null. */
  activatePrice: string | null;
  callbackRate: string | null;
  workingType: Submitted["workingType"] | null;
  reduceOnly: boolean;
  closePosition: boolean;
  /** Algo status of a conditional order (§2.4: NEW, TRIGGERING, TRIGGERED, FINISHED, CANCELED, …); else null. */
  algoStatus: AlgoStatus | null;
  /** The price that triggered a conditional order and which price it was; null before the trigger. */
  triggeredAt: string | null;
  /** The matching-engine order id of a triggered conditional order; null before. */
  triggeredOrderId: string | null;
  /** The other leg of a bracket, or null. */
  siblingClientOrderId: string | null;
  status: OrderStatus;
  /** Cumulative filled quantity, base asset. */
  executedQty: string;
  /** Quantity-weighted average fill price, rounded to 8 decimals; "0" before the first fill. */
  avgPrice: string;
  /** Σ commission of the fills, USDT. */
  commission: string;
  /** eventTime of OrderSubmitted, ms. */
  submitTime: number;
  /** eventTime of the order's latest event, ms. */
  updateTime: number;
  /** OrderCanceled reason, or null. */
  cancelReason: EventData<"OrderCanceled">["reason"] | null;
  /** OrderExpired reason, or null. */
  expireReason: string | null;
  /** OrderExpired's Binance expiry reason `er` (§3.1), or null. */
  expiryReason: number | null;
  /** OrderRejected code and reason, or null. */
  rejectCode: number | null;
  rejectReason: string | null;
  /** OrderDenied: the risk rule and its numbers, or null. */
  deniedBy: { rule: string; reason: string; numbers: Record<string, string> } | null;
  fills: OrderFillView[];
}

/** Filter and page of `OrdersProjection.list`. */
export interface OrderQuery {
  symbol?: string;
  status?: OrderStatus;
  type?: Submitted["type"];
  /** Page size (default: all). */
  limit?: number;
  /** Orders skipped before the page (default 0). */
  offset?: number;
}

type Submitted = EventData<"OrderSubmitted">;

interface OrderState {
  view: OrderView;
  /** Σ price × quantity of the fills, USDT. */
  quoteQty: Dec;
  commission: Dec;
}

/** Fold of the order events, keyed by clientOrderId; listing keeps submission order. */
export class OrdersProjection {
  private readonly byId = new Map<string, OrderState>();
  private makerFillCount = 0;
  private partialFillCount = 0;

  /** Number of orders submitted. */
  get count(): number {
    return this.byId.size;
  }

  /** Number of OrderFilled events with `maker` true. */
  get makerFills(): number {
    return this.makerFillCount;
  }

  /** Number of OrderFilled events that left their order PARTIALLY_FILLED. */
  get partialFills(): number {
    return this.partialFillCount;
  }

  /** A new order, PENDING_NEW, submitted at `time` (ms). */
  submitted(order: Submitted, time: number): void {
    this.byId.set(order.clientOrderId, {
      view: {
        clientOrderId: order.clientOrderId,
        orderId: null,
        symbol: order.symbol,
        side: order.side,
        type: order.type,
        purpose: order.purpose,
        positionSide: order.positionSide,
        quantity: order.quantity ?? null,
        price: order.price ?? null,
        timeInForce: order.timeInForce ?? null,
        triggerPrice: order.triggerPrice ?? null,
        activatePrice: order.activatePrice ?? null,
        callbackRate: order.callbackRate ?? null,
        workingType: order.workingType ?? null,
        reduceOnly: order.reduceOnly,
        closePosition: order.closePosition ?? false,
        algoStatus: null,
        triggeredAt: null,
        triggeredOrderId: null,
        siblingClientOrderId: order.siblingClientOrderId ?? null,
        status: "PENDING_NEW",
        executedQty: "0",
        avgPrice: "0",
        commission: "0",
        submitTime: time,
        updateTime: time,
        cancelReason: null,
        expireReason: null,
        expiryReason: null,
        rejectCode: null,
        rejectReason: null,
        deniedBy: null,
        fills: [],
      },
      quoteQty: ZERO,
      commission: ZERO,
    });
  }

  /**
   * The venue accepted the order: NEW, with its orderId. This and the following updates ignore an order never
   * submitted (an order stream always starts with OrderSubmitted).
   */
  accepted(event: EventData<"OrderAccepted">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    view.orderId = event.orderId;
    if (view.status === "PENDING_NEW") this.setStatus(view, "NEW");
  }

  /** A conditional order's condition was met: TRIGGERING, at the price that crossed. */
  triggering(event: EventData<"OrderTriggering">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    view.triggeredAt = event.triggeredAt;
    this.setStatus(view, "TRIGGERING");
  }

  /** The triggered order is in the matching engine: TRIGGERED, with its order id. */
  triggered(event: EventData<"OrderTriggered">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    view.triggeredOrderId = event.orderId;
    this.setStatus(view, "TRIGGERED");
  }

  /** A fill: status, executedQty, avgPrice and commission follow; the fill is appended. */
  filled(fill: EventData<"OrderFilled">, time: number): void {
    const s = this.byId.get(fill.clientOrderId);
    if (!s) return;
    if (fill.maker) this.makerFillCount++;
    if (fill.status === "PARTIALLY_FILLED") this.partialFillCount++;
    s.quoteQty = s.quoteQty.plus(new Dec(fill.price).times(fill.quantity));
    s.commission = s.commission.plus(fill.commission);
    const v = s.view;
    this.setStatus(v, fill.status);
    v.executedQty = fill.cumulativeQuantity;
    v.avgPrice = quotient(s.quoteQty, new Dec(fill.cumulativeQuantity));
    v.commission = canonical(s.commission);
    v.updateTime = time;
    v.fills.push({
      tradeId: fill.tradeId,
      price: fill.price,
      quantity: fill.quantity,
      commission: fill.commission,
      maker: fill.maker,
      time,
      realizedPnl: null,
    });
  }

  /** The fill booked to the account: its realized PnL joins the order's fill of the same tradeId. */
  booked(booking: EventData<"FillBooked">): void {
    const fills = this.byId.get(booking.clientOrderId)?.view.fills;
    const fill = fills?.findLast((f) => f.tradeId === booking.tradeId);
    if (fill) fill.realizedPnl = booking.realizedPnl;
  }

  /** CANCELED, with its reason. */
  canceled(event: EventData<"OrderCanceled">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    this.setStatus(view, "CANCELED");
    view.cancelReason = event.reason;
  }

  /** EXPIRED (EXPIRED_IN_MATCH for a self-trade-prevention expiry, `er` 1 or 3), with its reason. */
  expired(event: EventData<"OrderExpired">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    const stp = view.status !== "TRIGGERING" && (event.expiryReason === 1 || event.expiryReason === 3);
    this.setStatus(view, stp ? "EXPIRED_IN_MATCH" : "EXPIRED");
    view.expireReason = event.reason;
    view.expiryReason = event.expiryReason ?? null;
  }

  /** REJECTED, with the venue's code and reason. */
  rejected(event: EventData<"OrderRejected">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    this.setStatus(view, "REJECTED");
    view.rejectCode = event.code;
    view.rejectReason = event.reason;
  }

  /** DENIED by the risk engine, with the rule and its numbers. */
  denied(event: EventData<"OrderDenied">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    this.setStatus(view, "DENIED");
    view.deniedBy = { rule: event.rule, reason: event.reason, numbers: { ...event.numbers } };
  }

  /** Sets the status and, for a conditional order, the algo status that follows from it. */
  private setStatus(view: OrderView, status: OrderStatus): void {
    view.status = status;
    if (isConditionalType(view.type))
      view.algoStatus = algoStatus(status, view.triggeredOrderId !== null) ?? null;
  }

  /** The order, or undefined when unknown. The view is a copy. */
  get(clientOrderId: string): OrderView | undefined {
    const s = this.byId.get(clientOrderId);
    return s && copy(s.view);
  }

  /** Orders matching `query`, in submission order, and how many matched before paging. */
  list(query: OrderQuery = {}): { total: number; orders: OrderView[] } {
    const { symbol, status, type, offset = 0, limit = Number.POSITIVE_INFINITY } = query;
    const matching: OrderView[] = [];
    for (const { view } of this.byId.values()) {
      if (
        (symbol === undefined || view.symbol === symbol) &&
        (status === undefined || view.status === status) &&
        (type === undefined || view.type === type)
      ) {
        matching.push(view);
      }
    }
    return { total: matching.length, orders: matching.slice(offset, offset + limit).map(copy) };
  }

  private touch(clientOrderId: string, time: number): OrderView | undefined {
    const s = this.byId.get(clientOrderId);
    if (s) s.view.updateTime = time;
    return s?.view;
  }
}

function copy(view: OrderView): OrderView {
  const deniedBy = view.deniedBy && { ...view.deniedBy, numbers: { ...view.deniedBy.numbers } };
  return { ...view, deniedBy, fills: view.fills.map((f) => ({ ...f })) };
}
