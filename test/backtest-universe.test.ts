/**
 * `--symbols ALL` on real data (issue 8 item 4), with the default sma-cross: the universe is the TRADING USDT
 * perpetuals of the snapshot whose kline files hold bars in the window (the shared data's 2023 window has BTC, ETH,
 * FIL and NEAR; ALGO, AVAX, BNB, DOT, SOL and XRP are skipped, each with its reason); the run records the list, so
 * it is the run of those symbols listed (same log), `replay --verify` and a resume reproduce it; a symbol whose
 * files end inside the window is traded up to there; too few bars to warm up (the pre-window warm-up counted)
 * skips a symbol; an empty universe names the window and the data root; the CLI prints the skipped symbols.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { archiveMarketEvents, discoverArchive, klineSymbols } from "../src/adapters/market/archive.ts";
import { universeBars } from "../src/adapters/market/universe.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema, BacktestRequestSchema, windowOf } from "../src/config/schema.ts";
import { bundledInstrumentCatalog, InstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { MissingMarketDataError, resumeBacktest, runBacktest } from "../src/engine/backtest.ts";
import { readRecordedRun } from "../src/engine/recorded-run.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import { backtestSymbols } from "../src/engine/universe.ts";
import type { EventStore } from "../src/events/store.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("backtest --symbols ALL");
const logger = pino({ level: "silent" });
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const MINUTE = 60_000;
const catalog = bundledInstrumentCatalog();

const request = (over: Record<string, unknown>) => BacktestRequestSchema.parse({ symbols: "ALL", ...over });

/** A store holding `store`'s events up to its `n`-th RunCheckpointed: the run as a kill right after it leaves it. */
async function killedAfterCheckpoint(store: EventStore, n: number): Promise<InMemoryEventStore> {
  const killed = new InMemoryEventStore();
  let checkpoints = 0;
  for await (const e of store.readAll()) {
    const { stream, revision, position: _, ...event } = e;
    await killed.append(stream, [event], revision === 0 ? "noStream" : revision - 1);
    if (e.type === "RunCheckpointed" && ++checkpoints === n) break;
  }
  expect(checkpoints).toBe(n);
  return killed;
}

describe.skipIf(!root)("backtest --symbols ALL on real data", () => {
  it("trades the snapshot's perpetuals with bars in the window, records them, and is the run of them listed", async () => {
    const store = new InMemoryEventStore();
    const all = await runBacktest(request({ from: "2023-08-01", to: "2023-08-01" }), {
      store,
      dataRoot: root!,
      logger,
    });
    const traded = ["BTCUSDT", "ETHUSDT", "FILUSDT", "NEARUSDT"];
    expect(Object.keys(all.fundingSettlements)).toEqual(traded);
    const recorded = await readRecordedRun(store);
    expect(recorded.started.symbols).toEqual(traded);
    expect(recorded.config.symbols).toEqual(traded);
    expect(all.bars).toBe(traded.length * 1440);
    expect(all.orders).toBeGreaterThan(0);
    // Every other symbol folder of the data root is reported, with its reason.
    const others = (await klineSymbols(root!)).filter((s) => !traded.includes(s));
    expect(others.length).toBeGreaterThan(0);
    expect(Object.keys(all.skippedSymbols)).toEqual(others);
    for (const s of others) {
      expect(all.skippedSymbols[s]).toBe("its 1m kline files hold no bar in 2023-08-01..2023-08-01");
      expect(all.warnings).toContain(`--symbols ALL skipped ${s}: ${all.skippedSymbols[s]}`);
    }

    // The same run as the symbols listed: same configuration recorded, same run id, the same log.
    const listed = await runBacktest(
      BacktestConfigSchema.parse({ symbols: traded, from: "2023-08-01", to: "2023-08-01" }),
      { store: new InMemoryEventStore(), dataRoot: root!, logger },
    );
    expect(listed.runId).toBe(all.runId);
    expect(listed.eventLogSha256).toBe(all.eventLogSha256);
    expect(listed.skippedSymbols).toEqual({});

    // replay --verify re-runs the recorded symbols; a run killed after a checkpoint resumes to the same log.
    const replay = await verifyReplay(store, { dataRoot: root!, logger });
    expect(replay.differences).toEqual([]);
    expect(replay.ok).toBe(true);
    const resumed = await resumeBacktest({
      store: await killedAfterCheckpoint(store, 2),
      dataRoot: root!,
      logger,
    });
    expect(resumed.eventLogSha256).toBe(all.eventLogSha256);
  });

  it("trades a symbol whose files end inside the window up to their end (a listed symbol needs the whole window)", async () => {
    // The BTCUSDT and ETHUSDT 2023 files end during 2023-08-17; FILUSDT and NEARUSDT cover August.
    const window = { from: "2023-08-17", to: "2023-08-18" };
    const summary = await runBacktest(request(window), {
      store: new InMemoryEventStore(),
      dataRoot: root!,
      logger,
    });
    const traded = ["BTCUSDT", "ETHUSDT", "FILUSDT", "NEARUSDT"];
    expect(Object.keys(summary.fundingSettlements)).toEqual(traded);
    const { from, to } = windowOf(window);
    const held = await universeBars(root!, {
      warmUpFrom: from,
      from,
      to,
      intervalMs: MINUTE,
      enough: Number.MAX_SAFE_INTEGER,
    });
    expect(held.get("BTCUSDT")!.inWindow).toBeLessThan(1440);
    expect(summary.bars).toBe(traded.reduce((n, s) => n + held.get(s)!.inWindow, 0));
    expect(summary.gaps).toBe(2); // BTCUSDT's and ETHUSDT's missing ends
    await expect(
      runBacktest(BacktestConfigSchema.parse({ symbols: ["BTCUSDT"], ...window }), {
        store: new InMemoryEventStore(),
        dataRoot: root!,
        logger,
      }),
    ).rejects.toThrow(MissingMarketDataError);
  });

  it("skips a symbol with fewer bars than the warm-up needs, counting the bars before the window", async () => {
    // smaLong 3000: BTCUSDT and ETHUSDT hold less than a day in the window (they end on 2023-08-17), but weeks
    // before it.
    const window = { from: "2023-08-17", to: "2023-08-20", smaCross: { smaLong: 3000 } };
    const { from, to } = windowOf(window);
    const held = await universeBars(root!, {
      warmUpFrom: from,
      from,
      to,
      intervalMs: MINUTE,
      enough: Number.MAX_SAFE_INTEGER,
    });
    const cold = await backtestSymbols(request({ ...window, warmupBars: 0 }), root!, catalog);
    expect(cold.config.symbols).toEqual(["FILUSDT", "NEARUSDT"]);
    for (const s of ["BTCUSDT", "ETHUSDT"]) {
      expect(cold.skipped[s]).toBe(
        `its 1m kline files hold ${held.get(s)!.inWindow} 1m bars before and in 2023-08-17..2023-08-20, ` +
          "fewer than the 3000 the strategy needs to warm up",
      );
    }
    const short = await backtestSymbols(request({ ...window, warmupBars: 1000 }), root!, catalog);
    expect(short.config.symbols).toEqual(["FILUSDT", "NEARUSDT"]);
    expect(short.skipped["BTCUSDT"]).toContain(`hold ${held.get("BTCUSDT")!.inWindow + 1000} 1m bars`);
    const warm = await backtestSymbols(request(window), root!, catalog);
    expect(warm.config.symbols).toEqual(["BTCUSDT", "ETHUSDT", "FILUSDT", "NEARUSDT"]);
    expect(warm.config).toMatchObject(window);
    expect(warm.config.warmupBars).toBeUndefined();
  });

  it("counts the bars the run would read: universeBars = the merged stream's bars", async () => {
    const from = Date.UTC(2023, 7, 16);
    const to = Date.UTC(2023, 7, 19);
    const warmUpFrom = from - 500 * MINUTE;
    const counted = await universeBars(root!, {
      warmUpFrom,
      from,
      to,
      intervalMs: MINUTE,
      enough: Number.MAX_SAFE_INTEGER,
    });
    for (const symbol of ["BTCUSDT", "FILUSDT"]) {
      const files = await discoverArchive(
        root!,
        { symbols: [symbol], from: warmUpFrom, to },
        { partial: true },
      );
      let beforeWindow = 0;
      let inWindow = 0;
      for await (const e of archiveMarketEvents(files, { from: warmUpFrom, to })) {
        if (e.kind === "bar") e.bar.openTime < from ? beforeWindow++ : inWindow++;
      }
      expect(inWindow).toBeGreaterThan(0);
      expect(counted.get(symbol)).toEqual({ beforeWindow, inWindow });
    }
    expect(counted.get("ALGOUSDT")).toEqual({ beforeWindow: 0, inWindow: 0 });
    // With the warm-up as `enough`, counting stops early but still decides: the window has a bar, 200 in all.
    const early = await universeBars(root!, { warmUpFrom, from, to, intervalMs: MINUTE, enough: 200 });
    const fil = early.get("FILUSDT")!;
    expect(fil.inWindow).toBeGreaterThan(0);
    expect(fil.beforeWindow + fil.inWindow).toBeGreaterThanOrEqual(200);
    expect(fil.beforeWindow + fil.inWindow).toBeLessThan(counted.get("FILUSDT")!.inWindow);
  });

  it("follows the run's instruments snapshot: a symbol it lists as SETTLING is skipped", async () => {
    const raw = JSON.parse(
      readFileSync(join(root!, "futures/um/exchangeInfo/exchangeInfo-2025-12-24.json"), "utf8"),
    ) as { symbols: { symbol: string; status: string }[] };
    for (const s of raw.symbols) if (s.symbol === "NEARUSDT") s.status = "SETTLING";
    const settling = InstrumentCatalog.fromExchangeInfo(raw, "file exchangeInfo-2025-12-24.json (edited)");
    const { config, skipped } = await backtestSymbols(
      request({ from: "2023-08-01", to: "2023-08-01" }),
      root!,
      settling,
    );
    expect(config.symbols).toEqual(["BTCUSDT", "ETHUSDT", "FILUSDT"]);
    expect(skipped["NEARUSDT"]).toBe(
      "not a TRADING USDT perpetual in the instruments snapshot (2025-12-24, file exchangeInfo-2025-12-24.json (edited)): SETTLING PERPETUAL quoted in USDT",
    );
  });

  it("an empty universe is an error naming the window and the data root", async () => {
    const store = new InMemoryEventStore();
    const failed = runBacktest(request({ from: "2024-03-01", to: "2024-03-02" }), {
      store,
      dataRoot: root!,
      logger,
    });
    await expect(failed).rejects.toThrow(MissingMarketDataError);
    await expect(failed).rejects.toThrow(
      `--symbols ALL: no TRADING USDT perpetual of the instruments snapshot (${catalog.snapshotDate}, bundled) ` +
        `has 1m kline bars in 2024-03-01..2024-03-02 under ${root}`,
    );
    for await (const _ of store.readAll())
      expect.unreachable("nothing is written before the universe is known");
    const empty = mkdtempSync(join(tmpdir(), "universe-"));
    try {
      await expect(backtestSymbols(request({}), empty, catalog)).rejects.toThrow(
        /no symbol has a folder in futures\/um\/monthly\/klines or futures\/um\/ohlcv\/klines/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("the CLI: backtest --symbols ALL prints the skipped symbols (stderr and --json); run --mode paper refuses ALL", () => {
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [BIN, "--log-level", "warn", ...args], { encoding: "utf8", cwd: tmpdir() });
    const bt = cli([
      "backtest",
      "--symbols",
      "all",
      "--from",
      "2023-08-17",
      "--to",
      "2023-08-17",
      "--data",
      root!,
      "--store",
      "memory:",
      "--json",
    ]);
    expect(bt.status, bt.stderr).toBe(0);
    const summary = JSON.parse(bt.stdout);
    expect(Object.keys(summary.warmFrom)).toEqual(["BTCUSDT", "ETHUSDT", "FILUSDT", "NEARUSDT"]);
    expect(summary.skippedSymbols.SOLUSDT).toBe("its 1m kline files hold no bar in 2023-08-17..2023-08-17");
    expect(bt.stderr).toContain(
      "warning: --symbols ALL skipped SOLUSDT: its 1m kline files hold no bar in 2023-08-17..2023-08-17",
    );

    const run = cli(["run", "--mode", "paper", "--symbols", "ALL", "--store", "memory:"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'error: invalid config: backtest.symbols (from flag --symbols): "ALL" (--symbols ALL) is for backtests only: ' +
        "in run --mode paper the universe would be a venue query",
    );
  });
});
