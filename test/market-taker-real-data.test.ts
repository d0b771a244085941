/**
 * Taker-buy volume on real Binance data, both kline layouts: FILUSDT 2023-08 (official 12 columns, with
 * taker_buy_volume) and BTCUSDT 2025-05 (OHLCV only). The reader, a backtest's BarClosed log and the 1h bars a
 * strategy receives carry the file's taker column exactly, and nothing (never "0") for the OHLCV file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Decimal } from "decimal.js";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { archiveMarketEvents, discoverArchive } from "../src/adapters/market/archive.ts";
import { type KlineRow, readKlineFile } from "../src/adapters/market/klines.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import { StrategyActor } from "../src/engine/strategy-actor.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { Strategy, StrategyBar } from "../src/strategies/strategy.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("taker-buy volume of FILUSDT 2023-08 (12 columns) and BTCUSDT 2025-05 (OHLCV)");
const FIL = "futures/um/monthly/klines/FILUSDT/1m/FILUSDT-1m-2023-08.csv";
const BTC = "futures/um/ohlcv/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-04_2025-06-24.csv";
const logger = pino({ level: "silent" });

async function rows(path: string): Promise<KlineRow[]> {
  const out: KlineRow[] = [];
  for await (const row of readKlineFile({ path, absolutePath: join(root!, path) })) out.push(row);
  return out;
}

/** taker_buy_volume by open_time, split from the file's text independently of the reader. */
function takerColumn(path: string): Map<number, string> {
  const lines = readFileSync(join(root!, path), "utf8").split("\n");
  expect(lines[0]!.split(",")[9]).toBe("taker_buy_volume");
  const taker = new Map<number, string>();
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const f = line.split(",");
    taker.set(Number(f[0]), f[9]!);
  }
  return taker;
}

/** A strategy that records the 1h bars it is given (immutable state: the list so far). */
const hourProbe: Strategy<Record<string, never>, readonly StrategyBar[]> = {
  name: "hour-probe",
  configKey: "hourProbe",
  paramsVersion: 1,
  params: z.object({}).strict(),
  inputs: () => ({ intervals: ["1h"], funding: false }),
  warmupBars: () => 0,
  symbolSettings: () => ({ leverage: 1, marginType: "ISOLATED" }),
  init: () => [],
  isWarm: () => true,
  step: (state, input) => ({
    state: input.kind === "bar" ? [...state, input.bar] : state,
    decision: { kind: "none" },
  }),
};

/** The 1h bars a strategy gets for `symbol` over [from, to), through the archive stream and BarClosed data. */
async function hourBars(symbol: string, from: string, to: string): Promise<readonly StrategyBar[]> {
  const window = { from: Date.parse(from), to: Date.parse(to) };
  const files = await discoverArchive(root!, { symbols: [symbol], ...window });
  const actor = new StrategyActor(hourProbe, symbol, {
    params: {},
    instrument: bundledInstrumentCatalog().get(symbol),
    symbols: 1,
    brackets: [],
  });
  const flat = { open: false, positionAmt: "0" };
  for await (const e of archiveMarketEvents(files, window)) {
    if (e.kind === "bar") actor.step({ kind: "bar", bar: e.bar }, flat, e.time);
  }
  return actor.persist().state as readonly StrategyBar[];
}

describe.skipIf(!root)("taker-buy volume on real data", () => {
  it("the reader returns the official layout's taker_buy_volume verbatim, and none for an OHLCV file", async () => {
    const fil = await rows(FIL);
    const column = takerColumn(FIL);
    expect(fil).toHaveLength(31 * 1440);
    expect(fil.map((r) => [r.openTime, r.takerBuyVolume])).toEqual([...column.entries()]);
    expect(fil.every((r) => new Decimal(r.takerBuyVolume!).lte(r.volume))).toBe(true);
    // Real flow, not a constant: both sides trade.
    expect(fil.some((r) => new Decimal(r.takerBuyVolume!).gt(0))).toBe(true);
    expect(fil.some((r) => new Decimal(r.takerBuyVolume!).lt(r.volume))).toBe(true);

    const btc = await rows(BTC);
    expect(btc.length).toBeGreaterThan(70_000);
    expect(btc.filter((r) => "takerBuyVolume" in r)).toEqual([]);
  });

  it("a backtest logs BarClosed with the file's takerBuyVolume (12 columns) and without the key (OHLCV)", async () => {
    const logged = async (symbol: string, from: string, to: string) => {
      const store = new InMemoryEventStore();
      const config = BacktestConfigSchema.parse({ symbols: [symbol], from, to });
      const summary = await runBacktest(config, { store, dataRoot: root!, logger });
      const bars: { data: EventData<"BarClosed">; json: string }[] = [];
      for await (const e of store.readAll()) {
        if (e.type === "BarClosed")
          bars.push({ data: e.data as EventData<"BarClosed">, json: JSON.stringify(e.data) });
      }
      expect(bars).toHaveLength(summary.bars);
      return bars;
    };
    const column = takerColumn(FIL);
    // The configuration's `to` is an inclusive day: two days each.
    const fil = await logged("FILUSDT", "2023-08-01", "2023-08-02");
    expect(fil).toHaveLength(2 * 1440);
    for (const { data, json } of fil) {
      expect(data.takerBuyVolume).toBe(column.get(data.openTime));
      expect(json).toContain(`"volume":"${data.volume}","takerBuyVolume":"${data.takerBuyVolume}"`);
    }
    const btc = await logged("BTCUSDT", "2025-05-05", "2025-05-06");
    expect(btc).toHaveLength(2 * 1440);
    expect(btc.filter(({ data, json }) => "takerBuyVolume" in data || json.includes("taker"))).toEqual([]);
  });

  it("a strategy's 1h bars carry the exact sum of their minutes' taker volume, or none from OHLCV data", async () => {
    const column = takerColumn(FIL);
    const fil = await hourBars("FILUSDT", "2023-08-01", "2023-08-02");
    expect(fil).toHaveLength(24);
    for (const bar of fil) {
      expect(bar.interval).toBe("1h");
      let sum = new Decimal(0);
      for (let t = bar.openTime; t < bar.closeTime; t += 60_000) sum = sum.plus(column.get(t)!);
      expect(new Decimal(bar.takerBuyVolume!).eq(sum)).toBe(true);
    }
    const btc = await hourBars("BTCUSDT", "2025-05-05", "2025-05-06");
    expect(btc).toHaveLength(24);
    expect(btc.filter((b) => "takerBuyVolume" in b)).toEqual([]);
  });
});
