/**
 * The pre-trade risk engine: the risk actor (stream `risk-<accountId>`, src/actors/risk.machine.ts) and the
 * account facts its rules need beyond the account actor — the marks, the peak equity, the net realized PnL of
 * the UTC day and the times of the orders sent. `check` judges an order with the pure rules of
 * src/domain/risk (NautilusTrader's RiskEngine is the model: trading state ACTIVE / REDUCING / HALTED, then the
 * limits); `onMark`, `afterFill` and `afterFunding` feed the state rules (daily loss, drawdown halt) and append
 * a TradingStateChanged when one fires; `halt`/`resume` are the operator's hand.
 *
 * Another writer (the `perpsource halt` command, POST /control/halt) may append to the risk stream while a run
 * is going: before each check and each change the engine reads its stream past the revision it knows and applies
 * what it finds (checked by the risk machine), so an operator's halt takes effect at the run's next order or
 * state change. Such an event comes from outside the run's inputs: a replay of the run does not reproduce it.
 */
import { positionKey } from "../actors/account.machine.ts";
import { EventSourcedActor, type PersistedActor } from "../actors/event-sourced-actor.ts";
import { riskMachine } from "../actors/risk.machine.ts";
import { canonical, Dec } from "../domain/decimal.ts";
import type { Instrument } from "../domain/instruments.ts";
import { closingOrder } from "../domain/orders/closing.ts";
import { preTradeCheck } from "../domain/risk/check.ts";
import { utcDay } from "../domain/risk/daily-loss.ts";
import {
  type CurrentTradingState,
  decideTradingState,
  type TradingStateDecision,
} from "../domain/risk/decide-trading-state.ts";
import { exchangeFilterDenial } from "../domain/risk/exchange-filters.ts";
import { orderValuationPrice } from "../domain/risk/order-effect.ts";
import type { Denial, RiskLimits, RiskSnapshot, TradingState } from "../domain/risk/types.ts";
import type { EventData } from "../events/catalog.ts";
import type { EventStore } from "../events/store.ts";
import { EventIdConflictError, WrongExpectedRevisionError } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import type { OrderRequest } from "./venue.ts";

/** Who changes the state by hand. */
export const OPERATOR = "operator";
/** TradingStateChanged.by of a change a reconciliation with the venue called for. */
export const RECONCILIATION = "reconciliation";

/** What the risk engine reads of the account at a moment: the account actor's wallet and positions, the working orders. */
export interface RiskAccountView {
  walletBalance: string;
  /** Positions by `positionKey` (the symbol in one-way mode, `SYMBOL:LONG` / `SYMBOL:SHORT` in hedge mode). */
  positions: Readonly<Record<string, { positionAmt: string; entryPrice: string }>>;
  /** Working orders with their filled quantity so far. */
  openOrders: Iterable<{ request: OrderRequest; executedQty: string }>;
}

/** The engine's own facts, as JSON (a checkpoint's part). */
interface Tracker {
  marks: Record<string, string>;
  /** Highest equity seen; null: take the current equity (at start, after an operator's resume). */
  peakEquity: string | null;
  /** UTC day (days since the epoch) `realizedToday` belongs to. */
  day: number;
  realizedToday: string;
  /** Market times of the orders sent within the rate window, oldest first. */
  orderTimes: number[];
  /** Market time of the last change of state. */
  since: number | null;
}

/** The risk engine's state for a checkpoint. */
export interface PersistedRiskEngine {
  actor: PersistedActor;
  tracker: Tracker;
}

/** Causation and market time of what the engine appends. */
type Cause = { causationId: string; eventTime: number };

/** Judges orders and keeps the trading state of one account. Not re-entrant: await each call. */
export class RiskEngine {
  private actor: EventSourcedActor<typeof riskMachine>;
  private tracker: Tracker = {
    marks: {},
    peakEquity: null,
    day: 0,
    realizedToday: "0",
    orderTimes: [],
    since: null,
  };

  /** The peak as a decimal and its halt floor (peak × (1 − maxDrawdown)); derived from `tracker.peakEquity`. */
  private peak: { value?: Dec; floor?: Dec } = {};
  private readonly decimals = new Map<string, Dec>();

  constructor(
    private readonly deps: {
      store: EventStore;
      runId: string;
      accountId: string;
      limits: RiskLimits;
      view: () => RiskAccountView;
      /** The instruments, for the exchange-filter rule (absent: that rule is off). */
      instrument?: (symbol: string) => Instrument;
      /** Hedge mode (binance-usdm.md §4.1), for the exchange-filter rule's position-side check (default false). */
      dualSidePosition?: boolean;
    },
  ) {
    this.actor = EventSourcedActor.create(streams.risk(deps.accountId), riskMachine, {
      store: deps.store,
      correlationId: deps.runId,
    });
  }

  /** The limits the engine judges by (an absent limit: its rule is off). */
  get limits(): RiskLimits {
    return this.deps.limits;
  }

  /** The trading state (ACTIVE before `start`). */
  get tradingState(): TradingState {
    const value = this.actor.snapshot.value as string;
    return value === "none" ? "ACTIVE" : (value as TradingState);
  }

  /** The risk actor (for snapshots). */
  get riskActor(): EventSourcedActor<typeof riskMachine> {
    return this.actor;
  }

  /** Appends RiskLimitsSet (the run trades under these limits from here). */
  async start(cause: Cause): Promise<void> {
    const limits = recordedLimits(this.deps.limits);
    await this.actor.commit(
      [{ type: "RiskLimitsSet", data: { accountId: this.deps.accountId, limits } }],
      cause,
    );
    this.tracker.day = utcDay(cause.eventTime);
  }

  /**
   * Judges `request` (after reading changes other writers appended): the first rule that denies it, or
   * undefined when it may go to the venue (its time then counts towards the order rate).
   * `referencePrice`: the price a MARKET order was decided at.
   */
  async check(request: OrderRequest, time: number, referencePrice?: string): Promise<Denial | undefined> {
    await this.catchUp();
    const intent = referencePrice === undefined ? { order: request } : { order: request, referencePrice };
    const mark = this.tracker.marks[request.symbol] ?? referencePrice;
    const denial =
      preTradeCheck(intent, this.snapshot(time), this.deps.limits) ??
      (this.deps.instrument && mark !== undefined
        ? exchangeFilterDenial(
            intent,
            this.deps.instrument(request.symbol),
            mark,
            time,
            this.deps.dualSidePosition === true,
          )
        : undefined);
    if (denial === undefined && this.deps.limits.orderRate) {
      const since = time - this.deps.limits.orderRate.windowMs;
      this.tracker.orderTimes = [...this.tracker.orderTimes.filter((t) => t > since), time];
    }
    return denial;
  }

  /**
   * A new mark (a bar's close) of `symbol`: the state rules look at the account. Returns undefined when no rule
   * had to run (most bars), else the promise of their evaluation: await it when there is one.
   */
  onMark(symbol: string, price: string, cause: Cause): Promise<void> | undefined {
    this.tracker.marks[symbol] = price;
    const { maxDrawdown, dailyLossLimit } = this.deps.limits;
    if (maxDrawdown === undefined && dailyLossLimit === undefined) return;
    if (this.tradingState === "HALTED") return; // latched: no rule changes it (the peak restarts at a resume)
    const newDay = utcDay(cause.eventTime) !== this.tracker.day;
    if (maxDrawdown !== undefined && !newDay) {
      // Per bar, the cheap part of the drawdown rule: track the peak, and run the rules only at the halt floor.
      const equity = this.equity();
      const peak = this.peak.value;
      if (peak === undefined || equity.gt(peak)) {
        this.peak = { value: equity, floor: equity.times(new Dec(1).minus(maxDrawdown)) };
        this.tracker.peakEquity = canonical(equity);
        return;
      }
      if (equity.gt(this.peak.floor!)) return;
    } else if (!newDay) return; // the daily loss only changes with bookings, or at a new day
    return this.evaluate(cause, true);
  }

  /**
   * The account's equity at the latest marks: walletBalance + Σ positionAmt × (mark − entryPrice) over the
   * positions with a mark (USDT).
   */
  equity(): Dec {
    const view = this.deps.view();
    let equity = this.parsed(view.walletBalance);
    for (const key in view.positions) {
      const mark = this.tracker.marks[symbolOfKey(key)];
      if (mark === undefined) continue;
      const p = view.positions[key]!;
      equity = equity.plus(this.parsed(p.positionAmt).times(new Dec(mark).minus(this.parsed(p.entryPrice))));
    }
    return equity;
  }

  /** `value` parsed, from a small cache (wallet balances and positions change only with bookings). */
  private parsed(value: string): Dec {
    let d = this.decimals.get(value);
    if (d === undefined) {
      if (this.decimals.size > 64) this.decimals.clear();
      d = new Dec(value);
      this.decimals.set(value, d);
    }
    return d;
  }

  /** A fill was booked: its realized PnL and commission count towards the day's result. */
  async afterFill(booked: EventData<"FillBooked">, cause: Cause): Promise<void> {
    this.addToDay(new Dec(booked.realizedPnl).minus(booked.commission), cause.eventTime);
    if (this.deps.limits.maxDrawdown === undefined && this.deps.limits.dailyLossLimit === undefined) return;
    await this.evaluate(cause);
  }

  /** A liquidation was booked: its realized PnL less the clearance fee counts towards the day's result. */
  async afterLiquidation(booked: EventData<"PositionLiquidated">, cause: Cause): Promise<void> {
    this.addToDay(new Dec(booked.realizedPnl).minus(booked.clearanceFee), cause.eventTime);
    if (this.deps.limits.maxDrawdown === undefined && this.deps.limits.dailyLossLimit === undefined) return;
    await this.evaluate(cause);
  }

  /** A funding fee was booked: it counts towards the day's result. */
  async afterFunding(booked: EventData<"FundingFeeBooked">, cause: Cause): Promise<void> {
    this.addToDay(new Dec(booked.fundingFee), cause.eventTime);
    if (this.deps.limits.maxDrawdown === undefined && this.deps.limits.dailyLossLimit === undefined) return;
    await this.evaluate(cause);
  }

  /**
   * Records a reconciliation with the venue that changed something (VenueReconciled), then tightens the trading
   * state to what its discrepancies call for (`action`: REDUCING only from ACTIVE; HALTED from any other), by
   * `reconciliation` with `reason` and `numbers`. Nothing is appended when nothing was recovered and nothing
   * differs.
   * @returns the change of state appended, if any.
   */
  async reconciled(
    record: Omit<EventData<"VenueReconciled">, "accountId">,
    action: "none" | "REDUCING" | "HALTED",
    reason: string,
    numbers: Record<string, string>,
    cause: Cause,
  ): Promise<EventData<"TradingStateChanged"> | undefined> {
    if (record.recovered === 0 && record.discrepancies.length === 0) return undefined;
    await this.catchUp();
    const [id] = await this.actor.commit(
      [{ type: "VenueReconciled", data: { accountId: this.deps.accountId, ...record } }],
      cause,
    );
    const from = this.tradingState;
    if (action === "none" || from === "HALTED" || (action === "REDUCING" && from === "REDUCING"))
      return undefined;
    return this.change(
      { from, to: action, by: RECONCILIATION, reason, numbers },
      { causationId: id!, eventTime: cause.eventTime },
    );
  }

  /**
   * The operator halts trading (any state → HALTED).
   * @returns the change appended, or undefined when already HALTED.
   */
  halt(reason: string, cause: Cause): Promise<EventData<"TradingStateChanged"> | undefined> {
    return this.operate("HALTED", reason, cause);
  }

  /**
   * The operator resumes trading (→ ACTIVE); the drawdown is measured from the equity at the resume on.
   * @returns the change appended, or undefined when already ACTIVE.
   */
  resume(reason: string, cause: Cause): Promise<EventData<"TradingStateChanged"> | undefined> {
    return this.operate("ACTIVE", reason, cause);
  }

  /** The engine's state for a checkpoint. */
  persist(): PersistedRiskEngine {
    return {
      actor: this.actor.persist(),
      tracker: structuredClone(this.tracker),
    };
  }

  /** Continues from `persisted` (from `persist()`). */
  restore(persisted: PersistedRiskEngine): void {
    this.actor.restoreFrom(persisted.actor);
    this.tracker = structuredClone(persisted.tracker);
    this.setPeak(this.tracker.peakEquity);
  }

  /** Sets the peak equity (null: the next equity) and its halt floor. */
  private setPeak(peak: string | null): void {
    this.tracker.peakEquity = peak;
    const { maxDrawdown } = this.deps.limits;
    if (peak === null || maxDrawdown === undefined) {
      this.peak = {};
      return;
    }
    const value = new Dec(peak);
    this.peak = { value, floor: value.times(new Dec(1).minus(maxDrawdown)) };
  }

  /** The snapshot of the account the rules see at market time `time`. */
  snapshot(time: number): RiskSnapshot {
    const view = this.deps.view();
    const { marks } = this.tracker;
    const positions: RiskSnapshot["positions"][number][] = [];
    for (const [key, p] of Object.entries(view.positions)) {
      const symbol = symbolOfKey(key);
      const positionSide = key === symbol ? "BOTH" : (key.slice(symbol.length + 1) as "LONG" | "SHORT");
      positions.push({ symbol, positionSide, positionAmt: p.positionAmt, markPrice: marks[symbol] });
    }
    const openOrders: RiskSnapshot["openOrders"][number][] = [];
    for (const { request, executedQty } of view.openOrders) {
      const position = view.positions[positionKey(request.symbol, request.positionSide)];
      const quantity =
        request.quantity !== undefined
          ? new Dec(request.quantity).minus(executedQty)
          : new Dec(position?.positionAmt ?? 0).abs();
      openOrders.push({
        symbol: request.symbol,
        positionSide: request.positionSide,
        side: request.side,
        quantity: canonical(quantity),
        reducing: closingOrder(request),
        price: orderValuationPrice(request, undefined, marks[request.symbol]),
      });
    }
    return { ...this.accountState(time), positions, openOrders };
  }

  /**
   * What the state rules read (`decideTradingState`): the snapshot without positions and orders: equity at the
   * marks, peak, the day's realized PnL, the state.
   */
  private accountState(time: number): RiskSnapshot {
    const view = this.deps.view();
    const { marks } = this.tracker;
    const equity = this.equity();
    const peak = this.tracker.peakEquity === null ? equity : Dec.max(this.tracker.peakEquity, equity);
    return {
      time,
      walletBalance: view.walletBalance,
      equity: canonical(equity),
      peakEquity: canonical(peak),
      realizedToday: utcDay(time) === this.tracker.day ? this.tracker.realizedToday : "0",
      positions: [],
      marks,
      openOrders: [],
      orderTimes: this.tracker.orderTimes,
      tradingState: this.tradingState,
    };
  }

  private addToDay(amount: Dec, time: number): void {
    const day = utcDay(time);
    const base = day === this.tracker.day ? this.tracker.realizedToday : "0";
    this.tracker.day = day;
    this.tracker.realizedToday = canonical(new Dec(base).plus(amount));
  }

  /**
   * Runs the state rules on the account now; appends the change one calls for (after reading what other writers
   * appended, and deciding again on that). `mark`: at a new mark, the equity counts towards the peak (the
   * peak is that of the equity at each mark, like the equity curve's).
   */
  private async evaluate(cause: Cause, mark = false): Promise<void> {
    const time = cause.eventTime;
    if (this.tradingState === "HALTED") return; // latched: no rule changes it (the peak restarts at a resume)
    const state = this.accountState(time);
    if (mark) this.setPeak(state.peakEquity);
    if (utcDay(time) !== this.tracker.day) {
      this.tracker.day = utcDay(time);
      this.tracker.realizedToday = "0";
    }
    const limits = this.deps.limits;
    if (decideTradingState(state, limits, this.current()) === undefined) return;
    await this.catchUp();
    const decision = decideTradingState(this.accountState(time), limits, this.current());
    if (decision) await this.change(decision, cause);
  }

  private current(): CurrentTradingState {
    const last = this.actor.snapshot.context.lastChange;
    const since = this.tracker.since;
    return {
      state: this.tradingState,
      ...(last ? { by: last.by } : {}),
      ...(since === null ? {} : { since }),
    };
  }

  private async operate(
    to: "HALTED" | "ACTIVE",
    reason: string,
    cause: Cause,
  ): Promise<EventData<"TradingStateChanged"> | undefined> {
    await this.catchUp();
    const from = this.tradingState;
    if (from === to) return undefined;
    return this.change({ from, to, by: OPERATOR, reason, numbers: {} }, cause);
  }

  /**
   * Appends the change; when another writer appended to the stream meanwhile, reads it and decides again once.
   * @throws IllegalTransitionError when the risk machine refuses the change.
   */
  private async change(
    decision: TradingStateDecision,
    cause: Cause,
  ): Promise<EventData<"TradingStateChanged">> {
    const { numbers, ...rest } = decision;
    const data: EventData<"TradingStateChanged"> = {
      accountId: this.deps.accountId,
      ...rest,
      ...(Object.keys(numbers).length > 0 ? { numbers } : {}),
    };
    try {
      await this.actor.commit([{ type: "TradingStateChanged", data }], cause);
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError || error instanceof EventIdConflictError))
        throw error;
      await this.catchUp();
      if (this.tradingState !== decision.from) return data; // another writer changed it first
      await this.actor.commit([{ type: "TradingStateChanged", data }], cause);
    }
    this.applied(data, cause.eventTime);
    return data;
  }

  /**
   * Reads and applies what other writers appended to the risk stream (an operator's change; a replay's
   * out-of-band records): before each decision here, and before a checkpoint so that it holds the stream's state.
   */
  async catchUp(): Promise<void> {
    const from = this.actor.streamRevision + 1;
    for await (const e of this.deps.store.readStream(this.actor.stream, { fromRevision: from })) {
      this.actor.applyRecorded(e);
      if (e.type === "TradingStateChanged") {
        this.applied(e.data as EventData<"TradingStateChanged">, e.metadata.eventTime);
      }
    }
  }

  /** Bookkeeping after a change: its time; an operator's resume restarts the drawdown from the equity then. */
  private applied(change: EventData<"TradingStateChanged">, time: number): void {
    this.tracker.since = time;
    if (change.by === OPERATOR && change.to !== "HALTED") this.setPeak(null);
  }
}

/** The limits as RiskLimitsSet records them: every limit named, absent ones as null. */
export function recordedLimits(limits: RiskLimits): EventData<"RiskLimitsSet">["limits"] {
  return {
    maxOrderNotional: limits.maxOrderNotional ?? null,
    maxPositionNotional: limits.maxPositionNotional ?? null,
    maxGrossExposure: limits.maxGrossExposure ?? null,
    maxLeverage: limits.maxLeverage ?? null,
    maxOpenPositions: limits.maxOpenPositions ?? null,
    priceBand: limits.priceBand ?? null,
    orderRateOrders: limits.orderRate?.orders ?? null,
    orderRateWindowMs: limits.orderRate?.windowMs ?? null,
    dailyLossLimit: limits.dailyLossLimit ?? null,
    dailyLossAction: limits.dailyLossLimit === undefined ? null : (limits.dailyLossAction ?? "REDUCING"),
    maxDrawdown: limits.maxDrawdown ?? null,
  };
}

/** The run configuration's `risk` section as the engine's limits (null = off). */
export function riskLimitsOf(config: {
  maxOrderNotional?: string | undefined;
  maxPositionNotional?: string | undefined;
  maxGrossExposure?: string | undefined;
  maxLeverage?: string | undefined;
  maxOpenPositions?: number | undefined;
  priceBand?: string | null | undefined;
  orderRate?: { orders: number; windowMs: number } | null | undefined;
  dailyLossLimit?: string | undefined;
  dailyLossAction?: "REDUCING" | "HALTED" | undefined;
  maxDrawdown?: string | undefined;
}): RiskLimits {
  const out: RiskLimits = {};
  for (const [key, value] of Object.entries(config)) {
    if (value !== undefined && value !== null) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** The symbol of a `positionKey` (the key itself in one-way mode). */
function symbolOfKey(key: string): string {
  const i = key.indexOf(":");
  return i < 0 ? key : key.slice(0, i);
}
