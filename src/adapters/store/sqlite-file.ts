/**
 * Recognising a perpsource SQLite store before opening it, without ever writing to the file: the 16-byte
 * SQLite header, then (through a read-only connection) the `events` table's columns and the `meta` table.
 *
 *   meta(key TEXT PRIMARY KEY, value TEXT) STRICT: format = "perpsource-event-store", schemaVersion = "1",
 *   storeId = a UUID created once, when the store is created.
 *
 * Stores written before the `meta` table existed (an `events` table with perpsource's columns and no `meta`)
 * are still recognised, with no store id.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { EventStoreError } from "../../events/store.ts";

/** The `meta.format` value of a perpsource store. */
export const STORE_FORMAT = "perpsource-event-store";
/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = 1;

/** The columns of perpsource's `events` table, in order. */
const EVENT_COLUMNS = ["position", "stream", "revision", "event_id", "type", "data", "metadata"];
const SQLITE_HEADER = "SQLite format 3\u0000";

/** What a file holds, as far as the store is concerned. */
export type StoreFileKind =
  /** No file, or an empty (0-byte) one, or a SQLite database without any table: a new store may go there. */
  | { kind: "new" }
  /** A perpsource store; `storeId` is undefined for stores created before the `meta` table. */
  | { kind: "store"; storeId: string | undefined };

/**
 * Inspects `file` read-only (its bytes are never changed).
 * @throws EventStoreError naming the file when it is not a SQLite database, is a SQLite database with tables
 *   but without perpsource's `events` table, has a `meta` table of another format or a newer schema version,
 *   or cannot be read (e.g. a WAL-mode file whose `-shm` is missing in a read-only directory).
 */
export function inspectStoreFile(file: string): StoreFileKind {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "new" };
    throw new EventStoreError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (size === 0) return { kind: "new" };
  if (readHeader(file) !== SQLITE_HEADER) {
    throw new EventStoreError(`${file} is not a perpsource event store: it is not a SQLite database`);
  }
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw cannotRead(file, error);
  }
  try {
    return inspectSchema(file, db);
  } catch (error) {
    if (error instanceof EventStoreError) throw error;
    throw cannotRead(file, error);
  } finally {
    db.close();
  }
}

/** The schema check of `inspectStoreFile` on an open connection. @throws EventStoreError */
export function inspectSchema(file: string, db: Database.Database): StoreFileKind {
  const tables = db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
    .all()
    .map((t) => t.name);
  if (tables.length === 0) return { kind: "new" };
  if (!tables.includes("events")) {
    throw new EventStoreError(
      `${file} is not a perpsource event store: it is a SQLite database without an events table ` +
        `(tables: ${tables.join(", ")})`,
    );
  }
  const columns = db
    .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('events')")
    .all()
    .map((c) => c.name);
  if (columns.join(",") !== EVENT_COLUMNS.join(",")) {
    throw new EventStoreError(
      `${file} is not a perpsource event store: its events table has columns (${columns.join(", ")}), ` +
        `expected (${EVENT_COLUMNS.join(", ")})`,
    );
  }
  if (!tables.includes("meta")) return { kind: "store", storeId: undefined };
  const meta = new Map(
    db
      .prepare<[], { key: string; value: string }>("SELECT key, value FROM meta")
      .all()
      .map((row) => [row.key, row.value]),
  );
  if (meta.get("format") !== STORE_FORMAT) {
    throw new EventStoreError(
      `${file} is not a perpsource event store: meta.format is ${JSON.stringify(meta.get("format"))}, ` +
        `expected ${JSON.stringify(STORE_FORMAT)}`,
    );
  }
  const version = Number(meta.get("schemaVersion"));
  if (version !== SCHEMA_VERSION) {
    throw new EventStoreError(
      `${file} has store schema version ${meta.get("schemaVersion")}; this perpsource reads version ${SCHEMA_VERSION}`,
    );
  }
  return { kind: "store", storeId: meta.get("storeId") };
}

/** The device and inode of an open file descriptor or of a path (undefined when the path is absent). */
export function fileIdentity(target: number | string): string | undefined {
  try {
    const stat = typeof target === "number" ? fstatSync(target) : statSync(target);
    return `${stat.dev}:${stat.ino}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function readHeader(file: string): string {
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(16);
    const n = readSync(fd, buffer, 0, 16, 0);
    return buffer.subarray(0, n).toString("latin1");
  } finally {
    closeSync(fd);
  }
}

function cannotRead(file: string, error: unknown): EventStoreError {
  const code = (error as { code?: string }).code;
  const hint =
    code === "SQLITE_READONLY_DIRECTORY" || code === "SQLITE_CANTOPEN"
      ? " (a WAL-mode store needs its -shm file, or a writable directory to create it, to be read: open it " +
        "once with a writing command, which leaves it in rollback-journal mode when it closes)"
      : "";
  return new EventStoreError(`cannot read the event store ${file}: ${(error as Error).message}${hint}`, {
    cause: error,
  });
}
