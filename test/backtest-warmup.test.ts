/**
 * Warm-up before the window (issue 5 item 4), on real data: sma-cross (smaLong 200) reads the 200 bars before
 * `from` when the files hold them and is warm at the window's first bar; `--warmup-bars 0` starts cold (warm
 * 200 bars into the window); where the files hold nothing before the window the strategy warms up inside it; the
 * warm-up never appends events or trades before the window.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("warm-up before the backtest window");
const logger = pino({ level: "silent" });
const MINUTE = 60_000;

async function run(overrides: Record<string, unknown>) {
  const config = BacktestConfigSchema.parse({
    symbols: ["BTCUSDT"],
    from: "2025-06-01",
    to: "2025-06-01",
    ...overrides,
  });
  const store = new InMemoryEventStore();
  const summary = await runBacktest(config, { store, dataRoot: root!, logger });
  let firstBarTime = Number.POSITIVE_INFINITY;
  for await (const e of store.readAll()) {
    if (e.type === "BarClosed" || e.type === "OrderSubmitted")
      firstBarTime = Math.min(firstBarTime, e.metadata.eventTime);
  }
  return { summary, firstBarTime };
}

describe.skipIf(!root)("warm-up before the window", () => {
  const from = Date.UTC(2025, 5, 1);

  it("warms sma-cross up on the 200 bars before --from; --warmup-bars 0 starts cold", async () => {
    const warm = await run({});
    expect(warm.summary.warmFrom.BTCUSDT).toBe(from - 1); // the close of the last warm-up bar
    expect(warm.summary.bars).toBe(1440); // warm-up bars are read, not recorded
    expect(warm.firstBarTime).toBeGreaterThanOrEqual(from);

    const cold = await run({ warmupBars: 0 });
    expect(cold.summary.warmFrom.BTCUSDT).toBe(from + 200 * MINUTE - 1);
    expect(cold.summary.bars).toBe(1440);

    const short = await run({ warmupBars: 50 });
    expect(short.summary.warmFrom.BTCUSDT).toBe(from + 150 * MINUTE - 1);
  });

  it("warms up inside the window when the files hold nothing before it", async () => {
    // The BTCUSDT 2023 OHLCV file starts on 2023-07-18: nothing before that day to warm up on.
    const { summary } = await run({ from: "2023-07-18", to: "2023-07-18" });
    expect(summary.warmFrom.BTCUSDT).toBeGreaterThanOrEqual(Date.UTC(2023, 6, 18) + 200 * MINUTE - 1);
  });
});
