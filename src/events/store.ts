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
   * same place in the stream is a no-op that resolves with the original result (idempotent retry).
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
  /** Reads one stream in revision order; an absent stream yields nothing. */
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  /** Reads the global log in append order. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /**
   * Every event with position > `after` (all when absent): first those already stored (catch-up), then each
   * new one as it is appended (live), in global order, with no gaps or duplicates at the switch-over.
   */
  subscribe(options?: { after?: number }): Observable<RecordedEvent>;
  /** Current revision of a stream's last event, or undefined when the stream does not exist. */
  streamRevision(stream: string): Promise<number | undefined>;
  /** Releases connections and file handles. */
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
