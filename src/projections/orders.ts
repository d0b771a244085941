/**
 * Orders projection: every order of the log, folded from its `order-<clientOrderId>` stream
 * (OrderSubmitted → OrderAccepted → OrderFilled… | OrderCanceled | OrderExpired | OrderRejected;
 * binance-usdm.md §3.1).
 */

import { canonical, Dec } from "../domain/decimal.ts";
import type { EventData } from "../events/catalog.ts";
import { quotient, ZERO } from "./amounts.ts";

/**
 * Order statuses: Binance's, plus PENDING_NEW between OrderSubmitted and OrderAccepted and DENIED for an order
 * the pre-trade risk engine refused.
 */
export const orderStatuses = [
  "PENDING_NEW",
  "NEW",
  "PARTIALLY_FILLED",
  "FILLED",
  "CANCELED",
  "EXPIRED",
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
  /** Ordered quantity, base asset; null for a closePosition order. */
  quantity: string | null;
  /** Trigger price of STOP_MARKET / TAKE_PROFIT_MARKET orders, quote asset; null for MARKET. */
  triggerPrice: string | null;
  reduceOnly: boolean;
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
  /** OrderRejected code and reason (or OrderDenied's `rule: reason`, code null), or null. */
  rejectCode: number | null;
  rejectReason: string | null;
  fills: OrderFillView[];
}

/** Filter and page of `OrdersProjection.list`. */
export interface OrderQuery {
  symbol?: string;
  status?: OrderStatus;
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

  /** Number of orders submitted. */
  get count(): number {
    return this.byId.size;
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
        quantity: order.quantity ?? null,
        triggerPrice: order.triggerPrice ?? null,
        reduceOnly: order.reduceOnly,
        siblingClientOrderId: order.siblingClientOrderId ?? null,
        status: "PENDING_NEW",
        executedQty: "0",
        avgPrice: "0",
        commission: "0",
        submitTime: time,
        updateTime: time,
        cancelReason: null,
        expireReason: null,
        rejectCode: null,
        rejectReason: null,
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
    if (view.status === "PENDING_NEW") view.status = "NEW";
  }

  /** A fill: status, executedQty, avgPrice and commission follow; the fill is appended. */
  filled(fill: EventData<"OrderFilled">, time: number): void {
    const s = this.byId.get(fill.clientOrderId);
    if (!s) return;
    s.quoteQty = s.quoteQty.plus(new Dec(fill.price).times(fill.quantity));
    s.commission = s.commission.plus(fill.commission);
    const v = s.view;
    v.status = fill.status;
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
    });
  }

  /** CANCELED, with its reason. */
  canceled(event: EventData<"OrderCanceled">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    view.status = "CANCELED";
    view.cancelReason = event.reason;
  }

  /** EXPIRED, with its reason. */
  expired(event: EventData<"OrderExpired">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    view.status = "EXPIRED";
    view.expireReason = event.reason;
  }

  /** REJECTED, with the venue's code and reason. */
  rejected(event: EventData<"OrderRejected">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    view.status = "REJECTED";
    view.rejectCode = event.code;
    view.rejectReason = event.reason;
  }

  /** DENIED by the pre-trade risk engine: the reason is `rule: reason`. */
  denied(event: EventData<"OrderDenied">, time: number): void {
    const view = this.touch(event.clientOrderId, time);
    if (!view) return;
    view.status = "DENIED";
    view.rejectReason = `${event.rule}: ${event.reason}`;
  }

  /** The order, or undefined when unknown. The view is a copy. */
  get(clientOrderId: string): OrderView | undefined {
    const s = this.byId.get(clientOrderId);
    return s && copy(s.view);
  }

  /** Orders matching `query`, in submission order, and how many matched before paging. */
  list(query: OrderQuery = {}): { total: number; orders: OrderView[] } {
    const { symbol, status, offset = 0, limit = Number.POSITIVE_INFINITY } = query;
    const matching: OrderView[] = [];
    for (const { view } of this.byId.values()) {
      if (
        (symbol === undefined || view.symbol === symbol) &&
        (status === undefined || view.status === status)
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
  return { ...view, fills: view.fills.map((f) => ({ ...f })) };
}
