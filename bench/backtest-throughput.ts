/**
 * `npm run bench`: backtest throughput on real data (FILUSDT 1m, 2023-08 .. 2023-11, about 175k bars) beside a
 * bare loop that only parses and validates the same CSV files, in the same process and run. Reports bars/s,
 * events/s, and the ratio of each backtest to the bare parse (1.0 would mean the engine costs nothing).
 *
 * Reads the data root from PERPSOURCE_DATA (else ../shared/data/binance). Options via env:
 * BENCH_SYMBOLS (default FILUSDT), BENCH_FROM (2023-08-01), BENCH_TO (2023-11-30), BENCH_ROUNDS (1).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pino from "pino";
import { countKlineRows, discoverArchive } from "../src/adapters/market/archive.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BACKTEST_GROUP_COMMIT, SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema, windowOf } from "../src/config/schema.ts";
import { executeBacktest } from "../src/engine/backtest.ts";
import type { EventStore } from "../src/events/store.ts";

const dataRoot = resolve(process.env.PERPSOURCE_DATA ?? "../shared/data/binance");
const config = BacktestConfigSchema.parse({
  symbols: (process.env.BENCH_SYMBOLS ?? "FILUSDT").split(","),
  from: process.env.BENCH_FROM ?? "2023-08-01",
  to: process.env.BENCH_TO ?? "2023-11-30",
});
const rounds = Number(process.env.BENCH_ROUNDS ?? "1");
const logger = pino({ level: "silent" });

const files = await discoverArchive(dataRoot, { symbols: config.symbols, ...windowOf(config) });
const klineFiles = files.filter((f) => f.kind === "klines");

interface Row {
  name: string;
  seconds: number;
  bars: number;
  events?: number;
  sha?: string;
}
const rows: Row[] = [];

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const value = await fn();
  return [value, (performance.now() - t) / 1000];
}

async function backtest(name: string, open: () => EventStore) {
  const store = open();
  const [summary, seconds] = await time(() => executeBacktest(config, files, { store, dataRoot, logger }));
  await store.close();
  rows.push({
    name,
    seconds,
    bars: summary.bars,
    events: summary.events,
    sha: summary.eventLogSha256.slice(0, 16),
  });
}

const dir = mkdtempSync(join(tmpdir(), "perpsource-bench-"));
try {
  for (let round = 0; round < rounds; round++) {
    const [bars, seconds] = await time(() => countKlineRows(klineFiles));
    rows.push({ name: "bare CSV parse (baseline)", seconds, bars });
    await backtest("backtest, in-memory store", () => new InMemoryEventStore());
    const file = join(dir, `bench-${round}.sqlite`);
    await backtest("backtest, SQLite store", () =>
      SqliteEventStore.open(file, { groupCommit: BACKTEST_GROUP_COMMIT }),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const baseline = rows
  .filter((r) => r.name.startsWith("bare"))
  .reduce((best, r) => Math.min(best, r.seconds), Infinity);
console.log(
  `perpsource bench: sma-cross ${config.symbols.join(",")} ${config.from}..${config.to}, ${klineFiles.length} kline files`,
);
console.log(
  "name".padEnd(30),
  "bars".padStart(9),
  "seconds".padStart(9),
  "bars/s".padStart(10),
  "events/s".padStart(10),
  "×baseline".padStart(10),
  " log sha256",
);
for (const r of rows) {
  const barsPerSec = r.bars / r.seconds;
  const eventsPerSec = r.events === undefined ? "" : Math.round(r.events / r.seconds).toString();
  console.log(
    r.name.padEnd(30),
    String(r.bars).padStart(9),
    r.seconds.toFixed(2).padStart(9),
    Math.round(barsPerSec).toString().padStart(10),
    eventsPerSec.padStart(10),
    (r.seconds / baseline).toFixed(1).padStart(10),
    r.sha ? ` ${r.sha}…` : "",
  );
}
console.log("×baseline = time relative to the bare parse of the same files (lower is better).");
