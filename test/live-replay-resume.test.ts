/**
 * `replay --verify` of paper runs fed the archive's market events one by one (as test/live-run.test.ts does): a
 * run stopped half-way without --until is verified as far as it got, and the same run continued to its end with
 * the same command verifies too (its log is the uninterrupted one); so does a run that cancels its working
 * orders each time it stops (`onStop: cancel`), stopped twice and continued.
 */
import pino from "pino";
import { Observable } from "rxjs";
import { describe, expect, it } from "vitest";
import { archiveMarketEvents, discoverArchive } from "../src/adapters/market/archive.ts";
import type { MarketEvent } from "../src/adapters/market/types.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema, windowOf } from "../src/config/schema.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { type LiveMarketFeed, runLive } from "../src/engine/live-run.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import type { EventStore } from "../src/events/store.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("replay of paper runs on BTCUSDT+ETHUSDT 2025-05-05..2025-05-06");
const logger = pino({ level: "silent" });
const config = BacktestConfigSchema.parse({
  symbols: ["BTCUSDT", "ETHUSDT"],
  from: "2025-05-05",
  to: "2025-05-06",
  warmupBars: 0,
});
const window = windowOf(config);

/** A live feed over `events` from `from` (ms), one at a time; `seen` is called after each was processed. */
function feed(events: readonly MarketEvent[], from: number, seen: () => void): LiveMarketFeed {
  return {
    events: new Observable<MarketEvent>((subscriber) => {
      let closed = false;
      void (async () => {
        for (const e of events) {
          if (closed) return;
          if (e.time < from) continue;
          await new Promise((r) => setImmediate(r));
          subscriber.next(e);
        }
        subscriber.complete();
      })();
      return () => {
        closed = true;
      };
    }),
    processed: async () => seen(),
    close: async () => {},
  };
}

const deps = (store: EventStore, events: MarketEvent[], until: number | undefined, seen = () => {}) => ({
  store,
  logger,
  instruments: bundledInstrumentCatalog(),
  brackets: bundledLeverageBracketCatalog(),
  startTime: window.from,
  ...(until === undefined ? {} : { until }),
  openFeed: (from: number) => feed(events, from, seen),
});

describe.skipIf(!root)("replay of stopped and continued paper runs", () => {
  it("a run stopped half-way verifies as far as it got; continued to its end, it verifies", async () => {
    const files = await discoverArchive(root!, { symbols: config.symbols, ...window });
    const events: MarketEvent[] = [];
    for await (const e of archiveMarketEvents(files, window)) events.push(e);

    // Without --until: the run never completes; stopped after half the events.
    const open = new InMemoryEventStore();
    const stop = new AbortController();
    let n = 0;
    const half = Math.floor(events.length / 2);
    const stopped = await runLive("paper", config, {
      ...deps(open, events, undefined, () => {
        if (++n === half) stop.abort();
      }),
      signal: stop.signal,
    });
    expect(stopped.completed).toBe(false);
    expect(stopped.fills).toBeGreaterThan(0);
    const partial = await verifyReplay(open, { dataRoot: root!, logger });
    expect(partial.differences).toEqual([]);
    expect(partial.ok).toBe(true);

    // With --until: stopped, then the same command continues it to its end.
    const store = new InMemoryEventStore();
    const again = new AbortController();
    let m = 0;
    await runLive("paper", config, {
      ...deps(store, events, window.to, () => {
        if (++m === half) again.abort();
      }),
      signal: again.signal,
    });
    const continued = await runLive("paper", config, deps(store, events, window.to));
    expect(continued.continued).toBe(true);
    expect(continued.completed).toBe(true);
    const report = await verifyReplay(store, { dataRoot: root!, logger });
    expect(report.differences).toEqual([]);
    expect(report.replayedSha256).toBe(continued.eventLogSha256);
  }, 300_000);

  it("a run that cancels its working orders on each stop, stopped twice and continued, verifies", async () => {
    const files = await discoverArchive(root!, { symbols: config.symbols, ...window });
    const events: MarketEvent[] = [];
    for await (const e of archiveMarketEvents(files, window)) events.push(e);
    const store = new InMemoryEventStore();
    // Each stopped run handles a third of the events (a continued feed starts where the run stopped).
    for (const at of [Math.floor(events.length / 3), Math.floor(events.length / 3), undefined]) {
      const stop = new AbortController();
      let n = 0;
      await runLive("paper", config, {
        ...deps(store, events, window.to, () => {
          if (++n === at) stop.abort();
        }),
        signal: stop.signal,
        onStop: "cancel",
      });
    }
    let shutdown = 0;
    let completed = false;
    for await (const e of store.readAll()) {
      if (e.type === "OrderCanceled" && (e.data as { reason: string }).reason === "shutdown") shutdown++;
      if (e.type === "RunCompleted") completed = true;
    }
    expect(completed).toBe(true);
    expect(shutdown).toBeGreaterThan(0);
    const report = await verifyReplay(store, { dataRoot: root!, logger });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
  }, 300_000);
});
