/**
 * The order actor: one per clientOrderId, stream `order-<clientOrderId>`. Its transition table follows Binance's
 * order statuses (binance-usdm.md §3.1), with PENDING_NEW for an intent that is durable but not yet acknowledged.
 *
 *   (none) ──OrderSubmitted──▶ PENDING_NEW ──OrderAccepted──▶ NEW ──OrderFilled(FILLED)──▶ FILLED
 *                                 │  └─OrderRejected──▶ REJECTED   │  └─OrderFilled(PARTIAL)──▶ PARTIALLY_FILLED
 *                                 └─OrderCanceled──▶ CANCELED ◀────┴─OrderCanceled
 *   NEW / PARTIALLY_FILLED ──OrderExpired──▶ EXPIRED
 */
import { assign, setup } from "xstate";
import type { EventData } from "../events/catalog.ts";

type Ev<
  T extends
    | "OrderSubmitted"
    | "OrderAccepted"
    | "OrderFilled"
    | "OrderCanceled"
    | "OrderExpired"
    | "OrderRejected",
> = {
  type: T;
  data: EventData<T>;
};
/** The events an order actor applies. */
export type OrderActorEvent =
  | Ev<"OrderSubmitted">
  | Ev<"OrderAccepted">
  | Ev<"OrderFilled">
  | Ev<"OrderCanceled">
  | Ev<"OrderExpired">
  | Ev<"OrderRejected">;

/** What the order actor knows. Quantities in base asset, prices in quote asset, commission in USDT. */
export interface OrderContext {
  request?: EventData<"OrderSubmitted">;
  orderId?: string;
  /** Cumulative filled quantity. */
  executedQty: string;
  /** Price of the last fill. */
  lastFillPrice?: string;
  fills: number;
  /** Why the order was canceled or expired. */
  cancelReason?: string;
  rejectReason?: string;
}

/** The order machine (transition table in the header comment). */
export const orderMachine = setup({
  types: { context: {} as OrderContext, events: {} as OrderActorEvent },
  actions: {
    recordRequest: assign(({ event }) => (event.type === "OrderSubmitted" ? { request: event.data } : {})),
    recordAccept: assign(({ event }) =>
      event.type === "OrderAccepted" ? { orderId: event.data.orderId } : {},
    ),
    recordFill: assign(({ context, event }) =>
      event.type === "OrderFilled"
        ? {
            executedQty: event.data.cumulativeQuantity,
            lastFillPrice: event.data.price,
            fills: context.fills + 1,
          }
        : {},
    ),
    recordCancel: assign(({ event }) =>
      event.type === "OrderCanceled" ? { cancelReason: event.data.reason } : {},
    ),
    recordExpiry: assign(({ event }) =>
      event.type === "OrderExpired" ? { cancelReason: event.data.reason } : {},
    ),
    recordReject: assign(({ event }) =>
      event.type === "OrderRejected" ? { rejectReason: event.data.reason } : {},
    ),
  },
  guards: {
    completesOrder: ({ event }) => event.type === "OrderFilled" && event.data.status === "FILLED",
  },
}).createMachine({
  id: "order",
  context: { executedQty: "0", fills: 0 },
  initial: "NONE",
  states: {
    NONE: { on: { OrderSubmitted: { target: "PENDING_NEW", actions: "recordRequest" } } },
    PENDING_NEW: {
      on: {
        OrderAccepted: { target: "NEW", actions: "recordAccept" },
        OrderRejected: { target: "REJECTED", actions: "recordReject" },
        OrderCanceled: { target: "CANCELED", actions: "recordCancel" },
      },
    },
    NEW: {
      on: {
        OrderFilled: [
          { guard: "completesOrder", target: "FILLED", actions: "recordFill" },
          { target: "PARTIALLY_FILLED", actions: "recordFill" },
        ],
        OrderCanceled: { target: "CANCELED", actions: "recordCancel" },
        OrderExpired: { target: "EXPIRED", actions: "recordExpiry" },
      },
    },
    PARTIALLY_FILLED: {
      on: {
        OrderFilled: [
          { guard: "completesOrder", target: "FILLED", actions: "recordFill" },
          { target: "PARTIALLY_FILLED", actions: "recordFill", reenter: false },
        ],
        OrderCanceled: { target: "CANCELED", actions: "recordCancel" },
        OrderExpired: { target: "EXPIRED", actions: "recordExpiry" },
      },
    },
    FILLED: { type: "final" },
    CANCELED: { type: "final" },
    EXPIRED: { type: "final" },
    REJECTED: { type: "final" },
  },
});

/** Binance order status of an order snapshot's state value. */
export type OrderStatus =
  | "NONE"
  | "PENDING_NEW"
  | "NEW"
  | "PARTIALLY_FILLED"
  | "FILLED"
  | "CANCELED"
  | "EXPIRED"
  | "REJECTED";

/** True while an order can still fill or be canceled. */
export function isWorking(status: OrderStatus): boolean {
  return status === "PENDING_NEW" || status === "NEW" || status === "PARTIALLY_FILLED";
}
