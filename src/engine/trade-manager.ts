/**
 * The trade manager: the process manager of each symbol's trade, across the trade, order and account aggregates.
 * It carries out the two intents of the strategy port:
 * - an entry with its bracket: EntrySignalled and a MARKET entry; the entry's fill becomes a reduce-only
 *   stop-loss and take-profit computed from the fill (or a flatten when the fill left no risk); an exit's fill
 *   cancels its sibling and closes the trade; a rejected entry fails the trade; a rejected stop flattens the
 *   position;
 * - a target position: TargetPositionSet and, when the change is worth an order, one MARKET order towards it
 *   (hedge mode: up to two, the close of the other side first; trade.decide.ts).
 * In hedge mode (`dualSidePosition`) a trade's orders carry its side as positionSide and no reduceOnly, and a
 * trade is over when its own side is flat. Strategy-agnostic: it only sees the port's decisions.
 */
import { EventSourcedActor, type PersistedActor } from "../actors/event-sourced-actor.ts";
import {
  type DecisionOrigin,
  decideOnEntryFill,
  decideOnProtectionFailure,
  decideOnStrategyDecision,
  decideOnTarget,
  entryOrder,
  flattenOrder,
  protectionOrders,
} from "../actors/trade.decide.ts";
import { type TradeState, tradeMachine } from "../actors/trade.machine.ts";
import { canonical, Dec } from "../domain/decimal.ts";
import type { Instrument } from "../domain/instruments.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import type { FactorValue, StrategyDecision } from "../strategies/strategy.ts";
import type { Cause, CompletedOrder, EndedOrder, OrderExecution } from "./order-execution.ts";
import type { OrderRequest } from "./venue.ts";

type TradeActor = EventSourcedActor<typeof tradeMachine>;

/** Drives each symbol's trade actor. Not re-entrant: await each call. */
export class TradeManager {
  private readonly trades = new Map<string, TradeActor>();

  constructor(
    private readonly deps: {
      store: EventStore;
      runId: string;
      execution: OrderExecution;
      instrument: (symbol: string) => Instrument;
      /** The position of `positionSide` after the last booked fill, base asset, signed; undefined when flat. */
      positionAmt: (symbol: string, positionSide: OrderRequest["positionSide"]) => string | undefined;
      /** Hedge mode (binance-usdm.md §4.1): orders on the trade's side, no reduceOnly. */
      dualSidePosition: boolean;
    },
  ) {}

  /** Whether the symbol has a position or an entry that may still fill (the strategy's PositionView). */
  isOpen(symbol: string): boolean {
    return this.stateOf(this.trade(symbol)) !== "flat";
  }

  /** The trade actors (for snapshots). */
  actors(): Iterable<TradeActor> {
    return this.trades.values();
  }

  /** The trade actors' states, for a checkpoint. */
  persist(): PersistedActor[] {
    return [...this.trades.values()].map((t) => t.persist());
  }

  /** Continues from `persisted` (from `persist()`). */
  restore(persisted: PersistedActor[]): void {
    this.trades.clear();
    for (const p of persisted) {
      const actor = EventSourcedActor.restore(p, tradeMachine, {
        store: this.deps.store,
        correlationId: this.deps.runId,
      });
      this.trades.set(actor.snapshot.context.symbol, actor);
    }
  }

  /**
   * Records a strategy's decision; an entry or a target position is sent as a MARKET order. With `factors`, a
   * FactorComputed comes first and causes the decision (the decision trace: bar → factors → decision → orders).
   */
  async onDecision(
    symbol: string,
    decision: StrategyDecision,
    origin: DecisionOrigin,
    cause: Cause,
    factors?: Readonly<Record<string, FactorValue>>,
  ): Promise<void> {
    const actor = this.trade(symbol);
    if (factors !== undefined) {
      const [id] = await actor.commit(
        [{ type: "FactorComputed", data: { symbol, ...origin, factors: { ...factors } } }],
        cause,
      );
      cause = { causationId: id!, eventTime: cause.eventTime };
    }
    if (decision.kind === "none") return;
    if (decision.kind === "target") {
      const { lastTargetClientOrderId } = actor.snapshot.context;
      const { event, order, second } = decideOnTarget(actor.snapshot.context, decision, origin, {
        ...this.targetPosition(symbol),
        orderPending:
          lastTargetClientOrderId !== undefined && this.deps.execution.isWorking(lastTargetClientOrderId),
        instrument: this.deps.instrument(symbol),
      });
      const [id] = await actor.commit([event], cause);
      if (order && event.type === "TargetPositionSet") {
        const next = { causationId: id!, eventTime: cause.eventTime };
        await this.deps.execution.submit(order, next, event.data.referencePrice);
        if (second) await this.deps.execution.submit(second, next, event.data.referencePrice);
      }
      return;
    }
    const events = decideOnStrategyDecision(actor.snapshot.context, decision, origin);
    if (events.length === 0) return;
    const [id] = await actor.commit(events, cause);
    const signal = events[0]!;
    if (signal.type !== "EntrySignalled") return;
    const entry = entryOrder(signal.data, this.deps.dualSidePosition);
    const outcome = await this.deps.execution.submit(
      entry,
      { causationId: id!, eventTime: cause.eventTime },
      signal.data.referencePrice,
    );
    if (!outcome.accepted) await this.onRejected(entry, outcome.reason, outcome.cause);
  }

  /** An order of a trade completely filled. */
  async onOrderFilled({ request, fill, avgPrice, cause }: CompletedOrder): Promise<void> {
    if (request.purpose === "TARGET") return; // the position is where the strategy wanted it: nothing follows
    const actor = this.trade(request.symbol);
    if (request.purpose === "ENTRY") {
      await this.protect(actor, avgPrice, fill.cumulativeQuantity, cause);
      return;
    }
    // An exit filled: cancel what is left of the bracket, then the trade is over once the position is flat.
    const trade = actor.snapshot.context.trade;
    for (const other of [trade?.stopClientOrderId, trade?.takeProfitClientOrderId]) {
      if (other && other !== request.clientOrderId) {
        await this.deps.execution.cancel(request.symbol, other, "siblingFilled", cause);
      }
    }
    if (this.deps.positionAmt(request.symbol, request.positionSide) === undefined) {
      await actor.commit(
        [
          {
            type: "PositionClosed",
            data: {
              symbol: request.symbol,
              exitClientOrderId: request.clientOrderId,
              exitPurpose: request.purpose,
            },
          },
        ],
        cause,
      );
    }
  }

  /**
   * An order of a trade ended at the venue without completing (expired: IOC/FOK/GTX/GTD, self-trade prevention,
   * reduce-only with nothing to reduce; or rejected after its trigger):
   * - an entry with nothing filled fails the trade (EntryFailed); one partly filled is protected for what filled,
   *   at its average price;
   * - a stop-loss of a protected position leaves it unprotected: the position is flattened;
   * - anything else (a take-profit, a flatten, a target order) needs no reaction here.
   * Orders expired by a liquidation (er 5) are left to `onLiquidated`.
   */
  async onOrderEnded(ended: EndedOrder): Promise<void> {
    const { request, executedQty, avgPrice, reason, cause } = ended;
    if (ended.expiryReason === 5) return;
    const actor = this.trade(request.symbol);
    const state = this.stateOf(actor);
    if (request.purpose === "ENTRY" && state === "entryPending") {
      if (avgPrice === undefined) await this.onRejected(request, reason, cause);
      else await this.protect(actor, avgPrice, executedQty, cause);
    } else if (request.purpose === "STOP_LOSS" && state === "protected") {
      if (this.deps.positionAmt(request.symbol, request.positionSide) !== undefined)
        await this.flatten(actor, `stop-loss ended without closing the position: ${reason}`, cause);
    }
  }

  /** The entry filled `quantity` at `avgPrice`: protect the position with its bracket (or flatten it). */
  private async protect(actor: TradeActor, avgPrice: string, quantity: string, cause: Cause): Promise<void> {
    const symbol = actor.snapshot.context.symbol;
    const decision = decideOnEntryFill(
      actor.snapshot.context,
      this.deps.instrument(symbol),
      avgPrice,
      quantity,
    );
    const [id] = await actor.commit([decision], cause);
    const next = { causationId: id!, eventTime: cause.eventTime };
    if (decision.type === "PositionProtectionRequested") {
      const [stop, takeProfit] = protectionOrders(decision.data, this.deps.dualSidePosition);
      if (await this.send(stop, next)) await this.send(takeProfit, next);
    } else if (decision.type === "InvalidRiskAtFill") {
      const t = actor.snapshot.context.trade!;
      await this.send(
        flattenOrder(
          symbol,
          decision.data.flattenClientOrderId,
          t.direction,
          t.quantity,
          this.deps.dualSidePosition,
        ),
        next,
      );
    }
  }

  /**
   * The venue liquidated the symbol's position (its exits were expired by the venue): the trade is over.
   * A target-position trade has nothing to close (the strategy sees the flat position on its next step).
   */
  async onLiquidated(symbol: string, clientOrderId: string, cause: Cause): Promise<void> {
    const actor = this.trade(symbol);
    if (this.stateOf(actor) === "flat") return;
    await actor.commit(
      [
        {
          type: "PositionClosed",
          data: { symbol, exitClientOrderId: clientOrderId, exitPurpose: "LIQUIDATION" },
        },
      ],
      cause,
    );
  }

  /** Sends an order; a rejection is handled here. Resolves true when the venue accepted it. */
  private async send(request: OrderRequest, cause: Cause): Promise<boolean> {
    const outcome = await this.deps.execution.submit(request, cause);
    if (!outcome.accepted) await this.onRejected(request, outcome.reason, outcome.cause);
    return outcome.accepted;
  }

  /** A rejected entry leaves the symbol flat; a rejected stop leaves the position unprotected: flatten it. */
  private async onRejected(request: OrderRequest, reason: string, cause: Cause): Promise<void> {
    const actor = this.trade(request.symbol);
    if (request.purpose === "ENTRY") {
      await actor.commit(
        [
          {
            type: "EntryFailed",
            data: { symbol: request.symbol, entryClientOrderId: request.clientOrderId, reason },
          },
        ],
        cause,
      );
    } else if (request.purpose === "STOP_LOSS" && this.stateOf(actor) === "protected") {
      await this.flatten(actor, `stop-loss rejected: ${reason}`, cause);
    }
    // A rejected take-profit leaves the stop in place; a rejected flatten keeps the position for the next attempt.
  }

  /** Cancels the working exits of the trade and closes the position with a reduce-only MARKET order. */
  private async flatten(actor: TradeActor, reason: string, cause: Cause): Promise<void> {
    const [id] = await actor.commit([decideOnProtectionFailure(actor.snapshot.context, reason)], cause);
    const { symbol, trade } = actor.snapshot.context;
    const next = { causationId: id!, eventTime: cause.eventTime };
    for (const exit of [trade!.stopClientOrderId, trade!.takeProfitClientOrderId]) {
      if (exit) await this.deps.execution.cancel(symbol, exit, "protectionFailed", next);
    }
    await this.send(
      flattenOrder(
        symbol,
        trade!.flattenClientOrderId!,
        trade!.direction,
        trade!.quantity,
        this.deps.dualSidePosition,
      ),
      next,
    );
  }

  /** The position a target decision is taken against: the signed size, and in hedge mode each side's. */
  private targetPosition(symbol: string): { positionAmt: string; sides?: { long: string; short: string } } {
    if (!this.deps.dualSidePosition) return { positionAmt: this.deps.positionAmt(symbol, "BOTH") ?? "0" };
    const long = this.deps.positionAmt(symbol, "LONG") ?? "0";
    const short = this.deps.positionAmt(symbol, "SHORT") ?? "0";
    return { positionAmt: canonical(new Dec(long).plus(short)), sides: { long, short } };
  }

  private trade(symbol: string): TradeActor {
    let actor = this.trades.get(symbol);
    if (!actor) {
      actor = EventSourcedActor.create(streams.trade(symbol), tradeMachine, {
        store: this.deps.store,
        correlationId: this.deps.runId,
        input: { symbol },
      });
      this.trades.set(symbol, actor);
    }
    return actor;
  }

  private stateOf(actor: TradeActor): TradeState {
    return actor.snapshot.value as TradeState;
  }
}
