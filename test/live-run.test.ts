/**
 * The live run driver (src/engine/live-run.ts) in paper mode, fed by a feed that hands out the archive's market
 * events one by one as a live feed would: its fills, PnL and funding equal a backtest's of the same bars (one
 * kernel in every mode); stopped half-way and started again with the same command and store, it continues from
 * its last checkpoint and ends with the uninterrupted run's log; a store holding another run is refused.
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
import { runBacktest } from "../src/engine/backtest.ts";
import { type LiveMarketFeed, liveRunId, runLive } from "../src/engine/live-run.ts";
import { CannotResumeError } from "../src/engine/units-of-work.ts";
import type { EventStore } from "../src/events/store.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("paper run on BTCUSDT+ETHUSDT 2025-05-05..2025-05-11");
const logger = pino({ level: "silent" });
const config = BacktestConfigSchema.parse({
  symbols: ["BTCUSDT", "ETHUSDT"],
  from: "2025-05-05",
  to: "2025-05-11",
  warmupBars: 0,
});
const window = windowOf(config);

/** The window's market events, read once. */
async function archiveEvents(): Promise<MarketEvent[]> {
  const files = await discoverArchive(root!, { symbols: config.symbols, ...window });
  const events: MarketEvent[] = [];
  for await (const e of archiveMarketEvents(files, window)) events.push(e);
  return events;
}

/** A live feed over `events`: those at or after `after` (ms), asynchronously, one at a time. */
function replayFeed(
  events: readonly MarketEvent[],
  after: number | undefined,
  log: number[],
): LiveMarketFeed {
  return {
    events: new Observable<MarketEvent>((subscriber) => {
      let closed = false;
      void (async () => {
        for (const e of events) {
          if (closed) return;
          if (after !== undefined && e.time < after) continue;
          await new Promise((r) => setImmediate(r));
          subscriber.next(e);
        }
        subscriber.complete();
      })();
      return () => {
        closed = true;
      };
    }),
    processed: async (e) => {
      log.push(e.time);
    },
    close: async () => {},
  };
}

/** Fills as `eventTime|data` lines, in log order. */
async function fills(store: EventStore): Promise<string[]> {
  const lines: string[] = [];
  for await (const e of store.readAll())
    if (e.type === "OrderFilled") lines.push(`${e.metadata.eventTime}|${JSON.stringify(e.data)}`);
  return lines;
}

const deps = (store: EventStore, events: MarketEvent[], processed: number[] = []) => ({
  store,
  logger,
  instruments: bundledInstrumentCatalog(),
  brackets: bundledLeverageBracketCatalog(),
  startTime: window.from,
  until: window.to,
  openFeed: (after: number | undefined) => replayFeed(events, after, processed),
});

describe.skipIf(!root)("live run, paper mode", () => {
  it("fills, PnL and funding equal the backtest's of the same bars; every event is acknowledged", async () => {
    const events = await archiveEvents();
    const backtestStore = new InMemoryEventStore();
    const backtest = await runBacktest(config, { store: backtestStore, dataRoot: root!, logger });
    const store = new InMemoryEventStore();
    const processed: number[] = [];
    const paper = await runLive("paper", config, deps(store, events, processed));

    expect(paper.completed).toBe(true);
    expect(paper.runId).toBe(liveRunId("paper", config));
    expect(paper.bars).toBe(backtest.bars);
    expect(paper.fills).toBeGreaterThan(10);
    expect(await fills(store)).toEqual(await fills(backtestStore));
    for (const key of ["realizedPnl", "fees", "funding", "netPnl", "equity", "maxDrawdown"] as const)
      expect(paper[key], key).toBe(backtest[key]);
    expect(processed).toEqual(events.map((e) => e.time));
  });

  it("warmed up on the bars before its start, it trades like the backtest with its warm-up", async () => {
    const warm = BacktestConfigSchema.parse({ ...config, warmupBars: undefined });
    const backtestStore = new InMemoryEventStore();
    const backtest = await runBacktest(warm, { store: backtestStore, dataRoot: root!, logger });
    const files = await discoverArchive(
      root!,
      { symbols: config.symbols, from: window.from - 86_400_000, to: window.to },
      { partial: true },
    );
    const store = new InMemoryEventStore();
    const paper = await runLive("paper", warm, {
      ...deps(store, await archiveEvents()),
      history: (w) => archiveMarketEvents(files, w),
    });
    expect(paper.warmFrom).toEqual(backtest.warmFrom);
    expect(paper.warmFrom["BTCUSDT"]).toBeLessThanOrEqual(window.from);
    expect(await fills(store)).toEqual(await fills(backtestStore));
    expect(paper.netPnl).toBe(backtest.netPnl);
  });

  it("stopped half-way, the same command on the same store continues it to the uninterrupted log", async () => {
    const events = await archiveEvents();
    const whole = await runLive("paper", config, deps(new InMemoryEventStore(), events));

    const store = new InMemoryEventStore();
    const stop = new AbortController();
    let seen = 0;
    const first = await runLive("paper", config, {
      ...deps(store, events),
      signal: stop.signal,
      openFeed: (after) => {
        const feed = replayFeed(events, after, []);
        return {
          ...feed,
          processed: async () => {
            if (++seen === Math.floor(events.length / 2)) stop.abort();
          },
        };
      },
    });
    expect(first.completed).toBe(false);
    expect(first.bars).toBeLessThan(whole.bars);

    const second = await runLive("paper", config, deps(store, events));
    expect(second.continued).toBe(true);
    expect(second.completed).toBe(true);
    expect(second.bars).toBe(whole.bars);
    expect(second.eventLogSha256).toBe(whole.eventLogSha256);
  });

  it("onStop cancel: a run stopped with a protected position cancels its stop and take-profit (OrderCanceled shutdown), checkpoints that, and continues without them", async () => {
    const events = await archiveEvents();
    const whole = new InMemoryEventStore();
    await runLive("paper", config, deps(whole, events));
    // The first bar whose handling placed a protective order (its entry filled at the bar's open, when the
    // simulated venue matched it): the run stops right after it.
    let protectedAt: number | undefined;
    for await (const e of whole.readAll())
      if (e.type === "OrderSubmitted" && (e.data as { purpose: string }).purpose !== "ENTRY") {
        protectedAt = e.metadata.eventTime;
        break;
      }
    expect(protectedAt).toBeDefined();

    const store = new InMemoryEventStore();
    const stop = new AbortController();
    const first = await runLive("paper", config, {
      ...deps(store, events),
      signal: stop.signal,
      onStop: "cancel",
      openFeed: (after) => ({
        ...replayFeed(events, after, []),
        processed: async (e) => {
          if (e.kind === "bar" && e.bar.openTime === protectedAt) stop.abort();
        },
      }),
    });
    expect(first.completed).toBe(false);
    const working = new Map<string, string>();
    const canceled: string[] = [];
    let lastCheckpoint: { state: { engine: { execution: { workingOrders: unknown[] } } } } | undefined;
    for await (const e of store.readAll()) {
      const d = e.data as { clientOrderId?: string; purpose?: string; reason?: string };
      if (e.type === "OrderSubmitted") working.set(d.clientOrderId!, d.purpose!);
      if (["OrderFilled", "OrderRejected", "OrderExpired"].includes(e.type)) working.delete(d.clientOrderId!);
      if (e.type === "OrderCanceled") {
        expect(d.reason).toBe("shutdown");
        expect(e.metadata.eventTime).toBe(protectedAt! + 59_999); // the last bar's close: the run's clock
        canceled.push(working.get(d.clientOrderId!)!);
        working.delete(d.clientOrderId!);
      }
      if (e.type === "RunCheckpointed") lastCheckpoint = e.data as unknown as typeof lastCheckpoint;
    }
    expect(canceled.sort()).toEqual(["STOP_LOSS", "TAKE_PROFIT"]);
    expect(working.size).toBe(0);
    expect(lastCheckpoint!.state.engine.execution.workingOrders).toEqual([]);

    const second = await runLive("paper", config, deps(store, events));
    expect(second.continued).toBe(true);
    expect(second.completed).toBe(true);
  });

  it("refuses a store that holds another run", async () => {
    const events = await archiveEvents();
    const store = new InMemoryEventStore();
    await runLive("paper", config, deps(store, events.slice(0, 50)));
    const other = BacktestConfigSchema.parse({ ...config, symbols: ["BTCUSDT"] });
    await expect(runLive("paper", other, deps(store, events))).rejects.toThrow(CannotResumeError);
    await expect(runLive("paper", other, deps(store, events))).rejects.toThrow(/holds run paper-/);
  });
});
