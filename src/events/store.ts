/**
 * The event store port. Three adapters implement it (src/adapters/store): in-memory (unit tests), embedded
 * SQLite (default) and EventStoreDB (production). One conformance suite (test/event-store.conformance.ts)
 * runs against each of them.
 */
import type { Observable } from "rxjs";
import type { NewEvent, RecordedEvent } from "./envelope.ts";

/**
 * Optimistic-concurrency condition for an append:
 * - a number: the revision of the stream's last event (the stream must be exactly that long − 1);
 * - `"noStream"`: the stream must not exist yet;
 * - `"streamExists"`: the stream must exist;
 * - `"any"`: no check.
 */
export type ExpectedRevision = number | "noStream" | "streamExists" | "any";

/** Result of a successful append. */
export interface AppendResult {
  /** Revision of the last event now in the stream (pass it as the next expectedRevision). */
  nextExpectedRevision: number;
  /** Global position of the last appended event. */
  position: number;
  /**
   * The events this append wrote, in global order, as a reader of this store returns them (canonical data):
   * a writer can fold its own log as it goes instead of reading it back. Absent when the append wrote nothing
   * (an idempotent retry, an empty append) and from adapters that do not report them (EventStoreDB).
   * Readers share these objects with the store: they must not mutate them.
   */
  recorded?: readonly RecordedEvent[];
}

/** Options for reading one stream: events with revision ≥ fromRevision, at most `limit` of them. */
export interface ReadStreamOptions {
  fromRevision?: number;
  limit?: number;
}

/** Options for reading the global log: events with position strictly greater than `after`. */
export interface ReadAllOptions {
  after?: number;
  limit?: number;
}

/**
 * The port every event store adapter implements. Methods reject with `EventStoreError` (or a subclass), except
 * `append`, which rejects with `EventSchemaError` (src/events/catalog.ts) when an event fails its schema.
 */
export interface EventStore {
  /**
   * Appends `events` atomically to `stream` if `expectedRevision` holds; otherwise rejects with
   * `WrongExpectedRevisionError` and writes nothing. Re-appending events whose ids are already stored at the
   * same place in the stream, with identical content (type, data and metadata, compared as canonical JSON),
   * is a no-op that resolves with the original result (idempotent retry); different content under a stored id
   * rejects with `EventIdConflictError` and writes nothing. A read-only store rejects every append with
   * `EventStoreError`.
   * Events are validated against the catalog first: `EventSchemaError` names the type and field.
   * Retry rule: the batch's ids must sit consecutively from the revision `expectedRevision` implies (expected
   * + 1, 0 for "noStream", wherever the first id is for "any"/"streamExists"); a batch only partly stored there
   * is rejected. An empty `events` only checks `expectedRevision`: it resolves with nextExpectedRevision = the
   * stream's revision (−1 when absent) and position = −1.
   */
  append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult>;
  /**
   * Reads one stream in revision order; an absent stream yields nothing. A stored event that cannot be read
   * back (bad JSON, fails its catalog schema or the metadata checks) throws `CorruptEventError` when reached.
   */
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  /** Reads the global log in append order; `CorruptEventError` as for `readStream`. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /**
   * Every event with position > `after` (all when absent): first those already stored (catch-up), then each
   * new one as it is appended (live; for a store with units of work, once committed), in global order, with
   * no gaps or duplicates at the switch-over. Errors with `CorruptEventError` at an unreadable event (after
   * delivering those before it), with `StoreReplacedError` when the store was replaced under it.
   */
  subscribe(options?: { after?: number }): Observable<RecordedEvent>;
  /** Current revision of a stream's last event, or undefined when the stream does not exist. */
  streamRevision(stream: string): Promise<number | undefined>;
  /**
   * Makes every event appended so far durable and visible to readers (commits an open unit of work). A no-op
   * on stores whose appends are each durable (memory, EventStoreDB). Call it before any side effect outside
   * the process (a real venue's submit).
   */
  flush(): Promise<void>;
  /** Flushes (see `flush`), then releases connections and file handles. */
  close(): Promise<void>;
}

/** Base class of every error the store raises. */
export class EventStoreError extends Error {
  override name = "EventStoreError";
}

/** The optimistic-concurrency check of an append failed; nothing was written. */
export class WrongExpectedRevisionError extends EventStoreError {
  override name = "WrongExpectedRevisionError";
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** Revision of the stream's last event, or undefined when it does not exist. */
    readonly actual: number | undefined,
  ) {
    super(
      `wrong expected revision on stream ${stream}: expected ${String(expected)}, actual ${
        actual === undefined ? "noStream" : actual
      }`,
    );
  }
}

/**
 * An append re-used a stored event id (at the place an idempotent retry would put it) with different content:
 * the stored event and the new one differ in type, data or metadata. Nothing was written.
 */
export class EventIdConflictError extends EventStoreError {
  override name = "EventIdConflictError";
  constructor(
    readonly stream: string,
    readonly eventId: string,
    /** Revision of the stored event with that id. */
    readonly revision: number,
  ) {
    super(
      `event id conflict on stream ${stream}: event ${eventId} is stored at revision ${revision} with ` +
        "different content; the stored and the new event differ (type, data or metadata), nothing was written",
    );
  }
}

/**
 * A stored event cannot be read back: its JSON does not parse, its data fails the catalog schema, or its
 * metadata is not perpsource's. Readers throw it instead of skipping the event or stopping with a bare
 * parser error.
 */
export class CorruptEventError extends EventStoreError {
  override name = "CorruptEventError";
  constructor(
    /** Global position of the event in the store's log. */
    readonly position: number,
    readonly stream: string,
    readonly revision: number,
    /** The stored type (as stored, possibly not a catalog type). */
    readonly eventType: string,
    /** What is wrong, e.g. `data is not JSON: Unterminated string…` or `data.price: expected a decimal…`. */
    readonly problem: string,
  ) {
    super(
      `corrupt event at position ${position} (stream ${stream}, revision ${revision}, type ${eventType}): ${problem}`,
    );
  }
}

/**
 * The store a reader follows was replaced under it (another file now sits at its path, or another store id):
 * what was read before belongs to a log that no longer exists. A read-only SQLite store reopens the new file
 * and errors its subscriptions with this; a follower drops its state and reads again from the start.
 */
export class StoreReplacedError extends EventStoreError {
  override name = "StoreReplacedError";
}
