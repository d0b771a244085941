/**
 * The storage model behind the EventStoreDB gRPC double (`esdb-grpc-double.ts`): one transaction log of event
 * records with EventStoreDB's write rules. What it models from the real server:
 * - `$all` positions are byte offsets of records in the log: strictly increasing, sparse, and for events
 *   written by a normal append (an implicit transaction) the prepare position equals the commit position;
 * - an append is atomic and returns the commit position of its last event (prepare position: its first);
 * - expected-version checks and idempotent retries follow the server's `IndexWriter.CheckCommit`: with `any`
 *   / `streamExists` a batch whose ids are all already stored in the stream is a retry (the committed-event
 *   cache lookup); with a revision / `noStream` below the current one, a batch whose ids match the stored
 *   events at revision + 1… is a retry; a partial match ("corrupted idempotency") is a wrong expected
 *   version; event ids are NOT unique across streams;
 * - an empty append that passes its check writes an empty record (it advances the log, adds no event);
 * - a node's log starts with system events in `$` streams (epoch information, default users); an operator's
 *   ACL change adds a `$settings` event whose type, `update-default-acl`, does not start with `$`.
 * Not modelled: explicit transactions, deletes and tombstones, stream metadata (`$maxCount`, ACLs), links,
 * scavenging, and the bounded size of the server's committed-event-id cache.
 */

/** Expected version of an append, as the gRPC options carry it. */
export type ExpectedVersion =
  | { kind: "revision"; revision: number }
  | { kind: "any" }
  | { kind: "noStream" }
  | { kind: "streamExists" };

/** An event as a client proposes it. */
export interface ProposedEvent {
  /** Lower-case UUID. */
  eventId: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
}

/** A stored event. */
export interface EventRecord extends ProposedEvent {
  stream: string;
  revision: number;
  /** Log position: commit position = prepare position. */
  position: bigint;
  /** Wall-clock time of the write, .NET ticks (100 ns) since the Unix epoch. */
  created: bigint;
}

/** Result of an append. `lastRevision` −1: the stream does not exist (only after an empty append). */
export type WriteOutcome =
  | { kind: "written" | "idempotent"; lastRevision: number; commitPosition: bigint; preparePosition: bigint }
  | { kind: "wrongExpectedVersion"; currentRevision: number };

/** Which events of `$all` a read or subscription wants. */
export type EventFilter = (record: EventRecord) => boolean;

/** Bytes a record takes in the log besides its stream name, type, data and metadata. */
const RECORD_OVERHEAD = 96;
/** Size of the empty record an empty append writes. */
const EMPTY_RECORD_SIZE = 64;

/** System events the double's log starts with (stream, type): a node's own, and an ACL change. */
const SYSTEM_EVENTS: readonly (readonly [string, string])[] = [
  ["$epoch-information", "$epoch-information"],
  ["$user-admin", "$UserCreated"],
  ["$users", "$UserCreated"],
  ["$settings", "update-default-acl"],
];

const encoder = new TextEncoder();

/** The transaction log of one double. */
export class TransactionLog {
  private readonly records: EventRecord[] = [];
  private readonly streams = new Map<string, EventRecord[]>();
  /** Latest record of each event id (the server's committed-event cache; ids may repeat across streams). */
  private readonly byEventId = new Map<string, EventRecord>();
  /** Every record start, events and empty records alike: the positions a read may start from. */
  private readonly boundaries = new Set<bigint>();
  private readonly listeners = new Set<(record: EventRecord) => void>();
  private nextPosition = 0n;

  /** @param clock wall-clock ms for the `created` stamp (the adapter never reads it). */
  constructor(private readonly clock: () => number) {
    let id = 0;
    for (const [stream, type] of SYSTEM_EVENTS) {
      const eventId = `00000000-0000-4000-8000-${(++id).toString(16).padStart(12, "0")}`;
      const data = encoder.encode("{}");
      this.write(stream, { kind: "any" }, [
        { eventId, type, contentType: "application/json", data, metadata: data },
      ]);
    }
  }

  /** Position the next record will get. */
  get endPosition(): bigint {
    return this.nextPosition;
  }

  /** Number of event records. */
  get size(): number {
    return this.records.length;
  }

  /** The event record at a 0-based index of `$all`. */
  at(index: number): EventRecord {
    return this.records[index]!;
  }

  /** Revision of a stream's last event, −1 when it does not exist. */
  lastRevision(stream: string): number {
    return (this.streams.get(stream)?.length ?? 0) - 1;
  }

  /** A stream's events, or undefined when it does not exist. */
  stream(stream: string): readonly EventRecord[] | undefined {
    return this.streams.get(stream);
  }

  /**
   * Index in `$all` of the first event at or after `position` (`exclusive`: after it), or undefined when
   * `position` is neither a record start nor the end of the log (the server cannot read from inside a
   * record).
   */
  indexOf(position: bigint, exclusive: boolean): number | undefined {
    if (position !== this.nextPosition && !this.boundaries.has(position)) return undefined;
    let low = 0;
    let high = this.records.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      const at = this.records[mid]!.position;
      if (at < position || (exclusive && at === position)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Number of `onWrite` listeners (live subscriptions). */
  get followers(): number {
    return this.listeners.size;
  }

  /** Calls `listener` with every event written from now on; returns the function that stops it. */
  onWrite(listener: (record: EventRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Appends `events` to `stream` if `expected` holds (see the module notes), atomically. */
  write(stream: string, expected: ExpectedVersion, events: readonly ProposedEvent[]): WriteOutcome {
    const existing = this.streams.get(stream);
    const current = (existing?.length ?? 0) - 1;
    const decision = this.checkCommit(stream, existing ?? [], current, expected, events);
    if (decision === "wrongExpectedVersion")
      return { kind: "wrongExpectedVersion", currentRevision: current };
    if (decision !== "ok") {
      return {
        kind: "idempotent",
        lastRevision: decision.revision,
        commitPosition: decision.position,
        preparePosition: decision.position,
      };
    }
    if (events.length === 0) {
      const position = this.nextPosition;
      this.boundaries.add(position);
      this.nextPosition += BigInt(EMPTY_RECORD_SIZE);
      return { kind: "written", lastRevision: current, commitPosition: position, preparePosition: position };
    }
    const target = existing ?? [];
    if (!existing) this.streams.set(stream, target);
    const created = BigInt(this.clock()) * 10_000n;
    const written = events.map((event) => {
      const record: EventRecord = {
        ...event,
        stream,
        revision: target.length,
        position: this.nextPosition,
        created,
      };
      const payload = encoder.encode(stream + event.type).length + event.data.length + event.metadata.length;
      this.nextPosition += BigInt(RECORD_OVERHEAD + payload);
      this.boundaries.add(record.position);
      this.records.push(record);
      target.push(record);
      this.byEventId.set(record.eventId, record);
      return record;
    });
    for (const record of written) for (const listener of this.listeners) listener(record);
    return {
      kind: "written",
      lastRevision: written.at(-1)!.revision,
      commitPosition: written.at(-1)!.position,
      preparePosition: written[0]!.position,
    };
  }

  /** The server's commit check: write, report an idempotent retry (its last event), or refuse. */
  private checkCommit(
    stream: string,
    existing: readonly EventRecord[],
    current: number,
    expected: ExpectedVersion,
    events: readonly ProposedEvent[],
  ): "ok" | "wrongExpectedVersion" | EventRecord {
    if (expected.kind === "streamExists" && current < 0) return "wrongExpectedVersion";
    if (expected.kind === "any" || expected.kind === "streamExists") {
      let last: EventRecord | undefined;
      for (const [i, event] of events.entries()) {
        const stored = this.byEventId.get(event.eventId);
        if (!stored || stored.stream !== stream) return i === 0 ? "ok" : "wrongExpectedVersion";
        last = stored;
      }
      return last ?? "ok";
    }
    const expectedRevision = expected.kind === "noStream" ? -1 : expected.revision;
    if (expectedRevision < current) {
      let revision = expectedRevision;
      for (const event of events) {
        revision += 1;
        if (existing[revision]?.eventId !== event.eventId) return "wrongExpectedVersion";
      }
      return revision === expectedRevision ? "wrongExpectedVersion" : existing[revision]!;
    }
    return expectedRevision > current ? "wrongExpectedVersion" : "ok";
  }
}
