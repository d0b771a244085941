import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveMarketEvents, discoverArchive, MarketCoverage } from "../src/adapters/market/archive.ts";
import type { ArchiveFile, MarketEvent, MarketGap, MarketWindow } from "../src/adapters/market/types.ts";
import { collect, label, linkTree, writeTree } from "./support/market.ts";
import { requireRealData } from "./support/real-data.ts";

const MIN = 60_000;
const DAY = 86_400_000;
const OHLCV_HEADER = "open_time,open,high,low,close,volume";
const OFFICIAL_HEADER =
  "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore";
const ohlcv = (open: number, price = "10") => `${open},${price},${price},${price},${price},1`;
const official = (open: number, price = "10") =>
  `${open},${price},${price},${price},${price},1,${open + MIN - 1},0,1,0,0,0`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "perpsource-coverage-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("holes anywhere in the window are gaps, on rows (hand-made archive)", () => {
  // [2024-01-31 23:50, 2024-02-01 00:10): 20 minutes over a month boundary.
  const from = Date.UTC(2024, 0, 31, 23, 50);
  const window: MarketWindow = { from, to: from + 20 * MIN };
  const at = (minute: number) => from + minute * MIN;
  const files = {
    // CCC: late start (23:50, 23:51 missing), a hole (23:56, 23:57), the month file ends at 23:58 and the
    // next month's file is header-only.
    "futures/um/monthly/klines/CCCUSDT/1m/CCCUSDT-1m-2024-01.csv": [
      OFFICIAL_HEADER,
      ...[2, 3, 4, 5, 8].map((m) => official(at(m))),
    ].join("\n"),
    "futures/um/monthly/klines/CCCUSDT/1m/CCCUSDT-1m-2024-02.csv": `${OFFICIAL_HEADER}\n`,
    // DDD: an empty file whose name covers the window.
    "futures/um/ohlcv/klines/DDDUSDT/1m/DDDUSDT-1m-2024-01-31_2024-02-01.csv": "",
    // EEE: truncated at a row boundary after 00:05, with funding and mark-price data.
    "futures/um/ohlcv/klines/EEEUSDT/1m/EEEUSDT-1m-2024-01-31_2024-02-01.csv": [
      OHLCV_HEADER,
      ...Array.from({ length: 16 }, (_, m) => ohlcv(at(m))),
    ].join("\n"),
    "futures/um/monthly/fundingRate/EEEUSDT/EEEUSDT-fundingRate-2024-02.csv":
      "calc_time,funding_interval_hours,last_funding_rate\n1706745600004,8,0.0001\n",
    "futures/um/monthly/markPriceKlines/EEEUSDT/8h/EEEUSDT-8h-2024-02.csv": `${Date.UTC(2024, 1, 1)},11,11,11,11,0,${
      Date.UTC(2024, 1, 1) + 8 * 3_600_000 - 1
    },0,0,0,0,0\n`,
  };
  const root = () => join(dir, "holes");

  it("reports start, middle and end holes, empty and header-only files, for every symbol", async () => {
    await writeTree(root(), files);
    const found = await discoverArchive(root(), { symbols: ["CCCUSDT", "DDDUSDT", "EEEUSDT"], ...window });
    const coverage = new MarketCoverage();
    const events = await collect(archiveMarketEvents(found, window, { coverage }));
    const gaps = events.flatMap((e) => (e.kind === "gap" ? [{ time: e.time, ...e.gap }] : []));
    const gap = (symbol: string, a: number, b: number) => ({
      time: at(b),
      symbol,
      fromOpenTime: at(a),
      toOpenTime: at(b),
      missingBars: b - a,
    });
    expect(gaps).toEqual([
      gap("CCCUSDT", 0, 2),
      gap("CCCUSDT", 6, 8),
      gap("CCCUSDT", 9, 20),
      gap("DDDUSDT", 0, 20),
      gap("EEEUSDT", 16, 20),
    ]);
    // The end holes come last, at the window end, after every bar and settlement.
    expect(events.slice(-4).map(label)).toEqual([
      "bar EEEUSDT 00:05:59.999",
      "gap CCCUSDT 00:10:00.000",
      "gap DDDUSDT 00:10:00.000",
      "gap EEEUSDT 00:10:00.000",
    ]);
    expect(coverage.symbols).toEqual([
      {
        symbol: "CCCUSDT",
        expectedBars: 20,
        bars: 5,
        gaps: 3,
        missingBars: 15,
        firstBarOpenTime: at(2),
        lastBarOpenTime: at(8),
        fundingSettlements: 0,
        fundingAtLastClose: 0,
        fundingSkipped: 0,
        markPriceKlines: 0,
        markBars: 0,
        barsWithoutMark: 0,
        firstBarWithoutMark: null,
      },
      {
        symbol: "DDDUSDT",
        expectedBars: 20,
        bars: 0,
        gaps: 1,
        missingBars: 20,
        firstBarOpenTime: null,
        lastBarOpenTime: null,
        fundingSettlements: 0,
        fundingAtLastClose: 0,
        fundingSkipped: 0,
        markPriceKlines: 0,
        markBars: 0,
        barsWithoutMark: 0,
        firstBarWithoutMark: null,
      },
      {
        symbol: "EEEUSDT",
        expectedBars: 20,
        bars: 16,
        gaps: 1,
        missingBars: 4,
        firstBarOpenTime: at(0),
        lastBarOpenTime: at(15),
        fundingSettlements: 1,
        fundingAtLastClose: 0,
        fundingSkipped: 0,
        markPriceKlines: 1,
        markBars: 0,
        barsWithoutMark: 0,
        firstBarWithoutMark: null,
      },
    ]);
    expect(coverage.totals).toEqual({
      bars: 21,
      gaps: 5,
      missingBars: 39,
      fundingSettlements: 1,
      barsWithoutMark: 0,
    });
    const span = "[2024-01-31T23:50Z, 2024-02-01T00:10Z)";
    expect(coverage.warnings()).toEqual([
      "CCCUSDT: 2 bars missing 2024-01-31T23:50Z..2024-01-31T23:51Z",
      "CCCUSDT: 2 bars missing 2024-01-31T23:56Z..2024-01-31T23:57Z",
      "CCCUSDT: 11 bars missing 2024-01-31T23:59Z..2024-02-01T00:09Z",
      `CCCUSDT: no funding data in ${span}: funding not charged`,
      "DDDUSDT: 20 bars missing 2024-01-31T23:50Z..2024-02-01T00:09Z",
      `DDDUSDT: no funding data in ${span}: funding not charged`,
      "EEEUSDT: 4 bars missing 2024-02-01T00:06Z..2024-02-01T00:09Z",
    ]);
  });

  it("lists the first 10 gaps of a symbol and sums up the rest", async () => {
    const start = Date.UTC(2024, 0, 1);
    const q = { from: start, to: start + 30 * MIN };
    const path = "futures/um/ohlcv/klines/FFFUSDT/1m/FFFUSDT-1m-2024-01-01_2024-01-01.csv";
    // Bars at even minutes only: 14 one-bar holes, then minute 29 missing at the end.
    const content = [OHLCV_HEADER, ...Array.from({ length: 15 }, (_, i) => ohlcv(start + 2 * i * MIN))];
    await writeTree(join(dir, "many"), { [path]: content.join("\n") });
    const found = await discoverArchive(join(dir, "many"), { symbols: ["FFFUSDT"], ...q });
    const coverage = new MarketCoverage();
    await collect(archiveMarketEvents(found, q, { coverage }));
    expect(coverage.warnings()).toEqual([
      ...Array.from(
        { length: 10 },
        (_, i) => `FFFUSDT: 1 bar missing 2024-01-01T00:${String(2 * i + 1).padStart(2, "0")}Z`,
      ),
      "FFFUSDT: 5 more gaps (5 bars missing)",
      "FFFUSDT: no funding data in [2024-01-01T00:00Z, 2024-01-01T00:30Z): funding not charged",
    ]);
  });
});

describe("coverage warnings about mark prices", () => {
  it("names settlements priced at the last close, or a symbol without any mark-price data", () => {
    const coverage = new MarketCoverage();
    expect(coverage.warnings()).toEqual([]); // before the stream started
    const from = Date.UTC(2024, 0, 1);
    coverage.begin({ from, to: from + DAY }, ["YYYUSDT", "XXXUSDT"]);
    Object.assign(coverage.of("XXXUSDT"), {
      bars: 1440,
      fundingSettlements: 3,
      fundingAtLastClose: 1,
      markPriceKlines: 2,
      markBars: 0,
      barsWithoutMark: 0,
      firstBarWithoutMark: null,
    });
    Object.assign(coverage.of("YYYUSDT"), { bars: 1440, fundingSettlements: 3, fundingAtLastClose: 3 });
    expect(coverage.symbols.map((c) => c.symbol)).toEqual(["XXXUSDT", "YYYUSDT"]);
    expect(coverage.warnings()).toEqual([
      "XXXUSDT: 1 funding settlement without an 8h mark-price kline: priced at the last 1m close",
      "YYYUSDT: no mark-price data in [2024-01-01T00:00Z, 2024-01-02T00:00Z): funding priced at the last 1m close",
    ]);
    expect(() => coverage.of("ZZZUSDT")).toThrow("no coverage for ZZZUSDT: not a symbol of this stream");
  });
});

describe("bars and gaps partition the window's minutes (property)", () => {
  const BASE = Date.UTC(2024, 0, 1);
  const PATHS = [
    "futures/um/monthly/klines/PPPUSDT/1m/PPPUSDT-1m-2024-01.csv",
    "futures/um/ohlcv/klines/PPPUSDT/1m/PPPUSDT-1m-2024-01-01_2024-01-01.csv",
  ];
  let run = 0;

  it("every minute m with from ≤ m < to is a bar or in exactly one gap, whatever the files hold", async () => {
    await fc.assert(
      fc.asyncProperty(
        // per minute 0..79: absent, in file A, in file B, in both
        fc.array(fc.constantFrom(0, 1, 2, 3), { minLength: 80, maxLength: 80 }),
        fc.integer({ min: 0, max: 10 * MIN }),
        fc.integer({ min: 1, max: 60 * MIN }),
        fc.tuple(fc.constantFrom("", "header", "rows"), fc.constantFrom("", "header", "rows")),
        async (where, offset, length, shapes) => {
          const q = { from: BASE + offset, to: BASE + offset + length };
          const inFile = (f: number) =>
            where.flatMap((w, m) => ((w & (1 << f)) !== 0 ? [BASE + m * MIN] : []));
          const files: ArchiveFile[] = [];
          for (const [f, path] of PATHS.entries()) {
            const absolutePath = join(dir, `prop-${run++}.csv`);
            const shape = shapes[f]!;
            const rows = shape === "rows" ? inFile(f).map((t) => (f === 0 ? official(t) : ohlcv(t))) : [];
            const header = f === 0 ? OFFICIAL_HEADER : OHLCV_HEADER;
            await writeFile(absolutePath, shape === "" ? "" : [header, ...rows].join("\n"));
            files.push({ path, absolutePath, kind: "klines", symbol: "PPPUSDT", sha256: "", bytes: 0 });
          }
          const present = new Set([0, 1].flatMap((f) => (shapes[f] === "rows" ? inFile(f) : [])));
          const coverage = new MarketCoverage();
          const events = await collect(archiveMarketEvents(files, q, { coverage }));
          const first = Math.ceil(q.from / MIN) * MIN;
          const end = Math.ceil(q.to / MIN) * MIN;
          const seen: number[] = [];
          let previousTime = Number.NEGATIVE_INFINITY;
          for (const e of events) {
            expect(e.time).toBeGreaterThanOrEqual(previousTime);
            previousTime = e.time;
            if (e.kind === "bar") {
              expect(present.has(e.bar.openTime)).toBe(true);
              seen.push(e.bar.openTime);
            } else if (e.kind === "gap") {
              const g: MarketGap = e.gap;
              expect([e.time, g.missingBars]).toEqual([g.toOpenTime, (g.toOpenTime - g.fromOpenTime) / MIN]);
              for (let t = g.fromOpenTime; t < g.toOpenTime; t += MIN) {
                expect(present.has(t) && t < q.to).toBe(false);
                seen.push(t);
              }
            }
          }
          const expected = Array.from({ length: (end - first) / MIN }, (_, i) => first + i * MIN);
          expect(seen).toEqual(expected);
          const [c] = coverage.symbols;
          expect(c!.bars + c!.missingBars).toBe(expected.length);
          expect(c!.gaps).toBe(events.filter((e) => e.kind === "gap").length);
        },
      ),
      { numRuns: 150 },
    );
  });
});

const root = requireRealData("coverage: a truncated and holed copy of the real BTCUSDT 2025-05 klines");

describe.skipIf(!root)("coverage on a damaged copy of the real BTCUSDT klines (temp dir)", () => {
  const klines = "futures/um/ohlcv/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-04_2025-06-24.csv";
  const others = [
    "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.csv",
    "futures/um/markPriceKlines/BTCUSDT/8h/BTCUSDT-markPriceKlines-8h-2025-03-06_2025-07-17.csv",
  ];
  const window = { from: Date.UTC(2025, 4, 5), to: Date.UTC(2025, 4, 8) };

  it("finds a 14-bar hole and the truncated end, keeps every settlement, and says so", async () => {
    const damaged = join(dir, "damaged");
    await linkTree(root!, damaged, others);
    const lines = readFileSync(join(root!, klines), "utf8").split("\n");
    const openOf = (line: string) => Number(line.split(",")[0]);
    const holeStart = Date.UTC(2025, 4, 6, 10);
    const cut = Date.UTC(2025, 4, 7, 12, 30); // the copy ends with the bar opening just before
    const kept = lines.filter(
      (l, i) => i === 0 || (openOf(l) < cut && !(openOf(l) >= holeStart && openOf(l) < holeStart + 14 * MIN)),
    );
    await writeTree(damaged, { [klines]: `${kept.join("\n")}\n` });
    const found = await discoverArchive(damaged, { symbols: ["BTCUSDT"], ...window });
    const coverage = new MarketCoverage();
    const events: MarketEvent[] = await collect(archiveMarketEvents(found, window, { coverage }));
    expect(events.flatMap((e) => (e.kind === "gap" ? [e.gap] : []))).toEqual([
      { symbol: "BTCUSDT", fromOpenTime: holeStart, toOpenTime: holeStart + 14 * MIN, missingBars: 14 },
      { symbol: "BTCUSDT", fromOpenTime: cut, toOpenTime: window.to, missingBars: (window.to - cut) / MIN },
    ]);
    expect(events.at(-1)?.kind).toBe("gap");
    const days = (window.to - window.from) / DAY;
    expect(coverage.symbols[0]).toMatchObject({
      expectedBars: days * 1440,
      bars: (cut - window.from) / MIN - 14,
      gaps: 2,
      missingBars: 14 + (window.to - cut) / MIN,
      lastBarOpenTime: cut - MIN,
      fundingSettlements: days * 3,
      fundingAtLastClose: 0,
    });
    expect(coverage.warnings()).toEqual([
      "BTCUSDT: 14 bars missing 2025-05-06T10:00Z..2025-05-06T10:13Z",
      "BTCUSDT: 690 bars missing 2025-05-07T12:30Z..2025-05-07T23:59Z",
    ]);
  });
});
