/**
 * Hosts an XState v5 actor whose events are the domain events of one stream, and enforces "persist, then act":
 * `commit` appends the events with optimistic concurrency on the stream revision, and only after the store has
 * accepted them are they sent to the actor. `rehydrate` rebuilds the same actor from its stream.
 */
import { type Actor, type AnyStateMachine, createActor, type SnapshotFrom } from "xstate";
import type { DomainEvent } from "../events/catalog.ts";
import type { NewEvent } from "../events/envelope.ts";
import { eventIdFactory } from "../events/ids.ts";
import type { EventStore } from "../events/store.ts";

/** Causation and market time of a batch of events. */
export interface CommitMetadata {
  /** eventId of the event (or id of the market input) that caused this batch. */
  causationId: string;
  /** Market-clock time, ms since epoch. */
  eventTime: number;
}

/** An event-sourced XState actor bound to one stream. */
export class EventSourcedActor<TMachine extends AnyStateMachine> {
  private readonly actor: Actor<TMachine>;
  /** Revision of the stream's last event; -1 while the stream does not exist. */
  private revision = -1;
  private readonly eventId: (revision: number) => string;

  private constructor(
    readonly stream: string,
    machine: TMachine,
    private readonly store: EventStore,
    private readonly correlationId: string,
    input: unknown,
  ) {
    this.eventId = eventIdFactory(correlationId, stream);
    this.actor = createActor(machine, { input } as never);
    this.actor.start();
  }

  /** A new actor for a stream that has no events yet. */
  static create<M extends AnyStateMachine>(
    stream: string,
    machine: M,
    deps: { store: EventStore; correlationId: string; input?: unknown },
  ): EventSourcedActor<M> {
    return new EventSourcedActor(stream, machine, deps.store, deps.correlationId, deps.input);
  }

  /** Rebuilds an actor by applying every event of its stream in order. */
  static async rehydrate<M extends AnyStateMachine>(
    stream: string,
    machine: M,
    deps: { store: EventStore; correlationId: string; input?: unknown },
  ): Promise<EventSourcedActor<M>> {
    const host = new EventSourcedActor(stream, machine, deps.store, deps.correlationId, deps.input);
    for await (const e of deps.store.readStream(stream)) {
      host.actor.send({ type: e.type, data: e.data } as never);
      host.revision = e.revision;
    }
    return host;
  }

  /** The actor's current snapshot (state value and context). */
  get snapshot(): SnapshotFrom<TMachine> {
    return this.actor.getSnapshot() as SnapshotFrom<TMachine>;
  }

  /** Revision of the stream's last applied event (-1 when none). */
  get streamRevision(): number {
    return this.revision;
  }

  /**
   * Appends `events` (expected revision = the last one this actor applied), then applies them.
   * @returns the ids of the appended events, in order.
   * @throws WrongExpectedRevisionError when another writer got there first (nothing is applied), or
   *   EventSchemaError when an event's data is invalid.
   */
  async commit(events: readonly DomainEvent[], meta: CommitMetadata): Promise<string[]> {
    if (events.length === 0) return [];
    const base = this.revision;
    const batch: NewEvent[] = events.map((e, i) => ({
      eventId: this.eventId(base + 1 + i),
      type: e.type,
      data: e.data,
      metadata: {
        correlationId: this.correlationId,
        causationId: meta.causationId,
        eventTime: meta.eventTime,
      },
    }));
    const result = await this.store.append(this.stream, batch, base < 0 ? "noStream" : base);
    for (const e of events) this.actor.send(e as never);
    this.revision = result.nextExpectedRevision;
    return batch.map((e) => e.eventId);
  }

  /** Stops the underlying actor. */
  stop(): void {
    this.actor.stop();
  }
}
