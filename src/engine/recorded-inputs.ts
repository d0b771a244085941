/**
 * A recorded live run read back into its inputs, in log order (docs/ARCHITECTURE.md, "Replay"): what the engine
 * was handed, told apart from what it derived by the causation ids (the contract of issue 7):
 *
 * - market events: BarClosed (`bar:SYM:openTime`; the mark kline from markPrice/markOpen/markHigh/markLow),
 *   MarketDataGapDetected (`gap:SYM:from`), FundingRateSettled (`funding:SYM:time`);
 * - the warm-up: each WarmUpRecorded's bars and gaps;
 * - venue reports of an external venue (testnet, live): OrderFilled (`venue:trade:SYM:tradeId`), OrderExpired,
 *   OrderTriggering, OrderTriggered, OrderRejected (`venue:expired|triggering|triggered|rejected:COID`),
 *   PositionLiquidated (`venue:liquidation:COID`) and every FundingFeeBooked (a payment the user stream
 *   reported); in paper these are the simulated venue's and derived, not inputs;
 * - the venue's answers to submits and cancels (OrderAccepted / OrderRejected caused by an OrderSubmitted,
 *   OrderCanceled), by the ordinal (0-based place in the log) where each was written;
 * - out-of-band records, by their ordinal: an operator's TradingStateChanged (`operator:halt|resume`, written by
 *   another process) and a reconciliation round's verdict (VenueReconciled, and TradingStateChanged by
 *   `reconciliation`: the venue's state at that moment, which a replay cannot ask again);
 * - where the run stopped canceling its working orders (OrderCanceled caused by `stop:<runId>`).
 *
 * Pure over the events it is given; `readRecordedInputs` reads them from a store.
 */
import type { MarketEvent, MarkPriceKline } from "../adapters/market/types.ts";
import type { EventData } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import type { EventStore } from "../events/store.ts";
import { OPERATOR, RECONCILIATION } from "./risk-engine.ts";
import type { CancelResult, SubmitResult, VenueReport } from "./venue.ts";
import { warmUpEvents } from "./warm-up-record.ts";

/** One input of a recorded run, with the ordinal of the first event it caused (its own record). */
export type RecordedInput =
  | { kind: "market"; ordinal: number; event: MarketEvent }
  | { kind: "report"; ordinal: number; report: VenueReport };

/** A venue's answer as the log recorded it: to a submit, or a cancel that succeeded. */
export type RecordedAnswer =
  | { kind: "submit"; clientOrderId: string; result: SubmitResult }
  | { kind: "cancel"; clientOrderId: string; result: CancelResult };

/** Everything a replay feeds a recorded live run again. */
export interface RecordedInputs {
  /** The warm-up's market events, symbol after symbol (each symbol's in order). */
  warmUp: MarketEvent[];
  /** Market events and venue reports in log order. */
  inputs: RecordedInput[];
  /** The venue's answers by the ordinal of the event recording them. */
  answers: Map<number, RecordedAnswer>;
  /**
   * Out-of-band records by their ordinal: an operator's changes of the trading state and reconciliation
   * verdicts (module docstring); a re-run writes each again at its place and the risk engine reads it there.
   */
  outOfBand: Map<number, RecordedEvent>;
  /**
   * Where the run stopped canceling its working orders (`onStop: cancel`): the ordinal of the first event of each
   * such stop (causation `stop:<runId>`), in order.
   */
  stops: number[];
  /** Events in the log. */
  events: number;
  /** The USDT wallet the account opened with (AccountOpened): what the venue said at the start. */
  openingBalance?: string;
}

/** Whether the run's venue was external: its reports are inputs (testnet, live), else derived (paper). */
export function externalVenue(mode: EventData<"RunStarted">["mode"]): boolean {
  return mode === "testnet" || mode === "live";
}

/** Reads the inputs of the live run recorded in `store` (see the module comment). */
export async function readRecordedInputs(
  store: EventStore,
  mode: EventData<"RunStarted">["mode"],
): Promise<RecordedInputs> {
  const reader = new InputReader(externalVenue(mode));
  for await (const e of store.readAll()) reader.add(e);
  return reader.result();
}

/** Folds a log, event by event, into its inputs. */
export class InputReader {
  private readonly out: RecordedInputs = {
    warmUp: [],
    inputs: [],
    answers: new Map(),
    outOfBand: new Map(),
    stops: [],
    events: 0,
  };
  /** Whether the previous event was caused by a stop. */
  private stopping = false;
  /** Each order's symbol (reports of expiries and triggers name only the order). */
  private readonly symbols = new Map<string, string>();

  /** @param external whether venue reports are inputs (testnet, live) */
  constructor(private readonly external: boolean) {}

  /** Takes the next event of the log (global order). */
  add(e: RecordedEvent): void {
    const ordinal = this.out.events++;
    const cause = e.metadata.causationId;
    const time = e.metadata.eventTime;
    const stop = cause.startsWith("stop:");
    if (stop && !this.stopping) this.out.stops.push(ordinal);
    // The checkpoint after a stop's cancels belongs to the stop.
    this.stopping = stop || (this.stopping && e.type === "RunCheckpointed");
    const market = (event: MarketEvent): void => {
      this.out.inputs.push({ kind: "market", ordinal, event });
    };
    const report = (r: VenueReport): void => {
      if (this.external) this.out.inputs.push({ kind: "report", ordinal, report: r });
    };
    const d = e.data as Record<string, unknown>;
    switch (e.type) {
      case "AccountOpened":
        this.out.openingBalance = (e.data as EventData<"AccountOpened">).walletBalance;
        return;
      case "WarmUpRecorded":
        this.out.warmUp.push(...warmUpEvents(e.data as EventData<"WarmUpRecorded">));
        return;
      case "BarClosed":
        market(barEvent(e.data as EventData<"BarClosed">));
        return;
      case "MarketDataGapDetected":
        market({ kind: "gap", time, gap: e.data as EventData<"MarketDataGapDetected"> });
        return;
      case "FundingRateSettled": {
        const funding = e.data as EventData<"FundingRateSettled">;
        market({ kind: "funding", time: funding.fundingTime, funding });
        return;
      }
      case "OrderSubmitted": {
        const { clientOrderId, symbol } = e.data as EventData<"OrderSubmitted">;
        this.symbols.set(clientOrderId, symbol);
        return;
      }
      case "OrderAccepted":
        if (cause.startsWith("venue:")) return;
        this.answer(ordinal, {
          kind: "submit",
          clientOrderId: d["clientOrderId"] as string,
          result: { accepted: true, orderId: d["orderId"] as string },
        });
        return;
      case "OrderRejected": {
        const { clientOrderId, code, reason } = e.data as EventData<"OrderRejected">;
        if (cause.startsWith("venue:rejected:")) {
          report(recordedVenueReport(e, (id) => this.symbolOf(id))!);
          return;
        }
        this.answer(ordinal, { kind: "submit", clientOrderId, result: { accepted: false, code, reason } });
        return;
      }
      case "OrderCanceled":
        this.answer(ordinal, {
          kind: "cancel",
          clientOrderId: d["clientOrderId"] as string,
          result: { canceled: true },
        });
        return;
      case "OrderFilled":
      case "OrderExpired":
      case "OrderTriggering":
      case "OrderTriggered":
      case "PositionLiquidated":
      case "FundingFeeBooked": {
        const r = recordedVenueReport(e, (id) => this.symbolOf(id));
        if (r) report(r);
        return;
      }
      case "TradingStateChanged": {
        const { by } = e.data as EventData<"TradingStateChanged">;
        if (by === OPERATOR || by === RECONCILIATION) this.out.outOfBand.set(ordinal, e);
        return;
      }
      case "VenueReconciled":
        this.out.outOfBand.set(ordinal, e);
        return;
    }
  }

  /** The inputs read so far. */
  result(): RecordedInputs {
    return this.out;
  }

  private answer(ordinal: number, answer: RecordedAnswer): void {
    if (this.external) this.out.answers.set(ordinal, answer);
  }

  private symbolOf(clientOrderId: string): string {
    const symbol = this.symbols.get(clientOrderId);
    if (symbol === undefined)
      throw new Error(`the log reports on order ${clientOrderId} before submitting it`);
    return symbol;
  }
}

/**
 * The venue report a recorded event is the record of, or undefined when it is no venue's report (its causation
 * id says: `venue:trade|expired|triggering|triggered|rejected|liquidation:…`; every FundingFeeBooked is a paid
 * funding's). `symbolOf` gives an order's symbol (the log's OrderSubmitted). Shared by the replay
 * (`InputReader`) and a restart's tail (live-restart.ts), so both hand the engine what the venue handed it.
 */
export function recordedVenueReport(
  e: RecordedEvent,
  symbolOf: (clientOrderId: string) => string,
): VenueReport | undefined {
  const time = e.metadata.eventTime;
  const cause = e.metadata.causationId;
  switch (e.type) {
    case "OrderFilled": {
      if (!cause.startsWith("venue:trade:")) return undefined;
      const { commissionAsset: _usdt, ...fill } = e.data as EventData<"OrderFilled">;
      return { kind: "fill", time, fill };
    }
    case "OrderExpired": {
      if (!cause.startsWith("venue:expired:")) return undefined;
      const { clientOrderId, reason, expiryReason } = e.data as EventData<"OrderExpired">;
      return {
        kind: "expired",
        time,
        symbol: symbolOf(clientOrderId),
        clientOrderId,
        reason,
        ...(expiryReason === undefined ? {} : { expiryReason }),
      };
    }
    case "OrderTriggering": {
      const { clientOrderId, workingType, triggeredAt } = e.data as EventData<"OrderTriggering">;
      return {
        kind: "triggering",
        time,
        symbol: symbolOf(clientOrderId),
        clientOrderId,
        workingType,
        triggeredAt,
      };
    }
    case "OrderTriggered": {
      const { clientOrderId, orderId, actualType } = e.data as EventData<"OrderTriggered">;
      return { kind: "triggered", time, symbol: symbolOf(clientOrderId), clientOrderId, orderId, actualType };
    }
    case "OrderRejected": {
      if (!cause.startsWith("venue:rejected:")) return undefined;
      const { clientOrderId, code, reason } = e.data as EventData<"OrderRejected">;
      return { kind: "rejected", time, symbol: symbolOf(clientOrderId), clientOrderId, code, reason };
    }
    case "PositionLiquidated":
      return { kind: "liquidation", time, liquidation: e.data as EventData<"PositionLiquidated"> };
    case "FundingFeeBooked": {
      const {
        walletBalance: _w,
        isolatedWallet: _i,
        positionSide,
        ...payment
      } = e.data as EventData<"FundingFeeBooked">;
      const side = positionSide === undefined || positionSide === "BOTH" ? {} : { positionSide };
      return { kind: "funding", time, funding: { ...payment, ...side } };
    }
    default:
      return undefined;
  }
}

/** The market event a BarClosed recorded: the bar, and its minute's mark kline when the run recorded one whole. */
export function barEvent(bar: EventData<"BarClosed">): MarketEvent {
  const { markPrice, markOpen, markHigh, markLow, ...plain } = bar;
  const mark: MarkPriceKline | undefined =
    markPrice !== undefined && markOpen !== undefined && markHigh !== undefined && markLow !== undefined
      ? { openTime: bar.openTime, open: markOpen, high: markHigh, low: markLow, close: markPrice }
      : undefined;
  return { kind: "bar", time: bar.closeTime, bar: plain, ...(mark ? { mark } : {}) };
}
