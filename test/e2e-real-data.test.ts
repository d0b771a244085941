/**
 * End to end on real Binance data: sma-cross on BTCUSDT + ETHUSDT, 2025-05-05 .. 2025-06-24 (about 145k 1m
 * bars with their funding settlements), into SQLite and into memory. The two logs must hash the same, the
 * stored run must pass `replay --verify`, and must fail it once one stored event is altered. Without warm-up, the
 * fills are exactly those of the walking skeleton (before the strategy-agnostic kernel).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { type BacktestSummary, runBacktest } from "../src/engine/backtest.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("end-to-end backtest of BTCUSDT+ETHUSDT 2025-05-05..2025-06-24");
const logger = pino({ level: "silent" });
const config = BacktestConfigSchema.parse({
  symbols: ["BTCUSDT", "ETHUSDT"],
  from: "2025-05-05",
  to: "2025-06-24",
});

describe.skipIf(!root)("end to end on real data", () => {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-e2e-"));
  const file = join(dir, "run.sqlite");
  let sqliteRun: BacktestSummary;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("backtests into SQLite: every bar, orders, fills, fees and funding", async () => {
    const store = SqliteEventStore.open(file);
    sqliteRun = await runBacktest(config, { store, dataRoot: root!, logger });
    await store.close();
    // 50 full days for each symbol plus the 2025-06-24 part that the OHLCV files hold.
    expect(sqliteRun.bars).toBeGreaterThan(2 * 50 * 1440);
    expect(sqliteRun.bars).toBeLessThanOrEqual(2 * 51 * 1440);
    expect(sqliteRun.orders).toBeGreaterThan(0);
    expect(sqliteRun.fills).toBeGreaterThan(0);
    expect(Number(sqliteRun.fees)).toBeGreaterThan(0);
    expect(Number(sqliteRun.funding)).not.toBe(0);
    expect(Number(sqliteRun.maxDrawdown)).toBeGreaterThan(0);
    expect(sqliteRun.eventLogSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("the same backtest in another store writes the same log (same eventLogSha256)", async () => {
    const again = await runBacktest(config, { store: new InMemoryEventStore(), dataRoot: root!, logger });
    expect({ ...again, barsPerSec: 0 }).toEqual({ ...sqliteRun, barsPerSec: 0 });
  });

  it("replay --verify accepts the stored run, and rejects it after one stored event is altered", async () => {
    const store = SqliteEventStore.open(file);
    const report = await verifyReplay(store, { dataRoot: root!, logger });
    await store.close();
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.eventLogSha256).toBe(sqliteRun.eventLogSha256);

    const db = new Database(file);
    const row = db
      .prepare("SELECT position, data FROM events WHERE type = 'FillBooked' ORDER BY position LIMIT 1")
      .get() as {
      position: number;
      data: string;
    };
    const data = JSON.parse(row.data) as { price: string };
    data.price = `${data.price}1`;
    db.prepare("UPDATE events SET data = ? WHERE position = ?").run(JSON.stringify(data), row.position);
    db.close();

    const tampered = SqliteEventStore.open(file);
    const second = await verifyReplay(tampered, { dataRoot: root!, logger });
    await tampered.close();
    expect(second.ok).toBe(false);
    expect(second.differences[0]).toMatch(
      new RegExp(`event #${row.position} account-main@\\d+ \\(FillBooked\\) differs from the re-run in data`),
    );
  });

  it("with --warmup-bars 0 the fills are exactly the walking skeleton's (times, prices, quantities, fees)", async () => {
    // sha256 over `eventTime|data` of every OrderFilled, taken from the walking skeleton's run of this window
    // (commit 8ba695c, before the strategy-agnostic kernel): 560 fills.
    const store = new InMemoryEventStore();
    await runBacktest({ ...config, warmupBars: 0 }, { store, dataRoot: root!, logger });
    const hash = createHash("sha256");
    let fills = 0;
    for await (const e of store.readAll()) {
      if (e.type !== "OrderFilled") continue;
      hash.update(`${e.metadata.eventTime}|${JSON.stringify(e.data)}\n`);
      fills++;
    }
    expect(fills).toBe(560);
    expect(hash.digest("hex")).toBe("5bf62f62131de7afe0b06b5f81477322e0e8d9f1c9522b2f7703a2dc9182c394");
  });
});
