/**
 * Adapter-independent append rules shared by the event store adapters: envelope validation, the
 * expected-revision check and the idempotent-retry decision. Pure functions; each adapter supplies the lookups.
 */
import {
  type EventData,
  EventSchemaError,
  type EventType,
  eventTypes,
  validateEvent,
} from "../../events/catalog.ts";
import type { EventMetadata, NewEvent, RecordedEvent } from "../../events/envelope.ts";
import {
  type AppendResult,
  CorruptEventError,
  EventIdConflictError,
  EventStoreError,
  type ExpectedRevision,
  WrongExpectedRevisionError,
} from "../../events/store.ts";

const catalogTypes = new Set<string>(eventTypes);

/** Lower-case UUID (8-4-4-4-12 hex): the id form every adapter stores and reads back unchanged. */
export const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The first 28 characters of the last id `isEventId` accepted (ids of one stream share them: deterministic ids
 * differ only in their last 8 hex digits, the revision), so that most ids need only their tail scanned.
 */
let lastIdHead = "";

/**
 * `EVENT_ID.test(id)`, by a scan of the characters instead of the regex engine (it runs for every appended
 * event); an id that starts like the last one accepted has only its last 8 characters scanned.
 */
export function isEventId(id: string): boolean {
  if (id.length !== 36) return false;
  const head = lastIdHead.length === 28 && id.startsWith(lastIdHead);
  for (let i = head ? 28 : 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false; // "-"
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false; // 0-9 a-f
  }
  if (!head) lastIdHead = id.slice(0, 28);
  return true;
}

/** An event that passed validation: canonical data and metadata (schema key order), ready to store. */
export interface ValidatedEvent {
  eventId: string;
  type: EventType;
  data: EventData<EventType>;
  metadata: EventMetadata;
}

/**
 * Validates a batch before anything is written: the stream name, each event's id (lower-case UUID), its data
 * against the catalog and its metadata (non-empty correlationId and causationId, eventTime in ms since epoch).
 * Returns the events with canonical data/metadata (schema key order, so `JSON.stringify` of them is canonical).
 * @throws EventSchemaError naming the event type and the field (`eventId`, `metadata.eventTime`, `data` paths);
 *   EventStoreError for an invalid stream name or an eventId repeated inside the batch.
 */
export function validateBatch(stream: string, events: readonly NewEvent[]): ValidatedEvent[] {
  if (stream.length === 0 || stream.startsWith("$")) {
    throw new EventStoreError(
      `invalid stream name ${JSON.stringify(stream)}: must be non-empty, not start with $`,
    );
  }
  // A loop, not map with a callback: this runs for every append.
  const validated: ValidatedEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const type = String(event.type);
    if (typeof event.eventId !== "string" || !isEventId(event.eventId)) {
      throw new EventSchemaError(
        type,
        "eventId",
        `expected a lower-case UUID, got ${JSON.stringify(event.eventId)}`,
      );
    }
    for (let j = 0; j < i; j++) {
      if (events[j]!.eventId === event.eventId) {
        throw new EventStoreError(
          `event id ${event.eventId} appears twice in one append to stream ${stream}`,
        );
      }
    }
    validated.push({
      eventId: event.eventId,
      type: event.type,
      data: validateEvent(event.type, event.data),
      metadata: validateMetadata(type, event.metadata),
    });
  }
  return validated;
}

/** A fresh, canonical copy of `metadata` (hand-written checks: this runs for every appended event). */
function validateMetadata(type: string, metadata: unknown): EventMetadata {
  if (typeof metadata !== "object" || metadata === null) {
    throw new EventSchemaError(type, "metadata", "expected an object");
  }
  const { correlationId, causationId, eventTime } = metadata as Record<string, unknown>;
  if (typeof correlationId !== "string" || correlationId.length === 0) {
    throw new EventSchemaError(type, "metadata.correlationId", "expected a non-empty string");
  }
  if (typeof causationId !== "string" || causationId.length === 0) {
    throw new EventSchemaError(type, "metadata.causationId", "expected a non-empty string");
  }
  if (typeof eventTime !== "number" || !Number.isSafeInteger(eventTime) || eventTime < 0) {
    throw new EventSchemaError(
      type,
      "metadata.eventTime",
      "expected ms since epoch (a non-negative integer)",
    );
  }
  // Object.keys(metadata).length, counted without building the array (this runs for every appended event).
  let own = 0;
  for (const key in metadata) if (Object.hasOwn(metadata, key)) own++;
  if (own !== 3) {
    const extra = Object.keys(metadata).find(
      (k) => k !== "correlationId" && k !== "causationId" && k !== "eventTime",
    );
    throw new EventSchemaError(type, `metadata.${extra}`, "unknown metadata field");
  }
  return { correlationId, causationId, eventTime };
}

/** Whether `expected` holds for a stream whose last revision is `current` (undefined: the stream is absent). */
export function expectedRevisionHolds(expected: ExpectedRevision, current: number | undefined): boolean {
  switch (expected) {
    case "any":
      return true;
    case "noStream":
      return current === undefined;
    case "streamExists":
      return current !== undefined;
    default:
      return current === expected;
  }
}

/** Where an already stored event sits. */
export interface StoredEventRef {
  stream: string;
  revision: number;
  position: number;
}

/** A stored event's place and content: its type, and its data and metadata as canonical JSON text. */
export interface StoredEvent extends StoredEventRef {
  type: string;
  data: string;
  metadata: string;
}

/**
 * Whether a stored event has exactly the content of `event` (same type, and the same canonical JSON of data
 * and metadata; validated events are canonical, so this is a byte comparison).
 */
export function sameContent(stored: StoredEvent, event: ValidatedEvent): boolean {
  return (
    stored.type === event.type &&
    stored.data === JSON.stringify(event.data) &&
    stored.metadata === JSON.stringify(event.metadata)
  );
}

/**
 * Decides whether a batch that cannot be appended as-is (its expected revision fails or one of its ids is
 * already stored) is an idempotent retry. It is when the batch's ids are stored consecutively in `stream`
 * starting at the revision `expected` implies (expected + 1 for a number, 0 for `"noStream"`, wherever the
 * first id sits for `"any"` / `"streamExists"`) with identical content; the original result is then returned.
 * Returns undefined when the first id is not stored at that place (not a retry).
 * @param current the stream's last revision now (undefined: absent), reported in errors.
 * @param lookup where an event id is stored and its content, or undefined.
 * @throws EventIdConflictError when an id sits where a retry puts it but its stored content differs;
 *   WrongExpectedRevisionError (numeric / "noStream" expectations) or EventStoreError (others) when only a
 *   prefix of the batch is stored there: a retry must repeat the original batch exactly.
 */
export function idempotentResult(
  stream: string,
  batch: readonly ValidatedEvent[],
  expected: ExpectedRevision,
  current: number | undefined,
  lookup: (eventId: string) => StoredEvent | undefined,
): AppendResult | undefined {
  const first = lookup(batch[0]!.eventId);
  if (!first || first.stream !== stream) return undefined;
  const start = typeof expected === "number" ? expected + 1 : expected === "noStream" ? 0 : first.revision;
  if (first.revision !== start) return undefined;
  let last = first;
  for (let i = 0; i < batch.length; i++) {
    const event = batch[i]!;
    const ref = i === 0 ? first : lookup(event.eventId);
    if (!ref || ref.stream !== stream || ref.revision !== start + i) {
      if (typeof expected === "number" || expected === "noStream") {
        throw new WrongExpectedRevisionError(stream, expected, current);
      }
      throw new EventStoreError(
        `append to stream ${stream} partially repeats events stored from revision ${start}: ` +
          `event ${event.eventId} is not stored at revision ${start + i}; a retry must repeat the original batch`,
      );
    }
    if (!sameContent(ref, event)) throw new EventIdConflictError(stream, event.eventId, ref.revision);
    last = ref;
  }
  return { nextExpectedRevision: last.revision, position: last.position };
}

/** The error for an append whose event id is already stored elsewhere (not an idempotent retry). */
export function duplicateEventIdError(
  stream: string,
  eventId: string,
  stored: StoredEventRef,
): EventStoreError {
  return new EventStoreError(
    `cannot append event ${eventId} to stream ${stream}: that id is already stored in stream ${stored.stream} ` +
      `at revision ${stored.revision}`,
  );
}

/** Result of an append of no events: nothing written, the stream's current revision (−1 when absent). */
export function emptyAppendResult(current: number | undefined): AppendResult {
  return { nextExpectedRevision: current ?? -1, position: -1 };
}

/** Builds the recorded form of a validated event (the field order every adapter returns). */
export function recordedEvent(
  stream: string,
  revision: number,
  position: number,
  event: ValidatedEvent,
): RecordedEvent {
  return {
    eventId: event.eventId,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    stream,
    revision,
    position,
  } as RecordedEvent;
}

/** A stored event as an adapter reads it: its place, type, data and metadata. */
export interface StoredRow {
  position: number;
  stream: string;
  revision: number;
  eventId: string;
  type: string;
  /** JSON text when `encoded`, else already parsed. */
  data: unknown;
  /** JSON text when `encoded`, else already parsed. */
  metadata: unknown;
  encoded: boolean;
}

/**
 * The recorded event of a stored row, checked like an append: JSON that parses, data valid against the catalog
 * schema of its type (returned in schema key order), perpsource metadata. With `validated` (the adapter wrote
 * this row itself from a `ValidatedEvent` in this session) the schema checks are skipped; the JSON is still
 * parsed and the type checked.
 * @throws CorruptEventError naming the position, stream, revision, type and the problem.
 */
export function decodeStoredEvent(row: StoredRow, validated = false): RecordedEvent {
  const corrupt = (problem: string) =>
    new CorruptEventError(row.position, row.stream, row.revision, row.type, problem);
  const parse = (field: string, value: unknown): unknown => {
    if (!row.encoded) return value;
    try {
      return JSON.parse(value as string);
    } catch (error) {
      throw corrupt(`${field} is not JSON: ${(error as Error).message}`);
    }
  };
  if (!catalogTypes.has(row.type)) throw corrupt("unknown event type");
  const data = parse("data", row.data);
  const metadata = parse("metadata", row.metadata);
  if (validated) {
    return recordedEvent(row.stream, row.revision, row.position, {
      eventId: row.eventId,
      type: row.type as EventType,
      data: data as EventData<EventType>,
      metadata: metadata as EventMetadata,
    });
  }
  const check = <T>(prefix: string, run: () => T): T => {
    try {
      return run();
    } catch (error) {
      if (error instanceof EventSchemaError) throw corrupt(`${prefix}${error.field}: ${error.problem}`);
      throw error;
    }
  };
  const type = row.type as EventType;
  return recordedEvent(row.stream, row.revision, row.position, {
    eventId: row.eventId,
    type,
    data: check("data.", () => validateEvent(type, data)),
    metadata: check("", () => validateMetadata(row.type, metadata)),
  });
}
