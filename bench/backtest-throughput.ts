/**
 * `npm run bench`: backtest throughput on real data (FILUSDT 1m, 2023-08 .. 2023-11, about 175k bars) beside a
 * bare loop that only parses and validates the same CSV files, in the same process and run — sma-cross into
 * memory and SQLite, and multifactor-v2 (1h bars aggregated from the same 1m bars, the hourly factor; its ratio
 * should stay near sma-cross's: the factor must not cost more than the 1m ingestion) —; then the peak RSS of
 * a SQLite backtest of the first month and of the whole window, each in its own process (memory must stay flat:
 * the whole window may use at most 1.2 × the first month's peak). SQLite stores are opened with the backtest
 * group commit (`BACKTEST_GROUP_COMMIT`), as `perpsource backtest` opens them. Each peak-RSS row is the median
 * of three such processes (a process's peak moves with its collector's timing).
 *
 * `ratio` = bare-parse time / run time: the share of the bare parse's throughput a backtest keeps (1.0 would mean
 * the engine costs nothing; issue 5 asks ≥ 0.4 in memory and ≥ 0.25 into SQLite). Every row is run in each of
 * `BENCH_ROUNDS` rounds (default 3) and shows its fastest; a ratio is the fastest baseline over the fastest run
 * (the fastest of a few runs is the least disturbed by the rest of the machine, on either side). `npm run bench -- --json`
 * prints one JSON line per row: name, bars, seconds, barsPerSec, ratio (and peakRssMb for the RSS rows).
 *
 * Throughput is measured warm, as benchmarks of a JIT-compiled runtime are: before the timed rows, a warm-up
 * pass (not printed) parses the first kline file and runs each kind of backtest over the window's first
 * `BENCH_WARMUP_DAYS` days, so that compiling the code (a one-time cost of the process, like loading it) is
 * charged neither to the baseline nor to a backtest. One parse thread serves the whole process, as one may
 * serve every run of a long-lived process. `BENCH_WARMUP_DAYS=0` measures cold instead.
 *
 * Reads the data root from PERPSOURCE_DATA (else ../shared/data/binance). Options via env:
 * BENCH_SYMBOLS (default FILUSDT), BENCH_FROM (2023-08-01), BENCH_TO (2023-11-30), BENCH_ROUNDS (3),
 * BENCH_WARMUP_DAYS (3).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { countKlineRows, discoverArchive } from "../src/adapters/market/archive.ts";
import { ParseThread } from "../src/adapters/market/parse-thread.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BACKTEST_GROUP_COMMIT, SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema, windowOf } from "../src/config/schema.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { executeBacktest } from "../src/engine/backtest.ts";
import type { EventStore } from "../src/events/store.ts";

const dataRoot = resolve(process.env.PERPSOURCE_DATA ?? "../shared/data/binance");
const logger = pino({ level: "silent" });
const symbols = (process.env.BENCH_SYMBOLS ?? "FILUSDT").split(",");
const from = process.env.BENCH_FROM ?? "2023-08-01";
const to = process.env.BENCH_TO ?? "2023-11-30";

/** The process's parse thread (see the module comment). */
const parseThread = new ParseThread();

/**
 * One backtest of [from, to] into `store`; bars and wall seconds. The instruments and bracket catalogs are loaded
 * and the parse thread has loaded its modules before the clock starts, as in `perpsource backtest` before the
 * run (while it discovers and hashes the files): one-time costs of the process, not of a run.
 */
async function backtest(first: string, last: string, store: EventStore, strategy = "sma-cross") {
  const config = BacktestConfigSchema.parse({ strategy, symbols, from: first, to: last });
  const files = await discoverArchive(dataRoot, { symbols, ...windowOf(config) });
  const instruments = bundledInstrumentCatalog();
  const brackets = bundledLeverageBracketCatalog();
  await parseThread.ready();
  const t = performance.now();
  const summary = await executeBacktest(config, files, {
    store,
    dataRoot,
    logger,
    instruments,
    brackets,
    parseThread,
  });
  const seconds = (performance.now() - t) / 1000;
  await store.close();
  return { summary, seconds, files };
}

interface Row {
  name: string;
  bars: number;
  seconds: number;
  barsPerSec: number;
  ratio: number;
  peakRssMb?: number;
  sha?: string;
}

// Child mode: one SQLite backtest of [argv[3], argv[4]], its peak RSS as one JSON line.
if (process.argv[2] === "--peak-rss") {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-bench-rss-"));
  try {
    const { summary, seconds } = await backtest(
      process.argv[3]!,
      process.argv[4]!,
      SqliteEventStore.open(join(dir, "rss.sqlite"), { groupCommit: BACKTEST_GROUP_COMMIT }),
    );
    console.log(JSON.stringify({ bars: summary.bars, seconds, maxRssKb: process.resourceUsage().maxRSS }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await parseThread.close();
  }
  process.exit(0);
}

const json = process.argv.includes("--json");
/** Processes per peak-RSS row (their median is shown). */
const RSS_RUNS = 3;
const rounds = Number(process.env.BENCH_ROUNDS ?? "3");
const rows: Row[] = [];
const warmUpDays = Number(process.env.BENCH_WARMUP_DAYS ?? "3");
const dir = mkdtempSync(join(tmpdir(), "perpsource-bench-"));
try {
  if (warmUpDays > 0) {
    const config = BacktestConfigSchema.parse({ symbols, from, to });
    const [firstKlines] = (await discoverArchive(dataRoot, { symbols, ...windowOf(config) })).filter(
      (f) => f.kind === "klines",
    );
    if (firstKlines) await countKlineRows([firstKlines]);
    const warmTo = new Date(Date.parse(from) + (warmUpDays - 1) * 86_400_000).toISOString().slice(0, 10);
    await backtest(from, warmTo, new InMemoryEventStore());
    await backtest(from, warmTo, new InMemoryEventStore(), "multifactor-v2");
    await backtest(
      from,
      warmTo,
      SqliteEventStore.open(join(dir, "warm-up.sqlite"), { groupCommit: BACKTEST_GROUP_COMMIT }),
    );
  }
  // Each row's seconds in every round, by name (in the order first measured), with its bars and log sha.
  const timed = new Map<string, { bars: number; seconds: number[]; sha?: string }>();
  const record = (name: string, bars: number, seconds: number, sha?: string) => {
    const entry = timed.get(name) ?? { bars, seconds: [], ...(sha ? { sha } : {}) };
    entry.seconds.push(seconds);
    timed.set(name, entry);
  };
  const baselineName = "bare CSV parse (baseline)";
  for (let round = 0; round < rounds; round++) {
    const config = BacktestConfigSchema.parse({ symbols, from, to });
    const klineFiles = (await discoverArchive(dataRoot, { symbols, ...windowOf(config) })).filter(
      (f) => f.kind === "klines",
    );
    const t = performance.now();
    const bars = await countKlineRows(klineFiles);
    record(baselineName, bars, (performance.now() - t) / 1000);
    const memory = await backtest(from, to, new InMemoryEventStore());
    record("backtest, in-memory store", memory.summary.bars, memory.seconds, memory.summary.eventLogSha256);
    const multifactor = await backtest(from, to, new InMemoryEventStore(), "multifactor-v2");
    record(
      "multifactor-v2, in-memory store",
      multifactor.summary.bars,
      multifactor.seconds,
      multifactor.summary.eventLogSha256,
    );
    const sqlite = await backtest(
      from,
      to,
      SqliteEventStore.open(join(dir, `bench-${round}.sqlite`), { groupCommit: BACKTEST_GROUP_COMMIT }),
    );
    record("backtest, SQLite store", sqlite.summary.bars, sqlite.seconds, sqlite.summary.eventLogSha256);
  }
  // The fastest round of each row, and of the baseline for its ratio.
  const baseline = Math.min(...timed.get(baselineName)!.seconds);
  for (const [name, { bars, seconds, sha }] of timed) {
    const best = Math.min(...seconds);
    rows.push({
      name,
      bars,
      seconds: best,
      barsPerSec: Math.round(bars / best),
      ratio: Number((baseline / best).toFixed(3)),
      ...(sha ? { sha } : {}),
    });
  }
  const monthEnd = new Date(Date.UTC(Number(from.slice(0, 4)), Number(from.slice(5, 7)), 0))
    .toISOString()
    .slice(0, 10);
  const self = fileURLToPath(import.meta.url);
  for (const [name, last] of [
    ["peak RSS, SQLite, first month", monthEnd],
    ["peak RSS, SQLite, whole window", to],
  ] as const) {
    // A process's peak RSS moves with its collector's timing: the median of RSS_RUNS processes.
    const runs = Array.from({ length: RSS_RUNS }, () => {
      const child = spawnSync(process.execPath, ["--import", "tsx", self, "--peak-rss", from, last], {
        encoding: "utf8",
      });
      if (child.status !== 0) throw new Error(`peak-RSS run failed: ${child.stderr}`);
      return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as {
        bars: number;
        seconds: number;
        maxRssKb: number;
      };
    }).sort((a, b) => a.maxRssKb - b.maxRssKb);
    const r = runs[Math.floor(runs.length / 2)]!;
    rows.push({
      name,
      bars: r.bars,
      seconds: r.seconds,
      barsPerSec: Math.round(r.bars / r.seconds),
      ratio: Number.NaN,
      peakRssMb: Math.round(r.maxRssKb / 1024),
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await parseThread.close();
}

const [month, whole] = rows.filter((r) => r.peakRssMb !== undefined);
const rssGrowth = whole!.peakRssMb! / month!.peakRssMb!;
if (json) {
  for (const r of rows) {
    const { sha: _sha, ...out } = r;
    console.log(JSON.stringify(Number.isNaN(out.ratio) ? { ...out, ratio: null } : out));
  }
  console.log(
    JSON.stringify({ name: "peak RSS whole window / first month", ratio: Number(rssGrowth.toFixed(3)) }),
  );
} else {
  console.log(`perpsource bench: ${symbols.join(",")} ${from}..${to} (sma-cross unless named)`);
  console.log(
    "name".padEnd(34),
    "bars".padStart(9),
    "seconds".padStart(9),
    "bars/s".padStart(10),
    "ratio".padStart(7),
    "peak RSS".padStart(9),
    " log sha256",
  );
  for (const r of rows) {
    console.log(
      r.name.padEnd(34),
      String(r.bars).padStart(9),
      r.seconds.toFixed(2).padStart(9),
      String(r.barsPerSec).padStart(10),
      (Number.isNaN(r.ratio) ? "" : r.ratio.toFixed(3)).padStart(7),
      (r.peakRssMb === undefined ? "" : `${r.peakRssMb} MB`).padStart(9),
      r.sha ? ` ${r.sha.slice(0, 16)}…` : "",
    );
  }
  console.log(
    `ratio = bare-parse time / run time; peak RSS whole window / first month = ${rssGrowth.toFixed(2)}`,
  );
}
