/**
 * The trading engine: the thin router of the kernel. Market events go to the symbol actor (the market facts,
 * appended in order) and then to the strategy actors that consume them; a strategy's decision goes to the
 * trade manager; venue reports go to order execution and, when an order completes, to the trade manager.
 * It is the same in every mode and names no strategy: backtests drive it with archive data and the simulated
 * venue. Every reaction follows "decide, validate, append, apply"; an order's intent is appended before the venue
 * sees it.
 */
import { accountMachine, positionKey } from "../actors/account.machine.ts";
import { EventSourcedActor, type PersistedActor } from "../actors/event-sourced-actor.ts";
import { isConditionalType, type OrderContext } from "../actors/order.machine.ts";
import { symbolMachine } from "../actors/symbol.machine.ts";
import { canonical, Dec } from "../domain/decimal.ts";
import type { Instrument } from "../domain/instruments.ts";
import type { LeverageBracket } from "../domain/margin/brackets.ts";
import type { RiskLimits } from "../domain/risk/types.ts";
import type { EventData } from "../events/catalog.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import type { AnyStrategy, PositionView, StrategyFunding, StrategyInput } from "../strategies/strategy.ts";
import { type Cause, OrderExecution } from "./order-execution.ts";
import {
  describe,
  type EngineView,
  type ReconciliationOutcome,
  type WorkingOrderView,
} from "./reconciliation.ts";
import { type PersistedRiskEngine, RiskEngine } from "./risk-engine.ts";
import {
  type PersistedStrategy,
  StrategyActor,
  type TimedDecision,
  type TimedInput,
} from "./strategy-actor.ts";
import { TradeManager } from "./trade-manager.ts";
import type { OrderRequest, Venue, VenueReport } from "./venue.ts";

/** What the engine needs: the store, the venue, the run's identity and its strategy with validated params. */
export interface TradingEngineOptions {
  store: EventStore;
  venue: Venue;
  /** Correlation id of every event (the run id). */
  runId: string;
  accountId: string;
  strategy: AnyStrategy;
  /** The strategy's parameters, validated by its schema. */
  params: unknown;
  instrument: (symbol: string) => Instrument;
  /** A symbol's leverage brackets (the strategies' notional caps; the venue has its own copy). */
  brackets: (symbol: string) => readonly LeverageBracket[];
  /** The symbols the run trades: N for its strategies, and the minute barrier of equity strategies. */
  symbols: readonly string[];
  /** The pre-trade risk limits (default: none, every rule off; the risk stream is recorded all the same). */
  riskLimits?: RiskLimits;
  /**
   * Hedge mode (binance-usdm.md §4.1): LONG and SHORT positions per symbol, recorded in AccountOpened
   * (`dualSidePosition`); default false, one-way mode. The venue must be in the same mode.
   */
  dualSidePosition?: boolean;
}

/** Counters of what the engine did. */
export interface EngineStats {
  bars: number;
  fundingSettlements: number;
  gaps: number;
  orders: number;
  fills: number;
  /** Orders the risk engine denied. */
  denied: number;
}

type SymbolActor = EventSourcedActor<typeof symbolMachine>;

/** The engine's whole state at a market-event boundary, as JSON (the engine's part of a run checkpoint). */
export interface EngineCheckpoint {
  account: PersistedActor;
  symbols: { symbol: string; actor: PersistedActor; strategy: PersistedStrategy }[];
  trades: PersistedActor[];
  execution: ReturnType<OrderExecution["persist"]>;
  risk: PersistedRiskEngine;
  counts: { bars: number; fundingSettlements: number; gaps: number };
  /** eventId of each symbol's latest FundingRateSettled. */
  fundingCause: Record<string, string>;
  /** Inputs of equity strategies waiting for their minute to complete (see `TradingEngine.onBar`). */
  pending?: PendingInputs[];
}

/** One symbol's strategy inputs held back until every symbol's bar of their close time is in. */
interface PendingInputs {
  symbol: string;
  inputs: TimedInput[];
  cause: Cause;
}

/** Routes market data and venue reports through the actors. Not re-entrant: await each call. */
export class TradingEngine {
  private readonly account: EventSourcedActor<typeof accountMachine>;
  private readonly execution: OrderExecution;
  private readonly risk: RiskEngine;
  private readonly trades: TradeManager;
  private readonly symbols = new Map<string, { actor: SymbolActor; strategy: StrategyActor }>();
  /** eventId of each symbol's latest FundingRateSettled (the cause of the funding booking). */
  private readonly fundingCause = new Map<string, string>();
  private readonly counts = { bars: 0, fundingSettlements: 0, gaps: 0 };
  /** Venue time of the last funding payment booked per symbol in this process (reconciliation's lookback). */
  private readonly lastFundingBooked = new Map<string, number>();
  /**
   * Inputs of strategies deciding on equity, held back in arrival order until every symbol's bar of the same
   * close time is recorded or a later market event arrives (`release`).
   */
  private pending: PendingInputs[] = [];

  constructor(private readonly options: TradingEngineOptions) {
    const deps = { store: options.store, correlationId: options.runId };
    this.account = EventSourcedActor.create(streams.account(options.accountId), accountMachine, deps);
    this.risk = new RiskEngine({
      store: options.store,
      runId: options.runId,
      accountId: options.accountId,
      limits: options.riskLimits ?? {},
      instrument: options.instrument,
      dualSidePosition: options.dualSidePosition === true,
      view: () => ({
        walletBalance: this.account.snapshot.context.walletBalance,
        positions: this.account.snapshot.context.positions,
        openOrders: this.workingOrderRequests(),
      }),
    });
    this.execution = new OrderExecution({
      store: options.store,
      runId: options.runId,
      venue: options.venue,
      account: this.account,
      risk: this.risk,
    });
    this.trades = new TradeManager({
      store: options.store,
      runId: options.runId,
      execution: this.execution,
      instrument: options.instrument,
      positionAmt: (symbol, side) =>
        this.account.snapshot.context.positions[positionKey(symbol, side)]?.positionAmt,
      dualSidePosition: options.dualSidePosition === true,
    });
  }

  /**
   * Applies what other writers appended to the engine's streams since it last read them (the risk stream: an
   * operator's change, a replay's out-of-band records). Call it before `checkpoint`, so that a checkpoint holds
   * the state of the log up to it.
   */
  catchUp(): Promise<void> {
    return this.risk.catchUp();
  }

  /** The engine's state, for a checkpoint (call between market events, after `catchUp`). */
  checkpoint(): EngineCheckpoint {
    return {
      account: this.account.persist(),
      symbols: [...this.symbols].map(([symbol, { actor, strategy }]) => ({
        symbol,
        actor: actor.persist(),
        strategy: strategy.persist(),
      })),
      trades: this.trades.persist(),
      execution: this.execution.persist(),
      risk: this.risk.persist(),
      counts: { ...this.counts },
      fundingCause: Object.fromEntries(this.fundingCause),
      ...(this.pending.length > 0
        ? { pending: this.pending.map((p) => ({ ...p, inputs: [...p.inputs] })) }
        : {}),
    };
  }

  /** Continues from `checkpoint` (from `checkpoint()`, possibly through JSON), replacing the engine's state. */
  restore(checkpoint: EngineCheckpoint): void {
    const deps = { store: this.options.store, correlationId: this.options.runId };
    this.account.restoreFrom(checkpoint.account);
    this.symbols.clear();
    for (const { symbol, actor, strategy } of checkpoint.symbols) {
      const entry = this.symbol(symbol);
      entry.actor = EventSourcedActor.restore(actor, symbolMachine, deps);
      entry.strategy.restore(strategy);
    }
    this.trades.restore(checkpoint.trades);
    this.execution.restore(checkpoint.execution);
    this.risk.restore(checkpoint.risk);
    Object.assign(this.counts, checkpoint.counts);
    this.fundingCause.clear();
    for (const [symbol, id] of Object.entries(checkpoint.fundingCause)) this.fundingCause.set(symbol, id);
    this.pending = (checkpoint.pending ?? []).map((p) => ({ ...p, inputs: [...p.inputs] }));
  }

  /** Counters so far. */
  get stats(): EngineStats {
    return { ...this.counts, ...this.execution.stats };
  }

  /**
   * Opens the account with `walletBalance` USDT (in hedge mode with `dualSidePosition: true`), configures each of
   * the run's symbols with the leverage and margin type the strategy declares (SymbolConfigured), and records the
   * risk limits it trades under (RiskLimitsSet), all before any order.
   */
  async openAccount(walletBalance: string, cause: Cause): Promise<void> {
    const { symbols } = this.options;
    const { leverage, marginType } = this.options.strategy.symbolSettings(this.options.params);
    await this.account.commit(
      [
        {
          type: "AccountOpened",
          data: {
            accountId: this.options.accountId,
            asset: "USDT",
            walletBalance,
            ...(this.options.dualSidePosition ? { dualSidePosition: true } : {}),
          },
        },
        ...symbols.map((symbol) => ({
          type: "SymbolConfigured" as const,
          data: { symbol, leverage, marginType },
        })),
      ],
      cause,
    );
    await this.risk.start(cause);
  }

  /** The trading state (ACTIVE, REDUCING, HALTED). */
  get tradingState() {
    return this.risk.tradingState;
  }

  /**
   * Hands the strategies the inputs held back for a market time before `time` (ms): call it before a market event
   * of time `time` reaches the venue or the engine (the kernel's step does). Nothing to do, undefined.
   */
  releaseBefore(time: number): Promise<void> | undefined {
    const first = this.pending[0];
    return first !== undefined && first.cause.eventTime < time ? this.release() : undefined;
  }

  /**
   * A closed 1m bar: record it, then let the symbol's strategy decide on it. A strategy deciding on equity gets
   * the inputs the bar brings once every symbol's bar of the same close time is recorded (or at
   * `releaseBefore` a later time): all its decisions of that time see the same equity, at those bars' marks.
   */
  async onBar(bar: EventData<"BarClosed">): Promise<void> {
    const released = this.releaseBefore(bar.closeTime);
    if (released) await released;
    this.counts.bars += 1;
    const [id] = await this.symbol(bar.symbol).actor.commit([{ type: "BarClosed", data: bar }], {
      causationId: `bar:${bar.symbol}:${bar.openTime}`,
      eventTime: bar.closeTime,
    });
    const cause = { causationId: id!, eventTime: bar.closeTime };
    // Most bars change no trading state and bring no decision: nothing to await then.
    const rules = this.risk.onMark(bar.symbol, bar.markPrice ?? bar.close, cause);
    if (rules) await rules;
    const decided = this.decide(bar.symbol, { kind: "bar", bar }, cause);
    if (decided) await decided;
    if (this.pending.length > 0 && this.minuteComplete(bar.closeTime)) await this.release();
  }

  /** Bars are missing: record the gap; the strategy restarts its warm-up. */
  async onGap(gap: EventData<"MarketDataGapDetected">, time: number): Promise<void> {
    await this.releaseBefore(time);
    this.counts.gaps += 1;
    const [id] = await this.symbol(gap.symbol).actor.commit([{ type: "MarketDataGapDetected", data: gap }], {
      causationId: `gap:${gap.symbol}:${gap.fromOpenTime}`,
      eventTime: time,
    });
    await this.decide(gap.symbol, { kind: "gap", gap }, { causationId: id!, eventTime: time });
  }

  /** A realized funding settlement: record it (the venue then reports the payment, if any). */
  async onFundingRate(settlement: EventData<"FundingRateSettled">): Promise<void> {
    const time = settlement.fundingTime;
    await this.releaseBefore(time);
    this.counts.fundingSettlements += 1;
    const [id] = await this.symbol(settlement.symbol).actor.commit(
      [{ type: "FundingRateSettled", data: settlement }],
      { causationId: `funding:${settlement.symbol}:${time}`, eventTime: time },
    );
    this.fundingCause.set(settlement.symbol, id!);
    await this.decide(
      settlement.symbol,
      { kind: "funding", funding: settlement },
      { causationId: id!, eventTime: time },
    );
  }

  /**
   * A settlement nothing priced (before the symbol's first bar, without a mark-price kline): not charged and not
   * recorded — the strategies consuming funding learn its rate, in market order (a backtest's files hold it).
   */
  onUnpricedFunding(settlement: StrategyFunding): Promise<void> | undefined {
    const time = settlement.fundingTime;
    const released = this.releaseBefore(time);
    const cause = { causationId: `funding:${settlement.symbol}:${time}`, eventTime: time };
    const decide = () => this.decide(settlement.symbol, { kind: "funding", funding: settlement }, cause);
    return released ? released.then(decide) : decide();
  }

  /**
   * A market input before the run's window, to warm the strategy up: the strategy steps on it as if flat, its
   * decisions are dropped and nothing is appended (the input is in the run's files, so a replay sees it too).
   */
  warmUp(input: StrategyInput, time: number): void {
    const symbol =
      input.kind === "bar"
        ? input.bar.symbol
        : input.kind === "gap"
          ? input.gap.symbol
          : input.funding.symbol;
    this.symbol(symbol).strategy.step(input, { open: false, positionAmt: "0", equity: "0" }, time);
  }

  /** A venue report: a fill, an expiry or a funding payment. */
  onVenueReport = async (report: VenueReport): Promise<void> => {
    switch (report.kind) {
      case "fill": {
        const completed = await this.execution.onFill(report.fill, report.time);
        if (completed) await this.trades.onOrderFilled(completed);
        return;
      }
      case "expired": {
        const { clientOrderId, reason, time, expiryReason } = report;
        const ended = await this.execution.onExpired(clientOrderId, reason, time, expiryReason);
        if (ended) await this.trades.onOrderEnded(ended);
        return;
      }
      case "triggering":
        return this.execution.onTriggering(report);
      case "triggered":
        return this.execution.onTriggered(report);
      case "rejected":
        return this.trades.onOrderEnded(await this.execution.onRejected(report));
      case "liquidation": {
        const cause = await this.execution.onLiquidation(report);
        const { symbol, clientOrderId } = report.liquidation;
        return this.trades.onLiquidated(symbol, clientOrderId, cause);
      }
      case "funding": {
        const symbol = report.funding.symbol;
        this.lastFundingBooked.set(symbol, report.time);
        return this.execution.onFunding(
          report.funding,
          this.fundingCause.get(symbol) ?? `funding:${symbol}`,
          report.time,
        );
      }
    }
  };

  /**
   * The engine's side of a reconciliation (src/engine/reconciliation.ts): working orders, open positions, the
   * wallet, and per symbol the time after which funding may be missing — the venue time of the last payment
   * booked in this process, else `fundingFallback` (ms) — and its last settlement.
   */
  reconciliationView(fundingFallback: number): EngineView {
    const orders: WorkingOrderView[] = [];
    for (const { snapshot } of this.execution.workingOrders()) {
      const { request, triggeredOrderId, executedQty } = snapshot.context;
      orders.push({
        clientOrderId: request!.clientOrderId,
        symbol: request!.symbol,
        algo: isConditionalType(request!.type),
        ...(triggeredOrderId === undefined ? {} : { triggeredOrderId }),
        executedQty,
      });
    }
    const { positions, walletBalance } = this.account.snapshot.context;
    const fundingSince: Record<string, number> = {};
    const lastSettlement: Record<string, number> = {};
    for (const [symbol, { actor }] of this.symbols) {
      fundingSince[symbol] = this.lastFundingBooked.get(symbol) ?? fundingFallback;
      const settled = actor.snapshot.context.lastFundingTime;
      if (settled !== undefined) lastSettlement[symbol] = settled;
    }
    return {
      orders,
      positions: Object.entries(positions).map(([key, p]) => {
        const [symbol, side] = key.split(":") as [string, "LONG" | "SHORT" | undefined];
        return { symbol, positionSide: side ?? "BOTH", positionAmt: p.positionAmt };
      }),
      walletBalance,
      fundingSince,
      lastSettlement,
    };
  }

  /**
   * Records a reconciliation's result on the risk stream and applies the trading state it calls for
   * (`RiskEngine.reconciled`).
   */
  recordReconciliation(
    trigger: EventData<"VenueReconciled">["trigger"],
    recovered: number,
    outcome: ReconciliationOutcome,
    cause: Cause,
  ): Promise<EventData<"TradingStateChanged"> | undefined> {
    const discrepancies = outcome.discrepancies.map((d) => ({ kind: d.kind, detail: describe(d) }));
    return this.risk.reconciled(
      { trigger, recovered, discrepancies },
      outcome.action,
      outcome.reason,
      outcome.numbers,
      cause,
    );
  }

  /** Snapshot of the account actor's context (walletBalance, positions). */
  get accountState() {
    return this.account.snapshot.context;
  }

  /** Market time (ms) from which each symbol's strategy was warm; absent while it never was. */
  warmFrom(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [symbol, { strategy }] of this.symbols) {
      if (strategy.warmFrom !== undefined) out[symbol] = strategy.warmFrom;
    }
    return out;
  }

  /** The live actors' snapshots (state value and context) by stream: symbols, trades, the account, open orders. */
  snapshots(): Map<string, { value: unknown; context: unknown }> {
    const out = new Map<string, { value: unknown; context: unknown }>();
    const actors = [
      this.account,
      this.risk.riskActor,
      ...[...this.symbols.values()].map((s) => s.actor),
      ...this.trades.actors(),
      ...this.execution.workingOrders(),
    ];
    for (const a of actors) out.set(a.stream, { value: a.snapshot.value, context: a.snapshot.context });
    return out;
  }

  /** The working orders' state values and contexts (after a restart: what the external venue adopts). */
  workingOrders(): { value: unknown; context: OrderContext }[] {
    return [...this.execution.workingOrders()].map(({ snapshot }) => ({
      value: snapshot.value,
      context: snapshot.context,
    }));
  }

  /**
   * Where a symbol's market facts stand: the openTime its next bar must have and the fundingTime of its last
   * settlement (ms; undefined before the first). A live run drops what a restarted feed delivers again.
   */
  marketCursor(symbol: string): { expectedOpenTime?: number; lastFundingTime?: number } {
    const context = this.symbols.get(symbol)?.actor.snapshot.context;
    return { expectedOpenTime: context?.expectedOpenTime, lastFundingTime: context?.lastFundingTime };
  }

  /**
   * Cancels every working order at the venue, each recorded as OrderCanceled with `reason` (a stopping live run
   * with `onStop: cancel`); one the venue refuses to cancel (it filled meanwhile) is left to its report.
   * @returns the clientOrderIds canceled, in the order they were submitted.
   */
  async cancelWorkingOrders(reason: EventData<"OrderCanceled">["reason"], cause: Cause): Promise<string[]> {
    const working = [...this.execution.workingOrders()].map((o) => o.snapshot.context.request!);
    const canceled: string[] = [];
    for (const { symbol, clientOrderId } of working)
      if (await this.execution.cancel(symbol, clientOrderId, reason, cause)) canceled.push(clientOrderId);
    return canceled;
  }

  /** The working orders' requests and filled quantities, read lazily (the risk engine's view). */
  private *workingOrderRequests(): Generator<{ request: OrderRequest; executedQty: string }> {
    for (const { snapshot } of this.execution.workingOrders()) {
      yield { request: snapshot.context.request!, executedQty: snapshot.context.executedQty };
    }
  }

  /**
   * Steps the symbol's strategy on `input` and hands its decisions to the trade manager: undefined when it decided
   * nothing, else the promise of their handling.
   */
  private decide(symbol: string, input: StrategyInput, cause: Cause): Promise<void> | undefined {
    const { strategy } = this.symbol(symbol);
    if (strategy.decidesOnEquity) {
      const inputs = strategy.collect(input);
      if (inputs.length > 0) this.pending.push({ symbol, inputs, cause });
      return undefined;
    }
    const decisions = strategy.step(input, this.positionView(symbol), cause.eventTime);
    return decisions.length === 0 ? undefined : this.handOver(symbol, strategy, decisions, cause);
  }

  /** Whether every symbol of the run has its bar closing at `closeTime` (ms) recorded. */
  private minuteComplete(closeTime: number): boolean {
    for (const symbol of this.options.symbols) {
      const next = this.symbols.get(symbol)?.actor.snapshot.context.expectedOpenTime;
      if (next === undefined || next <= closeTime) return false;
    }
    return true;
  }

  /**
   * Hands the held-back inputs to their strategies, in arrival order, with one equity for all (wallet balance +
   * unrealized PnL at the latest marks, computed once: the decisions of one time share it).
   */
  private async release(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    const equity = canonical(this.risk.equity());
    for (const { symbol, inputs, cause } of pending) {
      const { strategy } = this.symbol(symbol);
      const decisions = strategy.consume(inputs, { ...this.positionView(symbol), equity }, cause.eventTime);
      if (decisions.length > 0) await this.handOver(symbol, strategy, decisions, cause);
    }
  }

  /** Hands `decisions` of `strategy` to the trade manager, in order. */
  private async handOver(
    symbol: string,
    strategy: StrategyActor,
    decisions: readonly TimedDecision[],
    cause: Cause,
  ): Promise<void> {
    for (const { decision, at, factors } of decisions) {
      const origin = {
        strategy: strategy.strategy.name,
        paramsVersion: strategy.strategy.paramsVersion,
        barOpenTime: at,
      };
      await this.trades.onDecision(symbol, decision, origin, cause, factors);
    }
  }

  /**
   * What the symbol's strategy knows of its own trading: open (a position or a pending entry) and the size (hedge
   * mode: open when either side is, the size net of both).
   */
  private positionView(symbol: string): PositionView {
    const { positions } = this.account.snapshot.context;
    if (!this.options.dualSidePosition) {
      const positionAmt = positions[symbol]?.positionAmt ?? "0";
      return { open: this.trades.isOpen(symbol) || positionAmt !== "0", positionAmt };
    }
    const long = positions[positionKey(symbol, "LONG")]?.positionAmt;
    const short = positions[positionKey(symbol, "SHORT")]?.positionAmt;
    const positionAmt = canonical(new Dec(long ?? 0).plus(short ?? 0));
    return { open: this.trades.isOpen(symbol) || long !== undefined || short !== undefined, positionAmt };
  }

  private symbol(symbol: string): { actor: SymbolActor; strategy: StrategyActor } {
    let entry = this.symbols.get(symbol);
    if (!entry) {
      const { store, runId, strategy, params, instrument, brackets, symbols } = this.options;
      entry = {
        actor: EventSourcedActor.create(streams.symbol(symbol), symbolMachine, {
          store,
          correlationId: runId,
        }),
        strategy: new StrategyActor(strategy, symbol, {
          params,
          instrument: instrument(symbol),
          symbols: symbols.length,
          brackets: brackets(symbol),
        }),
      };
      this.symbols.set(symbol, entry);
    }
    return entry;
  }
}
