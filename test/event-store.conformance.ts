/**
 * The conformance suite of the EventStore port (src/events/store.ts). Every adapter runs it from its own test
 * file. Tests only touch streams named after a per-test scope and only assert on those streams' events, so
 * the suite also runs against a shared EventStoreDB; positions are compared by order, never by value.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventSchemaError, validateEvent } from "../src/events/catalog.ts";
import type { NewEvent, RecordedEvent } from "../src/events/envelope.ts";
import { deterministicEventId } from "../src/events/ids.ts";
import {
  type AppendResult,
  EventIdConflictError,
  type EventStore,
  EventStoreError,
  type ExpectedRevision,
  WrongExpectedRevisionError,
} from "../src/events/store.ts";
import { FIXTURE_START, FixtureEvents } from "./support/events.ts";

/** Options of the suite. */
export interface ConformanceOptions {
  /** Called with each still-open store after its test, before the suite closes it. */
  cleanup?: (store: EventStore) => Promise<void>;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const idsOf = (events: readonly { eventId: string }[]) => events.map((e) => e.eventId);

/** Where an append put its events (its result without the events it reports). */
const placed = (r: AppendResult) => ({ nextExpectedRevision: r.nextExpectedRevision, position: r.position });

/** Expects `promise` to reject with a WrongExpectedRevisionError carrying exactly these fields. */
async function expectWrongRevision(
  promise: Promise<unknown>,
  stream: string,
  expected: ExpectedRevision,
  actual: number | undefined,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WrongExpectedRevisionError);
  expect(error).toBeInstanceOf(EventStoreError);
  const wrong = error as WrongExpectedRevisionError;
  expect({ stream: wrong.stream, expected: wrong.expected, actual: wrong.actual }).toEqual({
    stream,
    expected,
    actual,
  });
}

/** Expects `promise` to reject with an EventIdConflictError carrying exactly these fields. */
async function expectIdConflict(
  promise: Promise<unknown>,
  stream: string,
  eventId: string,
  revision: number,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EventIdConflictError);
  expect(error).toBeInstanceOf(EventStoreError);
  const conflict = error as EventIdConflictError;
  expect({ stream: conflict.stream, eventId: conflict.eventId, revision: conflict.revision }).toEqual({
    stream,
    eventId,
    revision,
  });
  expect(conflict.message).toContain(eventId);
  expect(conflict.message).toMatch(/stored and the new event differ/);
}

/** `event` with the same id and a different content: its data's `field` set to `value`. */
function withData(event: NewEvent, field: string, value: unknown): NewEvent {
  return { ...event, data: { ...(event.data as Record<string, unknown>), [field]: value } } as NewEvent;
}

/** Expects `promise` to reject with an EventSchemaError naming `eventType` and `field`. */
async function expectSchemaError(promise: Promise<unknown>, eventType: string, field: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EventSchemaError);
  const schemaError = error as EventSchemaError;
  expect({ eventType: schemaError.eventType, field: schemaError.field }).toEqual({ eventType, field });
  expect(schemaError.message).toContain(eventType);
  expect(schemaError.message).toContain(field);
}

/** Subscribes and records this fixture's events as they arrive. */
function record(store: EventStore, f: FixtureEvents, after?: number) {
  const received: RecordedEvent[] = [];
  const subscription = store
    .subscribe(after === undefined ? {} : { after })
    .subscribe((event) => f.owns(event.stream) && received.push(event));
  const waitForCount = (count: number) =>
    vi.waitFor(() => expect(received.length).toBeGreaterThanOrEqual(count), { timeout: 15_000, interval: 5 });
  return { received, subscription, waitForCount };
}

/**
 * Declares `describe(name)` with the port's contract. `open` must return a store that is fresh or at least
 * holds no stream of this suite's scopes.
 */
export function runEventStoreConformance(
  name: string,
  open: () => Promise<EventStore>,
  options: ConformanceOptions = {},
): void {
  describe(name, () => {
    const opened: EventStore[] = [];
    const fresh = async (): Promise<EventStore> => {
      const store = await open();
      opened.push(store);
      return store;
    };
    const release = async (store: EventStore): Promise<void> => {
      await options.cleanup?.(store);
      await store.close();
    };
    afterEach(async () => {
      for (const store of opened.splice(0)) await release(store);
    });
    const fixture = () => new FixtureEvents(randomUUID().slice(0, 8));

    it("reads events back in append order, per stream and globally, with every envelope field", async () => {
      const store = await fresh();
      const f = fixture();
      const bars = f.symbolStream();
      const order = f.orderStream("ps-BTCUSDT-000001-E");
      const [b0, b1, b2] = [f.barClosed(0), f.barClosed(1), f.barClosed(2)];
      const entry = f.entrySubmitted("ps-BTCUSDT-000001-E", b1.metadata.eventTime, b1.eventId);

      const r1 = await store.append(bars, [b0!, b1!], "noStream");
      const r2 = await store.append(order, [entry], "noStream");
      const r3 = await store.append(bars, [b2!], 1);
      expect(r1.nextExpectedRevision).toBe(1);
      expect(r2.nextExpectedRevision).toBe(0);
      expect(r3.nextExpectedRevision).toBe(2);
      expect(r1.position).toBeLessThan(r2.position);
      expect(r2.position).toBeLessThan(r3.position);

      const stream = await collect(store.readStream(bars));
      expect(stream.map((e) => [e.eventId, e.stream, e.revision])).toEqual([
        [b0!.eventId, bars, 0],
        [b1!.eventId, bars, 1],
        [b2!.eventId, bars, 2],
      ]);
      expect(stream[2]).toEqual({ ...b2, stream: bars, revision: 2, position: r3.position });
      expect(stream[1]!.position).toBe(r1.position);

      const all = (await collect(store.readAll())).filter((e) => f.owns(e.stream));
      expect(idsOf(all)).toEqual(idsOf([b0!, b1!, entry, b2!]));
      for (let i = 1; i < all.length; i++) expect(all[i]!.position).toBeGreaterThan(all[i - 1]!.position);
      expect(all[2]).toEqual({ ...entry, stream: order, revision: 0, position: r2.position });
    });

    it("readStream honours fromRevision and limit; an absent stream yields nothing", async () => {
      const store = await fresh();
      const f = fixture();
      const bars = f.symbolStream();
      const events = [0, 1, 2, 3, 4].map((m) => f.barClosed(m));
      await store.append(bars, events, "noStream");
      const revisions = async (opts: { fromRevision?: number; limit?: number }) =>
        (await collect(store.readStream(bars, opts))).map((e) => e.revision);
      expect(await revisions({})).toEqual([0, 1, 2, 3, 4]);
      expect(await revisions({ fromRevision: 2 })).toEqual([2, 3, 4]);
      expect(await revisions({ limit: 2 })).toEqual([0, 1]);
      expect(await revisions({ fromRevision: 1, limit: 3 })).toEqual([1, 2, 3]);
      expect(await revisions({ fromRevision: 4, limit: 10 })).toEqual([4]);
      expect(await revisions({ fromRevision: 5 })).toEqual([]);
      expect(await collect(store.readStream(f.symbolStream("ETHUSDT")))).toEqual([]);
    });

    it("readAll honours after and limit", async () => {
      const store = await fresh();
      const f = fixture();
      const bars = f.symbolStream();
      const events = [0, 1, 2, 3, 4].map((m) => f.barClosed(m));
      const results: AppendResult[] = [];
      for (const [i, event] of events.entries())
        results.push(await store.append(bars, [event], i - 1 < 0 ? "noStream" : i - 1));

      const afterSecond = await collect(store.readAll({ after: results[1]!.position }));
      expect(idsOf(afterSecond.filter((e) => f.owns(e.stream)))).toEqual(idsOf(events.slice(2)));
      expect(afterSecond.every((e) => e.position > results[1]!.position)).toBe(true);
      const limited = await collect(store.readAll({ after: results[1]!.position, limit: 2 }));
      expect(limited).toEqual(afterSecond.slice(0, 2));
      const afterLast = await collect(store.readAll({ after: results[4]!.position }));
      expect(afterLast.filter((e) => f.owns(e.stream))).toEqual([]);
    });

    describe("optimistic concurrency", () => {
      const rejections: [string, ExpectedRevision, "absent" | "twoEvents"][] = [
        ["noStream on an existing stream", "noStream", "twoEvents"],
        ["streamExists on an absent stream", "streamExists", "absent"],
        ["a revision behind the stream", 0, "twoEvents"],
        ["a revision ahead of the stream", 2, "twoEvents"],
        ["a revision on an absent stream", 0, "absent"],
      ];
      it.each(rejections)("rejects %s and writes nothing", async (_, expected, setup) => {
        const store = await fresh();
        const f = fixture();
        const bars = f.symbolStream();
        const existing = setup === "twoEvents" ? [f.barClosed(0), f.barClosed(1)] : [];
        if (existing.length > 0) await store.append(bars, existing, "noStream");
        const actual = setup === "twoEvents" ? 1 : undefined;

        await expectWrongRevision(
          store.append(bars, [f.barClosed(2), f.barClosed(3)], expected),
          bars,
          expected,
          actual,
        );
        expect(idsOf(await collect(store.readStream(bars)))).toEqual(idsOf(existing));
        expect(await store.streamRevision(bars)).toBe(actual);
      });

      it("accepts each form when it holds", async () => {
        const store = await fresh();
        const f = fixture();
        const bars = f.symbolStream();
        const other = f.symbolStream("ETHUSDT");
        expect((await store.append(bars, [f.barClosed(0)], "noStream")).nextExpectedRevision).toBe(0);
        expect((await store.append(bars, [f.barClosed(1)], "streamExists")).nextExpectedRevision).toBe(1);
        expect((await store.append(bars, [f.barClosed(2), f.barClosed(3)], 1)).nextExpectedRevision).toBe(3);
        expect((await store.append(bars, [f.barClosed(4)], "any")).nextExpectedRevision).toBe(4);
        expect((await store.append(other, [f.barClosed(0, "ETHUSDT")], "any")).nextExpectedRevision).toBe(0);
        expect((await collect(store.readStream(bars))).map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);
      });

      it("appends no events as a pure revision check", async () => {
        const store = await fresh();
        const f = fixture();
        const bars = f.symbolStream();
        expect(await store.append(bars, [], "any")).toEqual({ nextExpectedRevision: -1, position: -1 });
        expect(await store.append(bars, [], "noStream")).toEqual({ nextExpectedRevision: -1, position: -1 });
        await expectWrongRevision(store.append(bars, [], "streamExists"), bars, "streamExists", undefined);
        expect(await store.streamRevision(bars)).toBeUndefined();
        await store.append(bars, [f.barClosed(0), f.barClosed(1)], "noStream");
        expect(await store.append(bars, [], 1)).toEqual({ nextExpectedRevision: 1, position: -1 });
        await expectWrongRevision(store.append(bars, [], 0), bars, 0, 1);
        expect(await store.streamRevision(bars)).toBe(1);
      });
    });

    it("reports the events an append wrote as its readers return them", async () => {
      const store = await fresh();
      const f = fixture();
      const bars = f.symbolStream();
      const orders = f.orderStream("ps-BTCUSDT-1-E");
      const results = [
        await store.append(bars, [f.barClosed(0), f.barClosed(1)], "noStream"),
        await store.append(orders, [f.entrySubmitted("ps-BTCUSDT-1-E", FIXTURE_START)], "noStream"),
        await store.append(bars, [f.barClosed(2)], 1),
      ];
      if (results.some((r) => r.recorded === undefined)) {
        // An adapter that does not report them reports them for no append.
        expect(results.every((r) => r.recorded === undefined)).toBe(true);
        return;
      }
      const read = await collect(store.readAll());
      const mine = read.filter((e) => e.stream === bars || e.stream === orders);
      expect(results.flatMap((r) => r.recorded!)).toEqual(mine);
      expect(results.map((r) => r.recorded!.at(-1)!.position)).toEqual(results.map((r) => r.position));
    });

    it("treats a re-append of stored event ids as an idempotent retry", async () => {
      const store = await fresh();
      const f = fixture();
      const bars = f.symbolStream();
      const [a, b, c, d] = [f.barClosed(0), f.barClosed(1), f.barClosed(2), f.barClosed(3)];
      const first = placed(await store.append(bars, [a!, b!], "noStream"));
      const retried = await store.append(bars, [a!, b!], "noStream");
      expect(retried).toEqual(first); // a retry writes nothing: it reports no recorded events
      const second = placed(await store.append(bars, [c!], 1));
      expect(await store.append(bars, [c!], 1)).toEqual(second);
      expect(await store.append(bars, [c!], "any")).toEqual(second);
      expect(await store.append(bars, [a!, b!], "noStream")).toEqual(first);
      expect(await store.append(bars, [a!, b!], "any")).toEqual(first);
      expect(await store.append(bars, [c!], "streamExists")).toEqual(second);

      // Stored, but not where the expected revision puts the batch: not a retry.
      await expectWrongRevision(store.append(bars, [a!], 1), bars, 1, 2);
      // Only a prefix of the batch is stored at that place: not a retry.
      await expectWrongRevision(store.append(bars, [b!, d!], 0), bars, 0, 2);
      await expect(store.append(bars, [c!, d!], "any")).rejects.toBeInstanceOf(EventStoreError);
      expect(idsOf(await collect(store.readStream(bars)))).toEqual(idsOf([a!, b!, c!]));
      expect(await store.streamRevision(bars)).toBe(2);
    });

    it("rejects a re-append of a stored id with different content, writing nothing", async () => {
      const store = await fresh();
      const f = fixture();
      const bars = f.symbolStream();
      const orders = f.orderStream("ps-BTCUSDT-000001-E");
      const [a, b, c] = [f.barClosed(0), f.barClosed(1), f.barClosed(2)];
      await store.append(bars, [a!, b!], "noStream");
      const before = await collect(store.readAll());
      const changedClose = withData(b!, "close", "1.00");
      const changedMetadata = { ...b!, metadata: { ...b!.metadata, causationId: "another-writer" } };
      const entry = f.entrySubmitted("ps-BTCUSDT-000001-E", b!.metadata.eventTime);
      const changedType = { ...entry, eventId: b!.eventId };
      for (const expected of ["noStream", "any", "streamExists"] as const) {
        await expectIdConflict(store.append(bars, [a!, changedClose], expected), bars, b!.eventId, 1);
        await expectIdConflict(store.append(bars, [a!, changedMetadata], expected), bars, b!.eventId, 1);
      }
      await expectIdConflict(store.append(bars, [changedClose], 0), bars, b!.eventId, 1);
      await expectIdConflict(
        store.append(bars, [withData(a!, "volume", "0.1")], "noStream"),
        bars,
        a!.eventId,
        0,
      );
      await expectIdConflict(store.append(bars, [changedType], 0), bars, b!.eventId, 1);
      // A conflict in a batch that also holds a new event writes nothing either.
      await expectIdConflict(store.append(bars, [changedClose, c!], 0), bars, b!.eventId, 1);
      expect(await collect(store.readAll())).toEqual(before);
      expect(await store.streamRevision(bars)).toBe(1);
      expect(await store.streamRevision(orders)).toBeUndefined();
      // The identical retry is still idempotent.
      expect((await store.append(bars, [a!, b!], "noStream")).nextExpectedRevision).toBe(1);
    });

    it("lets only the first of two writers open an account under one derived event id (issue 5)", async () => {
      const store = await fresh();
      const f = fixture();
      const account = `account-main-${f.scope}`;
      // Event ids derive from (correlationId, stream, revision): two writers of one run get the same id.
      const eventId = deterministicEventId(`run-${f.scope}`, account, 0);
      const opened = (walletBalance: string): NewEvent =>
        ({
          eventId,
          type: "AccountOpened",
          data: { accountId: "main", asset: "USDT", walletBalance },
          metadata: f.metadata(FIXTURE_START),
        }) as NewEvent;
      await store.append(account, [opened("10")], "noStream");
      await expectIdConflict(store.append(account, [opened("20")], "noStream"), account, eventId, 0);
      const stored = await collect(store.readStream(account));
      expect(stored.map((e) => e.data)).toEqual([{ accountId: "main", asset: "USDT", walletBalance: "10" }]);
    });

    describe("schema validation", () => {
      it("rejects a batch with one invalid event, naming type and field, and writes nothing", async () => {
        const store = await fresh();
        const f = fixture();
        const bars = f.symbolStream();
        const bad = f.barClosed(1);
        const invalid = { ...bad, data: { ...(bad.data as object), high: "94.5e3" } } as NewEvent;
        await expectSchemaError(
          store.append(bars, [f.barClosed(0), invalid], "noStream"),
          "BarClosed",
          "high",
        );
        expect(await collect(store.readStream(bars))).toEqual([]);
        expect(await store.streamRevision(bars)).toBeUndefined();
      });

      it("names nested data paths, metadata fields, the event id and unknown types", async () => {
        const store = await fresh();
        const f = fixture();
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
            config: {},
            manifest: [
              { path: "futures/um/x.csv", kind: "klines", symbol: "BTCUSDT", sha256: "abc", bytes: 1 },
            ],
          },
          0,
        );
        await expectSchemaError(
          store.append(run, [runStarted], "noStream"),
          "RunStarted",
          "manifest.0.sha256",
        );
        const bar = f.barClosed(0);
        await expectSchemaError(
          store.append(run, [{ ...bar, metadata: { ...bar.metadata, eventTime: -1 } }], "any"),
          "BarClosed",
          "metadata.eventTime",
        );
        await expectSchemaError(
          store.append(run, [{ ...bar, eventId: "bar-0" }], "any"),
          "BarClosed",
          "eventId",
        );
        await expectSchemaError(store.append(run, [f.event("BarOpened", {}, 0)], "any"), "BarOpened", "type");
        expect(await store.streamRevision(run)).toBeUndefined();
      });
    });

    it("reports each stream's revision", async () => {
      const store = await fresh();
      const f = fixture();
      const bars = f.symbolStream();
      expect(await store.streamRevision(bars)).toBeUndefined();
      await store.append(bars, [f.barClosed(0)], "noStream");
      expect(await store.streamRevision(bars)).toBe(0);
      await store.append(bars, [f.barClosed(1), f.barClosed(2)], 0);
      expect(await store.streamRevision(bars)).toBe(2);
      expect(await store.streamRevision(f.symbolStream("ETHUSDT"))).toBeUndefined();
    });

    it("round-trips data and metadata exactly: values, key order, correlation and causation", async () => {
      const store = await fresh();
      const f = fixture();
      const clientOrderId = "ps-BTCUSDT-000001-SL";
      const order = f.orderStream(clientOrderId);
      const submitted = f.stopLossSubmitted(clientOrderId, 1_746_317_400_123);
      const filled = f.orderFilled(clientOrderId, 1_746_318_000_456, submitted.eventId);
      // Keys in an order other than the schema's: the store keeps the schema's (canonical) order.
      const shuffled = {
        ...submitted,
        data: Object.fromEntries(Object.entries(submitted.data).reverse()),
      } as NewEvent;
      await store.append(order, [shuffled, filled], "noStream");

      const [readSubmitted, readFilled] = await collect(store.readStream(order));
      expect(readSubmitted!.data).toEqual(submitted.data);
      expect(JSON.stringify(readSubmitted!.data)).toBe(
        JSON.stringify(validateEvent("OrderSubmitted", shuffled.data)),
      );
      expect(JSON.stringify(readSubmitted!.data)).toBe(JSON.stringify(submitted.data));
      expect(JSON.stringify(readFilled!.data)).toBe(JSON.stringify(filled.data));
      expect(readFilled!.metadata).toEqual({
        correlationId: `run-${f.scope}`,
        causationId: submitted.eventId,
        eventTime: 1_746_318_000_456,
      });
      expect(Object.keys(readFilled!.metadata)).toEqual(["correlationId", "causationId", "eventTime"]);
      expect(readSubmitted!.type).toBe("OrderSubmitted");
      const [fromAll] = (await collect(store.readAll())).filter((e) => e.eventId === filled.eventId);
      expect(fromAll).toEqual(readFilled);
    });

    describe("subscribe", () => {
      it("catches up on stored events, then delivers live ones in order without duplicates", async () => {
        const store = await fresh();
        const f = fixture();
        const bars = f.symbolStream();
        const order = f.orderStream("ps-BTCUSDT-000002-E");
        const stored = [f.barClosed(0), f.barClosed(1)];
        await store.append(bars, stored, "noStream");
        const entry = f.entrySubmitted("ps-BTCUSDT-000002-E", 0);
        await store.append(order, [entry], "noStream");

        const { received, subscription, waitForCount } = record(store, f);
        try {
          await waitForCount(3);
          const live = [f.barClosed(2), f.orderFilled("ps-BTCUSDT-000002-E", 0, entry.eventId)];
          await store.append(bars, [live[0]!], 1);
          await store.append(order, [live[1]!], 0);
          await waitForCount(5);
          const sentinel = f.barClosed(3);
          await store.append(bars, [sentinel], 2);
          await waitForCount(6);
          expect(idsOf(received)).toEqual(idsOf([...stored, entry, ...live, sentinel]));
          expect(received[3]).toEqual({
            ...live[0],
            stream: bars,
            revision: 2,
            position: received[3]!.position,
          });
          for (let i = 1; i < received.length; i++) {
            expect(received[i]!.position).toBeGreaterThan(received[i - 1]!.position);
          }
        } finally {
          subscription.unsubscribe();
        }
      });

      it("starts after the given position", async () => {
        const store = await fresh();
        const f = fixture();
        const bars = f.symbolStream();
        const events = [0, 1, 2, 3].map((m) => f.barClosed(m));
        const results: AppendResult[] = [];
        for (const [i, event] of events.entries()) {
          results.push(await store.append(bars, [event], i === 0 ? "noStream" : i - 1));
        }
        const { received, subscription, waitForCount } = record(store, f, results[1]!.position);
        try {
          await waitForCount(2);
          const live = f.barClosed(4);
          await store.append(bars, [live], 3);
          await waitForCount(3);
          expect(idsOf(received)).toEqual(idsOf([events[2]!, events[3]!, live]));
        } finally {
          subscription.unsubscribe();
        }
      });

      it("keeps global order when a subscriber appends while handling an event", async () => {
        const store = await fresh();
        const f = fixture();
        const bars = f.symbolStream();
        const received: RecordedEvent[] = [];
        const reactions: Promise<AppendResult>[] = [];
        const subscription = store.subscribe().subscribe((event) => {
          if (!f.owns(event.stream)) return;
          received.push(event);
          if (event.stream === bars) {
            const clientOrderId = `ps-BTCUSDT-${String(event.revision).padStart(6, "0")}-E`;
            const reaction = f.entrySubmitted(clientOrderId, event.metadata.eventTime, event.eventId);
            reactions.push(store.append(f.orderStream(clientOrderId), [reaction], "noStream"));
          }
        });
        try {
          await store.append(bars, [f.barClosed(0), f.barClosed(1)], "noStream");
          await store.append(bars, [f.barClosed(2)], 1);
          await vi.waitFor(() => expect(received.length).toBe(6), { timeout: 15_000, interval: 5 });
          await Promise.all(reactions);
          const all = (await collect(store.readAll())).filter((e) => f.owns(e.stream));
          expect(idsOf(received)).toEqual(idsOf(all));
        } finally {
          subscription.unsubscribe();
        }
      });

      it("reads and follows across page boundaries (2 500 events)", async () => {
        const store = await fresh();
        const f = fixture();
        const bars = f.symbolStream();
        const events = Array.from({ length: 2500 }, (_, m) => f.barClosed(m));
        let first: AppendResult | undefined;
        for (let i = 0; i < events.length; i += 250) {
          const result = await store.append(bars, events.slice(i, i + 250), i === 0 ? "noStream" : i - 1);
          first ??= result;
        }
        const stream = await collect(store.readStream(bars));
        expect(idsOf(stream)).toEqual(idsOf(events));
        const after = (await collect(store.readAll({ after: first!.position }))).filter((e) =>
          f.owns(e.stream),
        );
        expect(idsOf(after)).toEqual(idsOf(events.slice(250)));

        const { received, subscription, waitForCount } = record(store, f, first!.position);
        try {
          await waitForCount(2250);
          const live = f.barClosed(2500);
          await store.append(bars, [live], 2499);
          await waitForCount(2251);
          expect(idsOf(received)).toEqual(idsOf([...events.slice(250), live]));
        } finally {
          subscription.unsubscribe();
        }
      });
    });

    it("behaves like a list-of-streams model under random appends, retries, conflicting re-appends and reads", async () => {
      await fc.assert(
        fc.asyncProperty(fc.commands(modelCommands, { maxCommands: 20 }), async (commands) => {
          const store = await open();
          try {
            const real: Real = { store, f: fixture(), streams: [] };
            real.streams = ["BTCUSDT", "ETHUSDT", "SOLUSDT"].map((s) => real.f.symbolStream(s));
            await fc.asyncModelRun(() => ({ model: { streams: new Map() }, real }), commands);
          } finally {
            await release(store);
          }
        }),
        { numRuns: 25 },
      );
    });
  });
}

// ── model-based test ─────────────────────────────────────────────────────────────────────────────────────

interface Model {
  /** Event ids of each stream, in revision order. */
  streams: Map<string, string[]>;
  last?: { stream: string; events: NewEvent[]; expected: ExpectedRevision; result: AppendResult };
}

interface Real {
  store: EventStore;
  f: FixtureEvents;
  streams: string[];
}

type Expectation = "exact" | "behind" | "ahead" | "noStream" | "streamExists" | "any";

class AppendCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly streamIndex: number,
    readonly size: number,
    readonly expectation: Expectation,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const stream = real.streams[this.streamIndex]!;
    const ids = model.streams.get(stream) ?? [];
    const current = ids.length === 0 ? undefined : ids.length - 1;
    const expected = this.expected(current);
    const minuteBase = ids.length;
    const events = Array.from({ length: this.size }, (_, i) => real.f.barClosed(minuteBase + i));
    const holds =
      expected === "any" ||
      (expected === "noStream" && current === undefined) ||
      (expected === "streamExists" && current !== undefined) ||
      expected === current;
    if (!holds) {
      await expectWrongRevision(real.store.append(stream, events, expected), stream, expected, current);
      return;
    }
    const result = await real.store.append(stream, events, expected);
    expect(result.nextExpectedRevision).toBe(ids.length + this.size - 1);
    model.streams.set(stream, [...ids, ...idsOf(events)]);
    model.last = { stream, events, expected, result };
  }
  private expected(current: number | undefined): ExpectedRevision {
    switch (this.expectation) {
      case "exact":
        return current ?? "noStream";
      case "behind":
        return current === undefined ? 0 : current === 0 ? "noStream" : current - 1;
      case "ahead":
        return (current ?? -1) + 1;
      default:
        return this.expectation;
    }
  }
  toString(): string {
    return `append(stream ${this.streamIndex}, ${this.size} events, ${this.expectation})`;
  }
}

class ReappendLastCommand implements fc.AsyncCommand<Model, Real> {
  check(model: Readonly<Model>): boolean {
    return model.last !== undefined;
  }
  async run(model: Model, real: Real): Promise<void> {
    const last = model.last!;
    expect(await real.store.append(last.stream, last.events, last.expected)).toEqual(placed(last.result));
  }
  toString(): string {
    return "reappendLast";
  }
}

class ReappendChangedCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly which: "data" | "metadata") {}
  check(model: Readonly<Model>): boolean {
    return model.last !== undefined;
  }
  async run(model: Model, real: Real): Promise<void> {
    const last = model.last!;
    const index = last.events.length - 1;
    const original = last.events[index]!;
    const changed =
      this.which === "data"
        ? withData(original, "volume", "0.001")
        : { ...original, metadata: { ...original.metadata, eventTime: original.metadata.eventTime + 1 } };
    const events = last.events.map((e, i) => (i === index ? changed : e));
    const before = await collect(real.store.readAll());
    const revision = last.result.nextExpectedRevision;
    await expectIdConflict(
      real.store.append(last.stream, events, last.expected),
      last.stream,
      original.eventId,
      revision,
    );
    expect(await collect(real.store.readAll())).toEqual(before);
  }
  toString(): string {
    return `reappendLastChanged(${this.which})`;
  }
}

class ReadStreamCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly streamIndex: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const stream = real.streams[this.streamIndex]!;
    const ids = model.streams.get(stream) ?? [];
    const events = await collect(real.store.readStream(stream));
    expect(idsOf(events)).toEqual(ids);
    expect(events.map((e) => e.revision)).toEqual(ids.map((_, i) => i));
    expect(await real.store.streamRevision(stream)).toBe(ids.length === 0 ? undefined : ids.length - 1);
  }
  toString(): string {
    return `readStream(stream ${this.streamIndex})`;
  }
}

const streamIndex = fc.integer({ min: 0, max: 2 });
const modelCommands = [
  fc
    .tuple(
      streamIndex,
      fc.integer({ min: 1, max: 3 }),
      fc.constantFrom<Expectation>("exact", "exact", "behind", "ahead", "noStream", "streamExists", "any"),
    )
    .map(([s, n, e]) => new AppendCommand(s, n, e)),
  fc.constant(new ReappendLastCommand()),
  fc.constantFrom<"data" | "metadata">("data", "metadata").map((w) => new ReappendChangedCommand(w)),
  streamIndex.map((s) => new ReadStreamCommand(s)),
];
