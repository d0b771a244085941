/**
 * SQLite group commit: units of work committed every N events or M ms of market time, savepoints per append,
 * flush(), what other connections and subscriptions see, and what a crash loses.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type GroupCommitOptions, SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import type { NewEvent, RecordedEvent } from "../src/events/envelope.ts";
import { EventIdConflictError, EventStoreError, WrongExpectedRevisionError } from "../src/events/store.ts";
import { runEventStoreConformance } from "./event-store.conformance.ts";
import { FixtureEvents } from "./support/events.ts";

const dir = mkdtempSync(join(tmpdir(), "perpsource-group-commit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(dir, `events-${++files}.db`);

// Every append inside a unit of work (BEGIN IMMEDIATE, SAVEPOINT per append, COMMIT at once): the port's
// contract must hold unchanged.
runEventStoreConformance("SqliteEventStore (group commit, one event per unit)", async () =>
  SqliteEventStore.open(newFile(), { groupCommit: { maxEvents: 1, maxMarketMs: 0 } }),
);

const opened: SqliteEventStore[] = [];
const open = (file: string, groupCommit?: GroupCommitOptions) => {
  const store = SqliteEventStore.open(file, groupCommit ? { groupCommit } : {});
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

/** Event ids committed in `file`, read through a separate connection (what other processes see). */
function committedIds(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare<[], { event_id: string }>("SELECT event_id FROM events ORDER BY position")
      .all()
      .map((r) => r.event_id);
  } finally {
    db.close();
  }
}

const NEVER = Number.MAX_SAFE_INTEGER;

describe("SqliteEventStore group commit", () => {
  it("makes appends visible to other connections only once flushed, and durable after flush", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    const store = open(file, { maxEvents: 100, maxMarketMs: NEVER });
    const events = [0, 1, 2, 3, 4].map((i) => f.barClosed(i));
    for (const [i, event] of events.entries())
      await store.append(bars, [event], i === 0 ? "noStream" : i - 1);
    expect(committedIds(file)).toEqual([]);
    // The writer reads its own unit of work.
    expect((await collect(store.readStream(bars))).map((e) => e.eventId)).toEqual(
      events.map((e) => e.eventId),
    );
    expect(await store.streamRevision(bars)).toBe(4);
    await store.flush();
    expect(committedIds(file)).toEqual(events.map((e) => e.eventId));
    await store.flush(); // nothing open: a no-op
    const next = f.barClosed(5);
    await store.append(bars, [next], 4);
    await store.close(); // close flushes
    expect(committedIds(file)).toEqual([...events, next].map((e) => e.eventId));
  });

  it("commits after maxEvents events and after maxMarketMs of market time", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    const eth = f.symbolStream("ETHUSDT");
    const store = open(file, { maxEvents: 3, maxMarketMs: 180_000 });
    await store.append(bars, [f.barClosed(0)], "noStream");
    await store.append(bars, [f.barClosed(1)], 0);
    expect(committedIds(file)).toHaveLength(0);
    await store.append(bars, [f.barClosed(2)], 1); // 3 events
    expect(committedIds(file)).toHaveLength(3);
    await store.append(eth, [f.barClosed(3, "ETHUSDT")], "noStream");
    await store.append(eth, [f.barClosed(5, "ETHUSDT")], 0); // 2 min of market time
    expect(committedIds(file)).toHaveLength(3);
    await store.append(eth, [f.barClosed(6, "ETHUSDT")], 1); // 3 min after the unit's first event
    expect(committedIds(file)).toHaveLength(6);
  });

  it("rolls back only the failed append inside a unit of work", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    const eth = f.symbolStream("ETHUSDT");
    const store = open(file, { maxEvents: 1000, maxMarketMs: NEVER });
    const [a, b, c] = [f.barClosed(0), f.barClosed(1), f.barClosed(2)];
    await store.append(bars, [a], "noStream");
    await expect(store.append(bars, [b], 5)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    const changed = { ...a, data: { ...(a.data as object), close: "1.00" } } as NewEvent;
    await expect(store.append(bars, [changed], "noStream")).rejects.toBeInstanceOf(EventIdConflictError);
    // The batch's first event is inserted, its second hits the UNIQUE event id: the savepoint undoes both.
    const ethBar = f.barClosed(0, "ETHUSDT");
    await expect(store.append(eth, [ethBar, a], "noStream")).rejects.toBeInstanceOf(EventStoreError);
    expect(await store.streamRevision(eth)).toBeUndefined();
    await store.append(bars, [b, c], 0);
    await store.flush();
    expect(committedIds(file)).toEqual([a, b, c].map((e) => e.eventId));
    expect((await collect(store.readAll())).map((e) => e.revision)).toEqual([0, 1, 2]);
  });

  it("delivers events to subscriptions only once committed", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    const store = open(file, { maxEvents: 1000, maxMarketMs: NEVER });
    await store.append(bars, [f.barClosed(0)], "noStream");
    await store.flush();
    const received: RecordedEvent[] = [];
    const subscription = store.subscribe().subscribe((e) => received.push(e));
    try {
      await expect.poll(() => received.length).toBe(1);
      await store.append(bars, [f.barClosed(1), f.barClosed(2)], 0);
      await new Promise((resolve) => setTimeout(resolve, 300)); // more than one poll interval
      expect(received).toHaveLength(1);
      await store.flush();
      await expect.poll(() => received.length).toBe(3);
      expect(received.map((e) => e.revision)).toEqual([0, 1, 2]);
    } finally {
      subscription.unsubscribe();
    }
  });

  it("commits at points that depend only on the appended events (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(
          fc.record({ size: fc.integer({ min: 1, max: 3 }), minutes: fc.integer({ min: 0, max: 3 }) }),
          {
            minLength: 1,
            maxLength: 15,
          },
        ),
        async (maxEvents, maxMinutes, appends) => {
          const f = new FixtureEvents(randomUUID().slice(0, 8));
          const bars = f.symbolStream();
          const groupCommit = { maxEvents, maxMarketMs: maxMinutes * 60_000 };
          // The rule, independently: a unit commits when its events reach maxEvents or its last event's
          // market time is maxMarketMs past its first.
          const expected: number[] = [];
          let committed = 0;
          let unit = 0;
          let unitStart: number | undefined;
          let minute = 0;
          const batches = appends.map(({ size, minutes }) => {
            minute += minutes;
            const batch = Array.from({ length: size }, (_, i) => f.barClosed(minute + i));
            minute += size - 1;
            return batch;
          });
          for (const batch of batches) {
            unitStart ??= batch[0]!.metadata.eventTime;
            unit += batch.length;
            const last = batch.at(-1)!.metadata.eventTime;
            if (unit >= maxEvents || last - unitStart >= groupCommit.maxMarketMs) {
              committed += unit;
              unit = 0;
              unitStart = undefined;
            }
            expected.push(committed);
          }
          for (let run = 0; run < 2; run++) {
            const file = newFile();
            const store = SqliteEventStore.open(file, { groupCommit });
            try {
              let revision = -1;
              const seen: number[] = [];
              for (const batch of batches) {
                await store.append(bars, batch, revision < 0 ? "noStream" : revision);
                revision += batch.length;
                seen.push(committedIds(file).length);
              }
              expect(seen).toEqual(expected);
            } finally {
              await store.close();
            }
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("loses only the uncommitted tail when the writer is killed (SIGKILL)", async () => {
    const file = newFile();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "support", "sqlite-child.ts"), "write", file, "25", "10"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => child.on("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("appended 25") && resolve());
      child.on("exit", (code) => reject(new Error(`the writer exited early with ${code}`)));
    });
    child.kill("SIGKILL");
    await exited;
    const store = open(file);
    const events = await collect(store.readAll());
    // Two units of 10 committed; the last 5 events were never committed.
    expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const f = new FixtureEvents("crash");
    expect(events.map((e) => e.eventId)).toEqual(
      Array.from({ length: 20 }, (_, i) => f.barClosed(i).eventId),
    );
    // The store goes on from the last committed event.
    await store.append(f.symbolStream(), [f.barClosed(20)], 19);
  }, 30_000);

  it("rejects invalid group commit bounds", () => {
    expect(() => SqliteEventStore.open(newFile(), { groupCommit: { maxEvents: 0, maxMarketMs: 0 } })).toThrow(
      /groupCommit.*maxEvents must be an integer ≥ 1/,
    );
  });
});
