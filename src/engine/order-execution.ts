/**
 * Order execution: the one place orders meet the venue. Every order is an order actor (stream
 * `order-<clientOrderId>`); its intent (OrderSubmitted) is appended before the venue sees it, and the venue's
 * answers (acceptance, rejection, fills, expiry, cancel) are appended to it as they come. Fills and funding are
 * booked on the account actor. Between the intent and the venue, the pre-trade risk engine (when given) judges
 * the order: a denied order gets OrderDenied (the rule and its numbers) and never reaches the venue. Fills and
 * funding payments are reported to the risk engine for its state rules. Strategy-agnostic: the trade manager
 * and the router call it.
 */
import {
  decideFillBooking,
  decideFundingBooking,
  type FillReport,
  type FundingReport,
} from "../actors/account.decide.ts";
import type { accountMachine } from "../actors/account.machine.ts";
import { EventSourcedActor, type PersistedActor } from "../actors/event-sourced-actor.ts";
import { averageFillPrice, type OrderStatus, orderMachine } from "../actors/order.machine.ts";
import type { EventData } from "../events/catalog.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import type { RiskEngine } from "./risk-engine.ts";
import type { OrderRequest, Venue, VenueFill, VenueReport } from "./venue.ts";

/** Causation and market time of what an action appends. */
export interface Cause {
  causationId: string;
  eventTime: number;
}

/** What a submit came to: accepted, or rejected (by the venue or denied by the risk engine) with the id of the OrderRejected or OrderDenied event. */
export type SubmitOutcome = { accepted: true } | { accepted: false; reason: string; cause: Cause };

/** A fill that completed its order, with the id of its FillBooked event. */
export interface CompletedOrder {
  request: OrderRequest;
  /** The fill that completed it. */
  fill: VenueFill;
  /** Quantity-weighted average price of all its fills (quote asset). */
  avgPrice: string;
  cause: Cause;
}

/**
 * An order that ended at the venue without completing (expired or rejected after its trigger): what filled of it
 * and why, for the trade manager.
 */
export interface EndedOrder {
  request: OrderRequest;
  /** Base asset filled before it ended ("0" when nothing). */
  executedQty: string;
  /** Average price of those fills; undefined when nothing filled. */
  avgPrice: string | undefined;
  reason: string;
  /** Binance's expiry reason `er` of an expiry (5: the account was liquidated). */
  expiryReason?: number;
  cause: Cause;
}

/** Counters of the orders sent and fills received. */
export interface ExecutionStats {
  orders: number;
  fills: number;
  /** Orders the risk engine denied (counted in `orders` too). */
  denied: number;
}

type OrderActor = EventSourcedActor<typeof orderMachine>;
type AccountActor = EventSourcedActor<typeof accountMachine>;

/** Submits and cancels orders and books what the venue reports. Not re-entrant: await each call. */
export class OrderExecution {
  readonly stats: ExecutionStats = { orders: 0, fills: 0, denied: 0 };
  /** Orders that can still fill or be canceled, by clientOrderId. */
  private readonly openOrders = new Map<string, OrderActor>();

  constructor(
    private readonly deps: {
      store: EventStore;
      runId: string;
      venue: Venue;
      account: AccountActor;
      /** The pre-trade risk engine; none: every order goes to the venue. */
      risk?: RiskEngine;
    },
  ) {}

  /** Whether the order can still fill or be canceled. */
  isWorking(clientOrderId: string): boolean {
    return this.openOrders.has(clientOrderId);
  }

  /** The working orders' actors (for snapshots). */
  workingOrders(): Iterable<OrderActor> {
    return this.openOrders.values();
  }

  /** The working orders and counters, for a checkpoint. */
  persist(): { workingOrders: PersistedActor[]; stats: ExecutionStats } {
    return { workingOrders: [...this.openOrders.values()].map((o) => o.persist()), stats: { ...this.stats } };
  }

  /** Continues from `persisted` (from `persist()`). */
  restore(persisted: { workingOrders: PersistedActor[]; stats: ExecutionStats }): void {
    this.openOrders.clear();
    for (const p of persisted.workingOrders) {
      const order = EventSourcedActor.restore(p, orderMachine, {
        store: this.deps.store,
        correlationId: this.deps.runId,
      });
      this.openOrders.set(order.snapshot.context.request!.clientOrderId, order);
    }
    Object.assign(this.stats, persisted.stats);
  }

  /**
   * Records the intent, asks the risk engine (a denial is recorded as OrderDenied and ends there), then sends it
   * (flushed first when the venue is outside the process); records the venue's acknowledgement or rejection.
   * `referencePrice`: the price a MARKET order was decided at (the risk engine's price band).
   */
  async submit(request: OrderRequest, cause: Cause, referencePrice?: string): Promise<SubmitOutcome> {
    const order = EventSourcedActor.create(streams.order(request.clientOrderId), orderMachine, {
      store: this.deps.store,
      correlationId: this.deps.runId,
    });
    const [submittedId] = await order.commit([{ type: "OrderSubmitted", data: request }], cause);
    this.stats.orders += 1;
    const denial = await this.deps.risk?.check(request, cause.eventTime, referencePrice);
    if (denial) {
      this.stats.denied += 1;
      const { clientOrderId, symbol } = request;
      const [deniedId] = await order.commit(
        [{ type: "OrderDenied", data: { clientOrderId, symbol, ...denial } }],
        { causationId: submittedId!, eventTime: cause.eventTime },
      );
      return {
        accepted: false,
        reason: `denied by ${denial.rule}: ${denial.reason}`,
        cause: { causationId: deniedId!, eventTime: cause.eventTime },
      };
    }
    this.openOrders.set(request.clientOrderId, order);
    if (this.deps.venue.external) await this.deps.store.flush();
    const result = await this.deps.venue.submit(request);
    const next = { causationId: submittedId!, eventTime: cause.eventTime };
    if (result.accepted) {
      await order.commit(
        [{ type: "OrderAccepted", data: { clientOrderId: request.clientOrderId, orderId: result.orderId } }],
        next,
      );
      return { accepted: true };
    }
    this.openOrders.delete(request.clientOrderId);
    const [rejectedId] = await order.commit(
      [
        {
          type: "OrderRejected",
          data: { clientOrderId: request.clientOrderId, code: result.code, reason: result.reason },
        },
      ],
      next,
    );
    return {
      accepted: false,
      reason: result.reason,
      cause: { causationId: rejectedId!, eventTime: cause.eventTime },
    };
  }

  /**
   * Cancels a working order at the venue and records it; an order no longer working is left alone.
   * @returns whether the order was canceled (false: not working, or the venue refused, e.g. it just filled).
   */
  async cancel(
    symbol: string,
    clientOrderId: string,
    reason: EventData<"OrderCanceled">["reason"],
    cause: Cause,
  ): Promise<boolean> {
    const order = this.openOrders.get(clientOrderId);
    if (!order) return false;
    if (this.deps.venue.external) await this.deps.store.flush();
    const result = await this.deps.venue.cancel(symbol, clientOrderId);
    if (!result.canceled) return false;
    this.openOrders.delete(clientOrderId);
    await order.commit([{ type: "OrderCanceled", data: { clientOrderId, reason } }], cause);
    return true;
  }

  /**
   * Records a fill on its order and books it on the account.
   * @returns the completed order when this fill completed it, else undefined.
   * @throws Error for a fill of an order that is not working.
   */
  async onFill(fill: VenueFill, time: number): Promise<CompletedOrder | undefined> {
    const order = this.openOrders.get(fill.clientOrderId);
    if (!order) throw new Error(`fill for unknown order ${fill.clientOrderId}`);
    this.stats.fills += 1;
    const request = order.snapshot.context.request!;
    const [filledId] = await order.commit(
      [
        {
          type: "OrderFilled",
          data: {
            clientOrderId: fill.clientOrderId,
            symbol: fill.symbol,
            side: fill.side,
            tradeId: fill.tradeId,
            price: fill.price,
            quantity: fill.quantity,
            cumulativeQuantity: fill.cumulativeQuantity,
            commission: fill.commission,
            commissionAsset: "USDT",
            maker: fill.maker,
            status: fill.status,
          },
        },
      ],
      { causationId: `venue:trade:${fill.symbol}:${fill.tradeId}`, eventTime: time },
    );
    if ((order.snapshot.value as OrderStatus) === "FILLED") this.openOrders.delete(fill.clientOrderId);
    const account = this.deps.account;
    const booking = decideFillBooking(account.snapshot.context, fill as FillReport, request.positionSide);
    const [bookedId] = await account.commit([{ type: "FillBooked", data: booking }], {
      causationId: filledId!,
      eventTime: time,
    });
    await this.deps.risk?.afterFill(booking, { causationId: bookedId!, eventTime: time });
    if (fill.status !== "FILLED") return undefined;
    const avgPrice = averageFillPrice(order.snapshot.context)!;
    return { request, fill, avgPrice, cause: { causationId: bookedId!, eventTime: time } };
  }

  /** The venue expired a working order (`expiryReason`: Binance's `er`, §3.1; 1 and 3 give EXPIRED_IN_MATCH). */
  async onExpired(
    clientOrderId: string,
    reason: string,
    time: number,
    expiryReason?: number,
  ): Promise<EndedOrder | undefined> {
    const order = this.openOrders.get(clientOrderId);
    if (!order) return undefined;
    this.openOrders.delete(clientOrderId);
    const data: EventData<"OrderExpired"> =
      expiryReason === undefined ? { clientOrderId, reason } : { clientOrderId, reason, expiryReason };
    const [id] = await order.commit([{ type: "OrderExpired", data }], {
      causationId: `venue:expired:${clientOrderId}`,
      eventTime: time,
    });
    return { ...ended(order, reason, { causationId: id!, eventTime: time }), expiryReason };
  }

  /** A working conditional order's condition was met (algo TRIGGERING). */
  async onTriggering(report: Extract<VenueReport, { kind: "triggering" }>): Promise<void> {
    const order = this.working(report.clientOrderId);
    const { clientOrderId, workingType, triggeredAt } = report;
    await order.commit([{ type: "OrderTriggering", data: { clientOrderId, workingType, triggeredAt } }], {
      causationId: `venue:triggering:${clientOrderId}`,
      eventTime: report.time,
    });
  }

  /** A triggered conditional order reached the matching engine as a regular order (algo TRIGGERED). */
  async onTriggered(report: Extract<VenueReport, { kind: "triggered" }>): Promise<void> {
    const order = this.working(report.clientOrderId);
    const { clientOrderId, orderId, actualType } = report;
    await order.commit([{ type: "OrderTriggered", data: { clientOrderId, orderId, actualType } }], {
      causationId: `venue:triggered:${clientOrderId}`,
      eventTime: report.time,
    });
  }

  /** The matching engine rejected a triggered order (Binance code and message). */
  async onRejected(report: Extract<VenueReport, { kind: "rejected" }>): Promise<EndedOrder> {
    const order = this.working(report.clientOrderId);
    this.openOrders.delete(report.clientOrderId);
    const { clientOrderId, code, reason } = report;
    const [id] = await order.commit([{ type: "OrderRejected", data: { clientOrderId, code, reason } }], {
      causationId: `venue:rejected:${clientOrderId}`,
      eventTime: report.time,
    });
    return ended(order, `${code}: ${reason}`, { causationId: id!, eventTime: report.time });
  }

  /**
   * The working order `clientOrderId`.
   * @throws Error when no such order is working (a venue report for an order the engine does not know).
   */
  private working(clientOrderId: string): OrderActor {
    const order = this.openOrders.get(clientOrderId);
    if (!order) throw new Error(`venue report for unknown order ${clientOrderId}`);
    return order;
  }

  /**
   * Books a liquidation the venue carried out (its orders on the symbol were expired first).
   * @returns the cause (the PositionLiquidated event) of what follows.
   */
  async onLiquidation(report: Extract<VenueReport, { kind: "liquidation" }>): Promise<Cause> {
    const [id] = await this.deps.account.commit([{ type: "PositionLiquidated", data: report.liquidation }], {
      causationId: `venue:liquidation:${report.liquidation.clientOrderId}`,
      eventTime: report.time,
    });
    const cause = { causationId: id!, eventTime: report.time };
    await this.deps.risk?.afterLiquidation(report.liquidation, cause);
    return cause;
  }

  /** Books a funding payment the venue charged (caused by the symbol's FundingRateSettled). */
  async onFunding(report: FundingReport, causationId: string, time: number): Promise<void> {
    const account = this.deps.account;
    const data = decideFundingBooking(account.snapshot.context, report);
    const [bookedId] = await account.commit([{ type: "FundingFeeBooked", data }], {
      causationId,
      eventTime: time,
    });
    await this.deps.risk?.afterFunding(data, { causationId: bookedId!, eventTime: time });
  }
}

/** What an order that ended without completing came to. */
function ended(order: OrderActor, reason: string, cause: Cause): EndedOrder {
  const { request, executedQty } = order.snapshot.context;
  return {
    request: request!,
    executedQty,
    avgPrice: averageFillPrice(order.snapshot.context),
    reason,
    cause,
  };
}
