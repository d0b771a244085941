import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { lastValueFrom, toArray } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  archiveMarketEvents,
  countKlineRows,
  discoverArchive,
  MarketCoverage,
} from "../src/adapters/market/archive.ts";
import { readKlineFile } from "../src/adapters/market/klines.ts";
import { klineGap } from "../src/adapters/market/merge.ts";
import type {
  ArchiveFile,
  FundingSettlement,
  MarketEvent,
  MarketGap,
  MarketWindow,
} from "../src/adapters/market/types.ts";
import { consumeInOrder } from "../src/market/pull.ts";
import { collect, label, symbolOf } from "./support/market.ts";
import { requireRealData } from "./support/real-data.ts";

const MIN = 60_000;
const DAY = 86_400_000;
const KIND_RANK = { funding: 0, gap: 1, bar: 2 } as const;

/** The settlement slot of a calc_time: its minute, rounded to the nearest (ms epoch). */
function slotOf(calcTime: number): number {
  return Math.round(calcTime / MIN) * MIN;
}

/**
 * The distinct settlement slots in [q.from, q.to) over every fundingRate file in `files`, read straight from
 * the text (first column, header skipped), ascending: what one-settlement-per-slot must deliver.
 */
async function fundingSlots(files: readonly ArchiveFile[], q: MarketWindow): Promise<number[]> {
  const slots = new Set<number>();
  for (const f of files.filter((file) => file.kind === "fundingRate")) {
    for (const line of readFileSync(f.absolutePath, "utf8").split("\n").slice(1)) {
      const t = Number(line.split(",")[0]);
      if (line !== "" && t >= q.from && t < q.to) slots.add(slotOf(t));
    }
  }
  return [...slots].sort((a, b) => a - b);
}

/** Throws unless the events are strictly increasing by (time, kind rank, symbol). */
function expectStrictOrder(events: MarketEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    const a = events[i - 1]!;
    const b = events[i]!;
    const order =
      a.time - b.time ||
      KIND_RANK[a.kind] - KIND_RANK[b.kind] ||
      symbolOf(a).localeCompare(symbolOf(b), "en");
    if (order >= 0) throw new Error(`events ${i - 1} and ${i} out of order: ${label(a)} then ${label(b)}`);
  }
}

describe("archive discovery and merge on a hand-made archive", () => {
  // 2024-01-01 07:55 .. 08:05 UTC; funding boundary at 08:00.
  const T0 = Date.UTC(2024, 0, 1, 7, 55);
  const window: MarketWindow = { from: T0, to: T0 + 10 * MIN };
  let root: string;

  const official = (minute: number, price: string) => {
    const open = T0 + minute * MIN;
    return `${open},${price},${price},${price},${price},1.5,${open + MIN - 1},0,1,0,0,0`;
  };
  const ohlcv = (minute: number, price: string) =>
    `${T0 + minute * MIN},${price},${price},${price},${price},2`;
  const files: Record<string, string> = {
    // AAA: minute −1 before the window, minutes 3 and 8 missing.
    "futures/um/monthly/klines/AAAUSDT/1m/AAAUSDT-1m-2024-01.csv": [
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore",
      ...[-1, 0, 1, 2, 4, 5, 6, 7, 9].map((m) => official(m, `10${m + 1}.5`)),
    ].join("\n"),
    // Overlaps AAA's monthly file: minute 2 differs (the monthly file wins), minute 3 fills its hole.
    "futures/um/ohlcv/klines/AAAUSDT/1m/AAAUSDT-1m-2024-01-01_2024-01-01.csv": [
      "open_time,open,high,low,close,volume",
      ohlcv(2, "999"),
      ohlcv(3, "103.9"),
    ].join("\n"),
    "futures/um/fundingRate/AAAUSDT/AAAUSDT-fundingRate-2024-01-01_2024-01-01.csv": [
      "calc_time,funding_interval_hours,last_funding_rate",
      `${T0 - DAY},8,0.0001`, // before the window
      `${T0},8,0.0002`, // lastClose of the pre-window bar (minute −1)
      `${T0 + 5 * MIN + 3},8,-2.5e-7`, // lastClose of minute 4 (closes 07:59:59.999)
    ].join("\n"),
    "futures/um/ohlcv/klines/BBBUSDT/1m/BBBUSDT-1m-2024-01-01_2024-01-01.csv": [
      "open_time,open,high,low,close,volume",
      ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((m) => ohlcv(m, `20${m}`)),
    ].join("\n"),
    "futures/um/fundingRate/BBBUSDT/BBBUSDT-fundingRate-2024-01-01_2024-01-01.csv": [
      "calc_time,funding_interval_hours,last_funding_rate",
      `${T0},8,0.0003`, // before BBB's first bar, no mark kline: skipped
      `${T0 + 5 * MIN + 1},8,0.0004`, // the 08:00 mark kline
    ].join("\n"),
    "futures/um/markPriceKlines/BBBUSDT/8h/BBBUSDT-markPriceKlines-8h-2024-01-01_2024-01-01.csv": [
      "open_time,open,high,low,close",
      `${Date.UTC(2024, 0, 1)},190,210,180,200`,
      `${Date.UTC(2024, 0, 1, 8)},204.25,210,180,200`,
    ].join("\n"),
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "perpsource-archive-"));
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), `${content}\n`);
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("discovers the files in a deterministic order, hashed", async () => {
    const found = await discoverArchive(root, { symbols: ["BBBUSDT", "AAAUSDT", "BBBUSDT"], ...window });
    expect(found.map((f) => [f.symbol, f.kind, f.path])).toEqual([
      ["AAAUSDT", "klines", "futures/um/monthly/klines/AAAUSDT/1m/AAAUSDT-1m-2024-01.csv"],
      ["AAAUSDT", "klines", "futures/um/ohlcv/klines/AAAUSDT/1m/AAAUSDT-1m-2024-01-01_2024-01-01.csv"],
      [
        "AAAUSDT",
        "fundingRate",
        "futures/um/fundingRate/AAAUSDT/AAAUSDT-fundingRate-2024-01-01_2024-01-01.csv",
      ],
      ["BBBUSDT", "klines", "futures/um/ohlcv/klines/BBBUSDT/1m/BBBUSDT-1m-2024-01-01_2024-01-01.csv"],
      [
        "BBBUSDT",
        "fundingRate",
        "futures/um/fundingRate/BBBUSDT/BBBUSDT-fundingRate-2024-01-01_2024-01-01.csv",
      ],
      [
        "BBBUSDT",
        "markPriceKlines",
        "futures/um/markPriceKlines/BBBUSDT/8h/BBBUSDT-markPriceKlines-8h-2024-01-01_2024-01-01.csv",
      ],
    ]);
    for (const f of found) {
      const content = readFileSync(f.absolutePath);
      expect(f.absolutePath).toBe(join(root, f.path));
      expect(f.sha256).toBe(createHash("sha256").update(content).digest("hex"));
      expect(f.bytes).toBe(content.length);
    }
  });

  it("names the symbol, window, data root and fetch command when klines do not cover the window", async () => {
    const q = { symbols: ["AAAUSDT", "ZZZUSDT"], from: Date.UTC(2024, 0, 31), to: Date.UTC(2024, 1, 2) };
    const err = await discoverArchive(root, q).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(
      `no 1m kline data for AAAUSDT covering [2024-01-31T00:00:00.000Z, 2024-02-02T00:00:00.000Z) under ${root} ` +
        "(missing [2024-02-01T00:00:00.000Z, 2024-02-02T00:00:00.000Z); looked in futures/um/monthly/klines/AAAUSDT/1m " +
        "and futures/um/ohlcv/klines/AAAUSDT/1m). Download it with `perpsource data fetch` (symbol AAAUSDT, months 2024-02).\n" +
        `no 1m kline data for ZZZUSDT covering [2024-01-31T00:00:00.000Z, 2024-02-02T00:00:00.000Z) under ${root} ` +
        "(missing [2024-01-31T00:00:00.000Z, 2024-02-02T00:00:00.000Z); looked in futures/um/monthly/klines/ZZZUSDT/1m " +
        "and futures/um/ohlcv/klines/ZZZUSDT/1m). Download it with `perpsource data fetch` (symbol ZZZUSDT, months 2024-01,2024-02).",
    );
  });

  it("merges bars, settlements and gaps in (time, funding < gap < bar, symbol) order", async () => {
    const found = await discoverArchive(root, { symbols: ["AAAUSDT", "BBBUSDT"], ...window });
    const events = await collect(archiveMarketEvents(found, window));
    expect(events.map(label)).toEqual([
      "funding AAAUSDT 07:55:00.000",
      "funding BBBUSDT 07:55:00.000", // before BBBUSDT's first bar: without a price
      "bar AAAUSDT 07:55:59.999",
      "bar BBBUSDT 07:55:59.999",
      "bar AAAUSDT 07:56:59.999",
      "bar BBBUSDT 07:56:59.999",
      "bar AAAUSDT 07:57:59.999",
      "bar BBBUSDT 07:57:59.999",
      "bar AAAUSDT 07:58:59.999",
      "bar BBBUSDT 07:58:59.999",
      "bar AAAUSDT 07:59:59.999",
      "bar BBBUSDT 07:59:59.999",
      "funding BBBUSDT 08:00:00.001",
      "funding AAAUSDT 08:00:00.003",
      "bar AAAUSDT 08:00:59.999",
      "bar BBBUSDT 08:00:59.999",
      "bar AAAUSDT 08:01:59.999",
      "bar BBBUSDT 08:01:59.999",
      "bar AAAUSDT 08:02:59.999",
      "bar BBBUSDT 08:02:59.999",
      "bar BBBUSDT 08:03:59.999",
      "gap AAAUSDT 08:04:00.000",
      "bar AAAUSDT 08:04:59.999",
      "bar BBBUSDT 08:04:59.999",
    ]);
    const aaaCloses = events.flatMap((e) =>
      e.kind === "bar" && e.bar.symbol === "AAAUSDT" ? [e.bar.close] : [],
    );
    expect(aaaCloses).toEqual([
      "101.5",
      "102.5",
      "103.5",
      "103.9",
      "105.5",
      "106.5",
      "107.5",
      "108.5",
      "1010.5",
    ]);
    const gaps = events.flatMap((e) => (e.kind === "gap" ? [e.gap] : []));
    expect(gaps).toEqual([
      { symbol: "AAAUSDT", fromOpenTime: T0 + 8 * MIN, toOpenTime: T0 + 9 * MIN, missingBars: 1 },
    ]);
    const settlements = events.flatMap((e) => (e.kind === "funding" ? [e.funding] : []));
    expect(settlements).toEqual([
      {
        symbol: "AAAUSDT",
        fundingTime: T0,
        fundingRate: "0.0002",
        fundingIntervalHours: 8,
        markPrice: "100.5",
        markPriceSource: "lastClose",
      },
      // BBBUSDT's first settlement precedes its first bar and has no mark kline: no price, not charged.
      { symbol: "BBBUSDT", fundingTime: T0, fundingRate: "0.0003", fundingIntervalHours: 8 },
      {
        symbol: "BBBUSDT",
        fundingTime: T0 + 5 * MIN + 1,
        fundingRate: "0.0004",
        fundingIntervalHours: 8,
        markPrice: "204.25",
        markPriceSource: "markPriceKline",
      },
      {
        symbol: "AAAUSDT",
        fundingTime: T0 + 5 * MIN + 3,
        fundingRate: "-0.00000025",
        fundingIntervalHours: 8,
        markPrice: "105.5",
        markPriceSource: "lastClose",
      },
    ]);
    expect(events.find((e) => e.kind === "bar")).toEqual({
      kind: "bar",
      time: T0 + MIN - 1,
      bar: {
        symbol: "AAAUSDT",
        interval: "1m",
        openTime: T0,
        closeTime: T0 + MIN - 1,
        open: "101.5",
        high: "101.5",
        low: "101.5",
        close: "101.5",
        volume: "1.5",
        // The official layout's taker_buy_volume column, as written (0 in this hand-made file).
        takerBuyVolume: "0",
      },
    });
  });

  it("reports missing bars at the start of the window as a gap", async () => {
    const found = await discoverArchive(root, { symbols: ["AAAUSDT"], ...window });
    const late = { from: T0 + 2 * MIN + 30_000, to: T0 + 5 * MIN }; // first whole minute 07:58, bar 07:58 present
    expect((await collect(archiveMarketEvents(found, late))).map(label)).toEqual([
      "bar AAAUSDT 07:58:59.999",
      "bar AAAUSDT 07:59:59.999",
    ]);
    const bbb = await discoverArchive(root, { symbols: ["BBBUSDT"], ...window });
    const early = { from: T0 - 2 * MIN, to: T0 + MIN };
    // BBB's 07:55:00.000 settlement has no mark kline and no earlier bar: delivered without a price.
    const events = await collect(archiveMarketEvents(bbb, early));
    expect(events[0]).toMatchObject({ kind: "funding", funding: { symbol: "BBBUSDT" } });
    expect(events[0]).not.toHaveProperty("funding.markPrice");
    expect(events.map(label)).toEqual([
      "funding BBBUSDT 07:55:00.000",
      "gap BBBUSDT 07:55:00.000",
      "bar BBBUSDT 07:55:59.999",
    ]);
  });

  it("counts kline rows with the bare parser; the pulled RxJS feed emits the same events", async () => {
    const found = await discoverArchive(root, { symbols: ["AAAUSDT", "BBBUSDT"], ...window });
    expect(await countKlineRows(found)).toBe(9 + 2 + 10);
    const viaRx = await lastValueFrom(
      consumeInOrder(archiveMarketEvents(found, window), (e) => e).pipe(toArray()),
    );
    expect(viaRx).toEqual(await collect(archiveMarketEvents(found, window)));
  });

  it("rejects an empty window", async () => {
    await expect(collect(archiveMarketEvents([], { from: T0, to: T0 }))).rejects.toThrow(RangeError);
  });
});

const root = requireRealData(
  "market archive: BTCUSDT/ETHUSDT 2025-05..06, FILUSDT 2023-08..11, spot 1h halt",
);

describe.skipIf(!root)("archive market data on the real Binance files", () => {
  const from = Date.UTC(2025, 4, 5);
  const to = Date.UTC(2025, 5, 24);
  let files: ArchiveFile[];
  let events: MarketEvent[];
  const coverage = new MarketCoverage();

  beforeAll(async () => {
    files = await discoverArchive(root!, { symbols: ["ETHUSDT", "BTCUSDT"], from, to });
    events = await collect(archiveMarketEvents(files, { from, to }, { coverage }));
  });

  it("BTCUSDT + ETHUSDT 2025-05-05..2025-06-24: every minute, every settlement once, strictly ordered", () => {
    // Both funding sources are listed (REST-derived range file, official monthly files); the merge keeps one.
    expect(files.map((f) => f.path)).toEqual([
      "futures/um/ohlcv/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-04_2025-06-24.csv",
      "futures/um/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-03-06_2025-07-17.csv",
      "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.csv",
      "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-06.csv",
      "futures/um/markPriceKlines/BTCUSDT/8h/BTCUSDT-markPriceKlines-8h-2025-03-06_2025-07-17.csv",
      "futures/um/ohlcv/klines/ETHUSDT/1m/ETHUSDT-1m-2025-05-04_2025-06-24.csv",
      "futures/um/fundingRate/ETHUSDT/ETHUSDT-fundingRate-2025-03-06_2025-07-17.csv",
      "futures/um/monthly/fundingRate/ETHUSDT/ETHUSDT-fundingRate-2025-05.csv",
      "futures/um/monthly/fundingRate/ETHUSDT/ETHUSDT-fundingRate-2025-06.csv",
      "futures/um/markPriceKlines/ETHUSDT/8h/ETHUSDT-markPriceKlines-8h-2025-03-06_2025-07-17.csv",
    ]);
    const days = (to - from) / DAY;
    for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
      const bars = events.flatMap((e) => (e.kind === "bar" && e.bar.symbol === symbol ? [e.bar] : []));
      expect(bars.length).toBe(days * 1440);
      expect(bars[0]!.openTime).toBe(from);
      expect(bars.at(-1)!.openTime).toBe(to - MIN);
      const settlements = events.filter((e) => e.kind === "funding" && e.funding.symbol === symbol);
      expect(settlements.length).toBe(days * 3);
      expect(
        settlements.every((e) => e.kind === "funding" && e.funding.markPriceSource === "markPriceKline"),
      ).toBe(true);
    }
    expect(events.filter((e) => e.kind === "gap")).toEqual([]);
    expectStrictOrder(events);
  });

  it("reports full coverage and no warning for the default window", () => {
    const days = (to - from) / DAY;
    expect(coverage.window).toEqual({ from, to });
    expect(coverage.symbols).toEqual(
      ["BTCUSDT", "ETHUSDT"].map((symbol) => ({
        symbol,
        expectedBars: days * 1440,
        bars: days * 1440,
        gaps: 0,
        missingBars: 0,
        firstBarOpenTime: from,
        lastBarOpenTime: to - MIN,
        fundingSettlements: days * 3,
        fundingAtLastClose: 0,
        fundingSkipped: 0,
        markPriceKlines: days * 3,
        markBars: 0,
        barsWithoutMark: 0,
        firstBarWithoutMark: null,
      })),
    );
    expect(coverage.warnings()).toEqual([]);
  });

  it("puts the 08:00:00.006 settlement between the bars closing 07:59:59.999 and 08:00:59.999", () => {
    const btc = events.filter((e) => symbolOf(e) === "BTCUSDT");
    const i = btc.findIndex((e) => e.kind === "funding" && e.funding.fundingTime === 1746460800006);
    expect(btc.slice(i - 1, i + 2).map(label)).toEqual([
      "bar BTCUSDT 15:59:59.999",
      "funding BTCUSDT 16:00:00.006",
      "bar BTCUSDT 16:00:59.999",
    ]);
    expect(btc[i]).toEqual({
      kind: "funding",
      time: 1746460800006,
      funding: {
        symbol: "BTCUSDT",
        fundingTime: 1746460800006,
        fundingRate: "-0.00002247",
        fundingIntervalHours: 8,
        markPrice: "93731.39948913",
        markPriceSource: "markPriceKline",
      },
    });
    expect(btc[i - 1]?.kind === "bar" && btc[i - 1]).toMatchObject({ bar: { close: "93726" } });
  });

  it("produces the identical stream on a second run", async () => {
    const digest = async (list: AsyncIterable<MarketEvent> | MarketEvent[]) => {
      const hash = createHash("sha256");
      for await (const e of list) hash.update(`${JSON.stringify(e)}\n`);
      return hash.digest("hex");
    };
    expect(await digest(archiveMarketEvents(files, { from, to }))).toBe(await digest(events));
  });

  it("reads FILUSDT's four monthly files 2023-08..2023-11 contiguously", async () => {
    const q = { from: Date.UTC(2023, 7, 1), to: Date.UTC(2023, 11, 1) };
    const fil = await discoverArchive(root!, { symbols: ["FILUSDT"], ...q });
    const months = ["2023-08", "2023-09", "2023-10", "2023-11"];
    expect(fil.map((f) => [f.kind, f.path.split("/").pop()])).toEqual([
      ...months.map((m) => ["klines", `FILUSDT-1m-${m}.csv`]),
      ...months.map((m) => ["fundingRate", `FILUSDT-fundingRate-${m}.csv`]),
    ]);
    let expectedOpen = q.from;
    const breaks: string[] = [];
    const settlements: FundingSettlement[] = [];
    const coverage = new MarketCoverage();
    for await (const e of archiveMarketEvents(fil, q, { coverage })) {
      if (e.kind === "funding") settlements.push(e.funding);
      else if (e.kind !== "bar" || e.bar.openTime !== expectedOpen)
        breaks.push(`${label(e)} at ${expectedOpen}`);
      else expectedOpen += MIN;
    }
    expect(breaks).toEqual([]);
    expect(expectedOpen).toBe(q.to);
    expect(await countKlineRows(fil)).toBe(122 * 1440);
    // No mark-price klines for FILUSDT: every settlement is priced at the last close, and the one at the window's
    // first millisecond (2023-08-01T00:00:00.000, before any bar) has no price at all: it comes without one (for
    // the strategies' as-of funding; nothing charges it), and that is said.
    const slots = await fundingSlots(fil, q);
    expect(slots[0]).toBe(q.from);
    expect(settlements.map((f) => slotOf(f.fundingTime))).toEqual(slots);
    expect(settlements[0]).not.toHaveProperty("markPrice");
    expect(settlements[0]).not.toHaveProperty("markPriceSource");
    expect(settlements.slice(1).every((f) => f.markPriceSource === "lastClose")).toBe(true);
    expect(coverage.symbols[0]).toMatchObject({
      bars: 122 * 1440,
      gaps: 0,
      fundingSettlements: slots.length - 1,
      fundingAtLastClose: slots.length - 1,
      fundingSkipped: 1,
      markPriceKlines: 0,
      markBars: 0,
      barsWithoutMark: 0,
      firstBarWithoutMark: null,
    });
    expect(coverage.warnings()).toEqual([
      "FILUSDT: 1 funding settlement before the first 1m bar and without a mark-price kline: not charged (strategies see its rate)",
      "FILUSDT: no mark-price data in [2023-08-01T00:00Z, 2023-12-01T00:00Z): funding priced at the last 1m close",
    ]);
  });

  it("finds the 2023-03-24 halt in the headerless spot 1h file (parser + gap detector)", async () => {
    const path = "spot/klines/BTCUSDT/1h/BTCUSDT-1h.csv";
    const hour = 3_600_000;
    const gaps: MarketGap[] = [];
    let previous: number | undefined;
    let rows = 0;
    let halted: number | undefined;
    for await (const row of readKlineFile({ path, absolutePath: join(root!, path) }, hour)) {
      const gap = previous === undefined ? undefined : klineGap("BTCUSDT", previous, row.openTime, hour);
      if (gap !== undefined) gaps.push(gap);
      if (row.openTime === Date.UTC(2023, 2, 24, 12)) halted = row.closeTime;
      previous = row.openTime;
      rows++;
    }
    expect(rows).toBe(37_923);
    expect(halted).toBe(1679661581646);
    expect(gaps).toEqual([
      {
        symbol: "BTCUSDT",
        fromOpenTime: Date.UTC(2023, 2, 24, 13),
        toOpenTime: Date.UTC(2023, 2, 24, 14),
        missingBars: 1,
      },
    ]);
  });
});
