/**
 * Decision trace projection ("why did it trade"): every decision of a strategy with the market input it was made
 * on, what the strategy computed for it, and every order that followed from it through causation ids, so any
 * order of the log leads back to its decision. The chains the engine writes (src/engine/trade-manager.ts,
 * order-execution.ts):
 *
 *   BarClosed | MarketDataGapDetected | FundingRateSettled
 *     → [FactorComputed] → TargetPositionSet | EntrySignalled | SignalSuppressed      (the decision)
 *     → OrderSubmitted (target orders, the entry)                                     (caused by the decision)
 *     → OrderDenied | OrderRejected | OrderExpired | OrderFilled → FillBooked         (on the order's own stream)
 *     → PositionProtectionRequested | InvalidRiskAtFill | PositionUnprotected         (caused by one of those)
 *     → OrderSubmitted (stop-loss and take-profit, flatten)                           (caused by the follow-up)
 *     … EntryFailed, PositionClosed                                                   (follow-ups, no order)
 *
 * Memory: one trace per decision (or FactorComputed without one) with its factors, one link per order and per
 * event of a traced order that may cause a follow-up; of the market events only the latest bar, gap and
 * settlement of each symbol (a decision is caused by one of its own symbol's latest market events).
 */
import type { DomainEvent, EventData } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";

/** The market event a decision was made on (its causation), summarised. Times in ms, prices in quote asset. */
export type DecisionInput =
  | {
      type: "BarClosed";
      eventId: string;
      symbol: string;
      openTime: number;
      closeTime: number;
      close: string;
    }
  | {
      type: "MarketDataGapDetected";
      eventId: string;
      symbol: string;
      fromOpenTime: number;
      toOpenTime: number;
      missingBars: number;
    }
  | {
      type: "FundingRateSettled";
      eventId: string;
      symbol: string;
      fundingTime: number;
      fundingRate: string;
    };

/** One recorded event of a trace: its type, id, global position, market time (ms) and data as recorded. */
export type TraceEvent<T extends TracedType> = {
  [K in T]: { type: K; eventId: string; position: number; time: number; data: EventData<K> };
}[T];

/** The events of a strategy's decision. */
export type DecisionType = "TargetPositionSet" | "EntrySignalled" | "SignalSuppressed";
/** The trade-stream events that follow from a decision's orders; the first three send orders. */
export type FollowUpType =
  | "PositionProtectionRequested"
  | "InvalidRiskAtFill"
  | "PositionUnprotected"
  | "EntryFailed"
  | "PositionClosed";
type TracedType = "FactorComputed" | DecisionType | FollowUpType;

/** An order that followed from a decision, and the event its OrderSubmitted was caused by. */
export interface TracedOrder {
  clientOrderId: string;
  /** eventId of the decision event or of the follow-up (e.g. PositionProtectionRequested) that sent it. */
  causationId: string;
}

/**
 * One decision of a strategy on one symbol. At least one of `factors` and `decision` is set: a step that computed
 * factors and decided nothing has `decision` null.
 */
export interface DecisionTrace {
  /** The run (metadata.correlationId). */
  runId: string;
  symbol: string;
  strategy: string;
  /** Market time of the decision (its first event's eventTime), ms. */
  time: number;
  /** The market event it was made on; null when the log has none by its causation id (a foreign log). */
  input: DecisionInput | null;
  /** What the strategy computed (FactorComputed), or null when it recorded nothing. */
  factors: TraceEvent<"FactorComputed"> | null;
  /** The decision event, or null for factors without a decision. */
  decision: TraceEvent<DecisionType> | null;
  /** The trade-stream events that followed from its orders, in log order. */
  followUps: TraceEvent<FollowUpType>[];
  /** Every order that followed from it, directly or through a follow-up, in submission order. */
  orders: TracedOrder[];
}

/** Filter and page of `DecisionsProjection.list`. Times in ms, inclusive. */
export interface DecisionQuery {
  symbol?: string;
  /** Decisions with `time` ≥ from. */
  from?: number;
  /** Decisions with `time` ≤ to. */
  to?: number;
  /** Only the decision behind this order. */
  clientOrderId?: string;
  /** Page size (default: all). */
  limit?: number;
  /** Decisions skipped before the page (default 0). */
  offset?: number;
}

/** The latest market events of one symbol: the only ones a decision of the symbol can be caused by. */
interface LatestInputs {
  bar?: Recorded<"BarClosed">;
  gap?: Recorded<"MarketDataGapDetected">;
  funding?: Recorded<"FundingRateSettled">;
}

type Recorded<T extends DomainEvent["type"]> = RecordedEvent<Extract<DomainEvent, { type: T }>>;
/** A recorded event narrowed by its `type` (a discriminated union for `switch`). */
type AnyRecorded = { [T in DomainEvent["type"]]: Recorded<T> }[DomainEvent["type"]];

/** Fold of the decision trace, in log order. Feed it every event with `apply`. */
export class DecisionsProjection {
  private readonly traces: DecisionTrace[] = [];
  /** The trace of each order (by clientOrderId). */
  private readonly byOrder = new Map<string, DecisionTrace>();
  /**
   * The trace of each event that may cause a later event of it: a FactorComputed (until its decision), the
   * decision, the follow-ups, and a traced order's FillBooked, OrderDenied, OrderRejected and OrderExpired.
   */
  private readonly byEventId = new Map<string, DecisionTrace>();
  private readonly latest = new Map<string, LatestInputs>();

  /** Folds one event (global order). Pure: events it has no use for are ignored. */
  apply(event: RecordedEvent): void {
    const e = event as AnyRecorded;
    switch (e.type) {
      case "BarClosed":
        this.latestOf(e.data.symbol).bar = e;
        break;
      case "MarketDataGapDetected":
        this.latestOf(e.data.symbol).gap = e;
        break;
      case "FundingRateSettled":
        this.latestOf(e.data.symbol).funding = e;
        break;
      case "FactorComputed":
        this.start(e, e.data.symbol, e.data.strategy).factors = traceEvent(e, e.type);
        break;
      case "TargetPositionSet":
      case "EntrySignalled":
      case "SignalSuppressed":
        this.decided(e, e.type);
        break;
      case "PositionProtectionRequested":
      case "InvalidRiskAtFill":
      case "PositionUnprotected":
      case "EntryFailed":
      case "PositionClosed":
        this.followedUp(e, e.type);
        break;
      case "OrderSubmitted": {
        const trace = this.byEventId.get(e.metadata.causationId);
        if (!trace) break;
        trace.orders.push({ clientOrderId: e.data.clientOrderId, causationId: e.metadata.causationId });
        this.byOrder.set(e.data.clientOrderId, trace);
        break;
      }
      case "FillBooked":
      case "OrderDenied":
      case "OrderRejected":
      case "OrderExpired": {
        const trace = this.byOrder.get(e.data.clientOrderId);
        if (trace) this.byEventId.set(e.eventId, trace);
        break;
      }
    }
  }

  /** The decision event: joins the FactorComputed that caused it, else starts a trace of its own. */
  private decided(event: RecordedEvent, type: DecisionType): void {
    const { causationId } = event.metadata;
    const caused = this.byEventId.get(causationId);
    const data = event.data as EventData<DecisionType>;
    const joins = caused !== undefined && caused.decision === null && caused.factors?.eventId === causationId;
    const trace = joins ? caused : this.start(event, data.symbol, data.strategy);
    if (joins) this.byEventId.delete(causationId); // a FactorComputed causes nothing else
    trace.decision = traceEvent(event, type);
    this.byEventId.set(event.eventId, trace);
  }

  /** A follow-up caused by an event of a traced order (or by another follow-up's): recorded on that trace. */
  private followedUp(event: RecordedEvent, type: FollowUpType): void {
    const trace = this.byEventId.get(event.metadata.causationId);
    if (!trace) return;
    trace.followUps.push(traceEvent(event, type));
    this.byEventId.set(event.eventId, trace);
  }

  /** A new trace for `event` (a FactorComputed or a decision without one), with the market input it names. */
  private start(event: RecordedEvent, symbol: string, strategy: string): DecisionTrace {
    const trace: DecisionTrace = {
      runId: event.metadata.correlationId,
      symbol,
      strategy,
      time: event.metadata.eventTime,
      input: this.inputOf(symbol, event.metadata.causationId),
      factors: null,
      decision: null,
      followUps: [],
      orders: [],
    };
    this.traces.push(trace);
    this.byEventId.set(event.eventId, trace);
    return trace;
  }

  /** The latest market event of `symbol` whose id is `eventId`, summarised; null when none is. */
  private inputOf(symbol: string, eventId: string): DecisionInput | null {
    const latest = this.latest.get(symbol);
    if (latest?.bar?.eventId === eventId) {
      const { openTime, closeTime, close } = latest.bar.data;
      return { type: "BarClosed", eventId, symbol, openTime, closeTime, close };
    }
    if (latest?.gap?.eventId === eventId) {
      const { fromOpenTime, toOpenTime, missingBars } = latest.gap.data;
      return { type: "MarketDataGapDetected", eventId, symbol, fromOpenTime, toOpenTime, missingBars };
    }
    if (latest?.funding?.eventId === eventId) {
      const { fundingTime, fundingRate } = latest.funding.data;
      return { type: "FundingRateSettled", eventId, symbol, fundingTime, fundingRate };
    }
    return null;
  }

  private latestOf(symbol: string): LatestInputs {
    let latest = this.latest.get(symbol);
    if (!latest) {
      latest = {};
      this.latest.set(symbol, latest);
    }
    return latest;
  }

  /** The trace of the decision behind order `clientOrderId` (a copy), or undefined when none is known. */
  ofOrder(clientOrderId: string): DecisionTrace | undefined {
    const trace = this.byOrder.get(clientOrderId);
    return trace && structuredClone(trace);
  }

  /** Traces matching `query`, in log order (copies), and how many matched before paging. */
  list(query: DecisionQuery = {}): { total: number; traces: DecisionTrace[] } {
    const { symbol, from, to, clientOrderId, offset = 0, limit = Number.POSITIVE_INFINITY } = query;
    const only = clientOrderId === undefined ? undefined : this.byOrder.get(clientOrderId);
    const candidates = clientOrderId === undefined ? this.traces : only ? [only] : [];
    const matching = candidates.filter(
      (t) =>
        (symbol === undefined || t.symbol === symbol) &&
        (from === undefined || t.time >= from) &&
        (to === undefined || t.time <= to),
    );
    return { total: matching.length, traces: structuredClone(matching.slice(offset, offset + limit)) };
  }
}

function traceEvent<T extends TracedType>(event: RecordedEvent, type: T): TraceEvent<T> {
  return {
    type,
    eventId: event.eventId,
    position: event.position,
    time: event.metadata.eventTime,
    data: event.data,
  } as TraceEvent<T>;
}
