/**
 * Adapter-independent append rules shared by the event store adapters: envelope validation, the
 * expected-revision check and the idempotent-retry decision. Pure functions; each adapter supplies the lookups.
 */
import { type EventData, EventSchemaError, type EventType, validateEvent } from "../../events/catalog.ts";
import type { EventMetadata, NewEvent, RecordedEvent } from "../../events/envelope.ts";
import {
  type AppendResult,
  EventStoreError,
  type ExpectedRevision,
  WrongExpectedRevisionError,
} from "../../events/store.ts";

/** Lower-case UUID (8-4-4-4-12 hex): the id form every adapter stores and reads back unchanged. */
const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
  return events.map((event, i) => {
    const type = String(event.type);
    if (typeof event.eventId !== "string" || !EVENT_ID.test(event.eventId)) {
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
    const data = validateEvent(event.type, event.data);
    return {
      eventId: event.eventId,
      type: event.type,
      data,
      metadata: validateMetadata(type, event.metadata),
    };
  });
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
  const keys = Object.keys(metadata);
  if (keys.length !== 3) {
    const extra = keys.find((k) => k !== "correlationId" && k !== "causationId" && k !== "eventTime");
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

/**
 * Decides whether a batch that cannot be appended as-is (its expected revision fails or one of its ids is
 * already stored) is an idempotent retry. It is when the batch's ids are stored consecutively in `stream`
 * starting at the revision `expected` implies (expected + 1 for a number, 0 for `"noStream"`, wherever the
 * first id sits for `"any"` / `"streamExists"`); the original result is then returned. Returns undefined when
 * the first id is not stored at that place (not a retry).
 * @param current the stream's last revision now (undefined: absent), reported in errors.
 * @param lookup where an event id is stored, or undefined.
 * @throws WrongExpectedRevisionError (numeric / "noStream" expectations) or EventStoreError (others) when
 *   only a prefix of the batch is stored there: a retry must repeat the original batch exactly.
 */
export function idempotentResult(
  stream: string,
  eventIds: readonly string[],
  expected: ExpectedRevision,
  current: number | undefined,
  lookup: (eventId: string) => StoredEventRef | undefined,
): AppendResult | undefined {
  const first = lookup(eventIds[0]!);
  if (!first || first.stream !== stream) return undefined;
  const start = typeof expected === "number" ? expected + 1 : expected === "noStream" ? 0 : first.revision;
  if (first.revision !== start) return undefined;
  let last = first;
  for (let i = 1; i < eventIds.length; i++) {
    const ref = lookup(eventIds[i]!);
    if (!ref || ref.stream !== stream || ref.revision !== start + i) {
      if (typeof expected === "number" || expected === "noStream") {
        throw new WrongExpectedRevisionError(stream, expected, current);
      }
      throw new EventStoreError(
        `append to stream ${stream} partially repeats events stored from revision ${start}: ` +
          `event ${eventIds[i]} is not stored at revision ${start + i}; a retry must repeat the original batch`,
      );
    }
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
