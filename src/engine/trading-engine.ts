/**
 * The trading engine: routes market events and venue reports to the symbol, order and account actors, and turns
 * their decisions into orders. It is the same in every mode; backtests drive it with archive data and the
 * simulated venue. Every reaction follows "persist, then act": an order's intent (OrderSubmitted) is appended
 * before the venue sees it, and each actor applies only events its stream has accepted.
 */
import { decideFillBooking, decideFundingBooking, type FillReport } from "../actors/account.decide.ts";
import { accountMachine } from "../actors/account.machine.ts";
import { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import { type OrderStatus, orderMachine } from "../actors/order.machine.ts";
import {
  decideOnBar,
  decideOnEntryFill,
  decideOnProtectionFailure,
  entryOrder,
  flattenOrder,
  protectionOrders,
} from "../actors/symbol.decide.ts";
import { type SymbolState, symbolMachine } from "../actors/symbol.machine.ts";
import type { Instrument } from "../domain/instruments.ts";
import type { SmaCrossParams } from "../domain/strategies/sma-cross.ts";
import type { EventData } from "../events/catalog.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import type { OrderRequest, Venue, VenueFill, VenueReport } from "./venue.ts";

/** What the engine needs: the store, the venue, the run's identity and the strategy settings. */
export interface TradingEngineOptions {
  store: EventStore;
  venue: Venue;
  /** Correlation id of every event (the run id). */
  runId: string;
  accountId: string;
  params: SmaCrossParams;
  instrument: (symbol: string) => Instrument;
}

/** Counters of what the engine did. */
export interface EngineStats {
  bars: number;
  fundingSettlements: number;
  orders: number;
  fills: number;
}

type SymbolActor = EventSourcedActor<typeof symbolMachine>;
type OrderActor = EventSourcedActor<typeof orderMachine>;
interface Cause {
  causationId: string;
  eventTime: number;
}

/** Routes market data and venue reports through the actors. Not re-entrant: await each call. */
export class TradingEngine {
  readonly stats: EngineStats = { bars: 0, fundingSettlements: 0, orders: 0, fills: 0 };
  private readonly account: EventSourcedActor<typeof accountMachine>;
  private readonly symbols = new Map<string, SymbolActor>();
  /** Orders that can still fill or be canceled, by clientOrderId. */
  private readonly openOrders = new Map<string, OrderActor>();
  /** eventId of each symbol's latest FundingRateSettled (the cause of the funding booking). */
  private readonly fundingCause = new Map<string, string>();

  constructor(private readonly options: TradingEngineOptions) {
    this.account = EventSourcedActor.create(streams.account(options.accountId), accountMachine, this.deps());
  }

  /** Opens the account with `walletBalance` USDT. */
  async openAccount(walletBalance: string, cause: Cause): Promise<void> {
    await this.account.commit(
      [{ type: "AccountOpened", data: { accountId: this.options.accountId, asset: "USDT", walletBalance } }],
      cause,
    );
  }

  /** A closed 1m bar: record it, step the strategy, and send the entry of an accepted signal. */
  async onBar(bar: EventData<"BarClosed">): Promise<void> {
    this.stats.bars += 1;
    const actor = this.symbolActor(bar.symbol);
    const events = decideOnBar(actor.snapshot.context, this.stateOf(actor), bar);
    const cause = { causationId: `bar:${bar.symbol}:${bar.openTime}`, eventTime: bar.closeTime };
    const ids = await actor.commit(events, cause);
    const signal = events[1];
    if (signal?.type === "EntrySignalled") {
      await this.submit(entryOrder(signal.data), { causationId: ids[1]!, eventTime: bar.closeTime });
    }
  }

  /** Bars are missing: record the gap; the strategy restarts its warm-up. */
  async onGap(gap: EventData<"MarketDataGapDetected">, time: number): Promise<void> {
    await this.symbolActor(gap.symbol).commit([{ type: "MarketDataGapDetected", data: gap }], {
      causationId: `gap:${gap.symbol}:${gap.fromOpenTime}`,
      eventTime: time,
    });
  }

  /** A realized funding settlement: record it (the venue then reports the payment, if any). */
  async onFundingRate(settlement: EventData<"FundingRateSettled">): Promise<void> {
    this.stats.fundingSettlements += 1;
    const [id] = await this.symbolActor(settlement.symbol).commit(
      [{ type: "FundingRateSettled", data: settlement }],
      {
        causationId: `funding:${settlement.symbol}:${settlement.fundingTime}`,
        eventTime: settlement.fundingTime,
      },
    );
    this.fundingCause.set(settlement.symbol, id!);
  }

  /** A venue report: a fill, an expiry or a funding payment. */
  onVenueReport = async (report: VenueReport): Promise<void> => {
    switch (report.kind) {
      case "fill":
        return this.onFill(report.fill, report.time);
      case "expired": {
        const order = this.openOrders.get(report.clientOrderId);
        if (!order) return;
        this.openOrders.delete(report.clientOrderId);
        await order.commit(
          [{ type: "OrderExpired", data: { clientOrderId: report.clientOrderId, reason: report.reason } }],
          {
            causationId: `venue:expired:${report.clientOrderId}`,
            eventTime: report.time,
          },
        );
        return;
      }
      case "funding": {
        const data = decideFundingBooking(this.account.snapshot.context, report.funding);
        const causationId =
          this.fundingCause.get(report.funding.symbol) ?? `funding:${report.funding.symbol}`;
        await this.account.commit([{ type: "FundingFeeBooked", data }], {
          causationId,
          eventTime: report.time,
        });
        return;
      }
    }
  };

  /** Snapshot of the account actor's context (walletBalance, positions). */
  get accountState() {
    return this.account.snapshot.context;
  }

  /** The live actors' snapshots (state value and context) by stream: symbols, the account and open orders. */
  snapshots(): Map<string, { value: unknown; context: unknown }> {
    const out = new Map<string, { value: unknown; context: unknown }>();
    const actors = [this.account, ...this.symbols.values(), ...this.openOrders.values()];
    for (const a of actors) out.set(a.stream, { value: a.snapshot.value, context: a.snapshot.context });
    return out;
  }

  private deps() {
    return { store: this.options.store, correlationId: this.options.runId };
  }

  private symbolActor(symbol: string): SymbolActor {
    let actor = this.symbols.get(symbol);
    if (!actor) {
      actor = EventSourcedActor.create(streams.symbol(symbol), symbolMachine, {
        ...this.deps(),
        input: { symbol, params: this.options.params, instrument: this.options.instrument(symbol) },
      });
      this.symbols.set(symbol, actor);
    }
    return actor;
  }

  private stateOf(actor: SymbolActor): SymbolState {
    return actor.snapshot.value as SymbolState;
  }

  /** Records the intent, then sends it; records the venue's acknowledgement or rejection. */
  private async submit(request: OrderRequest, cause: Cause): Promise<boolean> {
    const order = EventSourcedActor.create(streams.order(request.clientOrderId), orderMachine, this.deps());
    const [submittedId] = await order.commit([{ type: "OrderSubmitted", data: request }], cause);
    this.stats.orders += 1;
    this.openOrders.set(request.clientOrderId, order);
    const result = await this.options.venue.submit(request);
    const next = { causationId: submittedId!, eventTime: cause.eventTime };
    if (result.accepted) {
      await order.commit(
        [{ type: "OrderAccepted", data: { clientOrderId: request.clientOrderId, orderId: result.orderId } }],
        next,
      );
      return true;
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
    await this.onRejected(request, result.reason, { causationId: rejectedId!, eventTime: cause.eventTime });
    return false;
  }

  /** A rejected entry leaves the symbol flat; a rejected stop leaves the position unprotected: flatten it. */
  private async onRejected(request: OrderRequest, reason: string, cause: Cause): Promise<void> {
    const actor = this.symbolActor(request.symbol);
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
  private async flatten(actor: SymbolActor, reason: string, cause: Cause): Promise<void> {
    const [id] = await actor.commit([decideOnProtectionFailure(actor.snapshot.context, reason)], cause);
    const trade = actor.snapshot.context.trade!;
    const next = { causationId: id!, eventTime: cause.eventTime };
    for (const exit of [trade.stopClientOrderId, trade.takeProfitClientOrderId]) {
      if (exit) await this.cancel(actor.snapshot.context.symbol, exit, "protectionFailed", next);
    }
    await this.submit(
      flattenOrder(
        actor.snapshot.context.symbol,
        trade.flattenClientOrderId!,
        trade.direction,
        trade.quantity,
      ),
      next,
    );
  }

  private async cancel(
    symbol: string,
    clientOrderId: string,
    reason: EventData<"OrderCanceled">["reason"],
    cause: Cause,
  ): Promise<void> {
    const order = this.openOrders.get(clientOrderId);
    if (!order) return;
    const result = await this.options.venue.cancel(symbol, clientOrderId);
    if (!result.canceled) return;
    this.openOrders.delete(clientOrderId);
    await order.commit([{ type: "OrderCanceled", data: { clientOrderId, reason } }], cause);
  }

  private async onFill(fill: VenueFill, time: number): Promise<void> {
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
    const [bookedId] = await this.account.commit(
      [{ type: "FillBooked", data: decideFillBooking(this.account.snapshot.context, fill as FillReport) }],
      {
        causationId: filledId!,
        eventTime: time,
      },
    );
    if (fill.status !== "FILLED") return;
    await this.onOrderFilled(request, fill, { causationId: bookedId!, eventTime: time });
  }

  /** The symbol's reaction to a completely filled order. */
  private async onOrderFilled(request: OrderRequest, fill: VenueFill, cause: Cause): Promise<void> {
    const actor = this.symbolActor(request.symbol);
    if (request.purpose === "ENTRY") {
      const decision = decideOnEntryFill(actor.snapshot.context, fill.price, fill.cumulativeQuantity);
      const [id] = await actor.commit([decision], cause);
      const next = { causationId: id!, eventTime: cause.eventTime };
      if (decision.type === "PositionProtectionRequested") {
        const [stop, takeProfit] = protectionOrders(decision.data);
        const stopAccepted = await this.submit(stop, next);
        if (stopAccepted) await this.submit(takeProfit, next);
      } else if (decision.type === "InvalidRiskAtFill") {
        const t = actor.snapshot.context.trade!;
        await this.submit(
          flattenOrder(request.symbol, decision.data.flattenClientOrderId, t.direction, t.quantity),
          next,
        );
      }
      return;
    }
    // An exit filled: cancel what is left of the bracket, then the symbol is flat.
    const trade = actor.snapshot.context.trade;
    for (const other of [trade?.stopClientOrderId, trade?.takeProfitClientOrderId]) {
      if (other && other !== request.clientOrderId)
        await this.cancel(request.symbol, other, "siblingFilled", cause);
    }
    if (this.account.snapshot.context.positions[request.symbol] === undefined) {
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
}
