/**
 * All read models of the event log, folded in one pass with no I/O: positions, PnL and the equity curve,
 * orders, trades (round trips), risk, runs, the decision trace, the bar count and the last applied global
 * position. `createProjections()` starts an empty fold; `apply` feeds it one event at a time in global order
 * (catch-up or live).
 */
import { createHash } from "node:crypto";
import { LogAudit } from "../actors/log-audit.ts";
import { BAR_INTERVALS } from "../domain/bars/intervals.ts";
import { Dec } from "../domain/decimal.ts";
import type { DomainEvent } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import { type DecisionQuery, DecisionsProjection, type DecisionTrace } from "./decisions.ts";
import type { CurveQuery, CurveView, EquityPoint } from "./equity-curve.ts";
import { MarketSeries } from "./market-series.ts";
import { type MetricCounts, MetricsFold } from "./metrics.ts";
import { type OrderQuery, OrdersProjection, type OrderView } from "./orders.ts";
import { PnlProjection, type PnlView } from "./pnl.ts";
import { PositionsProjection, type PositionView } from "./positions.ts";
import {
  type RiskLimitUse,
  type RiskView,
  riskView,
  TradingRiskProjection,
  type TradingRiskView,
} from "./risk.ts";
import { RunsProjection, type RunView } from "./runs.ts";
import { TradesProjection, type TradeView } from "./trades.ts";

export type {
  DecisionInput,
  DecisionQuery,
  DecisionTrace,
  DecisionType,
  FollowUpType,
  TracedOrder,
  TraceEvent,
} from "./decisions.ts";
export {
  type CurveQuery,
  type CurveView,
  type EquityPoint,
  MIN_CURVE_POINTS,
} from "./equity-curve.ts";
export {
  type OrderFillView,
  type OrderQuery,
  type OrderStatus,
  type OrderView,
  orderStatuses,
} from "./orders.ts";
export type { PnlView } from "./pnl.ts";
export type { PositionView } from "./positions.ts";
export type { RiskLimitUse, RiskView, SymbolExposure, TradingRiskView } from "./risk.ts";

/** GET /risk: exposure at mark, the trading state and the risk engine's record, and each limit with its use. */
export type AccountRiskView = RiskView & TradingRiskView & { limits: RiskLimitUse[] };
export type { RunView } from "./runs.ts";
export type { TradeView } from "./trades.ts";

/** An order of a decision trace: the order as /orders shows it, and the eventId its OrderSubmitted was caused by. */
export type DecisionOrderView = OrderView & { causationId: string };

/**
 * GET /decisions: a decision with its market input, factors, decision event, follow-ups, and every order that
 * followed from it (with status, denial or rejection, fills and their realized PnL).
 */
export type DecisionView = Omit<DecisionTrace, "orders"> & { orders: DecisionOrderView[] };

/** The figures a run summary takes from the projections. Money in USDT decimal strings. */
export interface ProjectionSummary {
  /** BarClosed events. */
  bars: number;
  /** Orders submitted. */
  orders: number;
  /** FillBooked events. */
  fills: number;
  /** OrderFilled events of maker fills. */
  makerFills: number;
  /** OrderFilled events that left their order PARTIALLY_FILLED. */
  partialFills: number;
  /** PositionLiquidated events. */
  liquidations: number;
  realizedPnl: string;
  fees: string;
  funding: string;
  netPnl: string;
  walletBalance: string;
  equity: string;
  maxDrawdown: string;
  maxDrawdownRatio: string | null;
}

/**
 * Every projection as plain JSON-comparable data. Global positions are left out (they are adapter-specific),
 * so the snapshot of a log rebuilt from any store equals the one of a re-run.
 */
export interface ProjectionsSnapshot {
  events: number;
  bars: number;
  /** Runs without their `lastPosition`. */
  runs: Omit<RunView, "lastPosition">[];
  positions: PositionView[];
  pnl: PnlView;
  /** Every equity sample (one per distinct bar closeTime). */
  equityCurve: EquityPoint[];
  orders: OrderView[];
  risk: AccountRiskView;
  /** The decision trace, without global positions (empty when the fold keeps none). */
  decisions: DecisionView[];
}

/** The projections fold and its read accessors. Accessors return copies. */
export interface Projections {
  /**
   * Folds one event; events must come in global order. Pure: no I/O, no clock.
   * @throws IllegalTransitionError (naming the event's position) for an event its aggregate's machine would not
   *   take: a tampered or foreign log is refused, not folded; the projections keep the state before it.
   */
  apply(event: RecordedEvent): void;
  /** Global position of the last applied event, or null before any. */
  lastPosition(): number | null;
  /** Number of events applied. */
  eventCount(): number;
  /** Number of BarClosed events applied. */
  bars(): number;
  /** Every run in start order, complete or not. */
  runs(): RunView[];
  /** The run started last, or null before any RunStarted. */
  latestRun(): RunView | null;
  /** eventTime of the last applied event, or null before any. */
  lastEventTime(): number | null;
  /** Every symbol seen (RunStarted symbols, bars, fills), flat ones included. */
  positions(): PositionView[];
  /** The position of `symbol` on `positionSide` (BOTH in one-way mode, LONG or SHORT in hedge mode). */
  position(symbol: string, positionSide?: "BOTH" | "LONG" | "SHORT"): PositionView | undefined;
  pnl(): PnlView;
  /** Equity samples, downsampled (default: every sample, i.e. per 1m bar). */
  equityCurve(query?: Partial<CurveQuery>): EquityPoint[];
  /**
   * `equityCurve(query)` with at most `maxPoints` points, exact at the extremes, computed step by step: a
   * generator that yields between chunks of work and returns the view (`EquityCurve.viewSteps`).
   */
  downsampleCurve(query: CurveQuery, maxPoints: number): Generator<void, CurveView, void>;
  /** Orders in submission order, filtered and paged, with the count before paging. */
  orders(query?: OrderQuery): { total: number; orders: OrderView[] };
  order(clientOrderId: string): OrderView | undefined;
  /**
   * Decisions in log order, filtered (symbol, market-time range, the order `clientOrderId`) and paged, with the
   * count before paging. Empty when the fold was created with `decisions: false`.
   */
  decisions(query?: DecisionQuery): { total: number; decisions: DecisionView[] };
  /** The decision behind order `clientOrderId` (any order of a decision, protective ones included), if any. */
  decisionOf(clientOrderId: string): DecisionView | undefined;
  /**
   * Every round trip (trades.ts: flat to flat; a flip closes one and opens the next), in the order they opened.
   * @throws Error for projections created with `trades: false`.
   */
  trades(): TradeView[];
  /**
   * The dashboard's market series (market-series.ts: bars, fills and PnL per symbol, each entry with its position).
   * @throws Error for projections created with `marketSeries: false`.
   */
  marketSeries(): MarketSeries;
  risk(): AccountRiskView;
  /** The trading state and the pre-trade risk engine's record (denials, state changes). */
  tradingRisk(): TradingRiskView;
  summary(): ProjectionSummary;
  /** The event counts behind the Prometheus metrics (metrics.ts `metricFamilies` reads them with the rest). */
  metricCounts(): MetricCounts;
  snapshot(): ProjectionsSnapshot;
}

/** A recorded event narrowed by its `type` (a discriminated union for `switch`). */
export type AnyRecordedEvent = DomainEvent extends infer E
  ? E extends DomainEvent
    ? RecordedEvent<E>
    : never
  : never;

class ProjectionFold implements Projections {
  private readonly positionsFold = new PositionsProjection();
  private readonly pnlFold: PnlProjection;
  private readonly ordersFold = new OrdersProjection();
  private readonly runsFold = new RunsProjection();
  private readonly tradingRiskFold = new TradingRiskProjection();
  private readonly metricsFold = new MetricsFold();
  private readonly decisionsFold: DecisionsProjection | undefined;
  private readonly tradesFold: TradesProjection | undefined;
  private readonly seriesFold: MarketSeries | undefined;
  private barCount = 0;
  private applied = 0;
  private last: number | null = null;
  private lastTime: number | null = null;
  private readonly audit: LogAudit | undefined;

  constructor(
    audit: boolean,
    equityCurve: boolean,
    decisions: boolean,
    trades: boolean,
    marketSeries: boolean,
  ) {
    this.audit = audit ? new LogAudit() : undefined;
    this.seriesFold = marketSeries ? new MarketSeries() : undefined;
    this.tradesFold = trades ? new TradesProjection() : undefined;
    this.pnlFold = new PnlProjection(equityCurve);
    this.decisionsFold = decisions ? new DecisionsProjection() : undefined;
  }

  apply(event: RecordedEvent): void {
    this.audit?.check(event);
    const e = event as AnyRecordedEvent;
    const time = e.metadata.eventTime;
    switch (e.type) {
      case "BarClosed":
        this.barCount++;
        this.positionsFold.mark(e.data.symbol, e.data.markPrice ?? e.data.close);
        this.pnlFold.sample(e.data.closeTime, this.positionsFold.totalUnrealizedPnl());
        this.tradingRiskFold.sample(this.pnlFold.curve.lastEquity()!);
        break;
      case "FillBooked":
        this.tradesFold?.fill(e.data, time); // first: it throws on an inconsistent fill before anything changes
        this.positionsFold.book(e.data, time);
        this.pnlFold.bookFill(e.data);
        this.ordersFold.booked(e.data);
        this.tradingRiskFold.book(new Dec(e.data.realizedPnl).minus(e.data.commission), time);
        break;
      case "FundingFeeBooked":
        this.tradesFold?.fund(e.data);
        this.pnlFold.bookFunding(e.data);
        this.positionsFold.fund(e.data);
        this.tradingRiskFold.book(new Dec(e.data.fundingFee), time);
        break;
      case "SymbolConfigured":
        this.positionsFold.configure(e.data);
        break;
      case "PositionLiquidated":
        this.tradesFold?.liquidate(e.data, time);
        this.positionsFold.liquidate(e.data, time);
        this.pnlFold.bookLiquidation(e.data);
        this.tradingRiskFold.book(new Dec(e.data.realizedPnl).minus(e.data.clearanceFee), time);
        break;
      case "RiskLimitsSet":
        this.tradingRiskFold.limitsSet(e.data);
        break;
      case "TradingStateChanged":
        this.tradingRiskFold.stateChanged(e.data, time);
        break;
      case "OrderDenied":
        this.ordersFold.denied(e.data, time);
        this.tradingRiskFold.orderDenied(e.data);
        break;
      case "AccountOpened":
        this.positionsFold.openAccount(e.data);
        this.pnlFold.open(e.data);
        break;
      case "OrderSubmitted":
        this.ordersFold.submitted(e.data, time);
        break;
      case "OrderAccepted":
        this.ordersFold.accepted(e.data, time);
        break;
      case "OrderFilled":
        this.ordersFold.filled(e.data, time);
        break;
      case "OrderCanceled":
        this.ordersFold.canceled(e.data, time);
        break;
      case "OrderExpired":
        this.ordersFold.expired(e.data, time);
        break;
      case "OrderRejected":
        this.ordersFold.rejected(e.data, time);
        break;
      case "OrderTriggering":
        this.ordersFold.triggering(e.data, time);
        break;
      case "OrderTriggered":
        this.ordersFold.triggered(e.data, time);
        break;
      case "RunStarted":
        for (const symbol of e.data.symbols) this.positionsFold.track(symbol);
        break;
    }
    this.runsFold.apply(event);
    this.decisionsFold?.apply(event);
    this.seriesFold?.apply(event);
    this.metricsFold.apply(event);
    this.applied++;
    this.last = event.position;
    this.lastTime = time;
  }

  lastPosition(): number | null {
    return this.last;
  }

  eventCount(): number {
    return this.applied;
  }

  bars(): number {
    return this.barCount;
  }

  runs(): RunView[] {
    return this.runsFold.views();
  }

  latestRun(): RunView | null {
    return this.runsFold.latestRun();
  }

  lastEventTime(): number | null {
    return this.lastTime;
  }

  positions(): PositionView[] {
    return this.positionsFold.views(this.pnlFold.walletBalance());
  }

  /** The position of `symbol` on `positionSide` (BOTH, one-way mode, by default). */
  position(symbol: string, positionSide: "BOTH" | "LONG" | "SHORT" = "BOTH"): PositionView | undefined {
    return this.positionsFold.view(symbol, this.pnlFold.walletBalance(), positionSide);
  }

  pnl(): PnlView {
    return this.pnlFold.view(this.positionsFold.totalUnrealizedPnl());
  }

  equityCurve(query: Partial<CurveQuery> = {}): EquityPoint[] {
    return this.pnlFold.curve.points({ intervalMs: BAR_INTERVALS["1m"], ...query });
  }

  downsampleCurve(query: CurveQuery, maxPoints: number): Generator<void, CurveView, void> {
    return this.pnlFold.curve.viewSteps(query, maxPoints);
  }

  orders(query?: OrderQuery): { total: number; orders: OrderView[] } {
    return this.ordersFold.list(query);
  }

  order(clientOrderId: string): OrderView | undefined {
    return this.ordersFold.get(clientOrderId);
  }

  decisions(query?: DecisionQuery): { total: number; decisions: DecisionView[] } {
    const { total, traces } = this.decisionsFold?.list(query) ?? { total: 0, traces: [] };
    return { total, decisions: traces.map((t) => this.decisionView(t)) };
  }

  decisionOf(clientOrderId: string): DecisionView | undefined {
    const trace = this.decisionsFold?.ofOrder(clientOrderId);
    return trace && this.decisionView(trace);
  }

  /** A trace with its orders as the orders projection has them. */
  private decisionView(trace: DecisionTrace): DecisionView {
    const orders = trace.orders.map(({ clientOrderId, causationId }) => ({
      ...this.ordersFold.get(clientOrderId)!,
      causationId,
    }));
    return { ...trace, orders };
  }

  trades(): TradeView[] {
    if (!this.tradesFold) throw new Error("trades were not folded: createProjections({ trades: false })");
    return this.tradesFold.views();
  }

  marketSeries(): MarketSeries {
    if (!this.seriesFold)
      throw new Error("market series were not folded: createProjections({ marketSeries: false })");
    return this.seriesFold;
  }

  risk(): AccountRiskView {
    const { equity } = this.pnl();
    const exposure = riskView(this.positions(), equity, this.runsFold.configuredLeverage);
    const trading = this.tradingRisk();
    return { ...exposure, ...trading, limits: this.tradingRiskFold.limitUses(exposure, trading) };
  }

  metricCounts(): MetricCounts {
    return this.metricsFold.counts();
  }

  tradingRisk(): TradingRiskView {
    return this.tradingRiskFold.view(this.lastTime);
  }

  summary(): ProjectionSummary {
    const pnl = this.pnl();
    return {
      bars: this.barCount,
      orders: this.ordersFold.count,
      fills: pnl.fills,
      makerFills: this.ordersFold.makerFills,
      partialFills: this.ordersFold.partialFills,
      liquidations: pnl.liquidations,
      realizedPnl: pnl.realizedPnl,
      fees: pnl.fees,
      funding: pnl.funding,
      netPnl: pnl.netPnl,
      walletBalance: pnl.walletBalance,
      equity: pnl.equity,
      maxDrawdown: pnl.maxDrawdown,
      maxDrawdownRatio: pnl.maxDrawdownRatio,
    };
  }

  snapshot(): ProjectionsSnapshot {
    return {
      events: this.applied,
      bars: this.barCount,
      runs: this.runs().map(({ lastPosition: _adapterSpecific, ...run }) => run),
      positions: this.positions(),
      pnl: this.pnl(),
      equityCurve: this.equityCurve(),
      orders: this.orders().orders,
      risk: this.risk(),
      decisions: this.decisions().decisions.map(withoutPositions),
    };
  }
}

/** A decision view without its events' global positions (adapter-specific). */
function withoutPositions(view: DecisionView): DecisionView {
  const strip = <E extends { position: number }>({ position: _adapterSpecific, ...rest }: E) => rest as E;
  return {
    ...view,
    factors: view.factors && strip(view.factors),
    decision: view.decision && strip(view.decision),
    followUps: view.followUps.map(strip),
  };
}

/**
 * An empty projections fold. `audit` (default true) checks every event against its aggregate's machine first (`LogAudit`);
 * turn it off only for a log this process has just written through its actors. `equityCurve: false` keeps only
 * the curve's last sample and its running maximum drawdown (`pnl()` and `summary()` stay exact; `equityCurve()`
 * then holds the last sample alone): for a run's summary, in memory that does not grow with the window.
 * `decisions: false` keeps no decision trace (`decisions()` is then empty), for the same reason; `trades: false`
 * skips the trades fold (`trades()` then throws); `marketSeries: false` skips the dashboard's market series (every
 * 1m bar and fill: memory that grows with the log; `marketSeries()` then throws), for folds that never serve it.
 */
export function createProjections(
  options: {
    audit?: boolean;
    equityCurve?: boolean;
    decisions?: boolean;
    trades?: boolean;
    marketSeries?: boolean;
  } = {},
): Projections {
  return new ProjectionFold(
    options.audit ?? true,
    options.equityCurve ?? true,
    options.decisions ?? true,
    options.trades ?? true,
    options.marketSeries ?? true,
  );
}

/** Folds every event of `events` (e.g. `store.readAll()`) into fresh projections. */
export async function rebuildProjections(events: AsyncIterable<RecordedEvent>): Promise<Projections> {
  const projections = createProjections();
  for await (const event of events) projections.apply(event);
  return projections;
}

/** sha256 (lowercase hex) of the JSON of `projections.snapshot()`: equal digests ⇔ equal projections. */
export function projectionsDigest(projections: Projections): string {
  return createHash("sha256").update(JSON.stringify(projections.snapshot())).digest("hex");
}
