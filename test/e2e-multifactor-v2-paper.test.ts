/**
 * multifactor-v2 in paper mode against the local Binance double trades as its backtest does (issue 8, "Done
 * when"): FILUSDT 2023-09-12..13 (12-column klines, official funding), the paper run warming up over the double's
 * REST on 979 hours of 1m klines with their taker volume and the settlements before them, the backtest on the same
 * bars from the files. Both runs' decisions (every FactorComputed: factors A–I and the sizing) and their fills are
 * the same, and the paper store passes `replay --verify`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { EventStore } from "../src/events/store.ts";
import { fills, paperRunWithHistory } from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("multifactor-v2 in paper mode against the double on FILUSDT 2023-09");
const logger = pino({ level: process.env.PERPSOURCE_TEST_LOG ?? "silent" });
const config = BacktestConfigSchema.parse({
  strategy: "multifactor-v2",
  symbols: ["FILUSDT"],
  from: "2023-09-12",
  to: "2023-09-13",
});

async function decisions(store: EventStore) {
  const out: EventData<"FactorComputed">[] = [];
  for await (const e of store.readAll())
    if (e.type === "FactorComputed") out.push(e.data as EventData<"FactorComputed">);
  return out;
}

describe.skipIf(!root)("multifactor-v2 in paper mode against the double", () => {
  it("decides and fills as its backtest does, and its store replays", async () => {
    const backtest = new InMemoryEventStore();
    const summary = await runBacktest(config, { store: backtest, dataRoot: root!, logger });
    const file = join(mkdtempSync(join(tmpdir(), "perpsource-mf-paper-")), "paper.sqlite");
    const paper = SqliteEventStore.open(file);
    try {
      await paperRunWithHistory(root!, config, paper, 42);
      const expected = await decisions(backtest);
      // Warm from the window's first hour (979 bars before it in the files), a decision every hour after.
      expect(expected).toHaveLength(48);
      expect(summary.orders).toBeGreaterThan(0);
      expect(await decisions(paper)).toEqual(expected);
      expect(await fills(paper)).toEqual(await fills(backtest));
      const report = await verifyReplay(paper, { dataRoot: root!, logger });
      expect(report.ok, JSON.stringify(report).slice(0, 2000)).toBe(true);
    } finally {
      await paper.close();
    }
  }, 900_000);
});
