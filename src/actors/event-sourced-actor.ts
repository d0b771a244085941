/**
 * Hosts an XState v5 actor whose events are the domain events of one stream, and enforces "decide, validate,
 * append, apply": `commit` takes the events a decision produced, checks each against the machine's transition
 * table (the state it would be in after the ones before it: `snapshot.can(event)`), appends them with optimistic
 * concurrency on the stream revision, and only after the store has accepted them sends them to the actor.
 * An event the machine would not take is never written (`IllegalTransitionError`). `rehydrate` rebuilds the same
 * actor from its stream and refuses a stored event its machine would not take (a tampered or foreign log).
 */
import {
  type Actor,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  createActor,
  type SnapshotFrom,
  transition,
} from "xstate";
import type { DomainEvent } from "../events/catalog.ts";
import type { NewEvent, RecordedEvent } from "../events/envelope.ts";
import { eventIdFactory } from "../events/ids.ts";
import type { EventStore } from "../events/store.ts";
import { IllegalTransitionError } from "./illegal-transition.ts";
import { type TableState, type TransitionTable, transitionTable } from "./transition-table.ts";

/** Causation and market time of a batch of events. */
export interface CommitMetadata {
  /** eventId of the event (or id of the market input) that caused this batch. */
  causationId: string;
  /** Market-clock time, ms since epoch. */
  eventTime: number;
}

/** An actor's state at one revision of its stream, as JSON (a checkpoint's part). */
export interface PersistedActor {
  stream: string;
  /** Revision of the stream's last applied event (-1 when none). */
  revision: number;
  /** The XState persisted snapshot (`actor.getPersistedSnapshot()`). */
  snapshot: unknown;
}

/** A machine's initial state without input, as the table's state and the XState snapshot (computed once). */
const initialStates = new WeakMap<AnyStateMachine, { state: TableState; snapshot: AnyMachineSnapshot }>();

/** An event-sourced XState actor bound to one stream. */
export class EventSourcedActor<TMachine extends AnyStateMachine> {
  /** The XState actor, for a machine without a transition table (which XState then runs); else undefined. */
  private actor: Actor<TMachine> | undefined;
  /** Revision of the stream's last event; -1 while the stream does not exist. */
  private revision = -1;
  private readonly eventId: (revision: number) => string;
  /** The machine's transition table, when it has one (see transition-table.ts); else XState runs every event. */
  private readonly table: TransitionTable | undefined;
  /**
   * With a table: the actor's state (value and context), which the table moves (no XState actor runs). `current`
   * is the XState snapshot of `state`, resolved when read.
   */
  private state: TableState | undefined;
  private current: AnyMachineSnapshot | undefined;

  private constructor(
    readonly stream: string,
    private readonly machine: TMachine,
    private readonly store: EventStore,
    private readonly correlationId: string,
    input: unknown,
    snapshot?: unknown,
  ) {
    this.eventId = eventIdFactory(correlationId, stream);
    this.table = transitionTable(machine);
    this.start(input, snapshot);
  }

  /**
   * Takes the initial state (`input`) or a persisted snapshot: with a table, as the table's state (a machine's
   * initial state without input is computed once per machine); else by starting an XState actor.
   */
  private start(input: unknown, snapshot: unknown): void {
    this.actor?.stop();
    this.actor = undefined;
    if (!this.table) {
      this.actor = createActor(this.machine, (snapshot === undefined ? { input } : { snapshot }) as never);
      this.actor.start();
      return;
    }
    const initial =
      snapshot === undefined && input === undefined ? initialStates.get(this.machine) : undefined;
    if (initial) {
      this.state = initial.state;
      this.current = initial.snapshot;
      return;
    }
    const actor = createActor(this.machine, (snapshot === undefined ? { input } : { snapshot }) as never);
    const started = actor.start().getSnapshot() as AnyMachineSnapshot;
    actor.stop();
    this.state = { value: started.value as string, context: started.context };
    this.current = started;
    if (snapshot === undefined && input === undefined)
      initialStates.set(this.machine, { state: this.state, snapshot: started });
  }

  /** The XState snapshot of the actor's state (with a table: resolved from the table's state when it moved). */
  private xstateSnapshot(): AnyMachineSnapshot {
    if (!this.table) return this.actor!.getSnapshot() as AnyMachineSnapshot;
    this.current ??= this.machine.resolveState({
      value: this.state!.value,
      context: this.state!.context,
      historyValue: {},
    });
    return this.current;
  }

  /**
   * Restores an actor from `persisted` (from `persist()`); it continues at the persisted revision.
   * @throws Error when the persisted stream is not `stream`.
   */
  static restore<M extends AnyStateMachine>(
    persisted: PersistedActor,
    machine: M,
    deps: { store: EventStore; correlationId: string },
  ): EventSourcedActor<M> {
    const host = new EventSourcedActor(
      persisted.stream,
      machine,
      deps.store,
      deps.correlationId,
      undefined,
      persisted.snapshot,
    );
    host.revision = persisted.revision;
    return host;
  }

  /**
   * Replaces this actor's state with `persisted` (from `persist()` of an actor of the same stream).
   * @throws Error when `persisted` belongs to another stream.
   */
  restoreFrom(persisted: PersistedActor): void {
    if (persisted.stream !== this.stream) {
      throw new Error(`cannot restore ${this.stream} from a checkpoint of ${persisted.stream}`);
    }
    this.start(undefined, persisted.snapshot);
    this.revision = persisted.revision;
  }

  /** The actor's state and revision as JSON, for a checkpoint. */
  persist(): PersistedActor {
    return {
      stream: this.stream,
      revision: this.revision,
      snapshot: this.machine.getPersistedSnapshot(this.xstateSnapshot()),
    };
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
    for await (const e of deps.store.readStream(stream)) host.applyRecorded(e);
    return host;
  }

  /**
   * Applies one event read from the store (it must be this stream's next revision).
   * @throws IllegalTransitionError (with the event's log position) when the machine would not take it;
   *   Error when its revision is not the next one.
   */
  applyRecorded(e: RecordedEvent): void {
    if (e.revision !== this.revision + 1) {
      throw new Error(`${this.stream}: expected revision ${this.revision + 1}, read ${e.revision}`);
    }
    const event = { type: e.type, data: e.data };
    if (this.table) {
      const next = this.table.next(this.state!, event);
      if (next === undefined) {
        throw new IllegalTransitionError(this.stream, JSON.stringify(this.state!.value), e.type, e.position);
      }
      this.state = next;
      this.current = undefined;
    } else {
      const snapshot = this.actor!.getSnapshot() as AnyMachineSnapshot;
      if (!snapshot.can(event)) {
        throw new IllegalTransitionError(this.stream, JSON.stringify(snapshot.value), e.type, e.position);
      }
      this.actor!.send(event as never);
    }
    this.revision = e.revision;
  }

  /** The actor's current snapshot (state value and context). */
  get snapshot(): SnapshotFrom<TMachine> {
    return this.xstateSnapshot() as SnapshotFrom<TMachine>;
  }

  /** Revision of the stream's last applied event (-1 when none). */
  get streamRevision(): number {
    return this.revision;
  }

  /**
   * Validates `events` against the machine, appends them (expected revision = the last one this actor applied),
   * then applies them.
   * @returns the ids of the appended events, in order.
   * @throws IllegalTransitionError when the machine would not take an event (nothing is written or applied);
   *   WrongExpectedRevisionError when another writer got there first, EventIdConflictError when the ids are
   *   stored with other content, EventSchemaError when an event's data is invalid (nothing is applied).
   */
  async commit(events: readonly DomainEvent[], meta: CommitMetadata): Promise<string[]> {
    if (events.length === 0) return [];
    let after: TableState | undefined;
    if (this.table) after = this.tableStep(events);
    else this.validate(events);
    const base = this.revision;
    // A loop rather than map callbacks: this runs for every event (one per bar at least).
    const batch: NewEvent[] = [];
    const ids: string[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const eventId = this.eventId(base + 1 + i);
      ids.push(eventId);
      batch.push({
        eventId,
        type: e.type,
        data: e.data,
        metadata: {
          correlationId: this.correlationId,
          causationId: meta.causationId,
          eventTime: meta.eventTime,
        },
      });
    }
    const result = await this.store.append(this.stream, batch, base < 0 ? "noStream" : base);
    if (after) {
      this.state = after;
      this.current = undefined;
    } else {
      for (const e of events) this.actor!.send(e as never);
    }
    this.revision = result.nextExpectedRevision;
    return ids;
  }

  /**
   * Checks that the machine takes `events` in order from its current state, without changing it.
   * @throws IllegalTransitionError naming the first refused event.
   */
  validate(events: readonly DomainEvent[]): void {
    if (this.table) {
      this.tableStep(events);
      return;
    }
    const machine = this.machine as AnyStateMachine;
    let snapshot = this.actor!.getSnapshot() as AnyMachineSnapshot;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (i > 0) [snapshot] = transition(machine, snapshot, events[i - 1]! as never);
      if (!snapshot.can(event)) {
        throw new IllegalTransitionError(this.stream, JSON.stringify(snapshot.value), event.type);
      }
    }
  }

  /**
   * The table's state after `events` in order from the current one, without changing it.
   * @throws IllegalTransitionError naming the first refused event.
   */
  private tableStep(events: readonly DomainEvent[]): TableState {
    let state = this.state!;
    for (const event of events) {
      const next = this.table!.next(state, event);
      if (next === undefined) {
        throw new IllegalTransitionError(this.stream, JSON.stringify(state.value), event.type);
      }
      state = next;
    }
    return state;
  }

  /** Stops the underlying XState actor, if one runs. */
  stop(): void {
    this.actor?.stop();
  }
}
