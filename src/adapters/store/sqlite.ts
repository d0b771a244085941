/**
 * Embedded SQLite event store (better-sqlite3), the default store. One file, WAL journal while a writer has
 * it open (rollback journal at rest, so a read-only file in a read-only directory can be read), `synchronous
 * = NORMAL` (a committed append survives a process crash; the last few may be lost on power failure). Tables:
 *
 *   events(position INTEGER PRIMARY KEY, stream, revision, event_id UNIQUE, type,
 *          data (JSON text), metadata (JSON text), UNIQUE(stream, revision))
 *   meta(key PRIMARY KEY, value): format, schemaVersion, storeId (see sqlite-file.ts)
 *
 * Global positions are the rowids: rows are never deleted, so each new row gets the largest rowid + 1 and
 * positions grow in commit order. Each append runs inside a `BEGIN IMMEDIATE` write transaction, so appends
 * from several processes on one file are serialised; the last revision of each stream is cached in memory and
 * checked against the UNIQUE(stream, revision) constraint, so a cache made stale by another process is
 * detected and refreshed inside the transaction. Reads go page by page (no statement stays open across an
 * await) and check every row (`CorruptEventError`).
 *
 * Group commit (option `groupCommit`): the write transaction stays open across appends (a unit of work),
 * each append inside it is a SAVEPOINT (a failed append rolls back only itself; a one-event append is a
 * single INSERT, atomic without one), and the unit commits once
 * `maxEvents` events were appended in it or the market time (`metadata.eventTime`) of its last event is
 * `maxMarketMs` or more past its first: the commit points depend only on the appended events. `flush()` and
 * `close()` commit. Until then the events are visible to this instance's reads, not to its subscriptions nor
 * to other connections, and a crash loses them (only them).
 *
 * Read-only (option `readOnly`): the file must exist and be a perpsource store; it is never written; appends
 * reject. While subscribed, the store checks at each poll whether another file now sits at its path (e.g.
 * `backtest --overwrite`): it then reopens the new file and errors its subscriptions with
 * `StoreReplacedError`, so followers read the new log from the start.
 */

import { randomUUID } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import Database from "better-sqlite3";
import type { Observable } from "rxjs";
import { EventSchemaError } from "../../events/catalog.ts";
import { validatedDataJson, validatedMetadataJson } from "../../events/catalog-fast.ts";
import type { NewEvent, RecordedEvent } from "../../events/envelope.ts";
import {
  type AppendResult,
  type EventStore,
  EventStoreError,
  type ExpectedRevision,
  type ReadAllOptions,
  type ReadStreamOptions,
  StoreReplacedError,
  WrongExpectedRevisionError,
} from "../../events/store.ts";
import {
  decodeStoredEvent,
  duplicateEventIdError,
  emptyAppendResult,
  expectedRevisionHolds,
  idempotentResult,
  recordedEvent,
  type StoredEvent,
  type ValidatedEvent,
  validateBatch,
} from "./append-support.ts";
import { followLog, type LogFollower } from "./follow-log.ts";
import {
  fileIdentity,
  inspectSchema,
  inspectStoreFile,
  SCHEMA_VERSION,
  STORE_FORMAT,
} from "./sqlite-file.ts";

/** When a unit of work commits: after `maxEvents` events, or `maxMarketMs` of market time, whichever first. */
export interface GroupCommitOptions {
  /** Events per unit of work (≥ 1). */
  maxEvents: number;
  /** Market time (ms, `metadata.eventTime`) from a unit's first event to the event that commits it (≥ 0). */
  maxMarketMs: number;
}

/**
 * The group commit of backtests: 1000 events or one day of market time per unit of work, whichever first (a
 * backtest crosses a market day in well under a second; 1000 events amortise the commit).
 */
export const BACKTEST_GROUP_COMMIT: GroupCommitOptions = { maxEvents: 1000, maxMarketMs: 86_400_000 };

/** Options of `SqliteEventStore.open`. */
export interface SqliteEventStoreOptions {
  /** How often subscriptions look for events appended by other processes, ms (default 200). */
  pollIntervalMs?: number;
  /** Open an existing store without ever writing to it (default false). */
  readOnly?: boolean;
  /** Keep a unit of work open across appends (default: none, every append commits). Ignored read-only. */
  groupCommit?: GroupCommitOptions;
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
  ) STRICT;
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT`;

const COLUMNS = "position, stream, revision, event_id, type, data, metadata";

/** The prepared statements of one open connection. */
class Connection {
  readonly insertEvent: Database.Statement<[string, number, string, string, string, string]>;
  readonly selectRevision: Database.Statement<[string], { revision: number | null }>;
  readonly selectById: Database.Statement<[string], StoredEvent>;
  readonly selectStreamPage: Database.Statement<[string, number, number], EventRow>;
  readonly selectAllPage: Database.Statement<[number, number, number], EventRow>;
  readonly selectLastPosition: Database.Statement<[], { position: number | null }>;

  constructor(readonly db: Database.Database) {
    this.insertEvent = db.prepare(
      "INSERT INTO events (stream, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.selectRevision = db.prepare("SELECT MAX(revision) AS revision FROM events WHERE stream = ?");
    this.selectById = db.prepare(
      "SELECT stream, revision, position, type, data, metadata FROM events WHERE event_id = ?",
    );
    this.selectStreamPage = db.prepare(
      `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`,
    );
    this.selectAllPage = db.prepare(
      `SELECT ${COLUMNS} FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`,
    );
    this.selectLastPosition = db.prepare("SELECT MAX(position) AS position FROM events");
  }
}

/** What one append did: its result, the stream's revision after it, whether it wrote rows. */
interface AppendOutcome {
  result: AppendResult;
  revision: number;
  written: boolean;
}

/** The open unit of work of a group-committing store. */
interface UnitOfWork {
  /** Largest position committed when the unit began: subscriptions see nothing beyond it. */
  committedPosition: number;
  events: number;
  firstEventTime: number | undefined;
}

/** `EventStore` in one SQLite file; see the module comment for the layout, group commit and read-only use. */
export class SqliteEventStore implements EventStore {
  /** Last revision of each stream this instance has seen: a lower bound of the stored one. */
  private readonly revisions = new Map<string, number>();
  private readonly followers = new Set<LogFollower>();
  private pollTimer: NodeJS.Timeout | undefined;
  private unit: UnitOfWork | undefined;
  /** One append: BEGIN IMMEDIATE … COMMIT, or a SAVEPOINT inside an open unit of work. */
  private readonly appendTransaction: (
    stream: string,
    batch: ValidatedEvent[],
    expected: ExpectedRevision,
  ) => AppendOutcome;
  /** The batch insert, nested as a savepoint: a constraint failure undoes only this batch. */
  private readonly insertBatch: (stream: string, from: number, batch: ValidatedEvent[]) => number;
  /**
   * Positions [from, to] this connection inserted since it opened, contiguous and never rolled back: their
   * rows come from validated events, so reads skip the schema checks on them (empty when from > to).
   */
  private readonly own = { from: 1, to: 0 };
  /** Bumped when a read-only store reopens a replaced file: a read spanning two files fails. */
  private generation = 0;
  private closed = false;

  private constructor(
    private readonly file: string,
    private conn: Connection,
    /** The store id of the open file (undefined for stores created before the meta table). */
    private currentStoreId: string | undefined,
    /** An fd held on the open file (read-only stores), so its inode stays allocated and comparable. */
    private fd: number | undefined,
    private readonly options: SqliteEventStoreOptions,
  ) {
    // A writable store never changes connection, so these stay bound to `conn`.
    this.appendTransaction = conn.db.transaction(this.appendInTransaction.bind(this)).immediate;
    this.insertBatch = conn.db.transaction((stream: string, from: number, batch: ValidatedEvent[]) => {
      let position = 0;
      batch.forEach((event, i) => {
        position = this.insertOne(stream, from + i, event);
      });
      return position;
    });
  }

  /**
   * Opens the store in `file`; its directory must exist. Writable (the default): creates the store when the
   * file is absent or empty, and refuses any other file that is not a perpsource store, without touching it.
   * Read-only: the file must exist and be a perpsource store.
   * @throws EventStoreError naming the file when it is absent (read-only), not a SQLite database, a SQLite
   *   database of something else, or cannot be opened.
   */
  static open(file: string, options: SqliteEventStoreOptions = {}): SqliteEventStore {
    const found = inspectStoreFile(file);
    if (options.readOnly) {
      if (found.kind === "new") {
        throw new EventStoreError(`${file} is not a perpsource event store: the file is absent or empty`);
      }
      const fd = openSync(file, "r");
      try {
        const db = openReadOnly(file);
        return new SqliteEventStore(file, new Connection(db), found.storeId, fd, options);
      } catch (error) {
        closeSync(fd);
        throw error;
      }
    }
    const { maxEvents, maxMarketMs } = options.groupCommit ?? { maxEvents: 1, maxMarketMs: 0 };
    if (
      !(
        Number.isSafeInteger(maxEvents) &&
        maxEvents >= 1 &&
        Number.isSafeInteger(maxMarketMs) &&
        maxMarketMs >= 0
      )
    ) {
      throw new EventStoreError(
        `invalid groupCommit ${JSON.stringify(options.groupCommit)}: maxEvents must be an integer ≥ 1 and maxMarketMs an integer ≥ 0`,
      );
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { timeout: 5000 });
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      // Checkpoint (copy the WAL into the file, two fsyncs) every ~40 MB of WAL rather than every ~4 MB.
      db.pragma("wal_autocheckpoint = 10000");
      const storeId = initialise(file, db);
      return new SqliteEventStore(file, new Connection(db), storeId, undefined, options);
    } catch (error) {
      db?.close();
      if (error instanceof EventStoreError) throw error;
      throw new EventStoreError(`cannot open sqlite event store ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** The id the store was given when it was created (undefined for stores older than the meta table). */
  get storeId(): string | undefined {
    return this.currentStoreId;
  }

  /**
   * See `EventStore.append`. An empty `events` checks `expectedRevision` and writes nothing. With group
   * commit the events are durable only once their unit of work commits (see the module comment).
   * @throws EventStoreError on a read-only store.
   */
  async append(
    stream: string,
    events: readonly NewEvent[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    this.assertOpen();
    if (this.options.readOnly) {
      throw new EventStoreError(
        `cannot append to stream ${stream}: the sqlite event store ${this.file} is open read-only`,
      );
    }
    const batch = validateBatch(stream, events);
    const grouped = this.options.groupCommit !== undefined;
    if (grouped && !this.unit && batch.length > 0) this.begin();
    let outcome: AppendOutcome;
    try {
      outcome = this.guard(`append to stream ${stream}`, () =>
        // Inside a unit of work a one-event append needs no savepoint: its only write is one INSERT,
        // which is atomic by itself.
        this.unit && batch.length <= 1
          ? this.appendInTransaction(stream, batch, expectedRevision)
          : this.appendTransaction(stream, batch, expectedRevision),
      );
    } catch (error) {
      this.own.from = 1;
      this.own.to = 0; // a failed append may have rolled back rows of the range
      this.checkUnitAlive();
      if (this.unit?.events === 0) this.commit(); // release the write lock a failed first append took
      throw error;
    }
    if (outcome.revision >= 0) this.revisions.set(stream, outcome.revision);
    if (this.unit) {
      if (outcome.written) this.grow(batch);
      else if (this.unit.events === 0) this.commit();
    } else if (outcome.written) {
      this.wakeFollowers();
    }
    return outcome.result;
  }

  /** Commits the open unit of work, if any (see `EventStore.flush`). */
  async flush(): Promise<void> {
    this.assertOpen();
    this.commit();
  }

  /** See `EventStore.readStream`; reads pages of 1000 rows. @throws CorruptEventError, StoreReplacedError */
  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    let from = Math.max(0, options.fromRevision ?? 0);
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    const generation = this.generation;
    while (remaining > 0) {
      const size = Math.min(PAGE_SIZE, remaining);
      const rows = this.readPage(`read stream ${stream}`, generation, () =>
        this.conn.selectStreamPage.all(stream, from, size),
      );
      for (const row of rows) yield this.decode(row);
      if (rows.length < size) return;
      from = rows[rows.length - 1]!.revision + 1;
      remaining -= rows.length;
    }
  }

  /** See `EventStore.readAll`; reads pages of 1000 rows. @throws CorruptEventError, StoreReplacedError */
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let after = options.after ?? 0;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    const generation = this.generation;
    while (remaining > 0) {
      const size = Math.min(PAGE_SIZE, remaining);
      const rows = this.readPage("read all", generation, () =>
        this.conn.selectAllPage.all(after, Number.MAX_SAFE_INTEGER, size),
      );
      for (const row of rows) yield this.decode(row);
      if (rows.length < size) return;
      after = rows[rows.length - 1]!.position;
      remaining -= rows.length;
    }
  }

  /**
   * See `EventStore.subscribe`. Committed events only: this instance's appends are delivered in a microtask
   * after they commit; other processes' within `pollIntervalMs`. `close()` completes the subscription; a
   * corrupt event errors it with `CorruptEventError`, a replaced file (read-only) with `StoreReplacedError`.
   */
  subscribe(options: { after?: number } = {}): Observable<RecordedEvent> {
    return followLog(
      {
        readPage: (after, limit) => {
          const upTo = this.unit?.committedPosition ?? Number.MAX_SAFE_INTEGER;
          const rows = this.readPage("subscribe", this.generation, () =>
            this.conn.selectAllPage.all(after, upTo, limit),
          );
          // Events before a corrupt row are delivered; the next page starts at it and fails.
          const events: RecordedEvent[] = [];
          for (const row of rows) {
            try {
              events.push(this.decode(row));
            } catch (error) {
              if (events.length === 0) throw error;
              break;
            }
          }
          return events;
        },
        watch: (follower) => {
          this.followers.add(follower);
          this.pollTimer ??= setInterval(() => this.poll(), this.options.pollIntervalMs ?? 200);
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
      () => this.conn.selectRevision.get(stream)?.revision ?? undefined,
    );
  }

  /**
   * Commits the open unit of work, completes every subscription, stops polling and closes the file, leaving
   * a writable store in rollback-journal mode when no other connection has it open. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      this.commit();
    } finally {
      this.closed = true;
      for (const follower of [...this.followers]) follower.end();
      this.followers.clear();
      this.stopPolling();
      if (!this.options.readOnly) {
        try {
          // Fails (SQLITE_BUSY) while another connection has the file open: it then stays in WAL mode.
          this.conn.db.pragma("journal_mode = DELETE");
        } catch {}
      }
      this.conn.db.close();
      if (this.fd !== undefined) closeSync(this.fd);
    }
  }

  /** Starts a unit of work: BEGIN IMMEDIATE, remembering what is committed. */
  private begin(): void {
    this.guard("begin a unit of work", () => this.conn.db.exec("BEGIN IMMEDIATE"));
    const committedPosition = this.conn.selectLastPosition.get()?.position ?? 0;
    this.unit = { committedPosition, events: 0, firstEventTime: undefined };
  }

  /** Counts an accepted batch into the unit of work and commits it when a bound is reached. */
  private grow(batch: readonly ValidatedEvent[]): void {
    const unit = this.unit!;
    const { maxEvents, maxMarketMs } = this.options.groupCommit!;
    unit.firstEventTime ??= batch[0]!.metadata.eventTime;
    unit.events += batch.length;
    const lastEventTime = batch[batch.length - 1]!.metadata.eventTime;
    if (unit.events >= maxEvents || lastEventTime - unit.firstEventTime >= maxMarketMs) this.commit();
  }

  /**
   * After a failed append inside a unit of work: SQLite rolls back the whole transaction on some errors (disk
   * full, I/O); the unit's events are then lost and this says so.
   * @throws EventStoreError when the unit of work is gone.
   */
  private checkUnitAlive(): void {
    if (!this.unit || this.conn.db.inTransaction) return;
    const lost = this.unit.events;
    this.unit = undefined;
    this.forgetWrites();
    throw new EventStoreError(
      `the sqlite event store ${this.file} rolled back its unit of work: the last ${lost} appended events ` +
        "(since the last commit) are not stored",
    );
  }

  /** After a rollback of a whole unit of work: forget the cached revisions and the rows written here. */
  private forgetWrites(): void {
    this.revisions.clear();
    this.own.from = 1;
    this.own.to = 0;
  }

  /** Commits the open unit of work (if any) and wakes the subscriptions. */
  private commit(): void {
    if (!this.unit) return;
    this.checkUnitAlive();
    const unit = this.unit;
    this.unit = undefined;
    try {
      this.guard("commit a unit of work", () => this.conn.db.exec("COMMIT"));
    } catch (error) {
      this.forgetWrites();
      if (this.conn.db.inTransaction) this.conn.db.exec("ROLLBACK");
      throw error;
    }
    if (unit.events > 0) this.wakeFollowers();
  }

  /**
   * The body of an append (inside BEGIN IMMEDIATE or a savepoint of the open unit of work: no other
   * connection writes meanwhile). Tries the cached revision first; a failed expectation or a UNIQUE conflict
   * re-reads the stored revision once, then decides between writing, an idempotent retry and an error.
   * Returns the result and the stream's revision.
   */
  private appendInTransaction(
    stream: string,
    batch: ValidatedEvent[],
    expected: ExpectedRevision,
  ): AppendOutcome {
    const conn = this.conn;
    let current = this.revisions.get(stream);
    let fresh = current === undefined;
    if (fresh) current = conn.selectRevision.get(stream)?.revision ?? undefined;
    for (;;) {
      const holds = expectedRevisionHolds(expected, current);
      if (holds && batch.length === 0) {
        return { result: emptyAppendResult(current), revision: current ?? -1, written: false };
      }
      if (holds) {
        const written = this.tryInsert(stream, (current ?? -1) + 1, batch);
        if (written) return written;
      }
      if (!fresh) {
        current = conn.selectRevision.get(stream)?.revision ?? undefined;
        fresh = true;
        continue;
      }
      const retried =
        batch.length > 0 &&
        idempotentResult(stream, batch, expected, current, (id) => conn.selectById.get(id));
      if (retried) return { result: retried, revision: current ?? -1, written: false };
      if (!holds) throw new WrongExpectedRevisionError(stream, expected, current);
      for (const { eventId } of batch) {
        const stored = conn.selectById.get(eventId);
        if (stored) throw duplicateEventIdError(stream, eventId, stored);
      }
      throw new EventStoreError(
        `append to stream ${stream} hit a UNIQUE conflict that no stored row explains`,
      );
    }
  }

  /** Inserts one event (one statement: atomic); returns its position and notes it as written here. */
  private insertOne(stream: string, revision: number, event: ValidatedEvent): number {
    const info = this.conn.insertEvent.run(
      stream,
      revision,
      event.eventId,
      event.type,
      validatedDataJson(event.type, event.data),
      validatedMetadataJson(event.metadata),
    );
    const position = Number(info.lastInsertRowid);
    if (position === this.own.to + 1 && this.own.from <= this.own.to) this.own.to = position;
    else this.own.from = this.own.to = position;
    return position;
  }

  /** Inserts the batch from revision `from`, or returns undefined (nothing written) on a UNIQUE conflict. */
  private tryInsert(stream: string, from: number, batch: ValidatedEvent[]): AppendOutcome | undefined {
    try {
      const position =
        batch.length === 1 ? this.insertOne(stream, from, batch[0]!) : this.insertBatch(stream, from, batch);
      const revision = from + batch.length - 1;
      // One transaction's rows get consecutive rowids (the largest + 1 each).
      const first = position - batch.length + 1;
      const recorded = batch.map((event, i) => recordedEvent(stream, from + i, first + i, event));
      return { result: { nextExpectedRevision: revision, position, recorded }, revision, written: true };
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code === "SQLITE_CONSTRAINT_UNIQUE")
        return undefined;
      throw error;
    }
  }

  /**
   * A read-only store's poll: when another file now sits at its path and holds a perpsource store, reopen it
   * and error every subscription with `StoreReplacedError`; otherwise wake the subscriptions.
   */
  private poll(): void {
    if (this.fd !== undefined && this.replaced()) return;
    this.wakeFollowers();
  }

  /** Reopens the file at the store's path when it is another file than the open one. */
  private replaced(): boolean {
    const now = fileIdentity(this.file);
    if (now === undefined || now === fileIdentity(this.fd!)) return false;
    let fd: number | undefined;
    let db: Database.Database | undefined;
    try {
      fd = openSync(this.file, "r");
      db = openReadOnly(this.file);
      const found = inspectSchema(this.file, db);
      if (found.kind !== "store") throw new EventStoreError("not a store yet");
      const previous = this.currentStoreId;
      this.conn.db.close();
      closeSync(this.fd!);
      this.conn = new Connection(db);
      this.fd = fd;
      this.currentStoreId = found.storeId;
      this.revisions.clear();
      this.generation++;
      const error = new StoreReplacedError(
        `the sqlite event store ${this.file} was replaced (store ${previous ?? "(no id)"} → ${
          found.storeId ?? "(no id)"
        }): read it again from the start`,
      );
      for (const follower of [...this.followers]) follower.fail(error);
      return true;
    } catch {
      // The new file is still being created (or is not a store): keep the old one and look again next poll.
      db?.close();
      if (fd !== undefined) closeSync(fd);
      return false;
    }
  }

  /** The recorded event of a row; rows this connection wrote are not re-validated. @throws CorruptEventError */
  private decode(row: EventRow): RecordedEvent {
    const stored = {
      position: row.position,
      stream: row.stream,
      revision: row.revision,
      eventId: row.event_id,
      type: row.type,
      data: row.data,
      metadata: row.metadata,
      encoded: true,
    };
    return decodeStoredEvent(stored, row.position >= this.own.from && row.position <= this.own.to);
  }

  private wakeFollowers(): void {
    for (const follower of this.followers) follower.wake();
  }

  private readPage(action: string, generation: number, query: () => EventRow[]): EventRow[] {
    this.assertOpen();
    if (generation !== this.generation) {
      throw new StoreReplacedError(`the sqlite event store ${this.file} was replaced during ${action}`);
    }
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
    if (this.closed) throw new EventStoreError(`the sqlite event store ${this.file} is closed`);
  }

  private stopPolling(): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}

/** Opens `file` read-only (it must exist). */
function openReadOnly(file: string): Database.Database {
  try {
    return new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  } catch (error) {
    throw new EventStoreError(
      `cannot open the sqlite event store ${file} read-only: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Creates the tables and the meta rows of a new store, or checks an existing one; returns its store id.
 * @throws EventStoreError when the file holds something else (checked before anything is written).
 */
function initialise(file: string, db: Database.Database): string | undefined {
  const found = inspectSchema(file, db);
  if (found.kind === "store" && found.storeId !== undefined) return found.storeId;
  const storeId = found.kind === "new" ? randomUUID() : undefined;
  db.transaction(() => {
    db.exec(SCHEMA);
    const insert = db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
    insert.run("format", STORE_FORMAT);
    insert.run("schemaVersion", String(SCHEMA_VERSION));
    if (storeId !== undefined) insert.run("storeId", storeId);
  }).immediate();
  // Another process may have created the store meanwhile: its id is the one stored.
  const stored = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'storeId'").get();
  return stored?.value;
}
