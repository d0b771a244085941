import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveMarketEvents, discoverArchive, MarketCoverage } from "../src/adapters/market/archive.ts";
import { ParseThread } from "../src/adapters/market/parse-thread.ts";
import {
  type FundingSettlement,
  MarketDataError,
  type MarketEvent,
  type MarketWindow,
} from "../src/adapters/market/types.ts";
import { collect, linkTree, writeTree } from "./support/market.ts";
import { requireRealData } from "./support/real-data.ts";

const MIN = 60_000;

/** The settlement slot of a calc_time: its minute, rounded to the nearest (ms epoch). */
const slotOf = (calcTime: number) => Math.round(calcTime / MIN) * MIN;

const fundingOf = (events: MarketEvent[]): FundingSettlement[] =>
  events.flatMap((e) => (e.kind === "funding" ? [e.funding] : []));

describe("funding sources overlapping on a hand-made archive", () => {
  const T0 = Date.UTC(2024, 0, 1, 7, 55);
  const window: MarketWindow = { from: T0, to: T0 + 10 * MIN };
  const KLINES = "futures/um/ohlcv/klines/AAAUSDT/1m/AAAUSDT-1m-2024-01-01_2024-01-01.csv";
  const REST = "futures/um/fundingRate/AAAUSDT/AAAUSDT-fundingRate-2024-01-01_2024-01-01.csv";
  const MONTHLY = "futures/um/monthly/fundingRate/AAAUSDT/AAAUSDT-fundingRate-2024-01.csv";
  const bars = [
    "open_time,open,high,low,close,volume",
    ...Array.from({ length: 10 }, (_, m) => `${T0 + m * MIN},10${m},10${m},10${m},10${m},1`),
  ].join("\n");
  const H = "calc_time,funding_interval_hours,last_funding_rate";
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "perpsource-funding-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function settle(name: string, files: Record<string, string>): Promise<FundingSettlement[]> {
    const root = join(dir, name);
    await writeTree(root, { [KLINES]: bars, ...files });
    const found = await discoverArchive(root, { symbols: ["AAAUSDT"], ...window });
    return fundingOf(await collect(archiveMarketEvents(found, window)));
  }

  it("keeps one settlement per slot: the official row's calc_time, rate and interval; REST fills the rest", async () => {
    const got = await settle("dedupe", {
      // REST-derived: the 07:57 settlement 2 ms late and spelled differently, plus one at 08:03 the official lacks.
      [REST]: [H, `${T0 + 2 * MIN + 2},8,0.0001`, `${T0 + 8 * MIN + 5},4,-0.0002`].join("\n"),
      [MONTHLY]: [H, `${T0 + 2 * MIN + 1},8,0.00010000`].join("\n"),
    });
    expect(got.map((f) => [f.fundingTime, f.fundingRate, f.fundingIntervalHours])).toEqual([
      [T0 + 2 * MIN + 1, "0.0001", 8],
      [T0 + 8 * MIN + 5, "-0.0002", 4],
    ]);
  });

  it("rejects two sources disagreeing on the rate of one slot, naming both file:line", async () => {
    const err = await settle("conflict", {
      [REST]: [H, `${T0 + MIN},8,0.0001`, `${T0 + 2 * MIN + 2},8,0.0003`].join("\n"),
      [MONTHLY]: [H, `${T0 + MIN + 1},8,0.0001`, `${T0 + 2 * MIN + 1},8,0.00030001`].join("\n"),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MarketDataError);
    expect((err as MarketDataError).message).toBe(
      `${REST}:3: last_funding_rate 0.0003 at calc_time ${T0 + 2 * MIN + 2} disagrees with ${MONTHLY}:3 ` +
        `(0.00030001 at ${T0 + 2 * MIN + 1}) for the settlement at 2024-01-01T07:57:00.000Z`,
    );
  });

  it("a bad funding file fails the stream with its file:line while the bars are already being read; a bad bar too", async () => {
    const thread = new ParseThread();
    try {
      const badFunding = join(dir, "bad-funding");
      await writeTree(badFunding, { [KLINES]: bars, [MONTHLY]: [H, `${T0 + 2 * MIN},8,abc`].join("\n") });
      const found = await discoverArchive(badFunding, { symbols: ["AAAUSDT"], ...window });
      for (const parseThread of [undefined, thread]) {
        const error = await collect(archiveMarketEvents(found, window, { parseThread })).catch((e) => e);
        expect(error).toBeInstanceOf(MarketDataError);
        expect(error).toMatchObject({ file: MONTHLY, line: 2 });
      }
      // The bars' failure, with good funding: thrown where the first bars are read, whatever the thread.
      const badBar = join(dir, "bad-bar");
      await writeTree(badBar, {
        [KLINES]: bars.replace(`${T0 + 3 * MIN},103`, `${T0 + 3 * MIN},-103`),
        [MONTHLY]: [H, `${T0 + 2 * MIN},8,0.0001`].join("\n"),
      });
      const withBadBar = await discoverArchive(badBar, { symbols: ["AAAUSDT"], ...window });
      for (const parseThread of [undefined, thread]) {
        const error = await collect(archiveMarketEvents(withBadBar, window, { parseThread })).catch((e) => e);
        expect(error).toBeInstanceOf(MarketDataError);
        expect(error).toMatchObject({ file: KLINES, line: 5 });
      }
      // The thread still serves a stream after those (each failed stream was closed).
      const good = await discoverArchive(join(dir, "dedupe"), { symbols: ["AAAUSDT"], ...window });
      const events = await collect(archiveMarketEvents(good, window, { parseThread: thread }));
      expect(events.filter((e) => e.kind === "bar")).toHaveLength(10);
    } finally {
      await thread.close();
    }
  });

  it("rejects two rows of one file in the same slot with different rates", async () => {
    await expect(
      settle("same-file", { [MONTHLY]: [H, `${T0 + MIN},8,0.0001`, `${T0 + MIN + 7},8,0.0002`].join("\n") }),
    ).rejects.toThrow(
      `${MONTHLY}:3: last_funding_rate 0.0002 at calc_time ${T0 + MIN + 7} disagrees with ${MONTHLY}:2`,
    );
  });
});

const root = requireRealData(
  "funding overlap: BTCUSDT/ETHUSDT 2025-05, REST-derived and official monthly files",
);

describe.skipIf(!root)(
  "the real funding overlap: BTCUSDT/ETHUSDT, REST-derived and official monthly files",
  () => {
    const symbols = ["BTCUSDT", "ETHUSDT"];
    const may: MarketWindow = { from: Date.UTC(2025, 4, 4), to: Date.UTC(2025, 5, 1) };
    const defaultWindow: MarketWindow = { from: Date.UTC(2025, 4, 5), to: Date.UTC(2025, 5, 24) };
    const klines = (s: string) => `futures/um/ohlcv/klines/${s}/1m/${s}-1m-2025-05-04_2025-06-24.csv`;
    const mark = (s: string) =>
      `futures/um/markPriceKlines/${s}/8h/${s}-markPriceKlines-8h-2025-03-06_2025-07-17.csv`;
    const rest = (s: string) => `futures/um/fundingRate/${s}/${s}-fundingRate-2025-03-06_2025-07-17.csv`;
    const monthly = (s: string) =>
      ["2025-05", "2025-06"].map((m) => `futures/um/monthly/fundingRate/${s}/${s}-fundingRate-${m}.csv`);
    const sources = {
      both: symbols.flatMap((s) => [klines(s), mark(s), rest(s), ...monthly(s)]),
      restOnly: symbols.flatMap((s) => [klines(s), mark(s), rest(s)]),
      officialOnly: symbols.flatMap((s) => [klines(s), mark(s), ...monthly(s)]),
    };
    type Source = keyof typeof sources;
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "perpsource-funding-real-"));
      for (const [name, paths] of Object.entries(sources)) await linkTree(root!, join(dir, name), paths);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function stream(source: Source, window: MarketWindow, coverage?: MarketCoverage) {
      const files = await discoverArchive(join(dir, source), { symbols, ...window });
      return collect(archiveMarketEvents(files, window, { coverage }));
    }

    /** calc_time → rate of every row of a file, read straight from its text. */
    function rows(path: string): Map<number, string> {
      const lines = readFileSync(join(root!, path), "utf8").trim().split("\n").slice(1);
      return new Map(lines.map((l) => l.split(",")).map(([t, , rate]) => [Number(t), rate!]));
    }

    it("the two sources really disagree on calc_time (ms jitter) and spelling in May", () => {
      for (const s of symbols) {
        const official = rows(monthly(s)[0]!);
        const restRows = [...rows(rest(s))].filter(([t]) => t >= may.from && t < may.to);
        const officialSlots = new Map([...official].map(([t, rate]) => [slotOf(t), { t, rate }]));
        const jittered = restRows.filter(([t]) => officialSlots.get(slotOf(t))?.t !== t);
        const respelled = restRows.filter(([t, rate]) => officialSlots.get(slotOf(t))?.rate !== rate);
        expect(restRows.every(([t]) => officialSlots.has(slotOf(t)))).toBe(true);
        expect(jittered.length).toBeGreaterThan(0);
        expect(respelled.length).toBeGreaterThan(0);
      }
    });

    it("delivers one settlement per slot in May, the same with one or both sources", async () => {
      const bySource = {} as Record<Source, FundingSettlement[]>;
      for (const source of Object.keys(sources) as Source[]) {
        const coverage = new MarketCoverage();
        bySource[source] = fundingOf(await stream(source, may, coverage));
        for (const s of symbols) {
          const got = bySource[source].filter((f) => f.symbol === s);
          const slots = got.map((f) => slotOf(f.fundingTime));
          expect(new Set(slots).size).toBe(slots.length);
          // Distinct slots of every row of both sources in the window, from the files' text.
          const expected = new Set(
            [rest(s), ...monthly(s)]
              .flatMap((p) => [...rows(p).keys()])
              .filter((t) => t >= may.from && t < may.to)
              .map(slotOf),
          );
          expect(slots).toEqual([...expected].sort((a, b) => a - b));
          expect(coverage.symbols.find((c) => c.symbol === s)?.fundingSettlements).toBe(expected.size);
        }
      }
      // Both sources present: exactly the official rows.
      expect(bySource.both).toEqual(bySource.officialOnly);
      // REST only: the same settlements (slot, rate, interval, mark price), calc_time within the jitter.
      const withoutTime = ({ fundingTime, ...rest }: FundingSettlement) => ({
        slot: slotOf(fundingTime),
        ...rest,
      });
      expect(bySource.restOnly.map(withoutTime)).toEqual(bySource.both.map(withoutTime));
      for (const [i, f] of bySource.restOnly.entries()) {
        expect(Math.abs(f.fundingTime - bySource.both[i]!.fundingTime)).toBeLessThan(1000);
      }
    });

    it("gives the default BTC+ETH window the same funding events with one or both sources", async () => {
      const [both, restOnly, officialOnly] = await Promise.all([
        stream("both", defaultWindow),
        stream("restOnly", defaultWindow),
        stream("officialOnly", defaultWindow),
      ]);
      const days = (defaultWindow.to - defaultWindow.from) / 86_400_000;
      expect(fundingOf(both).length).toBe(days * 3 * symbols.length);
      expect(officialOnly).toEqual(both);
      // REST only: the same stream but for the calc_time jitter: every settlement at the same place between the
      // same bars, with the same rate, interval and mark price (so the same payment, binance-usdm.md §4.4).
      const shape = (e: MarketEvent) =>
        e.kind === "funding"
          ? {
              ...e,
              time: slotOf(e.time),
              funding: { ...e.funding, fundingTime: slotOf(e.funding.fundingTime) },
            }
          : e;
      expect(restOnly.length).toBe(both.length);
      expect(restOnly.map(shape)).toEqual(both.map(shape));
    });
  },
);
