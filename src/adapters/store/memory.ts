/**
 * In-memory event store: unit tests, and the engine's replay of a recorded run. Global positions are the
 * 1-based insertion index; event ids are unique across the whole store. Readers and subscribers share the
 * stored objects (not frozen, to keep appends cheap): they must not mutate them.
 */
import type { Observable } from "rxjs";
import type { NewEvent, RecordedEvent } from "../../events/envelope.ts";
import {
  type AppendResult,
  type EventStore,
  EventStoreError,
  type ExpectedRevision,
  type ReadAllOptions,
  type ReadStreamOptions,
  WrongExpectedRevisionError,
} from "../../events/store.ts";
import {
  duplicateEventIdError,
  emptyAppendResult,
  expectedRevisionHolds,
  idempotentResult,
  recordedEvent,
  type StoredEvent,
  validateBatch,
} from "./append-support.ts";
import { followLog, type LogFollower } from "./follow-log.ts";
import { EventIdIndex, hashEventId } from "./id-index.ts";

/** `EventStore` held in process memory; `close()` completes subscriptions and rejects later calls. */
export class InMemoryEventStore implements EventStore {
  /** The global log; an event's position is its index + 1. */
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  /** Every event id → its index in `log`. */
  private readonly ids = new EventIdIndex((i) => this.log[i]!.eventId);
  /** Scratch: the hashes of the ids of the batch being appended (an append runs to its end without a break). */
  private readonly hashes: number[] = [];
  private readonly followers = new Set<LogFollower>();
  private closed = false;

  /** See `EventStore.append`. An empty `events` checks `expectedRevision` and writes nothing. */
  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    this.assertOpen();
    const batch = validateBatch(stream, events);
    const existing = this.streams.get(stream);
    const current = existing ? existing.length - 1 : undefined;
    const holds = expectedRevisionHolds(expectedRevision, current);
    if (batch.length === 0) {
      if (!holds) throw new WrongExpectedRevisionError(stream, expectedRevision, current);
      return emptyAppendResult(current);
    }
    // Each id's hash (slots 0 … batch.length − 1 of the scratch array), and the first id already stored (−1: none).
    const hashes = this.hashes;
    let stored = -1;
    for (let i = 0; i < batch.length && stored < 0; i++) {
      const id = batch[i]!.eventId;
      hashes[i] = hashEventId(id);
      if (this.ids.find(id, hashes[i]!) >= 0) stored = i;
    }
    if (!holds || stored >= 0) {
      const retried = idempotentResult(stream, batch, expectedRevision, current, (id) =>
        this.storedEvent(id),
      );
      if (retried) return retried;
      if (!holds) throw new WrongExpectedRevisionError(stream, expectedRevision, current);
      const id = batch[stored]!.eventId;
      throw duplicateEventIdError(stream, id, this.log[this.ids.find(id, hashes[stored]!)]!);
    }
    const target = existing ?? [];
    if (!existing) this.streams.set(stream, target);
    const written: RecordedEvent[] = [];
    for (let i = 0; i < batch.length; i++) {
      const recorded = recordedEvent(stream, target.length, this.log.length + 1, batch[i]!);
      this.ids.add(hashes[i]!, this.log.length);
      this.log.push(recorded);
      target.push(recorded);
      written.push(recorded);
    }
    if (this.followers.size > 0) for (const follower of this.followers) follower.wake();
    const last = target[target.length - 1]!;
    return { nextExpectedRevision: last.revision, position: last.position, recorded: written };
  }

  /** See `EventStore.readStream`; events appended while iterating are included. */
  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const events = this.streams.get(stream);
    if (!events) return;
    const end = options.limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, options.limit);
    let emitted = 0;
    for (let i = Math.max(0, options.fromRevision ?? 0); i < events.length && emitted < end; i++, emitted++) {
      yield events[i]!;
    }
  }

  /** See `EventStore.readAll`; events appended while iterating are included. */
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const end = options.limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, options.limit);
    let emitted = 0;
    for (let i = Math.max(0, options.after ?? 0); i < this.log.length && emitted < end; i++, emitted++) {
      yield this.log[i]!;
    }
  }

  /** See `EventStore.subscribe`; live events are delivered in a microtask after their append. */
  subscribe(options: { after?: number } = {}): Observable<RecordedEvent> {
    return followLog(
      {
        readPage: (after, limit) => {
          this.assertOpen();
          return this.log.slice(Math.max(0, after), Math.max(0, after) + limit);
        },
        watch: (follower) => {
          this.followers.add(follower);
          return () => this.followers.delete(follower);
        },
      },
      options.after,
    );
  }

  /** See `EventStore.streamRevision`. */
  async streamRevision(stream: string): Promise<number | undefined> {
    this.assertOpen();
    const events = this.streams.get(stream);
    return events ? events.length - 1 : undefined;
  }

  /** A no-op: every append is visible at once (nothing is durable anyway). */
  async flush(): Promise<void> {
    this.assertOpen();
  }

  /** Completes every subscription; later calls reject with `EventStoreError`. */
  async close(): Promise<void> {
    this.closed = true;
    for (const follower of [...this.followers]) follower.end();
    this.followers.clear();
  }

  /** The stored event with `eventId` and its canonical content, for the idempotent-retry check. */
  private storedEvent(eventId: string): StoredEvent | undefined {
    const index = this.ids.find(eventId, hashEventId(eventId));
    if (index < 0) return undefined;
    const event = this.log[index]!;
    const { stream, revision, position, type } = event;
    return {
      stream,
      revision,
      position,
      type,
      data: JSON.stringify(event.data),
      metadata: JSON.stringify(event.metadata),
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreError("the in-memory event store is closed");
  }
}
