/**
 * Crash recovery of a live run on an external venue (issue 7 item 5; src/engine/live-restart.ts), in-process: a
 * testnet-mode run of sma-cross on real BTCUSDT+ETHUSDT data against an in-process exchange
 * (test/support/external-double.ts) dies at an append or a flush (a kill -9: nothing after it is written), then
 * the same run is started again on the same store and exchange. Whatever the point, it completes with the
 * uninterrupted run's log (same eventLogSha256) and sends each order to the exchange once; an order whose intent
 * was durable when the run died is looked up before it could be sent again. A tail that cannot be re-derived
 * fails with a CannotResumeError naming its event.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { archiveMarketEvents, discoverArchive } from "../src/adapters/market/archive.ts";
import type { MarketEvent } from "../src/adapters/market/types.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema, windowOf } from "../src/config/schema.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { type LiveRunSummary, liveRunId, runLive } from "../src/engine/live-run.ts";
import { operatorChangeTradingState } from "../src/engine/risk-operator.ts";
import { CannotResumeError } from "../src/engine/units-of-work.ts";
import type { OrderRequest } from "../src/engine/venue.ts";
import type { NewEvent } from "../src/events/envelope.ts";
import { deterministicEventId } from "../src/events/ids.ts";
import type { EventStore } from "../src/events/store.ts";
import { ExternalDouble } from "./support/external-double.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("testnet-mode run killed and restarted, BTCUSDT+ETHUSDT 2025-05-05..06");
const logger = pino({ level: "silent" });
const config = BacktestConfigSchema.parse({
  symbols: ["BTCUSDT", "ETHUSDT"],
  from: "2025-05-05",
  to: "2025-05-06",
  warmupBars: 0,
});
const window = windowOf(config);
const instruments = bundledInstrumentCatalog();

let cached: MarketEvent[] | undefined;
async function archiveEvents(): Promise<MarketEvent[]> {
  if (cached) return cached;
  const files = await discoverArchive(root!, { symbols: config.symbols, ...window });
  const events: MarketEvent[] = [];
  for await (const e of archiveMarketEvents(files, window)) events.push(e);
  cached = events;
  return events;
}

/**
 * A testnet-mode run of `config` against `exchange`, writing to `store`; `stopAfter`: stopped (as by Ctrl-C, its
 * working orders canceled) once it handled the bar of that openTime.
 */
async function run(store: EventStore, exchange: ExternalDouble, stopAfter?: number): Promise<LiveRunSummary> {
  const events = await archiveEvents();
  const stop = new AbortController();
  return runLive("testnet", config, {
    store,
    logger,
    instruments,
    brackets: bundledLeverageBracketCatalog(),
    startTime: window.from,
    until: window.to,
    venue: exchange,
    openFeed: (from) =>
      exchange.feed(events, from, (e) => {
        if (e.kind === "bar" && e.bar.openTime === stopAfter) stop.abort();
      }),
    ...(stopAfter === undefined ? {} : { signal: stop.signal, onStop: "cancel" as const }),
  });
}

/** Where the run dies: at the append of the `n`-th event (1-based) `select` picks, or at the flush after it. */
interface KillPoint {
  name: string;
  select: (e: NewEvent, stream: string) => boolean;
  n: number;
  at: "append" | "flush";
}

class Killed extends Error {
  override name = "Killed";
}

/** `store` that dies at `point`: that append (or flush) and everything after it rejects, nothing is written. */
function dying(store: EventStore, point: KillPoint): EventStore & { dead: () => boolean } {
  let seen = 0;
  let armed = false;
  let dead = false;
  const check = () => {
    if (dead) throw new Killed(`killed at ${point.name}`);
  };
  return {
    dead: () => dead,
    async append(stream, events, expectedRevision) {
      check();
      for (const e of events) {
        if (!point.select(e, stream)) continue;
        seen += 1;
        if (seen === point.n && point.at === "append") {
          dead = true;
          check();
        }
        if (seen === point.n) armed = true;
      }
      return store.append(stream, events, expectedRevision);
    },
    async flush() {
      check();
      if (armed) {
        dead = true;
        check();
      }
      return store.flush();
    },
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: (options) => store.readAll(options),
    subscribe: (options) => store.subscribe(options),
    streamRevision: (stream) => store.streamRevision(stream),
    close: () => store.close(),
  };
}

const type = (t: string) => (e: NewEvent) => e.type === t;

const POINTS: KillPoint[] = [
  { name: "the opening checkpoint (no checkpoint yet)", select: type("RunCheckpointed"), n: 1, at: "append" },
  {
    name: "the first OrderAccepted (sent, its answer lost)",
    select: type("OrderAccepted"),
    n: 1,
    at: "append",
  },
  {
    name: "the flush before the 2nd submit (intent durable, never sent)",
    select: type("OrderSubmitted"),
    n: 2,
    at: "flush",
  },
  {
    name: "the first FillBooked (a fill report cut after its OrderFilled)",
    select: type("FillBooked"),
    n: 1,
    at: "append",
  },
  {
    name: "the 3rd protective order's OrderSubmitted (a fill's reaction cut)",
    select: (e) =>
      e.type === "OrderSubmitted" &&
      /-(SL|TP)$/.test(String((e.data as { clientOrderId: string }).clientOrderId)),
    n: 3,
    at: "append",
  },
  {
    name: "the first checkpoint after the 2nd OrderAccepted (the whole input in the tail, its answer recorded)",
    select: (() => {
      let accepted = 0;
      return (e: NewEvent) => {
        if (e.type === "OrderAccepted") accepted += 1;
        return e.type === "RunCheckpointed" && accepted >= 2;
      };
    })(),
    n: 1,
    at: "append",
  },
  { name: "the first flush after the 20th OrderFilled", select: type("OrderFilled"), n: 20, at: "flush" },
];

describe.skipIf(!root)("a live run killed on an external venue, started again", () => {
  it("completes with the uninterrupted run's log and each order sent once, wherever it died", async () => {
    const whole = new ExternalDouble(config, instruments);
    const uninterrupted = await run(new InMemoryEventStore(), whole);
    expect(uninterrupted.completed).toBe(true);
    expect(uninterrupted.fills).toBeGreaterThan(20);
    expect(new Set(whole.sent).size).toBe(whole.sent.length);

    for (const point of POINTS) {
      const exchange = new ExternalDouble(config, instruments);
      const store = new InMemoryEventStore();
      const killed = dying(store, point);
      await expect(run(killed, exchange), point.name).rejects.toThrow(Killed);
      expect(killed.dead(), point.name).toBe(true);
      const again = await run(store, exchange);
      expect(again.continued, point.name).toBe(true);
      expect(again.completed, point.name).toBe(true);
      expect(again.eventLogSha256, point.name).toBe(uninterrupted.eventLogSha256);
      expect(exchange.sent, point.name).toEqual(whole.sent);
      // Sent with its answer lost, or durable and never sent: in doubt, looked up once.
      if (/first OrderAccepted|2nd submit/.test(point.name))
        expect(exchange.queried, point.name).toHaveLength(1);
      // Its answer in the tail: given again, the order adopted, nothing asked.
      if (point.name.includes("answer recorded")) {
        expect(exchange.queried, point.name).toEqual([]);
        expect(exchange.adopted.length, point.name).toBeGreaterThan(0);
      }
    }
  }, 600_000);

  /** A SQLite store whose run died at the flush before its 2nd submit (its tail: the entry's fill up to that stop's intent). */
  async function killedBeforeSecondSubmit(exchange: ExternalDouble) {
    const file = join(mkdtempSync(join(tmpdir(), "perpsource-restart-")), "run.sqlite");
    const store = SqliteEventStore.open(file);
    const point = POINTS.find((p) => p.name.includes("2nd submit"))!;
    await expect(run(dying(store, point), exchange)).rejects.toThrow(Killed);
    await store.close();
    const db = new Database(file);
    const last = db
      .prepare("SELECT stream, revision, data, metadata FROM events ORDER BY position DESC LIMIT 1")
      .get() as { stream: string; revision: number; data: string; metadata: string };
    db.close();
    expect(last.stream).toMatch(/^order-ps-/);
    return { file, last };
  }

  it("refuses a tail whose events the run does not derive again, naming the event", async () => {
    const exchange = new ExternalDouble(config, instruments);
    const { file, last } = await killedBeforeSecondSubmit(exchange);
    // Someone else's event on the stop's stream, after its intent: where the run records the venue's answer.
    const store = SqliteEventStore.open(file);
    const runId = liveRunId("testnet", config);
    const { clientOrderId } = JSON.parse(last.data) as { clientOrderId: string };
    const metadata = { ...(JSON.parse(last.metadata) as object), causationId: "test:tampered" };
    await store.append(
      last.stream,
      [
        {
          eventId: deterministicEventId(runId, last.stream, last.revision + 1),
          type: "OrderCanceled",
          data: { clientOrderId, reason: "user" },
          metadata: metadata as NewEvent["metadata"],
        },
      ],
      last.revision,
    );
    const error = await run(store, exchange).catch((e: unknown) => e);
    await store.close();
    expect(error).toBeInstanceOf(CannotResumeError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `the log's tail cannot be re-derived: re-handling OrderFilled at order-\\S+@\\d+ ` +
          `\\(position \\d+, caused by venue:trade:BTCUSDT:\\d+\\) gave another ` +
          `OrderCanceled at ${last.stream}@${last.revision + 1} \\(position \\d+, caused by test:tampered\\)`,
      ),
    );
    // The stop was in doubt, not found, sent (once); its acceptance then met the foreign event.
    expect(exchange.sent.filter((id) => id === clientOrderId)).toEqual([clientOrderId]);
  }, 120_000);

  it("refuses a tail with an event no input of it explains, naming the event", async () => {
    const exchange = new ExternalDouble(config, instruments);
    const { file, last } = await killedBeforeSecondSubmit(exchange);
    const store = SqliteEventStore.open(file);
    const runId = liveRunId("testnet", config);
    const request = JSON.parse(last.data) as OrderRequest;
    const stray = "ps-BTCUSDT-999-E";
    await store.append(
      `order-${stray}`,
      [
        {
          eventId: deterministicEventId(runId, `order-${stray}`, 0),
          type: "OrderSubmitted",
          data: { ...request, clientOrderId: stray },
          metadata: { ...(JSON.parse(last.metadata) as NewEvent["metadata"]), causationId: "test:stray" },
        },
      ],
      "noStream",
    );
    const error = await run(store, exchange).catch((e: unknown) => e);
    await store.close();
    expect(error).toBeInstanceOf(CannotResumeError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `OrderSubmitted at order-${stray}@0 \\(position \\d+, caused by test:stray\\) was not produced again`,
      ),
    );
    expect(exchange.sent).not.toContain(stray);
    // The run's own order in doubt was sent once, when the tail was handled again.
    expect(exchange.sent.filter((id) => id === request.clientOrderId)).toEqual([request.clientOrderId]);
  }, 120_000);

  it("leaves an operator's halt in the tail to the risk engine: the run continues halted", async () => {
    const exchange = new ExternalDouble(config, instruments);
    const store = new InMemoryEventStore();
    const point = POINTS.find((p) => p.name.includes("first OrderAccepted"))!;
    await expect(run(dying(store, point), exchange)).rejects.toThrow(Killed);
    const sentBefore = exchange.sent.length;
    // Another process halts the killed run: its event lands in the tail, after the order's intent.
    await operatorChangeTradingState(store, "HALTED", "kill switch while the run was down");
    const again = await run(store, exchange);
    expect(again.completed).toBe(true);
    expect(again.tradingState).toBe("HALTED");
    // The order in doubt was found (not sent again); halted, the run sent nothing else.
    expect(exchange.queried).toHaveLength(1);
    expect(exchange.sent).toHaveLength(sentBefore);
  }, 120_000);

  it("killed while it cancels its orders on stop, continues as the stop would have left it", async () => {
    // The bar after the first protective order: the run stops there with a stop-loss and a take-profit working.
    const whole = new InMemoryEventStore();
    await run(whole, new ExternalDouble(config, instruments));
    let protectedAt: number | undefined;
    for await (const e of whole.readAll())
      if (
        e.type === "OrderAccepted" &&
        /-(SL|TP)$/.test((e.data as { clientOrderId: string }).clientOrderId)
      ) {
        protectedAt = Math.floor(e.metadata.eventTime / 60_000) * 60_000 + 60_000;
        break;
      }
    expect(protectedAt).toBeDefined();

    // Reference: stopped there (both canceled), then continued to the end.
    const stopped = new InMemoryEventStore();
    const reference = new ExternalDouble(config, instruments);
    expect((await run(stopped, reference, protectedAt)).completed).toBe(false);
    const canceled: string[] = [];
    for await (const e of stopped.readAll())
      if (e.type === "OrderCanceled") canceled.push((e.data as { clientOrderId: string }).clientOrderId);
    expect(canceled).toHaveLength(2);
    const referenceEnd = await run(stopped, reference);

    // Killed at the second cancel's record: the first is in the tail, the second was never sent.
    const store = new InMemoryEventStore();
    const exchange = new ExternalDouble(config, instruments);
    const point: KillPoint = {
      name: "the 2nd OrderCanceled",
      select: type("OrderCanceled"),
      n: 2,
      at: "append",
    };
    await expect(run(dying(store, point), exchange, protectedAt)).rejects.toThrow(Killed);
    const again = await run(store, exchange);
    expect(again.completed).toBe(true);
    expect(again.eventLogSha256).toBe(referenceEnd.eventLogSha256);
    expect(exchange.sent).toEqual(reference.sent);
  }, 120_000);
});

describe.skipIf(!root)("the opening of a testnet run", () => {
  it("opens the account with the venue's USDT wallet, not backtest.initialBalance (reconciliation compares it exactly)", async () => {
    const store = new InMemoryEventStore();
    const exchange = new ExternalDouble(config, instruments, "12345.60");
    await run(store, exchange, window.from + 5 * 60_000);
    const opened: string[] = [];
    for await (const e of store.readAll())
      if (e.type === "AccountOpened") opened.push((e.data as { walletBalance: string }).walletBalance);
    expect(opened).toEqual(["12345.6"]);
  });
});
