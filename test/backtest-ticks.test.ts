/**
 * A backtest with `backtest.venue.ticks` (`--ticks`): the strategy sees the 1m klines, the venue matches each
 * minute of a symbol with tick files on its trades (src/engine/tick-minutes.ts), so every fill is at a traded
 * price of the tick file, none at a kline price; the run is recorded with its tick paths and `replay --verify`
 * reproduces it, and a run resumed from a checkpoint ends on the uninterrupted log. Hand-made ETHUSDT data (a sine
 * of 1m bars; one trade per minute between open and close, one bookTicker update after it).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { resumeBacktest, runBacktest } from "../src/engine/backtest.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import { writeTree } from "./support/market.ts";

const logger = pino({ level: "silent" });
const T0 = Date.UTC(2024, 0, 1);
const MINUTES = 2200; // two days (the second one partly): at least one checkpoint (every 2,000 events or a day)

let root: string;
const tradePrices = new Set<string>();
const klinePrices = new Set<string>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "perpsource-backtest-ticks-"));
  const price = (i: number) => 100 + 4 * Math.sin(i / 12) + 1.5 * Math.sin(i / 5);
  const klines: string[] = [];
  const trades: string[] = ["id,price,qty,quote_qty,time,is_buyer_maker"];
  const books: string[] = [];
  for (let i = 0; i < MINUTES; i++) {
    const openTime = T0 + i * 60_000;
    const o = price(i - 1);
    const c = price(i);
    const [open, close, high, low] = [o, c, Math.max(o, c) + 0.05, Math.min(o, c) - 0.05].map((x) =>
      x.toFixed(2),
    );
    klines.push(`${openTime},${open},${high},${low},${close},1000`);
    for (const p of [open!, high!, low!, close!]) klinePrices.add(String(Number(p)));
    const traded = ((o + c) / 2 + 0.003).toFixed(2);
    trades.push(`${i + 1},${traded},1,${traded},${openTime + 30_000},${i % 2 === 0}`);
    tradePrices.add(String(Number(traded)));
    const bid = (Number(traded) - 0.01).toFixed(2);
    const ask = (Number(traded) + 0.02).toFixed(2);
    books.push(`${i + 1},${bid},3,${ask},3,${openTime + 40_000},${openTime + 40_001}`);
  }
  await writeTree(root, {
    "futures/um/ohlcv/klines/ETHUSDT/1m/ETHUSDT-1m-2024-01-01_2024-01-02.csv": `${klines.join("\n")}\n`,
    "ticks/ETHUSDT-trades-2024-01-01.csv": `${trades.join("\n")}\n`,
  });
  await mkdir(join(root, "book"));
  await writeFile(join(root, "book/ETHUSDT-bookTicker-2024-01-01.csv.gz"), gzipSync(`${books.join("\n")}\n`));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const config = (venue: Record<string, unknown>) =>
  BacktestConfigSchema.parse({
    symbols: ["ETHUSDT"],
    from: "2024-01-01",
    to: "2024-01-02",
    warmupBars: 0,
    slippage: "0",
    smaCross: { smaShort: 5, smaLong: 20, pivotLookback: 5, cooldownBars: 0, marginUsdt: "100", leverage: 5 },
    venue,
  });

async function fillPrices(store: InMemoryEventStore): Promise<string[]> {
  const prices: string[] = [];
  for await (const e of store.readAll())
    if (e.type === "OrderFilled") prices.push(String(Number((e.data as { price: string }).price)));
  return prices;
}

describe("backtest with --ticks", () => {
  it("fills at the tick file's traded prices only, and replays", async () => {
    const onBars = new InMemoryEventStore();
    await runBacktest(config({}), { store: onBars, dataRoot: root, logger });
    const barFills = await fillPrices(onBars);
    expect(barFills.length).toBeGreaterThan(4);
    expect(barFills.some((p) => !tradePrices.has(p))).toBe(true); // on bars: at kline prices

    const onTicks = new InMemoryEventStore();
    const summary = await runBacktest(config({ ticks: ["ticks"] }), {
      store: onTicks,
      dataRoot: root,
      logger,
    });
    const tickFills = await fillPrices(onTicks);
    expect(tickFills.length).toBeGreaterThan(4);
    for (const p of tickFills) expect(tradePrices.has(p), `fill at ${p}`).toBe(true);
    expect(summary.bars).toBe(MINUTES);

    const replay = await verifyReplay(onTicks, { dataRoot: root, logger });
    expect(replay.differences).toEqual([]);
    expect(replay.ok).toBe(true);
  });

  it("resumed from a checkpoint, a run on trades and bookTicker ends on the uninterrupted log", async () => {
    const whole = new InMemoryEventStore();
    const ticks = ["ticks", "book"];
    const done = await runBacktest(config({ ticks }), { store: whole, dataRoot: root, logger });
    let fills = 0;
    // a crashed run: its log up to (and with) its first checkpoint
    const crashed = new InMemoryEventStore();
    let checkpointed = false;
    for await (const e of whole.readAll()) {
      if (e.type === "OrderFilled") fills++;
      if (checkpointed) continue;
      const { eventId, type, data, metadata } = e;
      await crashed.append(
        e.stream,
        [{ eventId, type, data, metadata }],
        e.revision === 0 ? "noStream" : e.revision - 1,
      );
      checkpointed = e.type === "RunCheckpointed";
    }
    expect(checkpointed).toBe(true);
    expect(fills).toBeGreaterThan(4);
    const resumed = await resumeBacktest({ store: crashed, dataRoot: root, logger });
    expect(resumed.eventLogSha256).toBe(done.eventLogSha256);
  });

  it("names a tick path that does not exist, before writing anything", async () => {
    const store = new InMemoryEventStore();
    await expect(
      runBacktest(config({ ticks: ["nowhere"] }), { store, dataRoot: root, logger }),
    ).rejects.toThrow(/no such file or directory nowhere/);
    const written = [];
    for await (const e of store.readAll()) written.push(e);
    expect(written).toEqual([]);
  });
});
