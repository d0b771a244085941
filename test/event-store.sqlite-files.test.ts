/**
 * The SQLite store's file handling: read-only readers (a read-only file in a read-only directory, appends
 * rejected, bytes unchanged), foreign files refused untouched, stores older than the meta table, corrupt rows,
 * and a store replaced under a following reader.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openEventStore } from "../src/adapters/store/open-store.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { CorruptEventError, EventStoreError, StoreReplacedError } from "../src/events/store.ts";
import { FixtureEvents } from "./support/events.ts";

const dir = mkdtempSync(join(tmpdir(), "perpsource-sqlite-files-"));
chmodSync(dir, 0o755); // the read-only directory test reads below it as another user
afterAll(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});
let files = 0;
const newFile = () => join(dir, `events-${++files}.db`);

const opened: SqliteEventStore[] = [];
const track = (store: SqliteEventStore) => {
  opened.push(store);
  return store;
};
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function collect(items: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** A closed store in `file` holding `count` bars of a fresh fixture; returns the fixture and the events. */
async function writeStore(file: string, count: number) {
  const f = new FixtureEvents(randomUUID().slice(0, 8));
  const store = SqliteEventStore.open(file);
  const events = Array.from({ length: count }, (_, i) => f.barClosed(i));
  await store.append(f.symbolStream(), events, "noStream");
  const storeId = store.storeId;
  await store.close();
  return { f, events, storeId };
}

describe("SqliteEventStore read-only", () => {
  it("reads a store without writing to it; appends reject; the file's bytes do not change", async () => {
    const file = newFile();
    const { f, events, storeId } = await writeStore(file, 3);
    expect(storeId).toMatch(/^[0-9a-f-]{36}$/);
    const before = sha256(file);
    const store = track(SqliteEventStore.open(file, { readOnly: true }));
    expect(store.storeId).toBe(storeId);
    expect((await collect(store.readAll())).map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
    const error = await store.append(f.symbolStream(), [f.barClosed(3)], 2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventStoreError);
    expect((error as Error).message).toMatch(/open read-only/);
    await store.flush();
    await store.close();
    expect(sha256(file)).toBe(before);
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it("opens read-only through openEventStore and refuses memory: read-only", async () => {
    const file = newFile();
    await writeStore(file, 1);
    const store = await openEventStore(`sqlite:${file}`, { readOnly: true });
    try {
      expect(await collect(store.readAll())).toHaveLength(1);
    } finally {
      await store.close();
    }
    await expect(openEventStore("memory:", { readOnly: true })).rejects.toThrow(/read-only/);
    await expect(openEventStore(`sqlite:${join(dir, "absent.db")}`, { readOnly: true })).rejects.toThrow(
      /absent\.db is not a perpsource event store: the file is absent or empty/,
    );
    expect(existsSync(join(dir, "absent.db"))).toBe(false);
  });

  it("serves a read-only file in a read-only directory (as an unprivileged user)", async () => {
    const roDir = join(dir, `ro-${randomUUID().slice(0, 8)}`);
    mkdirSync(roDir);
    const file = join(roDir, "events.db");
    const { events, storeId } = await writeStore(file, 4);
    chmodSync(file, 0o444);
    chmodSync(roDir, 0o555);
    try {
      // root ignores file modes: read as `nobody` then (uid/gid 65534).
      const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      const child = spawnSync(
        process.execPath,
        ["--import", "tsx", join(import.meta.dirname, "support", "sqlite-child.ts"), "read", file],
        { encoding: "utf8", ...asUser, env: { ...process.env, TSX_DISABLE_CACHE: "1" } },
      );
      expect(child.stderr).toBe("");
      expect(JSON.parse(child.stdout)).toEqual({ events: events.length, storeId });
    } finally {
      chmodSync(roDir, 0o755);
    }
  }, 30_000);
});

describe("SqliteEventStore refuses files that are not perpsource stores, untouched", () => {
  const foreign: [string, (file: string) => void, RegExp][] = [
    [
      "a CSV file",
      (file) => writeFileSync(file, "open_time,open,high,low,close,volume\n".repeat(100)),
      /is not a perpsource event store: it is not a SQLite database/,
    ],
    [
      "a SQLite database of something else",
      (file) => {
        const db = new Database(file);
        db.exec(
          "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'a')",
        );
        db.close();
      },
      /is not a perpsource event store: it is a SQLite database without an events table \(tables: customers\)/,
    ],
    [
      "a SQLite database with another events table",
      (file) => {
        const db = new Database(file);
        db.exec("CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT)");
        db.close();
      },
      /its events table has columns \(id, payload\)/,
    ],
  ];
  for (const [name, make, message] of foreign) {
    it(`refuses ${name}, read-only or not`, async () => {
      const file = newFile();
      make(file);
      const before = sha256(file);
      for (const readOnly of [true, false]) {
        expect(() => SqliteEventStore.open(file, { readOnly })).toThrow(EventStoreError);
        expect(() => SqliteEventStore.open(file, { readOnly })).toThrow(message);
      }
      await expect(openEventStore(`sqlite:${file}`, { readOnly: true })).rejects.toThrow(message);
      expect(sha256(file)).toBe(before);
      expect(existsSync(`${file}-wal`)).toBe(false);
    });
  }

  it("reads a store created before the meta table (no store id) and adds meta when opened to write", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bar = f.barClosed(0);
    const db = new Database(file);
    db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, revision INTEGER NOT NULL,
      event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
      UNIQUE (stream, revision)) STRICT`);
    db.prepare(
      "INSERT INTO events (stream, revision, event_id, type, data, metadata) VALUES (?, 0, ?, ?, ?, ?)",
    ).run(f.symbolStream(), bar.eventId, bar.type, JSON.stringify(bar.data), JSON.stringify(bar.metadata));
    db.close();
    const reader = track(SqliteEventStore.open(file, { readOnly: true }));
    expect(reader.storeId).toBeUndefined();
    expect((await collect(reader.readAll())).map((e) => e.eventId)).toEqual([bar.eventId]);
    const writer = track(SqliteEventStore.open(file));
    await writer.append(f.symbolStream(), [f.barClosed(1)], 0);
    expect(await collect(writer.readAll())).toHaveLength(2);
  });

  it("refuses a store of a newer schema version", async () => {
    const file = newFile();
    await writeStore(file, 1);
    const db = new Database(file);
    db.prepare("UPDATE meta SET value = '2' WHERE key = 'schemaVersion'").run();
    db.close();
    expect(() => SqliteEventStore.open(file, { readOnly: true })).toThrow(
      /schema version 2; this perpsource reads version 1/,
    );
  });
});

describe("SqliteEventStore corrupt rows", () => {
  /** A store of 3 bars whose second row's `column` is set to `value` behind the store's back. */
  async function tampered(column: "data" | "metadata" | "type", value: string) {
    const file = newFile();
    const { f, events } = await writeStore(file, 3);
    const db = new Database(file);
    db.prepare(`UPDATE events SET ${column} = ? WHERE revision = 1`).run(value);
    const position = db
      .prepare<[], { position: number }>("SELECT position FROM events WHERE revision = 1")
      .get()!;
    db.close();
    return { file, f, events, position: position.position };
  }

  it("names the position, stream, revision, type and problem of a row whose JSON does not parse", async () => {
    const { file, f, position } = await tampered("data", '{"symbol":"BTCUSDT","interval":"1m","open":"9');
    const store = track(SqliteEventStore.open(file, { readOnly: true }));
    const error = await collect(store.readAll()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptEventError);
    expect(error).toMatchObject({ position, stream: f.symbolStream(), revision: 1, eventType: "BarClosed" });
    expect((error as CorruptEventError).problem).toMatch(/^data is not JSON: /);
    expect((error as Error).message).toContain(`corrupt event at position ${position}`);
    // readStream and subscribe fail the same way; the first event is still delivered before the error.
    await expect(collect(store.readStream(f.symbolStream()))).rejects.toBeInstanceOf(CorruptEventError);
    const received: RecordedEvent[] = [];
    const failure = await new Promise<unknown>((resolve) =>
      store
        .subscribe()
        .subscribe({ next: (e) => received.push(e), error: resolve, complete: () => resolve(undefined) }),
    );
    expect(failure).toBeInstanceOf(CorruptEventError);
    expect(received.map((e) => e.revision)).toEqual([0]);
  });

  it("names the field of data failing the catalog schema, of bad metadata and of an unknown type", async () => {
    const cases: [Parameters<typeof tampered>, RegExp][] = [
      [["data", JSON.stringify({ symbol: "BTCUSDT", interval: "1m", close: "abc" })], /^data\.\w+: /],
      [
        ["metadata", JSON.stringify({ correlationId: "x" })],
        /^metadata\.causationId: expected a non-empty string/,
      ],
      [["type", "BarOpened"], /^unknown event type$/],
    ];
    for (const [args, problem] of cases) {
      const { file, position } = await tampered(...args);
      const store = track(SqliteEventStore.open(file, { readOnly: true }));
      const error = await collect(store.readAll()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptEventError);
      expect((error as CorruptEventError).position).toBe(position);
      expect((error as CorruptEventError).problem).toMatch(problem);
    }
  });
});

describe("SqliteEventStore replaced under a reader", () => {
  it("reopens the new file and errors subscriptions with StoreReplacedError; the reader then reads the new log only", async () => {
    const file = newFile();
    const first = await writeStore(file, 3);
    const reader = track(SqliteEventStore.open(file, { readOnly: true, pollIntervalMs: 10 }));
    const received: RecordedEvent[] = [];
    let failure: unknown;
    const subscription = reader
      .subscribe()
      .subscribe({ next: (e) => received.push(e), error: (e) => (failure = e) });
    try {
      await expect.poll(() => received.length).toBe(3);
      // What `backtest --overwrite` does: delete the file (and its -wal, -shm), write a new store there.
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
      const second = await writeStore(file, 5);
      await expect.poll(() => failure, { timeout: 5000 }).toBeInstanceOf(StoreReplacedError);
      expect((failure as Error).message).toContain(`${first.storeId} → ${second.storeId}`);
      expect(reader.storeId).toBe(second.storeId);
      const now = await collect(reader.readAll());
      expect(now.map((e) => e.eventId)).toEqual(second.events.map((e) => e.eventId));
    } finally {
      subscription.unsubscribe();
    }
  });
});
