/**
 * The restart of a killed live run on an external venue (issue 7 item 5; docs/ARCHITECTURE.md, "Crash
 * recovery"). A live run ends a unit of work (RunCheckpointed, then a flush) after every input, a market event or
 * a venue report, so the log's tail after its last checkpoint holds the events of at most one input, cut anywhere.
 * On restart:
 * 1. `readLogTail` reads that tail and rebuilds its input from the input's first event (a BarClosed is the bar, an
 *    OrderFilled caused by `venue:trade:…` is the fill report, …: the causation ids of the catalog), the orders
 *    whose intent (OrderSubmitted) it holds, and the venue's answers it recorded (OrderAccepted, a submit's
 *    OrderRejected, OrderCanceled).
 * 2. The venue adopts the restored engine's working orders (`adoptWorkingOrders`: their fills so far, their
 *    trigger) and takes the tail's unanswered orders as in doubt (`ExternalVenue.inDoubt`: queried by
 *    clientOrderId before they could be sent).
 * 3. The input is handled again (`rederiveTail`): its events are re-appended with the same ids and content, which
 *    the store takes as idempotent retries; a recorded venue answer is given again without asking the venue
 *    (`RecordedAnswers`). Anything else (an event re-derived with other content, a tail event not re-derived) is a
 *    `CannotResumeError` naming the event.
 */
import type { OrderContext } from "../actors/order.machine.ts";
import type { MarketEvent } from "../adapters/market/types.ts";
import type { EventData } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import { EventIdConflictError, type EventStore, WrongExpectedRevisionError } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import { recordedVenueReport } from "./recorded-inputs.ts";
import { CannotResumeError } from "./units-of-work.ts";
import type {
  AdoptedOrder,
  CancelResult,
  ExternalVenue,
  OrderRequest,
  SubmitResult,
  Venue,
  VenueReport,
} from "./venue.ts";

/**
 * An input of the tail, rebuilt from its first event: a market event, a venue report, or a stopping run's cancel of
 * its working orders (`onStop: cancel`, causation `stop:<runId>`).
 */
export type TailInput =
  | { kind: "market"; event: MarketEvent; first: RecordedEvent }
  | { kind: "report"; report: VenueReport; first: RecordedEvent }
  | { kind: "stop"; cause: { causationId: string; eventTime: number }; first: RecordedEvent };

/** What the log holds after a live run's last checkpoint (module docstring). */
export interface LogTail {
  /** The run's events after the checkpoint, in global order (out-of-band records left out: `OUT_OF_BAND`). */
  events: RecordedEvent[];
  /** The inputs that caused them, in order (at most one when the run checkpointed after every input). */
  inputs: TailInput[];
  /** Orders whose OrderSubmitted the tail holds with no venue answer and no denial: in doubt. */
  inDoubt: OrderRequest[];
  /** The venue's answers to submits that the tail recorded, by clientOrderId. */
  answers: Map<string, { request: OrderRequest; result: SubmitResult }>;
  /** Orders whose cancel the tail recorded (OrderCanceled). */
  canceled: Set<string>;
}

/**
 * Reads the tail of run `runId`: the events after `after`, the global position of its last RunCheckpointed (or of
 * its RunStarted when it has none).
 * @throws CannotResumeError when an event of the tail names an order the log does not hold.
 */
export async function readLogTail(store: EventStore, runId: string, after: number): Promise<LogTail> {
  const tail: LogTail = { events: [], inputs: [], inDoubt: [], answers: new Map(), canceled: new Set() };
  const submitted = new Map<string, { request: OrderRequest; id: string }>();
  const outOfBand = new Set<string>();
  for await (const e of store.readAll({ after })) {
    if (e.metadata.correlationId !== runId) continue;
    if (OUT_OF_BAND.test(e.metadata.causationId) || outOfBand.has(e.metadata.causationId)) {
      outOfBand.add(e.eventId);
      continue;
    }
    tail.events.push(e);
    const input = await inputOf(e, store);
    if (input && !(input.kind === "stop" && tail.inputs.at(-1)?.kind === "stop")) tail.inputs.push(input);
    const d = e.data as Record<string, unknown>;
    switch (e.type) {
      case "OrderSubmitted":
        submitted.set(String(d["clientOrderId"]), { request: e.data as OrderRequest, id: e.eventId });
        break;
      case "OrderDenied":
        submitted.delete(String(d["clientOrderId"]));
        break;
      case "OrderAccepted":
      case "OrderRejected": {
        const sent = submitted.get(String(d["clientOrderId"]));
        if (sent?.id !== e.metadata.causationId) break; // a venue report's rejection, not the submit's answer
        submitted.delete(sent.request.clientOrderId);
        const result: SubmitResult =
          e.type === "OrderAccepted"
            ? { accepted: true, orderId: String(d["orderId"]) }
            : { accepted: false, code: Number(d["code"]), reason: String(d["reason"]) };
        tail.answers.set(sent.request.clientOrderId, { request: sent.request, result });
        break;
      }
      case "OrderCanceled":
        tail.canceled.add(String(d["clientOrderId"]));
        break;
    }
  }
  tail.inDoubt = [...submitted.values()].map((s) => s.request);
  return tail;
}

/**
 * Records that are not re-derived: an operator's halt or resume (another process) and a reconciliation round's
 * verdict (what the venue showed then), with what they caused. They are on the risk stream, which the risk engine
 * catches up with before it writes.
 */
const OUT_OF_BAND = /^(operator|reconciliation):/;

/** The position of the run's last RunCheckpointed, else of its RunStarted. */
export async function tailStart(store: EventStore, runId: string, lastRevision: number): Promise<number> {
  for await (const e of store.readStream(streams.run(runId), { fromRevision: lastRevision, limit: 1 }))
    return e.position;
  throw new Error(`run ${runId}: no event at revision ${lastRevision} of its stream`);
}

/** The input whose first event is `e` (the catalog's causation ids), or undefined for a derived event. */
async function inputOf(e: RecordedEvent, store: EventStore): Promise<TailInput | undefined> {
  const time = e.metadata.eventTime;
  const cause = e.metadata.causationId;
  const market = (event: MarketEvent): TailInput => ({ kind: "market", event, first: e });
  const report = (r: VenueReport): TailInput => ({ kind: "report", report: r, first: e });
  if (cause.startsWith("stop:"))
    return { kind: "stop", cause: { causationId: cause, eventTime: time }, first: e };
  switch (e.type) {
    case "BarClosed":
      // The recorded bar with its markPrice is what the engine records again (kernel.ts: an external venue's step).
      return market({ kind: "bar", time, bar: e.data as EventData<"BarClosed"> });
    case "MarketDataGapDetected":
      return market({ kind: "gap", time, gap: e.data as EventData<"MarketDataGapDetected"> });
    case "FundingRateSettled":
      return market({ kind: "funding", time, funding: e.data as EventData<"FundingRateSettled"> });
    default: {
      // A venue report as the replay reads it (recorded-inputs.ts); an order's symbol from its OrderSubmitted.
      const clientOrderId =
        ORDER_REPORTS.has(e.type) && cause.startsWith("venue:")
          ? (e.data as { clientOrderId: string }).clientOrderId
          : undefined;
      const symbol = clientOrderId === undefined ? undefined : await orderSymbol(store, clientOrderId, e);
      const r = recordedVenueReport(e, () => symbol!);
      return r && report(r);
    }
  }
}

/** The venue reports on an order whose report names the order's symbol (not in their event). */
const ORDER_REPORTS = new Set(["OrderExpired", "OrderTriggering", "OrderTriggered", "OrderRejected"]);

/** The symbol of order `clientOrderId` (its OrderSubmitted). @throws CannotResumeError when the log has none. */
async function orderSymbol(store: EventStore, clientOrderId: string, e: RecordedEvent): Promise<string> {
  for await (const first of store.readStream(streams.order(clientOrderId), { limit: 1 }))
    if (first.type === "OrderSubmitted") return (first.data as OrderRequest).symbol;
  throw new CannotResumeError(
    `the log's tail cannot be re-derived: ${describe(e)} names order ${clientOrderId}, which the log does not hold`,
  );
}

/**
 * `store` whose stream reads can be cut at a global position: while the log's tail is handled again, the engine
 * must read its streams as they stood at the checkpoint (the risk engine catches up with its stream before it
 * writes: it must neither take the tail's own events for someone else's, nor an operator's halt that came after
 * the input it re-derives). `fence(position)` hides every event after `position` from `readStream`;
 * `fence(undefined)` lifts it. Everything else is delegated.
 */
export function fencedStore(store: EventStore): {
  store: EventStore;
  fence(after: number | undefined): void;
} {
  let fence: number | undefined;
  async function* readStream(stream: string, options?: Parameters<EventStore["readStream"]>[1]) {
    for await (const e of store.readStream(stream, options)) {
      if (fence !== undefined && e.position > fence) return;
      yield e;
    }
  }
  return {
    fence: (after) => {
      fence = after;
    },
    store: {
      append: (stream, events, expectedRevision) => store.append(stream, events, expectedRevision),
      readStream,
      readAll: (options) => store.readAll(options),
      subscribe: (options) => store.subscribe(options),
      streamRevision: (stream) => store.streamRevision(stream),
      flush: () => store.flush(),
      close: () => store.close(),
    },
  };
}

/**
 * Hands the venue the restored engine's working orders (`orders`: the order actors' contexts), each with the
 * tradeIds of its fills in the log, so that their stream messages and queries continue where the log stands.
 */
export async function adoptWorkingOrders(
  venue: ExternalVenue,
  store: EventStore,
  orders: Iterable<{ context: OrderContext; value: unknown }>,
): Promise<void> {
  for (const { context, value } of orders) {
    const request = context.request!;
    const tradeIds: string[] = [];
    for await (const e of store.readStream(streams.order(request.clientOrderId)))
      if (e.type === "OrderFilled") tradeIds.push((e.data as EventData<"OrderFilled">).tradeId);
    const adopted: AdoptedOrder = {
      request,
      executedQty: context.executedQty,
      tradeIds,
      triggering: value === "TRIGGERING",
      ...(context.orderId === undefined ? {} : { orderId: context.orderId }),
      ...(context.triggeredOrderId === undefined ? {} : { triggeredOrderId: context.triggeredOrderId }),
    };
    venue.adopt(adopted);
  }
}

/**
 * The engine's venue after a restart: a submit or cancel whose answer the log's tail recorded gets that answer
 * again without reaching the venue (an accepted order is adopted by it instead); everything else goes to `venue`.
 * Each recorded answer is given once.
 */
export class RecordedAnswers implements Venue {
  readonly external = true;
  private answers = new Map<string, { request: OrderRequest; result: SubmitResult }>();
  private canceled = new Set<string>();

  constructor(private readonly venue: ExternalVenue) {}

  /** The answers of `tail`, given on the next submit or cancel of each order. */
  record(tail: Pick<LogTail, "answers" | "canceled">): void {
    this.answers = new Map(tail.answers);
    this.canceled = new Set(tail.canceled);
  }

  async submit(order: OrderRequest): Promise<SubmitResult> {
    const recorded = this.answers.get(order.clientOrderId);
    if (!recorded) return this.venue.submit(order);
    this.answers.delete(order.clientOrderId);
    if (recorded.result.accepted)
      this.venue.adopt({
        request: order,
        orderId: recorded.result.orderId,
        executedQty: "0",
        tradeIds: [],
        triggering: false,
      });
    return recorded.result;
  }

  async cancel(symbol: string, clientOrderId: string): Promise<CancelResult> {
    if (!this.canceled.delete(clientOrderId)) return this.venue.cancel(symbol, clientOrderId);
    return { canceled: true };
  }
}

/**
 * Handles the tail's inputs again with `handle`, in order, and checks that every tail event was re-appended as it
 * was (`appended`: the ids the store accepted meanwhile, idempotent retries included).
 * @throws CannotResumeError naming the event when a re-derived event differs from the stored one, or a tail event
 *   was not re-derived.
 */
export async function rederiveTail(
  tail: LogTail,
  handle: (input: TailInput) => Promise<void>,
  appended: ReadonlySet<string>,
): Promise<void> {
  const byId = new Map(tail.events.map((e) => [e.eventId, e]));
  for (const input of tail.inputs) {
    try {
      await handle(input);
    } catch (error) {
      if (error instanceof EventIdConflictError) {
        const stored = byId.get(error.eventId);
        throw new CannotResumeError(
          `the log's tail cannot be re-derived: re-handling ${describe(input.first)} gave another ` +
            `${stored ? describe(stored) : `event ${error.eventId} at ${error.stream}@${error.revision}`}`,
          { cause: error },
        );
      }
      if (error instanceof WrongExpectedRevisionError)
        throw new CannotResumeError(
          `the log's tail cannot be re-derived: re-handling ${describe(input.first)} did not give the events ` +
            `stored on ${error.stream} (${error.message})`,
          { cause: error },
        );
      throw error;
    }
  }
  const missing = tail.events.find((e) => !appended.has(e.eventId));
  if (missing)
    throw new CannotResumeError(
      `the log's tail cannot be re-derived: ${describe(missing)} was not produced again ` +
        (tail.inputs.length === 0
          ? "(no input of the tail explains it, nor the run's opening)"
          : `by re-handling ${describe(tail.inputs[0]!.first)}`),
    );
}

/** `TYPE at stream@revision (position p, caused by c)`: an event named in an error. */
function describe(e: RecordedEvent): string {
  return `${e.type} at ${e.stream}@${e.revision} (position ${e.position}, caused by ${e.metadata.causationId})`;
}
