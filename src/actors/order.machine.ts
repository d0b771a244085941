/**
 * The order actor: one per clientOrderId, stream `order-<clientOrderId>`. Its transition table follows Binance's
 * order statuses (binance-usdm.md §3.1) and, for the five conditional types, the Algo Order lifecycle (§2.4):
 * the order waits in the algo service (NEW), its condition is met (TRIGGERING), a regular order is placed in the
 * matching engine (TRIGGERED) and then fills, expires or is canceled like any regular order. PENDING_NEW is an
 * intent that is durable but not yet acknowledged; DENIED is one the pre-trade risk engine refused.
 *
 *   state             event                               → state              (guard)
 *   NONE              OrderSubmitted                      → PENDING_NEW
 *   PENDING_NEW       OrderAccepted                       → NEW
 *                     OrderRejected                       → REJECTED
 *                     OrderDenied                         → DENIED
 *                     OrderCanceled                       → CANCELED
 *   NEW               OrderFilled (FILLED)                → FILLED             regular
 *                     OrderFilled (PARTIALLY_FILLED)      → PARTIALLY_FILLED   regular
 *                     OrderTriggering                     → TRIGGERING         conditional
 *                     OrderCanceled                       → CANCELED
 *                     OrderExpired                        → EXPIRED | EXPIRED_IN_MATCH (STP expiry)
 *   TRIGGERING        OrderTriggered                      → TRIGGERED
 *                     OrderRejected                       → REJECTED           (e.g. priceProtect, margin)
 *                     OrderExpired                        → EXPIRED            (reduce-only with nothing to reduce)
 *   TRIGGERED         OrderFilled                         → FILLED | PARTIALLY_FILLED
 *                     OrderCanceled                       → CANCELED
 *                     OrderExpired                        → EXPIRED | EXPIRED_IN_MATCH
 *   PARTIALLY_FILLED  OrderFilled                         → FILLED | PARTIALLY_FILLED
 *                     OrderCanceled                       → CANCELED
 *                     OrderExpired                        → EXPIRED | EXPIRED_IN_MATCH
 *   FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH, REJECTED, DENIED: final.
 *
 * A conditional order's algo status is derived from its state by `algoStatus`.
 */
import { assign, setup } from "xstate";
import { ENTRY_PRICE_DECIMALS } from "../domain/accounting.ts";
import { canonical, Dec } from "../domain/decimal.ts";
import { CONDITIONAL_ORDER_TYPES, type EventData } from "../events/catalog.ts";

type OrderEventType =
  | "OrderSubmitted"
  | "OrderAccepted"
  | "OrderDenied"
  | "OrderTriggering"
  | "OrderTriggered"
  | "OrderFilled"
  | "OrderCanceled"
  | "OrderExpired"
  | "OrderRejected";
type Ev<T extends OrderEventType> = { type: T; data: EventData<T> };
/** The events an order actor applies. */
export type OrderActorEvent = { [T in OrderEventType]: Ev<T> }[OrderEventType];

/** What the order actor knows. Quantities in base asset, prices in quote asset, commission in USDT. */
export interface OrderContext {
  request?: EventData<"OrderSubmitted">;
  /** The venue's id: the order id, or the algoId of a conditional order until it triggers. */
  orderId?: string;
  /** A triggered conditional order's matching-engine order id. */
  triggeredOrderId?: string;
  /** Cumulative filled quantity. */
  executedQty: string;
  /** Σ price × quantity of the fills (quote asset): avgPrice = cumQuote / executedQty. */
  cumQuote: string;
  /** Price of the last fill. */
  lastFillPrice?: string;
  fills: number;
  /** Why the order was canceled or expired. */
  cancelReason?: string;
  rejectReason?: string;
}

const conditionalTypes: ReadonlySet<string> = new Set(CONDITIONAL_ORDER_TYPES);

/** Whether an order type is conditional (Algo Order API, binance-usdm.md §2.4). */
export function isConditionalType(type: EventData<"OrderSubmitted">["type"]): boolean {
  return conditionalTypes.has(type);
}

/** The order machine (transition table in the header comment). */
export const orderMachine = setup({
  types: { context: {} as OrderContext, events: {} as OrderActorEvent },
  actions: {
    recordRequest: assign(({ event }) => (event.type === "OrderSubmitted" ? { request: event.data } : {})),
    recordAccept: assign(({ event }) =>
      event.type === "OrderAccepted" ? { orderId: event.data.orderId } : {},
    ),
    recordTrigger: assign(({ event }) =>
      event.type === "OrderTriggered" ? { triggeredOrderId: event.data.orderId } : {},
    ),
    recordFill: assign(({ context, event }) =>
      event.type === "OrderFilled"
        ? {
            executedQty: event.data.cumulativeQuantity,
            cumQuote: new Dec(context.cumQuote)
              .plus(new Dec(event.data.price).times(event.data.quantity))
              .toFixed(),
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
      event.type === "OrderRejected"
        ? { rejectReason: event.data.reason }
        : event.type === "OrderDenied"
          ? { rejectReason: event.data.reason }
          : {},
    ),
  },
  guards: {
    completesOrder: ({ event }) => event.type === "OrderFilled" && event.data.status === "FILLED",
    conditional: ({ context }) => context.request !== undefined && isConditionalType(context.request.type),
    /** A fill of a regular order that completes it (a conditional order fills only once triggered). */
    regularCompletes: ({ context, event }) =>
      context.request !== undefined &&
      !isConditionalType(context.request.type) &&
      event.type === "OrderFilled" &&
      event.data.status === "FILLED",
    regular: ({ context }) => context.request !== undefined && !isConditionalType(context.request.type),
    selfTradeExpiry: ({ event }) =>
      event.type === "OrderExpired" && (event.data.expiryReason === 1 || event.data.expiryReason === 3),
  },
}).createMachine({
  id: "order",
  context: { executedQty: "0", cumQuote: "0", fills: 0 },
  initial: "NONE",
  states: {
    NONE: { on: { OrderSubmitted: { target: "PENDING_NEW", actions: "recordRequest" } } },
    PENDING_NEW: {
      on: {
        OrderAccepted: { target: "NEW", actions: "recordAccept" },
        OrderRejected: { target: "REJECTED", actions: "recordReject" },
        OrderDenied: { target: "DENIED", actions: "recordReject" },
        OrderCanceled: { target: "CANCELED", actions: "recordCancel" },
      },
    },
    NEW: {
      on: {
        OrderFilled: [
          { guard: "regularCompletes", target: "FILLED", actions: "recordFill" },
          { guard: "regular", target: "PARTIALLY_FILLED", actions: "recordFill" },
        ],
        OrderTriggering: { guard: "conditional", target: "TRIGGERING" },
        OrderCanceled: { target: "CANCELED", actions: "recordCancel" },
        OrderExpired: [
          { guard: "selfTradeExpiry", target: "EXPIRED_IN_MATCH", actions: "recordExpiry" },
          { target: "EXPIRED", actions: "recordExpiry" },
        ],
      },
    },
    TRIGGERING: {
      on: {
        OrderTriggered: { target: "TRIGGERED", actions: "recordTrigger" },
        OrderRejected: { target: "REJECTED", actions: "recordReject" },
        OrderExpired: { target: "EXPIRED", actions: "recordExpiry" },
      },
    },
    TRIGGERED: {
      on: {
        OrderFilled: [
          { guard: "completesOrder", target: "FILLED", actions: "recordFill" },
          { target: "PARTIALLY_FILLED", actions: "recordFill" },
        ],
        OrderCanceled: { target: "CANCELED", actions: "recordCancel" },
        OrderExpired: [
          { guard: "selfTradeExpiry", target: "EXPIRED_IN_MATCH", actions: "recordExpiry" },
          { target: "EXPIRED", actions: "recordExpiry" },
        ],
      },
    },
    PARTIALLY_FILLED: {
      on: {
        OrderFilled: [
          { guard: "completesOrder", target: "FILLED", actions: "recordFill" },
          { target: "PARTIALLY_FILLED", actions: "recordFill", reenter: false },
        ],
        OrderCanceled: { target: "CANCELED", actions: "recordCancel" },
        OrderExpired: [
          { guard: "selfTradeExpiry", target: "EXPIRED_IN_MATCH", actions: "recordExpiry" },
          { target: "EXPIRED", actions: "recordExpiry" },
        ],
      },
    },
    FILLED: { type: "final" },
    CANCELED: { type: "final" },
    EXPIRED: { type: "final" },
    EXPIRED_IN_MATCH: { type: "final" },
    REJECTED: { type: "final" },
    DENIED: { type: "final" },
  },
});

/** The order machine's states: Binance's order statuses plus NONE, PENDING_NEW, TRIGGERING, TRIGGERED, DENIED. */
export type OrderStatus =
  | "NONE"
  | "PENDING_NEW"
  | "NEW"
  | "TRIGGERING"
  | "TRIGGERED"
  | "PARTIALLY_FILLED"
  | "FILLED"
  | "CANCELED"
  | "EXPIRED"
  | "EXPIRED_IN_MATCH"
  | "REJECTED"
  | "DENIED";

/**
 * The quantity-weighted average fill price of an order (quote asset), rounded half-even to 12 decimals like an
 * averaged entry price (src/domain/accounting.ts); undefined before its first fill.
 */
export function averageFillPrice(context: OrderContext): string | undefined {
  if (context.fills === 0) return undefined;
  return canonical(
    new Dec(context.cumQuote)
      .div(context.executedQty)
      .toDecimalPlaces(ENTRY_PRICE_DECIMALS, Dec.ROUND_HALF_EVEN),
  );
}

/** True while an order can still fill or be canceled. */
export function isWorking(status: OrderStatus): boolean {
  return (
    status === "PENDING_NEW" ||
    status === "NEW" ||
    status === "TRIGGERING" ||
    status === "TRIGGERED" ||
    status === "PARTIALLY_FILLED"
  );
}

/** Binance's algo status (§2.4) of a conditional order in machine state `status`; undefined before acceptance. */
export type AlgoStatus =
  | "NEW"
  | "TRIGGERING"
  | "TRIGGERED"
  | "FINISHED"
  | "CANCELED"
  | "REJECTED"
  | "EXPIRED";

/**
 * The algo status of a conditional order: NEW until its condition is met, TRIGGERING, TRIGGERED while its
 * regular order works, FINISHED once that order is final; CANCELED / EXPIRED / REJECTED when it ended before.
 * `triggered` says whether it had triggered (its context's triggeredOrderId).
 */
export function algoStatus(status: OrderStatus, triggered: boolean): AlgoStatus | undefined {
  switch (status) {
    case "NONE":
    case "PENDING_NEW":
    case "DENIED":
      return undefined;
    case "NEW":
    case "TRIGGERING":
    case "TRIGGERED":
      return status;
    case "PARTIALLY_FILLED":
      return "TRIGGERED";
    case "FILLED":
    case "EXPIRED_IN_MATCH":
      return "FINISHED";
    case "REJECTED":
      return "REJECTED";
    case "CANCELED":
      return triggered ? "FINISHED" : "CANCELED";
    case "EXPIRED":
      return triggered ? "FINISHED" : "EXPIRED";
  }
}
