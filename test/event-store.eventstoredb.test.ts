import { randomUUID } from "node:crypto";
import { EventStoreDBClient, jsonEvent } from "@eventstore/db-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventStoreDbEventStore } from "../src/adapters/store/eventstoredb.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { CorruptEventError, EventStoreError, WrongExpectedRevisionError } from "../src/events/store.ts";
import { runEventStoreConformance } from "./event-store.conformance.ts";
import { type EsdbDouble, type EsdbDoubleOptions, startEsdbDouble } from "./support/esdb-grpc-double.ts";
import { FixtureEvents } from "./support/events.ts";

const doubles: EsdbDouble[] = [];
const stores: EventStoreDbEventStore[] = [];
const clients: EventStoreDBClient[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const client of clients.splice(0)) await client.dispose();
  for (const double of doubles.splice(0)) await double.stop();
});

async function startDouble(options: EsdbDoubleOptions = {}): Promise<EsdbDouble> {
  const double = await startEsdbDouble(options);
  doubles.push(double);
  return double;
}

async function connect(double: EsdbDouble): Promise<EventStoreDbEventStore> {
  const store = await EventStoreDbEventStore.connect(double.connectionString);
  stores.push(store);
  return store;
}

/** A plain client on the same node, to write what perpsource never writes (system and foreign events). */
function rawClient(double: EsdbDouble): EventStoreDBClient {
  const client = EventStoreDBClient.connectionString(double.connectionString);
  clients.push(client);
  return client;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

// Each store gets a fresh double (a fresh node: only its system events), so readAll sees only that test's
// events.
runEventStoreConformance("EventStoreDbEventStore (gRPC double)", async () =>
  EventStoreDbEventStore.connect((await startDouble()).connectionString),
);

const eventStoreUrl = process.env.EVENTSTORE_URL;
if (!eventStoreUrl) console.warn("[perpsource] EventStoreDB real-server run skipped: EVENTSTORE_URL not set");
describe.skipIf(!eventStoreUrl)("against the EventStoreDB at EVENTSTORE_URL", () => {
  runEventStoreConformance("EventStoreDbEventStore (real server)", () =>
    EventStoreDbEventStore.connect(eventStoreUrl!),
  );
});

describe("EventStoreDbEventStore specifics (gRPC double)", () => {
  it("appends over BatchAppend when offered and over Append otherwise, with the same results", async () => {
    const outcomes: unknown[] = [];
    for (const serverFeatures of [true, false]) {
      const double = await startDouble({ serverFeatures });
      const store = await connect(double);
      const f = new FixtureEvents("batching");
      const bars = f.symbolStream();
      const [b0, b1, b2] = [f.barClosed(0), f.barClosed(1), f.barClosed(2)];
      const first = await store.append(bars, [b0!, b1!], "noStream");
      const retried = await store.append(bars, [b0!, b1!], "noStream");
      const wrong = await store.append(bars, [b2!], 0).catch((error: unknown) => error);
      expect(wrong).toBeInstanceOf(WrongExpectedRevisionError);
      const second = await store.append(bars, [b2!], 1);
      const read = await collect(store.readStream(bars));
      const { stream, expected, actual } = wrong as WrongExpectedRevisionError;
      outcomes.push({ first, retried, wrong: { stream, expected, actual }, second, read });
      expect(double.appends).toEqual(
        serverFeatures ? { append: 0, batchAppend: 4 } : { append: 4, batchAppend: 0 },
      );
    }
    expect(outcomes[1]).toEqual(outcomes[0]);
    expect(outcomes[0]).toMatchObject({
      wrong: { expected: 0, actual: 1 },
      second: { nextExpectedRevision: 2 },
    });
  });

  it("hides system events (a $ stream or a $ type) from readAll and subscribe, stored and live", async () => {
    const double = await startDouble();
    const store = await connect(double);
    const raw = rawClient(double);
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bars = f.symbolStream();
    await raw.appendToStream(
      "$settings",
      jsonEvent({ type: "update-default-acl", data: { $userStreamAcl: {} } }),
    );
    await store.append(bars, [f.barClosed(0)], "noStream");
    await raw.appendToStream(
      `stats-${f.scope}`,
      jsonEvent({ type: "$statsCollected", data: { "proc-cpu": 1 } }),
    );

    const stored = await collect(store.readAll());
    expect(stored.map((e) => e.stream)).toEqual([bars]);

    const received: RecordedEvent[] = [];
    const subscription = store.subscribe().subscribe((event) => received.push(event));
    try {
      await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 10_000, interval: 5 });
      await raw.appendToStream(
        "$settings",
        jsonEvent({ type: "update-default-acl", data: { $userStreamAcl: {} } }),
      );
      await raw.appendToStream(
        `stats-${f.scope}`,
        jsonEvent({ type: "$statsCollected", data: { "proc-cpu": 2 } }),
      );
      await store.append(bars, [f.barClosed(1)], 0);
      await vi.waitFor(() => expect(received).toHaveLength(2), { timeout: 10_000, interval: 5 });
      expect(received).toEqual(await collect(store.readAll()));
    } finally {
      subscription.unsubscribe();
    }
  });

  it("fails reads and subscriptions with CorruptEventError on foreign events (type, metadata)", async () => {
    const double = await startDouble();
    const store = await connect(double);
    await rawClient(double).appendToStream(
      "inventory-1",
      jsonEvent({ type: "ItemAdded", data: { sku: "A-1" } }),
    );
    const unknownType =
      /corrupt event at position \d+ \(stream inventory-1, revision 0, type ItemAdded\): unknown event type/;
    await expect(collect(store.readAll())).rejects.toThrow(unknownType);
    const error = await new Promise<unknown>((resolve) => {
      store.subscribe().subscribe({ error: resolve, complete: () => resolve(undefined) });
    });
    expect(error).toBeInstanceOf(CorruptEventError);
    expect((error as Error).message).toMatch(unknownType);

    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const bar = f.barClosed(0);
    await rawClient(double).appendToStream("bars-1", jsonEvent({ type: "BarClosed", data: bar.data }));
    const corrupt = await collect(store.readStream("bars-1")).catch((e: unknown) => e);
    expect(corrupt).toBeInstanceOf(CorruptEventError);
    expect(corrupt).toMatchObject({ stream: "bars-1", revision: 0, eventType: "BarClosed" });
    expect((corrupt as CorruptEventError).problem).toMatch(/^metadata/);
  });

  it("ends the server subscription on unsubscribe and completes open subscriptions on close", async () => {
    const double = await startDouble();
    const store = await connect(double);
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    await store.append(f.symbolStream(), [f.barClosed(0)], "noStream");

    const received: RecordedEvent[] = [];
    const first = store.subscribe().subscribe((event) => received.push(event));
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 10_000, interval: 5 });
    expect(double.liveSubscriptions()).toBe(1);
    first.unsubscribe();
    await vi.waitFor(() => expect(double.liveSubscriptions()).toBe(0), { timeout: 10_000, interval: 5 });

    let completed = false;
    store.subscribe().subscribe({ complete: () => (completed = true) });
    await vi.waitFor(() => expect(double.liveSubscriptions()).toBe(1), { timeout: 10_000, interval: 5 });
    await store.close();
    expect(completed).toBe(true);
    await vi.waitFor(() => expect(double.liveSubscriptions()).toBe(0), { timeout: 10_000, interval: 5 });
    await expect(store.streamRevision(f.symbolStream())).rejects.toThrow(/closed/);
  });

  it("reports an append over the node's size limit as EventStoreError and writes nothing", async () => {
    const store = await connect(await startDouble());
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    const run = `run-${f.scope}`;
    const runStarted = f.event(
      "RunStarted",
      {
        runId: f.scope,
        mode: "backtest",
        strategy: "sma-cross",
        symbols: ["BTCUSDT"],
        from: 0,
        to: 1,
        config: { note: "x".repeat(1_100_000) },
        manifest: [],
      },
      0,
    );
    const error = await store.append(run, [runStarted], "noStream").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventStoreError);
    expect(error).not.toBeInstanceOf(WrongExpectedRevisionError);
    expect((error as Error).message).toContain(run);
    expect(await store.streamRevision(run)).toBeUndefined();
  });

  it("accepts the KurrentDB spelling of a connection string", async () => {
    const double = await startDouble();
    const store = await connect({
      ...double,
      connectionString: double.connectionString.replace("esdb:", "kurrentdb:"),
    });
    const f = new FixtureEvents(randomUUID().slice(0, 8));
    await store.append(f.symbolStream(), [f.barClosed(0)], "noStream");
    expect(await store.streamRevision(f.symbolStream())).toBe(0);
  });

  it("serves stream subscriptions like the server: after a revision, caught up, then live", async () => {
    const double = await startDouble();
    const raw = rawClient(double);
    const note = (n: number) => jsonEvent({ type: "NoteTaken", data: { n } });
    await raw.appendToStream("notes-1", [note(0), note(1), note(2)]);
    await raw.appendToStream("notes-2", note(0));
    const received: unknown[] = [];
    let caughtUp = false;
    const subscription = raw
      .subscribeToStream("notes-1", { fromRevision: 0n })
      .on("caughtUp", () => (caughtUp = true))
      .on("data", (resolved) => received.push(resolved.event?.data));
    try {
      await vi.waitFor(() => expect(caughtUp).toBe(true), { timeout: 10_000, interval: 5 });
      await raw.appendToStream("notes-2", note(1));
      await raw.appendToStream("notes-1", note(3));
      await vi.waitFor(() => expect(received).toHaveLength(3), { timeout: 10_000, interval: 5 });
      expect(received).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    } finally {
      await subscription.unsubscribe();
    }
  });

  it("rejects a malformed connection string and an unreachable node with EventStoreError", async () => {
    await expect(EventStoreDbEventStore.connect("http://admin:changeit@127.0.0.1:2113")).rejects.toThrow(
      'invalid EventStoreDB connection string "http://***@127.0.0.1:2113"',
    );
    const double = await startEsdbDouble();
    await double.stop();
    const error = await EventStoreDbEventStore.connect(double.connectionString).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventStoreError);
    expect((error as Error).message).toContain(`cannot reach EventStoreDB at ${double.connectionString}`);
  });
});
