/**
 * EventStoreDB adapter of the event store port (production), over gRPC with `@eventstore/db-client` v6.
 *
 * Mapping (EventStoreDB ≥ 22.6, which reports $all positions on stream reads):
 * - one port stream = one EventStoreDB stream of JSON events (`content-type: application/json`); the event
 *   id, type and data are ours; the custom metadata is `{ correlationId, causationId, eventTime }`;
 * - `revision` = the stream revision; `position` = the event's commit position in `$all` as a Number (a byte
 *   offset in the transaction log: strictly increasing, not contiguous). Every event we write is its own
 *   implicit transaction, so its prepare position equals its commit position and `{ commit: p, prepare: p }`
 *   addresses it exactly;
 * - system events (a type or stream starting with `$`) never leave the adapter.
 *
 * An append is one gRPC call (the client batches appends over one BatchAppend stream when the server offers
 * it); the server's optimistic-concurrency and idempotency checks do the rest. A perpsource database is
 * dedicated: every non-system event in it must carry our metadata, otherwise reads fail with
 * `EventStoreError`.
 */
import {
  ANY,
  type AppendExpectedRevision,
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  jsonEvent,
  NO_STREAM,
  type Position,
  START,
  STREAM_EXISTS,
  type StreamingRead,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from "@eventstore/db-client";
import { Observable } from "rxjs";
import type { NewEvent, RecordedEvent } from "../../events/envelope.ts";
import {
  type AppendResult,
  CorruptEventError,
  EventIdConflictError,
  type EventStore,
  EventStoreError,
  type ExpectedRevision,
  type ReadAllOptions,
  type ReadStreamOptions,
  WrongExpectedRevisionError,
} from "../../events/store.ts";
import {
  decodeStoredEvent,
  emptyAppendResult,
  expectedRevisionHolds,
  sameContent,
  type ValidatedEvent,
  validateBatch,
} from "./append-support.ts";

/** The fields of a client-side recorded event the adapter reads (stream and `$all` reads alike). */
interface ClientRecordedEvent {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  data: unknown;
  metadata: unknown;
  position?: Position;
}

/** A commit position the server reports when it does not know an event's `$all` position (2^64 − 1). */
const UNKNOWN_POSITION = 0xffff_ffff_ffff_ffffn;

/** `EventStore` backed by an EventStoreDB node or cluster. */
export class EventStoreDbEventStore implements EventStore {
  /** `complete` of every open subscription. */
  private readonly subscriptions = new Set<() => void>();
  private closed = false;

  private constructor(
    private readonly client: EventStoreDBClient,
    private readonly readOnly: boolean,
  ) {}

  /**
   * Connects with an EventStoreDB connection string (e.g. `esdb://127.0.0.1:2113?tls=false`; the KurrentDB
   * spelling `kurrentdb://` is read as `esdb://`) and checks the node answers (one read of an absent stream).
   * With `readOnly`, appends reject with EventStoreError (nothing is sent).
   * @throws EventStoreError for a malformed connection string or an unreachable node.
   */
  static async connect(
    connectionString: string,
    options: { readOnly?: boolean } = {},
  ): Promise<EventStoreDbEventStore> {
    let client: EventStoreDBClient;
    try {
      client = EventStoreDBClient.connectionString(
        connectionString.replace(/^kurrentdb(\+discover)?:/i, "esdb$1:"),
      );
    } catch (error) {
      const shown = JSON.stringify(redact(connectionString));
      throw new EventStoreError(`invalid EventStoreDB connection string ${shown}`, { cause: error });
    }
    const store = new EventStoreDbEventStore(client, options.readOnly === true);
    try {
      await store.streamRevision("perpsource-connection-check");
    } catch (error) {
      await client.dispose();
      const message = `cannot reach EventStoreDB at ${redact(connectionString)}: ${messageOf(error)}`;
      throw new EventStoreError(message, { cause: error });
    }
    return store;
  }

  /**
   * See `EventStore.append`: validated with `validateBatch` (catalog schema, ids, metadata), then sent in one
   * call. The server decides idempotent retries by event id alone, so the appended revisions are read back
   * (one more call) and compared with the batch: a retry whose stored content differs is an
   * `EventIdConflictError` (the server wrote nothing). An empty `events` (or an expected revision that is not
   * a non-negative integer, which never holds) checks `expectedRevision` with one read and writes nothing.
   * @throws EventSchemaError, WrongExpectedRevisionError, EventIdConflictError, EventStoreError (transport and
   *   server errors).
   */
  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    this.assertOpen();
    if (this.readOnly) {
      throw new EventStoreError(
        `cannot append to stream ${stream}: the EventStoreDB event store is open read-only`,
      );
    }
    const batch = validateBatch(stream, events);
    if (batch.length === 0 || (typeof expectedRevision === "number" && !isRevision(expectedRevision))) {
      const current = await this.streamRevision(stream);
      if (!expectedRevisionHolds(expectedRevision, current)) {
        throw new WrongExpectedRevisionError(stream, expectedRevision, current);
      }
      return emptyAppendResult(current);
    }
    const payload = batch.map((event) =>
      jsonEvent({ id: event.eventId, type: event.type, data: event.data, metadata: event.metadata }),
    );
    let result: Awaited<ReturnType<EventStoreDBClient["appendToStream"]>>;
    try {
      result = await this.client.appendToStream(stream, payload, {
        expectedRevision: toClientExpectedRevision(expectedRevision),
      });
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        const actual = error.actualVersion === NO_STREAM ? undefined : Number(error.actualVersion);
        await this.checkConflict(stream, batch, expectedRevision);
        throw new WrongExpectedRevisionError(stream, expectedRevision, actual);
      }
      throw storeError(`append to stream ${stream}`, error);
    }
    const nextExpectedRevision = Number(result.nextExpectedRevision);
    const stored = await this.storedContent(stream, batch, nextExpectedRevision - batch.length + 1);
    return { nextExpectedRevision, position: stored.at(-1)!.position };
  }

  /** A no-op: every append is durable once it resolves. */
  async flush(): Promise<void> {
    this.assertOpen();
  }

  /**
   * After a wrong expected version: when the batch's ids are stored where a retry would put them (from
   * expected + 1, or 0 for "noStream") but one differs in content, the server refused a partial retry; that
   * is an id conflict rather than a wrong revision. One read, on this error path only.
   * @throws EventIdConflictError
   */
  private async checkConflict(stream: string, batch: readonly ValidatedEvent[], expected: ExpectedRevision) {
    const from = typeof expected === "number" ? expected + 1 : expected === "noStream" ? 0 : undefined;
    if (from === undefined) return;
    let i = 0;
    for await (const stored of this.readStream(stream, { fromRevision: from, limit: batch.length })) {
      const event = batch[i++]!;
      if (stored.eventId !== event.eventId) return;
      if (!sameRecordedContent(stored, event))
        throw new EventIdConflictError(stream, event.eventId, stored.revision);
    }
  }

  /**
   * Reads the `batch.length` events stored from revision `from` and checks they are the batch: same ids and
   * same content (canonical JSON of type, data and metadata).
   * @throws EventIdConflictError when a stored event with one of the ids differs in content;
   *   EventStoreError when the revisions do not hold the batch's ids.
   */
  private async storedContent(stream: string, batch: readonly ValidatedEvent[], from: number) {
    const stored: RecordedEvent[] = [];
    for await (const event of this.readStream(stream, { fromRevision: from, limit: batch.length })) {
      stored.push(event);
    }
    batch.forEach((event, i) => {
      const found = stored[i];
      if (found?.eventId !== event.eventId) {
        throw new EventStoreError(
          `append to stream ${stream} succeeded but revision ${from + i} holds ${found?.eventId ?? "nothing"}, not event ${event.eventId}`,
        );
      }
      if (!sameRecordedContent(found, event))
        throw new EventIdConflictError(stream, event.eventId, found.revision);
    });
    return stored;
  }

  /** See `EventStore.readStream`. Negative options count as 0. @throws EventStoreError */
  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const fromRevision = nonNegativeInteger("fromRevision", options.fromRevision ?? 0);
    const limit = options.limit === undefined ? undefined : nonNegativeInteger("limit", options.limit);
    if (limit === 0) return;
    const read = this.client.readStream(stream, {
      fromRevision: BigInt(fromRevision),
      ...(limit === undefined ? {} : { maxCount: limit }),
    });
    try {
      for await (const resolved of consume(read, `read stream ${stream}`)) {
        if (resolved.event) yield toRecordedEvent(resolved.event as ClientRecordedEvent);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return;
      throw error;
    }
  }

  /**
   * See `EventStore.readAll`; system events are skipped. Negative options count as 0.
   * @throws EventStoreError
   */
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const after = options.after === undefined ? undefined : nonNegativeInteger("after", options.after);
    const limit = options.limit === undefined ? undefined : nonNegativeInteger("limit", options.limit);
    if (limit === 0) return;
    // Reads of $all are inclusive of `fromPosition`; the event at `after` itself is skipped below.
    const read = this.client.readAll({ fromPosition: after === undefined ? START : allPosition(after) });
    let yielded = 0;
    for await (const resolved of consume(read, "read $all")) {
      const event = resolved.event as ClientRecordedEvent | undefined;
      if (!event || isSystemEvent(event)) continue;
      const recorded = toRecordedEvent(event);
      if (after !== undefined && recorded.position <= after) continue;
      yield recorded;
      if (++yielded === limit) return;
    }
  }

  /**
   * See `EventStore.subscribe`: an EventStoreDB catch-up subscription to `$all` from `after` (exclusive),
   * with a server-side filter excluding `$` event types and a client-side one for `$` streams. Unsubscribing
   * ends the server subscription; `close()` completes it. Transport errors and foreign events error the
   * Observable.
   */
  subscribe(options: { after?: number } = {}): Observable<RecordedEvent> {
    return new Observable<RecordedEvent>((subscriber) => {
      this.assertOpen();
      const after = options.after === undefined ? undefined : nonNegativeInteger("after", options.after);
      const subscription = this.client.subscribeToAll({
        fromPosition: after === undefined ? START : allPosition(after),
        filter: excludeSystemEvents(),
      });
      const complete = (): void => subscriber.complete();
      this.subscriptions.add(complete);
      subscription.on("data", (resolved: { event?: ClientRecordedEvent }) => {
        const event = resolved.event;
        if (!event || isSystemEvent(event)) return;
        try {
          subscriber.next(toRecordedEvent(event));
        } catch (error) {
          subscriber.error(error);
        }
      });
      subscription.on("error", (error: unknown) =>
        subscriber.error(storeError("subscription to $all", error)),
      );
      subscription.on("end", complete);
      return () => {
        this.subscriptions.delete(complete);
        void subscription.unsubscribe();
      };
    });
  }

  /** See `EventStore.streamRevision`: one backwards read of the last event. @throws EventStoreError */
  async streamRevision(stream: string): Promise<number | undefined> {
    this.assertOpen();
    const read = this.client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
    try {
      for await (const resolved of consume(read, `read stream ${stream}`)) {
        if (resolved.event) return Number(resolved.event.revision);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
    return undefined;
  }

  /** Completes every subscription and releases the gRPC client; later calls reject with `EventStoreError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const end of [...this.subscriptions]) end();
    this.subscriptions.clear();
    await this.client.dispose();
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreError("the EventStoreDB event store is closed");
  }
}

/** The client's expected-revision form of ours. */
function toClientExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case "noStream":
      return NO_STREAM;
    case "streamExists":
      return STREAM_EXISTS;
    case "any":
      return ANY;
    default:
      return BigInt(expected);
  }
}

/** The `$all` position of one of our events (implicit transaction: prepare = commit). */
function allPosition(position: number): Position {
  return { commit: BigInt(position), prepare: BigInt(position) };
}

/** Events in `$`-prefixed streams or with `$`-prefixed types belong to the server. */
function isSystemEvent(event: ClientRecordedEvent): boolean {
  return event.type.startsWith("$") || event.streamId.startsWith("$");
}

/**
 * Iterates a client read, mapping its errors to `EventStoreError` (except `StreamNotFoundError`, which
 * callers treat as an empty stream). When the consumer stops early, the gRPC call is cancelled and the rest
 * of the read is drained and dropped: the client's `dispose()` waits for every call it started to end, and a
 * destroyed read would leave its finished call unread forever.
 */
async function* consume<E>(read: StreamingRead<E>, what: string): AsyncGenerator<E> {
  let finished = false;
  try {
    for await (const item of read.iterator({ destroyOnReturn: false })) yield item as E;
    finished = true;
  } catch (error) {
    finished = true;
    if (error instanceof StreamNotFoundError) throw error;
    throw storeError(what, error);
  } finally {
    if (!finished) {
      read.resume();
      await read.cancel();
    }
  }
}

/**
 * Our recorded event from the client's: checked like an append (JSON object data valid against the catalog,
 * perpsource metadata), with its `$all` position.
 * @throws CorruptEventError for a non-JSON event or one failing the catalog or metadata checks;
 *   EventStoreError when the server did not report the position.
 */
function toRecordedEvent(event: ClientRecordedEvent): RecordedEvent {
  const where = `event ${event.id} at ${event.streamId}@${event.revision}`;
  const commit = event.position?.commit;
  if (commit === undefined || commit === UNKNOWN_POSITION) {
    throw new EventStoreError(
      `${where} came without its $all position (EventStoreDB 22.6 or later is required)`,
    );
  }
  const position = Number(commit);
  const revision = Number(event.revision);
  if (!event.isJson || typeof event.data !== "object" || event.data === null) {
    throw new CorruptEventError(position, event.streamId, revision, event.type, "not a JSON object event");
  }
  return decodeStoredEvent({
    position,
    stream: event.streamId,
    revision,
    eventId: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    encoded: false,
  });
}

/** Whether a recorded event (read back, so canonical) has the content of `event` (see `sameContent`). */
function sameRecordedContent(recorded: RecordedEvent, event: ValidatedEvent): boolean {
  const { data, metadata, ...place } = recorded;
  return sameContent({ ...place, data: JSON.stringify(data), metadata: JSON.stringify(metadata) }, event);
}

/** Whether `value` can be a stream revision. */
function isRevision(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** `value` when it is a non-negative safe integer, 0 when negative. @throws EventStoreError otherwise */
function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new EventStoreError(`${name} must be an integer, got ${value}`);
  return Math.max(0, value);
}

/** The connection string with its `user:password@` credentials masked, for error messages. */
function redact(connectionString: string): string {
  return connectionString.replace(/^([a-z+]+:\/\/)[^@/?#]*@/i, "$1***@");
}

/** `error` as an `EventStoreError` naming the failed operation (kept as the cause). */
function storeError(what: string, error: unknown): EventStoreError {
  if (error instanceof EventStoreError) return error;
  return new EventStoreError(`EventStoreDB ${what} failed: ${messageOf(error)}`, { cause: error });
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message !== "") return error.message;
  // The client's command errors may have no message (e.g. MaxAppendSizeExceededError): say what they are.
  const { type, maxAppendSize } = error as { type?: unknown; maxAppendSize?: unknown };
  if (typeof maxAppendSize === "number")
    return `${error.name}: the append is larger than the server's maximum append size (${maxAppendSize} bytes)`;
  return type === undefined ? error.name : `${error.name} (${String(type)})`;
}
