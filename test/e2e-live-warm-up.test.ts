/**
 * A 979-hour warm-up with taker volume and funding, in a backtest and in a paper run against the local Binance
 * double, on real FILUSDT data in the official 12-column layout (2023-08..09): a probe strategy on 1h bars that
 * consumes funding (test/support/warm-up-probe.ts, multifactor-v2's inputs) reports at every 1h bar what reached
 * it so far (FactorComputed). The backtest's warm-up feeds it the files' settlements from 8 h before its first
 * bar; the paper run fetches 58,740 1m klines and the settlements over the double's REST, records them in
 * WarmUpRecorded (7-tuples with the taker buy volume, and the settlements), its BarClosed carry the files' taker
 * buy volume as the backtest's do, its strategy saw exactly what the backtest's saw, and `replay --verify` of
 * its store passes.
 */
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decimal } from "decimal.js";
import pino from "pino";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema, windowOf } from "../src/config/schema.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import type { LiveRunSummary } from "../src/engine/live-run.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import { WARM_UP_FUNDING_LOOKBACK_MS } from "../src/engine/warm-up.ts";
import { WARM_UP_EVENT_BYTES } from "../src/engine/warm-up-record.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { EventStore } from "../src/events/store.ts";
import { paperRunWithHistory } from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

vi.mock("../src/strategies/registry.ts", async (importOriginal) => {
  const { withWarmUpProbe } = await import("./support/warm-up-probe.ts");
  return withWarmUpProbe(await importOriginal());
});

const root = requireRealData("a 979-hour warm-up with taker volume and funding on FILUSDT 2023-08..09");
const logger = pino({ level: process.env.PERPSOURCE_TEST_LOG ?? "silent" });
const HOUR = 3_600_000;
const config = BacktestConfigSchema.parse({
  strategy: "warm-up-probe",
  symbols: ["FILUSDT"],
  from: "2023-09-12",
  to: "2023-09-12",
});
const window = windowOf(config);
const warmFrom = window.from - 979 * HOUR; // 2023-08-02 05:00
const fundingFrom = warmFrom - WARM_UP_FUNDING_LOOKBACK_MS;
const dir = mkdtempSync(join(tmpdir(), "perpsource-live-warm-up-"));
const paperFile = join(dir, "paper.sqlite");

/** The FILUSDT 1m rows with from ≤ open_time < to, split by hand: open time, close and taker buy volume. */
function csvRows(from: number, to: number): { openTime: number; close: string; taker: string }[] {
  return ["2023-08", "2023-09"].flatMap((month) =>
    readFileSync(join(root!, `futures/um/monthly/klines/FILUSDT/1m/FILUSDT-1m-${month}.csv`), "utf8")
      .split("\n")
      .slice(1)
      .filter((line) => line !== "")
      .map((line) => line.split(","))
      .filter((f) => Number(f[0]) >= from && Number(f[0]) < to)
      .map((f) => ({ openTime: Number(f[0]), close: f[4]!, taker: f[9]! })),
  );
}

/** The FILUSDT settlements with from ≤ calc_time < to, split by hand: time and rate. */
function csvSettlements(from: number, to: number): { fundingTime: number; fundingRate: string }[] {
  return ["2023-07", "2023-08", "2023-09"].flatMap((month) =>
    readFileSync(
      join(root!, `futures/um/monthly/fundingRate/FILUSDT/FILUSDT-fundingRate-${month}.csv`),
      "utf8",
    )
      .split("\n")
      .slice(1)
      .filter((line) => line !== "")
      .map((line) => line.split(","))
      .filter((f) => Number(f[0]) >= from && Number(f[0]) < to)
      .map((f) => ({ fundingTime: Number(f[0]), fundingRate: f[2]! })),
  );
}

async function eventsOf<T extends "WarmUpRecorded" | "BarClosed" | "FactorComputed">(
  store: EventStore,
  type: T,
): Promise<EventData<T>[]> {
  const found: EventData<T>[] = [];
  for await (const e of store.readAll()) if (e.type === type) found.push(e.data as EventData<T>);
  return found;
}

/** A paper run of `config` against a fresh lockstep double serving 42 days of history, into `store` (default: the
 * SQLite file `paperFile`, closed after). */
async function paperRun(target?: EventStore): Promise<{ summary: LiveRunSummary; historyMs: number }> {
  const store = target ?? SqliteEventStore.open(paperFile);
  let historyMs = 0;
  try {
    const summary = await paperRunWithHistory(root!, config, store, 42, (ms) => {
      historyMs = ms;
    });
    return { summary, historyMs };
  } finally {
    if (target === undefined) await store.close();
  }
}

/** `store`, whose append of its `n`-th WarmUpRecorded event fails (a run killed while it records its warm-up). */
function killedAtWarmUpPart(store: EventStore, n: number): EventStore {
  let parts = 0;
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key !== "append") return typeof value === "function" ? value.bind(target) : value;
      return (stream: string, events: { type: string }[], expected: unknown) => {
        parts += events.filter((e) => e.type === "WarmUpRecorded").length;
        if (parts >= n) return Promise.reject(new Error("killed"));
        return (value as (...args: unknown[]) => unknown).call(target, stream, events, expected);
      };
    },
  });
}

describe.skipIf(!root)("a 979-hour warm-up with taker volume and funding (FILUSDT, 12 columns)", () => {
  const backtestStore = new InMemoryEventStore();
  let paper: { summary: LiveRunSummary; historyMs: number };
  let paperStore: SqliteEventStore;

  beforeAll(async () => {
    await runBacktest(config, { store: backtestStore, dataRoot: root!, logger });
    paper = await paperRun();
    paperStore = SqliteEventStore.open(paperFile, { readOnly: true });
  }, 900_000);

  it("a backtest's warm-up feeds the settlements from 8 h before its first bar and the files' taker volumes", async () => {
    const first = (await eventsOf(backtestStore, "FactorComputed"))[0]!;
    // The first decision of the window: the 1h bar opening at `from`, after 979 warm-up bars.
    expect(first.barOpenTime).toBe(window.from);
    const firstClose = window.from + HOUR;
    const settlements = csvSettlements(fundingFrom, firstClose);
    const f = first.factors;
    expect(f["bars"]).toBe(980);
    expect(f["partialBars"]).toBe(0);
    expect(f["takerBars"]).toBe(980);
    const taker = csvRows(warmFrom, firstClose).reduce((sum, r) => sum.plus(r.taker), new Decimal(0));
    expect(f["takerSum"]).toBe(taker.toFixed());
    expect(f["fundings"]).toBe(settlements.length);
    // 2023-08-02 00:00, inside the 8 h before the first warm-up bar: its rate is in force at that bar.
    expect(f["firstFundingTime"]).toBe(settlements[0]!.fundingTime);
    expect(settlements[0]!.fundingTime).toBeLessThan(warmFrom);
    expect(f["rateAtFirstBar"]).toBe(Number(settlements[0]!.fundingRate));
    expect(f["firstBarOpenTime"]).toBe(warmFrom);
  });

  it("the paper run records the REST warm-up with its taker volumes and settlements", async () => {
    expect(paper.summary.completed).toBe(true);
    // Consecutive events of at most 512 KiB of inputs each (EventStoreDB refuses a write above 1 MiB).
    const parts = await eventsOf(paperStore, "WarmUpRecorded");
    expect(parts.length).toBeGreaterThan(4);
    for (const part of parts) {
      expect([part.symbol, part.from, part.to]).toEqual(["FILUSDT", warmFrom, window.from]);
      expect(JSON.stringify(part).length).toBeLessThan(WARM_UP_EVENT_BYTES + 1_000);
    }
    const warm = { inputs: parts.flatMap((p) => p.inputs) };
    const bars = warm.inputs.filter((i) => Array.isArray(i));
    const rows = csvRows(warmFrom, window.from);
    expect(rows).toHaveLength(58_740);
    expect(bars.map((b) => [b[0], b[4], b[6]])).toEqual(rows.map((r) => [r.openTime, r.close, r.taker]));
    const funding = warm.inputs.flatMap((i) => (!Array.isArray(i) && "fundingTime" in i ? [i] : []));
    // The rates as the exchange spells them ("0.00010000", the file's "6.9E-7" as "0.00000069"): the same numbers.
    const rate = (r: string) => new Decimal(r).toFixed();
    expect(funding.map((s) => [s.fundingTime, rate(s.fundingRate), s.fundingIntervalHours])).toEqual(
      csvSettlements(fundingFrom, window.from).map((s) => [s.fundingTime, rate(s.fundingRate), 8]),
    );
    // In market order: the first settlement (2023-08-02 00:00) comes before the first bar (05:00).
    expect(warm.inputs[0]).toEqual(funding[0]);
    // 58,740 7-tuples and the settlements: a few MB in all.
    const bytes = JSON.stringify(warm.inputs).length;
    expect(bytes).toBeGreaterThan(3_000_000);
    expect(statSync(paperFile).size).toBeGreaterThan(bytes);
    // Paging 59 pages of 1 000 klines and the settlements over the double's REST takes seconds, not minutes.
    expect(paper.historyMs).toBeLessThan(60_000);
  });

  it("the paper run's bars carry the backtest's taker buy volumes, and its strategy saw what the backtest's saw", async () => {
    const taker = (bars: EventData<"BarClosed">[]) => bars.map((b) => [b.openTime, b.takerBuyVolume]);
    const paperBars = await eventsOf(paperStore, "BarClosed");
    const backtestBars = await eventsOf(backtestStore, "BarClosed");
    expect(paperBars).toHaveLength(1_440);
    expect(taker(paperBars)).toEqual(taker(backtestBars));
    expect(taker(paperBars)).toEqual(csvRows(window.from, window.to).map((r) => [r.openTime, r.taker]));
    const factors = (list: EventData<"FactorComputed">[]) => list.map((f) => [f.barOpenTime, f.factors]);
    const paperFactors = await eventsOf(paperStore, "FactorComputed");
    expect(paperFactors).toHaveLength(24);
    expect(factors(paperFactors)).toEqual(factors(await eventsOf(backtestStore, "FactorComputed")));
  });

  it("a paper run killed while recording its warm-up continues without recording a part twice", async () => {
    const store = new InMemoryEventStore();
    await expect(paperRun(killedAtWarmUpPart(store, 3))).rejects.toThrow("killed");
    const before = await eventsOf(store, "WarmUpRecorded");
    expect(before).toHaveLength(2);
    const continued = await paperRun(store);
    expect(continued.summary.continued).toBe(true);
    expect(await eventsOf(store, "WarmUpRecorded")).toEqual(await eventsOf(paperStore, "WarmUpRecorded"));
    expect(continued.summary.eventLogSha256).toBe(paper.summary.eventLogSha256);
  }, 600_000);

  it("replay --verify re-runs the paper run from its log alone to the same bytes", async () => {
    const report = await verifyReplay(paperStore, { dataRoot: root!, logger });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
  }, 600_000);
});
