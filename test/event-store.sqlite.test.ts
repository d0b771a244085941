import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { describeStoreUrl, openEventStore } from "../src/adapters/store/open-store.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { EventStoreError, WrongExpectedRevisionError } from "../src/events/store.ts";
import { runEventStoreConformance } from "./event-store.conformance.ts";
import { FixtureEvents } from "./support/events.ts";

const dir = mkdtempSync(join(tmpdir(), "perpsource-sqlite-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(dir, `events-${++files}.db`);

runEventStoreConformance("SqliteEventStore", async () => SqliteEventStore.open(newFile()));

describe("SqliteEventStore specifics", () => {
  const opened: SqliteEventStore[] = [];
  const open = (file: string, pollIntervalMs?: number) => {
    const store = SqliteEventStore.open(file, pollIntervalMs === undefined ? {} : { pollIntervalMs });
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });
  const collect = async (items: AsyncIterable<RecordedEvent>) => {
    const out: RecordedEvent[] = [];
    for await (const item of items) out.push(item);
    return out;
  };

  it("keeps every event across close and reopen, and continues the revisions", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    const first = open(file);
    const events = [f.barClosed(0), f.barClosed(1), f.barClosed(2)];
    await first.append(bars, events.slice(0, 2), "noStream");
    await first.append(bars, events.slice(2), 1);
    const before = await collect(first.readAll());
    await first.close();
    await expect(first.append(bars, [f.barClosed(3)], 2)).rejects.toBeInstanceOf(EventStoreError);

    const reopened = open(file);
    expect(await collect(reopened.readAll())).toEqual(before);
    expect(await reopened.streamRevision(bars)).toBe(2);
    await expect(reopened.append(bars, events.slice(2), 1)).resolves.toEqual({
      nextExpectedRevision: 2,
      position: before[2]!.position,
    });
    const next = await reopened.append(bars, [f.barClosed(3)], 2);
    expect(next.nextExpectedRevision).toBe(3);
    expect(next.position).toBeGreaterThan(before[2]!.position);
  });

  it("uses the WAL journal", async () => {
    const file = newFile();
    open(file);
    const probe = new Database(file, { readonly: true });
    try {
      expect(probe.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      probe.close();
    }
  });

  it("follows appends made through another connection to the same file by polling", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    const writer = open(file);
    const reader = open(file, 10);
    await writer.append(bars, [f.barClosed(0)], "noStream");
    const received: RecordedEvent[] = [];
    const subscription = reader.subscribe().subscribe((e) => received.push(e));
    try {
      await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 10_000, interval: 5 });
      const live = [f.barClosed(1), f.barClosed(2)];
      await writer.append(bars, live, 0);
      await vi.waitFor(() => expect(received).toHaveLength(3), { timeout: 10_000, interval: 5 });
      expect(received).toEqual(await collect(writer.readAll()));
    } finally {
      subscription.unsubscribe();
    }
  });

  it("lets exactly one of two writers racing on one stream win", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    const a = open(file);
    const b = open(file);
    await a.append(bars, [f.barClosed(0)], "noStream");
    await b.append(bars, [], 0); // b has seen revision 0 too
    for (let round = 0; round < 20; round++) {
      const [x, y] = round % 2 === 0 ? [a, b] : [b, a];
      const outcomes = await Promise.allSettled([
        x.append(bars, [f.barClosed(2 * round + 1)], round),
        y.append(bars, [f.barClosed(2 * round + 2)], round),
      ]);
      const rejected = outcomes.filter((o) => o.status === "rejected");
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      expect(rejected).toHaveLength(1);
      const error = (rejected[0] as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(WrongExpectedRevisionError);
      expect((error as WrongExpectedRevisionError).actual).toBe(round + 1);
    }
    expect(await a.streamRevision(bars)).toBe(20);
    expect((await collect(b.readStream(bars))).map((e) => e.revision)).toEqual(
      Array.from({ length: 21 }, (_, i) => i),
    );
  });

  it("appends with any after another connection moved the stream on (stale cache)", async () => {
    const file = newFile();
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    const a = open(file);
    const b = open(file);
    await a.append(bars, [f.barClosed(0)], "noStream");
    await b.append(bars, [f.barClosed(1)], 0);
    const retried = f.barClosed(2);
    expect(await a.append(bars, [retried], "any")).toMatchObject({ nextExpectedRevision: 2 });
    expect(await b.append(bars, [retried], 1)).toMatchObject({ nextExpectedRevision: 2 });
    expect(await a.append(bars, [f.barClosed(3)], 2)).toMatchObject({ nextExpectedRevision: 3 });
    expect((await collect(b.readStream(bars))).map((e) => e.revision)).toEqual([0, 1, 2, 3]);
  });

  it("rejects an event id stored in another stream", async () => {
    const store = open(newFile());
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bar = f.barClosed(0);
    await store.append(f.symbolStream(), [bar], "noStream");
    const error = await store.append(f.symbolStream("ETHUSDT"), [bar], "noStream").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventStoreError);
    expect((error as Error).message).toContain(bar.eventId);
    expect(await store.streamRevision(f.symbolStream("ETHUSDT"))).toBeUndefined();
  });

  it("refuses a file that is not a SQLite database", () => {
    const file = newFile();
    writeFileSync(file, "open_time,open,high,low,close,volume\n".repeat(100));
    expect(() => SqliteEventStore.open(file)).toThrow(EventStoreError);
  });
});

describe("openEventStore", () => {
  it("opens memory: and sqlite:PATH, creating the file's folders", async () => {
    const memory = await openEventStore("memory:");
    expect(memory).toBeInstanceOf(InMemoryEventStore);
    await memory.close();
    const file = join(dir, "nested", "deeper", "events.db");
    const sqlite = await openEventStore(`sqlite:${file}`);
    try {
      expect(sqlite).toBeInstanceOf(SqliteEventStore);
      const f = new FixtureEvents("open-store");
      await sqlite.append(f.symbolStream(), [f.barClosed(0)], "noStream");
    } finally {
      await sqlite.close();
    }
    const reopened = SqliteEventStore.open(file);
    expect(await reopened.streamRevision(new FixtureEvents("open-store").symbolStream())).toBe(0);
    await reopened.close();
  });

  it("reads the group commit from a sqlite: URL, over the opener's default", async () => {
    const committed = (file: string) => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM events").get()!.n;
      } finally {
        db.close();
      }
    };
    const appendBars = async (url: string, count: number, options = {}) => {
      const store = await openEventStore(url, options);
      const f = new FixtureEvents(randomUUID().slice(0, 8));
      for (let i = 0; i < count; i++)
        await store.append(f.symbolStream(), [f.barClosed(i)], i - 1 < 0 ? "noStream" : i - 1);
      return store;
    };
    const grouped = join(dir, "grouped.db");
    const a = await appendBars(`sqlite:${grouped}?groupCommit=3,86400000`, 4);
    expect(committed(grouped)).toBe(3);
    await a.close();
    expect(committed(grouped)).toBe(4);
    const off = join(dir, "off.db");
    const b = await appendBars(`sqlite:${off}?groupCommit=off`, 2, {
      groupCommit: { maxEvents: 100, maxMarketMs: 1e9 },
    });
    expect(committed(off)).toBe(2);
    await b.close();
    const byDefault = join(dir, "default.db");
    const c = await appendBars(`sqlite:${byDefault}`, 2, {
      groupCommit: { maxEvents: 100, maxMarketMs: 1e9 },
    });
    expect(committed(byDefault)).toBe(0);
    await c.close();
    for (const bad of ["0,10", "x", "10", "1,-5"]) {
      await expect(openEventStore(`sqlite:${join(dir, "bad.db")}?groupCommit=${bad}`)).rejects.toThrow(
        `groupCommit=${bad} is invalid; expected off, on, or EVENTS,MARKET_MS`,
      );
    }
    await expect(openEventStore(`sqlite:${join(dir, "bad.db")}?journal=wal`)).rejects.toThrow(
      /unknown parameter "journal"/,
    );
    expect(existsSync(join(dir, "bad.db"))).toBe(false);
  });

  it("rejects other URLs, naming the URL without its password and the accepted forms", async () => {
    const error = await openEventStore("postgres://trader:s3cret@db:5432/events").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain("postgres://***@db:5432/events");
    expect(message).not.toContain("s3cret");
    for (const form of ["memory:", "sqlite:PATH", "esdb://", "kurrentdb://"]) expect(message).toContain(form);
    await expect(openEventStore("sqlite:")).rejects.toThrow(/sqlite:PATH/);
  });

  it("hides credentials when describing a URL", () => {
    expect(describeStoreUrl("esdb://admin:changeit@localhost:2113?tls=false")).toBe(
      "esdb://***@localhost:2113?tls=false",
    );
    expect(describeStoreUrl("kurrentdb+discover://ops:pw@a:2113,b:2113")).toBe(
      "kurrentdb+discover://***@a:2113,b:2113",
    );
    expect(describeStoreUrl("sqlite:data/events.db")).toBe("sqlite:data/events.db");
  });
});
