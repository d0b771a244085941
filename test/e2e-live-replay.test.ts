/**
 * Replay of live runs (issue 7 item 7) on stores made against the local Binance double (real BTCUSDT+ETHUSDT
 * bars and funding, lockstep, with 1m mark klines written for the test: each bar's prices + 1.5, so the double
 * publishes markPrice@1s and the simulated venue triggers on marks): a paper run warmed up on the double's REST
 * klines and a testnet run. Their logs are
 * self-contained (the warm-up and the mark klines are in them), `replay --verify` re-runs each from its log alone
 * (the double is gone by then) to the same bytes, an altered event fails the replay naming it, and a what-if
 * with the recorded parameters reproduces the recorded figures while one with other parameters differs.
 */
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { exchangeTime } from "../src/adapters/binance/exchange-time.ts";
import { liveMarketHistory } from "../src/adapters/binance/market-history.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { Dec } from "../src/domain/decimal.ts";
import { type LiveRunSummary, runLive } from "../src/engine/live-run.ts";
import { readRecordedRun } from "../src/engine/recorded-run.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import { whatIf } from "../src/engine/what-if.ts";
import type { EventData } from "../src/events/catalog.ts";
import { csvBars } from "./support/exchange-sim.ts";
import {
  brackets,
  config,
  instruments,
  lockstepFeed,
  logger,
  runAgainst,
  startDouble,
  window,
} from "./support/live-double.ts";
import { linkTree, writeTree } from "./support/market.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData(
  "replay of live runs made against exchange-sim (BTCUSDT+ETHUSDT 2025-05-05..06)",
);
const dir = mkdtempSync(join(tmpdir(), "perpsource-live-replay-"));
const markRoot = join(dir, "data");
const paperFile = join(dir, "paper.sqlite");
const testnetFile = join(dir, "testnet.sqlite");
/** The paper run warms up on the strategy's own 200 bars, fetched from the double's REST klines. */
const warmConfig = BacktestConfigSchema.parse({ ...config, warmupBars: undefined });
let paper: LiveRunSummary;
let testnet: LiveRunSummary;

/** The real bars and funding of the window's symbols (linked), and 1m mark klines: each bar's prices + 1.5. */
async function writeMarkRoot(): Promise<void> {
  const klines = (s: string) => `futures/um/ohlcv/klines/${s}/1m/${s}-1m-2025-05-04_2025-06-24.csv`;
  await linkTree(
    root!,
    markRoot,
    config.symbols.flatMap((s) => [
      klines(s),
      `futures/um/monthly/fundingRate/${s}/${s}-fundingRate-2025-05.csv`,
    ]),
  );
  const shift = (price: string) => new Dec(price).plus("1.5").toFixed();
  for (const s of config.symbols) {
    const rows = csvBars(root!, s, window.from, window.to).map(
      (b) => `${b.openTime},${shift(b.open)},${shift(b.high)},${shift(b.low)},${shift(b.close)}`,
    );
    await writeTree(markRoot, {
      [`futures/um/monthly/markPriceKlines/${s}/1m/${s}-1m-2025-05.csv`]: [
        "open_time,open,high,low,close",
        ...rows,
      ].join("\n"),
    });
  }
}

/** A paper run against a fresh double, warmed up over its REST klines, into the SQLite file `file`. */
async function paperRun(file: string): Promise<LiveRunSummary> {
  const { url, sim } = await startDouble(markRoot);
  const store = SqliteEventStore.open(file);
  try {
    return await runLive("paper", warmConfig, {
      store,
      logger,
      instruments,
      brackets,
      startTime: await exchangeTime(url),
      until: window.to,
      history: liveMarketHistory({ symbols: config.symbols, restUrl: url }),
      openFeed: lockstepFeed(url, config.symbols),
    });
  } finally {
    await store.close();
    await sim.close();
  }
}

/** A testnet run against a fresh double into `file`. */
async function testnetRun(file: string): Promise<LiveRunSummary> {
  const { url, sim } = await startDouble(markRoot);
  const store = SqliteEventStore.open(file);
  try {
    return await runAgainst("testnet", url, store);
  } finally {
    await store.close();
    await sim.close();
  }
}

/** Verifies the store file `file` (read-only). */
async function verify(file: string) {
  const store = SqliteEventStore.open(file, { readOnly: true });
  try {
    return await verifyReplay(store, { dataRoot: root!, logger });
  } finally {
    await store.close();
  }
}

/** A copy of `file` whose `offset`-th event of `type` has `field` changed; its position and stream. */
function alteredCopy(file: string, type: string, offset: number, field: string) {
  const copy = join(dir, `altered-${type}-${offset}.sqlite`);
  copyFileSync(file, copy);
  const db = new Database(copy);
  const row = db
    .prepare("SELECT position, stream, data FROM events WHERE type = ? ORDER BY position LIMIT 1 OFFSET ?")
    .get(type, offset) as { position: number; stream: string; data: string };
  const data = JSON.parse(row.data) as Record<string, string>;
  data[field] = `${data[field]}1`;
  db.prepare("UPDATE events SET data = ? WHERE position = ?").run(JSON.stringify(data), row.position);
  db.close();
  return { copy, position: row.position, stream: row.stream };
}

async function events<T extends "WarmUpRecorded" | "BarClosed">(file: string, type: T) {
  const store = SqliteEventStore.open(file, { readOnly: true });
  const found: EventData<T>[] = [];
  for await (const e of store.readAll()) if (e.type === type) found.push(e.data as EventData<T>);
  await store.close();
  return found;
}

describe.skipIf(!root)("replay of live runs made against the double", () => {
  beforeAll(async () => {
    await writeMarkRoot();
    paper = await paperRun(paperFile);
    testnet = await testnetRun(testnetFile);
  }, 600_000);

  it("a paper run's log holds its warm-up bars and the minutes' mark klines", async () => {
    expect(paper.completed).toBe(true);
    const warm = await events(paperFile, "WarmUpRecorded");
    expect(warm.map((w) => w.symbol)).toEqual(config.symbols);
    for (const w of warm) {
      expect(w.to).toBe(window.from);
      // sma-cross consumes no funding: bars (OHLCV, so 6-tuples without a taker volume) and no settlements.
      expect(w.inputs.every((i) => Array.isArray(i) && i.length === 6)).toBe(true);
      const openTimes = w.inputs.map((i) =>
        Array.isArray(i) ? i[0] : "fromOpenTime" in i ? i.fromOpenTime : -1,
      );
      expect(openTimes).toHaveLength(200);
      expect(openTimes.at(-1)).toBe(window.from - 60_000);
      expect(openTimes.every((t, n) => n === 0 || t === openTimes[n - 1]! + 60_000)).toBe(true);
    }
    expect(paper.warmFrom["BTCUSDT"]).toBeLessThanOrEqual(window.from);
    const bars = await events(paperFile, "BarClosed");
    expect(bars).toHaveLength(paper.bars);
    // Every minute has its whole mark kline, as the double published it on markPrice@1s.
    const marks = new Map(
      config.symbols.flatMap((s) =>
        csvBars(root!, s, window.from, window.to).map((b) => [`${s}:${b.openTime}`, b] as const),
      ),
    );
    for (const b of bars) {
      const bar = marks.get(`${b.symbol}:${b.openTime}`)!;
      const shifted = [bar.open, bar.high, bar.low, bar.close].map((p) => new Dec(p).plus("1.5").toFixed());
      expect([b.markOpen, b.markHigh, b.markLow, b.markPrice], `${b.symbol} ${b.openTime}`).toEqual(shifted);
    }
  });

  it("replay --verify re-runs the paper store from its log to the same bytes", async () => {
    const report = await verify(paperFile);
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.eventLogSha256).toBe(paper.eventLogSha256);
    expect(report.replayedSha256).toBe(paper.eventLogSha256);
  }, 120_000);

  it("replay --verify re-runs the testnet store on the recorded venue (fills, answers) to the same bytes", async () => {
    expect(testnet.completed).toBe(true);
    expect(testnet.fills).toBeGreaterThan(4);
    const report = await verify(testnetFile);
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.replayedSha256).toBe(testnet.eventLogSha256);
  }, 120_000);

  it("an altered market input fails the replay, naming it", async () => {
    const altered = alteredCopy(paperFile, "BarClosed", 300, "close");
    const report = await verify(altered.copy);
    expect(report.ok).toBe(false);
    expect(report.differences[0]).toMatch(
      new RegExp(`its input: event #${altered.position} ${altered.stream}@\\d+ \\(BarClosed\\)$`),
    );
  }, 120_000);

  it("an altered venue report of a testnet store fails the replay, naming it", async () => {
    const altered = alteredCopy(testnetFile, "OrderFilled", 1, "price");
    const report = await verify(altered.copy);
    expect(report.ok).toBe(false);
    expect(report.differences[0]).toMatch(/\(FillBooked\) differs from the re-run in data/);
    expect(report.differences[0]).toMatch(
      new RegExp(`its input: event #${altered.position} ${altered.stream}@\\d+ \\(OrderFilled\\)$`),
    );
  }, 120_000);

  it("a what-if with the recorded parameters reproduces the paper run's figures", async () => {
    const store = SqliteEventStore.open(paperFile, { readOnly: true });
    const recorded = await readRecordedRun(store);
    const report = await whatIf(store, recorded, recorded.config, { dataRoot: root!, logger });
    await store.close();
    expect(report.changes).toEqual([]);
    expect(report.whatIf).toEqual(report.recorded);
    expect(report.recorded).toMatchObject({ fills: paper.fills, netPnl: paper.netPnl, fees: paper.fees });
    expect(report.difference).toMatchObject({ orders: 0, fills: 0, netPnl: "0", maxDrawdown: "0" });
  }, 120_000);

  it("a what-if with shorter SMAs on the testnet store trades otherwise and says by how much", async () => {
    const store = SqliteEventStore.open(testnetFile, { readOnly: true });
    const recorded = await readRecordedRun(store);
    const other = BacktestConfigSchema.parse({
      ...recorded.config,
      smaCross: { ...recorded.config.smaCross, smaShort: 10 },
    });
    const report = await whatIf(store, recorded, other, { dataRoot: root!, logger });
    await store.close();
    expect(report.changes).toEqual(["smaCross.smaShort: 21 → 10"]);
    expect(report.recorded).toMatchObject({ fills: testnet.fills, netPnl: testnet.netPnl });
    expect(report.whatIf.netPnl).not.toBe(report.recorded.netPnl);
    expect(Number(report.difference.netPnl)).toBeCloseTo(
      Number(report.whatIf.netPnl) - Number(report.recorded.netPnl),
      6,
    );
  }, 120_000);
});
