/**
 * Embedded SQLite event store (better-sqlite3), the default store. One file, WAL journal, `synchronous =
 * NORMAL` (a committed append survives a process crash; the last few may be lost on power failure). Table:
 *
 *   events(position INTEGER PRIMARY KEY, stream, revision, event_id UNIQUE, type,
 *          data (JSON text), metadata (JSON text), UNIQUE(stream, revision))
 *
 * Global positions are the rowids: rows are never deleted, so each new row gets the largest rowid + 1 and
 * positions grow in commit order (AUTOINCREMENT would only add a page write to every commit). Each append is
 * one `BEGIN IMMEDIATE` transaction, so appends from several processes on one file are serialised; the last
 * revision of each stream is cached in memory and checked against the UNIQUE(stream, revision) constraint, so
 * a cache made stale by another process is detected and refreshed inside the transaction. Reads go page by
 * page (no statement stays open across an await).
 * Subscriptions see this process's appends at once and other processes' appends by polling.
 */
import Database from "better-sqlite3";
import type { Observable } from "rxjs";
import { EventSchemaError, type EventType } from "../../events/catalog.ts";
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
  type StoredEventRef,
  type ValidatedEvent,
  validateBatch,
} from "./append-support.ts";
import { followLog } from "./follow-log.ts";

/** Options of `SqliteEventStore.open`. */
export interface SqliteEventStoreOptions {
  /** How often subscriptions look for events appended by other processes, ms (default 200). */
  pollIntervalMs?: number;
}

interface EventRow {
  position: number;
  stream: string;
  revision: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
}

/** Rows fetched per page by readStream / readAll. */
const PAGE_SIZE = 1000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    revision INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    UNIQUE (stream, revision)
  ) STRICT`;

const COLUMNS = "position, stream, revision, event_id, type, data, metadata";

/** `EventStore` in one SQLite file; see the module comment for the layout and the concurrency rules. */
export class SqliteEventStore implements EventStore {
  /** Last revision of each stream this instance has seen: a lower bound of the stored one. */
  private readonly revisions = new Map<string, number>();
  private readonly followers = new Set<{ wake: () => void; end: () => void }>();
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly insertEvent: Database.Statement<[string, number, string, string, string, string]>;
  private readonly selectRevision: Database.Statement<[string], { revision: number | null }>;
  private readonly selectById: Database.Statement<[string], StoredEventRef>;
  private readonly selectStreamPage: Database.Statement<[string, number, number], EventRow>;
  private readonly selectAllPage: Database.Statement<[number, number], EventRow>;
  private readonly appendTransaction: (
    stream: string,
    batch: ValidatedEvent[],
    expected: ExpectedRevision,
  ) => {
    result: AppendResult;
    revision: number;
  };
  private readonly insertBatch: (stream: string, from: number, batch: ValidatedEvent[]) => number;

  private constructor(
    private readonly db: Database.Database,
    private readonly pollIntervalMs: number,
  ) {
    this.insertEvent = db.prepare(
      "INSERT INTO events (stream, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.selectRevision = db.prepare("SELECT MAX(revision) AS revision FROM events WHERE stream = ?");
    this.selectById = db.prepare("SELECT stream, revision, position FROM events WHERE event_id = ?");
    this.selectStreamPage = db.prepare(
      `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`,
    );
    this.selectAllPage = db.prepare(
      `SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`,
    );
    // Nested inside appendTransaction it runs as a savepoint: a constraint failure undoes only this batch.
    this.insertBatch = db.transaction((stream: string, from: number, batch: ValidatedEvent[]) => {
      let position = 0;
      batch.forEach((event, i) => {
        const info = this.insertEvent.run(
          stream,
          from + i,
          event.eventId,
          event.type,
          JSON.stringify(event.data),
          JSON.stringify(event.metadata),
        );
        position = Number(info.lastInsertRowid);
      });
      return position;
    });
    this.appendTransaction = db.transaction(this.appendInTransaction.bind(this)).immediate;
  }

  /**
   * Opens (creating when absent) the store in `file`; its directory must exist.
   * @throws EventStoreError when the file cannot be opened or is not an event store database.
   */
  static open(file: string, options: SqliteEventStoreOptions = {}): SqliteEventStore {
    try {
      const db = new Database(file, { timeout: 5000 });
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      // Checkpoint (copy the WAL into the file, two fsyncs) every ~40 MB of WAL rather than every ~4 MB: a
      // backtest commits one small transaction per append, and each touches the same few pages.
      db.pragma("wal_autocheckpoint = 10000");
      db.exec(SCHEMA);
      return new SqliteEventStore(db, options.pollIntervalMs ?? 200);
    } catch (error) {
      throw new EventStoreError(`cannot open sqlite event store ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** See `EventStore.append`. An empty `events` checks `expectedRevision` and writes nothing. */
  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    this.assertOpen();
    const batch = validateBatch(stream, events);
    const { result, revision } = this.guard(`append to stream ${stream}`, () =>
      this.appendTransaction(stream, batch, expectedRevision),
    );
    if (revision >= 0) this.revisions.set(stream, revision);
    if (batch.length > 0) for (const follower of this.followers) follower.wake();
    return result;
  }

  /** See `EventStore.readStream`; reads pages of 1000 rows. */
  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    let from = Math.max(0, options.fromRevision ?? 0);
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      const size = Math.min(PAGE_SIZE, remaining);
      const rows = this.readPage(`read stream ${stream}`, () =>
        this.selectStreamPage.all(stream, from, size),
      );
      for (const row of rows) yield toRecordedEvent(row);
      if (rows.length < size) return;
      from = rows[rows.length - 1]!.revision + 1;
      remaining -= rows.length;
    }
  }

  /** See `EventStore.readAll`; reads pages of 1000 rows. */
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let after = options.after ?? 0;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      const size = Math.min(PAGE_SIZE, remaining);
      const rows = this.readPage("read all", () => this.selectAllPage.all(after, size));
      for (const row of rows) yield toRecordedEvent(row);
      if (rows.length < size) return;
      after = rows[rows.length - 1]!.position;
      remaining -= rows.length;
    }
  }

  /**
   * See `EventStore.subscribe`. This instance's appends are delivered in a microtask after they commit; other
   * processes' appends within `pollIntervalMs`. `close()` completes the subscription.
   */
  subscribe(options: { after?: number } = {}): Observable<RecordedEvent> {
    return followLog(
      {
        readPage: (after, limit) =>
          this.readPage("subscribe", () => this.selectAllPage.all(after, limit)).map(toRecordedEvent),
        watch: (follower) => {
          this.followers.add(follower);
          this.pollTimer ??= setInterval(() => {
            for (const f of this.followers) f.wake();
          }, this.pollIntervalMs);
          return () => {
            this.followers.delete(follower);
            if (this.followers.size === 0) this.stopPolling();
          };
        },
      },
      options.after,
    );
  }

  /** See `EventStore.streamRevision`; always reads the file (another process may have appended). */
  async streamRevision(stream: string): Promise<number | undefined> {
    this.assertOpen();
    return this.guard(
      `read revision of ${stream}`,
      () => this.selectRevision.get(stream)?.revision ?? undefined,
    );
  }

  /** Completes every subscription, stops polling and closes the file. Idempotent. */
  async close(): Promise<void> {
    if (!this.db.open) return;
    for (const follower of [...this.followers]) follower.end();
    this.followers.clear();
    this.stopPolling();
    this.db.close();
  }

  /**
   * The body of the append transaction (BEGIN IMMEDIATE: no other connection writes meanwhile). Tries the
   * cached revision first; a failed expectation or a UNIQUE conflict re-reads the stored revision once, then
   * decides between writing, an idempotent retry and an error. Returns the result and the stream's revision.
   */
  private appendInTransaction(
    stream: string,
    batch: ValidatedEvent[],
    expected: ExpectedRevision,
  ): { result: AppendResult; revision: number } {
    let current = this.revisions.get(stream);
    let fresh = current === undefined;
    if (fresh) current = this.selectRevision.get(stream)?.revision ?? undefined;
    for (;;) {
      const holds = expectedRevisionHolds(expected, current);
      if (holds && batch.length === 0) return { result: emptyAppendResult(current), revision: current ?? -1 };
      if (holds) {
        const written = this.tryInsert(stream, (current ?? -1) + 1, batch);
        if (written) return written;
      }
      if (!fresh) {
        current = this.selectRevision.get(stream)?.revision ?? undefined;
        fresh = true;
        continue;
      }
      const ids = batch.map((e) => e.eventId);
      const retried =
        ids.length > 0 && idempotentResult(stream, ids, expected, current, (id) => this.selectById.get(id));
      if (retried) return { result: retried, revision: current ?? -1 };
      if (!holds) throw new WrongExpectedRevisionError(stream, expected, current);
      for (const id of ids) {
        const stored = this.selectById.get(id);
        if (stored) throw duplicateEventIdError(stream, id, stored);
      }
      throw new EventStoreError(
        `append to stream ${stream} hit a UNIQUE conflict that no stored row explains`,
      );
    }
  }

  /** Inserts the batch from revision `from`, or returns undefined (nothing written) on a UNIQUE conflict. */
  private tryInsert(
    stream: string,
    from: number,
    batch: ValidatedEvent[],
  ): { result: AppendResult; revision: number } | undefined {
    try {
      const position = this.insertBatch(stream, from, batch);
      const revision = from + batch.length - 1;
      return { result: { nextExpectedRevision: revision, position }, revision };
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code === "SQLITE_CONSTRAINT_UNIQUE")
        return undefined;
      throw error;
    }
  }

  private readPage(action: string, query: () => EventRow[]): EventRow[] {
    this.assertOpen();
    return this.guard(action, query);
  }

  /** Runs a database call, turning driver errors into `EventStoreError` (store and schema errors pass). */
  private guard<T>(action: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof EventStoreError || error instanceof EventSchemaError) throw error;
      throw new EventStoreError(`sqlite event store: ${action} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private assertOpen(): void {
    if (!this.db.open) throw new EventStoreError(`the sqlite event store ${this.db.name} is closed`);
  }

  private stopPolling(): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    type: row.type as EventType,
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
    stream: row.stream,
    revision: row.revision,
    position: row.position,
  } as RecordedEvent;
}
