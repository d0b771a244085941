/**
 * The envelope every domain event travels in, before (`NewEvent`) and after (`RecordedEvent`) it is appended.
 *
 * Determinism: nothing here carries wall-clock time. `metadata.eventTime` is the market clock (ms since the
 * Unix epoch, UTC) at which the event happened; event ids are derived deterministically (see `ids.ts`).
 */
import type { DomainEvent, EventType } from "./catalog.ts";

/** Correlation and causation metadata carried by every event. */
export interface EventMetadata {
  /** Id shared by every event of one causal chain; the run id for backtests. */
  correlationId: string;
  /** eventId of the event (or id of the command) that caused this event. */
  causationId: string;
  /** Market-clock time of the event, ms since epoch UTC (a bar's closeTime, a fill's trade time, …). */
  eventTime: number;
}

/** An event to append: id, type, schema-valid data and metadata. */
export interface NewEvent<E extends DomainEvent = DomainEvent> {
  /** UUID (8-4-4-4-12 hex); re-appending the same ids is idempotent. */
  eventId: string;
  type: E["type"];
  data: E["data"];
  metadata: EventMetadata;
}

/** An event as read back from a store. */
export interface RecordedEvent<E extends DomainEvent = DomainEvent> extends NewEvent<E> {
  /** Stream the event belongs to, e.g. `order-ps-BTCUSDT-000001-E`. */
  stream: string;
  /** 0-based position of the event inside its stream. */
  revision: number;
  /** Position in the store's global log; strictly increasing in append order, adapter-specific values. */
  position: number;
}

/** Narrows a recorded event to one catalog type. */
export function isEvent<T extends EventType>(
  event: RecordedEvent,
  type: T,
): event is RecordedEvent<Extract<DomainEvent, { type: T }>> {
  return event.type === type;
}
