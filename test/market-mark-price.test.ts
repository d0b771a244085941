/**
 * 1m mark-price klines in the backtest feed (issue 6 item 2: "triggers on mark price when mark data are present
 * … else last price"): discovered next to the 8h ones, carried by each bar event of the same minute, streamed
 * in step with the bars, counted when they have holes, rejected with file:line when malformed, and handed to the
 * simulated venue, whose MARK_PRICE stops and liquidation then watch them (binance-usdm.md §2.3, §4.7). Hand-made
 * files in the official 12-column layout (volume columns 0, as the archive writes mark prices), in a temp dir.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveMarketEvents, discoverArchive, MarketCoverage } from "../src/adapters/market/archive.ts";
import type { ArchiveFile, MarketEvent, MarketWindow } from "../src/adapters/market/types.ts";
import type { VenueAccountView } from "../src/adapters/venue/simulated/liquidation.ts";
import { SimulatedVenue } from "../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import { collect, writeTree } from "./support/market.ts";
import { order, T0 } from "./support/venue-harness.ts";

const MIN = 60_000;
const HEADER =
  "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore";
type Ohlc = [string, string, string, string];
const at = (i: number) => T0 + i * MIN;
const kline = (i: number, [o, h, l, c]: Ohlc) =>
  `${at(i)},${o},${h},${l},${c},10,${at(i) + MIN - 1},1000,5,5,500,0`;
const markRow = (i: number, [o, h, l, c]: Ohlc) =>
  `${at(i)},${o},${h},${l},${c},0,${at(i) + MIN - 1},0,0,0,0,0`;

const QUIET: Ohlc = ["100", "100.5", "99.5", "100"];
/** Minute 3: the trade bar dips to 97, its mark to 94 (the two diverge). */
const TRADE_DIP: Ohlc = ["100", "100.5", "97", "98"];
const MARK_DIP: Ohlc = ["100", "100.5", "94", "98"];
const MINUTES = 10;
const window: MarketWindow = { from: at(0), to: at(MINUTES) };

const KLINES = "futures/um/monthly/klines/ETHUSDT/1m/ETHUSDT-1m-2024-01.csv";
const MARKS = "futures/um/monthly/markPriceKlines/ETHUSDT/1m/ETHUSDT-1m-2024-01.csv";
const MARKS_8H = "futures/um/monthly/markPriceKlines/ETHUSDT/8h/ETHUSDT-8h-2024-01.csv";
const FUNDING = "futures/um/monthly/fundingRate/ETHUSDT/ETHUSDT-fundingRate-2024-01.csv";

const klineFile = [
  HEADER,
  ...Array.from({ length: MINUTES }, (_, i) => (i === 5 ? undefined : kline(i, i === 3 ? TRADE_DIP : QUIET))),
]
  .filter((l) => l !== undefined)
  .join("\n");
/** Mark klines: one before the window, none for minute 7 (a hole); minute 5 has a mark but no trade bar. */
const markFile = [
  HEADER,
  markRow(-1, QUIET),
  ...Array.from({ length: MINUTES }, (_, i) =>
    i === 7 ? undefined : markRow(i, i === 3 ? MARK_DIP : QUIET),
  ),
]
  .filter((l) => l !== undefined)
  .join("\n");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "perpsource-mark-"));
  await writeTree(join(dir, "good"), {
    [KLINES]: klineFile,
    [MARKS]: markFile,
    [MARKS_8H]: `${HEADER}\n${markRow(0, ["101", "101", "101", "101"]).replace(`${at(0) + MIN - 1}`, `${at(0) + 8 * 60 * MIN - 1}`)}`,
    [FUNDING]: `calc_time,funding_interval_hours,last_funding_rate\n${at(0) + 3},8,0.0001\n`,
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function feed(root: string, keep: (f: ArchiveFile) => boolean = () => true) {
  const files = (await discoverArchive(root, { symbols: ["ETHUSDT"], ...window })).filter(keep);
  const coverage = new MarketCoverage();
  const events = await collect(archiveMarketEvents(files, window, { coverage }));
  return { files, coverage, events };
}
const withoutMinuteMarks = (f: ArchiveFile) => !f.path.includes("/1m/") || f.kind !== "markPriceKlines";

describe("the feed", () => {
  it("discovers 1m mark files as markPriceKlines with their sha256, next to the 8h ones", async () => {
    const { files } = await feed(join(dir, "good"));
    expect(files.map((f) => [f.kind, f.path])).toEqual([
      ["klines", KLINES],
      ["fundingRate", FUNDING],
      ["markPriceKlines", MARKS],
      ["markPriceKlines", MARKS_8H],
    ]);
    for (const f of files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("each bar carries the mark kline of its minute; a hole is counted and said once; funding keeps the 8h mark", async () => {
    const { events, coverage } = await feed(join(dir, "good"));
    const bars = events.filter((e): e is Extract<MarketEvent, { kind: "bar" }> => e.kind === "bar");
    expect(bars.map((e) => [e.bar.openTime, e.mark?.openTime])).toEqual(
      [0, 1, 2, 3, 4, 6, 7, 8, 9].map((i) => [at(i), i === 7 ? undefined : at(i)]),
    );
    expect(bars[3]!.mark).toEqual({ openTime: at(3), open: "100", high: "100.5", low: "94", close: "98" });
    expect(bars[3]!.bar.low).toBe("97");
    const funding = events.find((e) => e.kind === "funding");
    expect(funding?.kind === "funding" && funding.funding).toMatchObject({
      markPrice: "101",
      markPriceSource: "markPriceKline",
    });
    expect(coverage.of("ETHUSDT")).toMatchObject({
      bars: 9,
      markBars: 8,
      barsWithoutMark: 1,
      firstBarWithoutMark: at(7),
    });
    expect(coverage.totals.barsWithoutMark).toBe(1);
    expect(coverage.warnings().filter((w) => w.includes("mark-price kline"))).toEqual([
      "ETHUSDT: 1 of 9 bars without a 1m mark-price kline (first 2024-01-01T00:07Z): MARK_PRICE triggers and " +
        "liquidation watched the trade bar there",
    ]);
  });

  it("without 1m mark files no bar has a mark, and that is no warning", async () => {
    const { events, coverage } = await feed(join(dir, "good"), withoutMinuteMarks);
    expect(events.filter((e) => e.kind === "bar")).toHaveLength(9);
    expect(events.some((e) => e.kind === "bar" && "mark" in e)).toBe(false);
    expect(coverage.of("ETHUSDT")).toMatchObject({ markBars: 0, barsWithoutMark: 0 });
    expect(coverage.warnings().join("\n")).not.toContain("1m mark");
  });

  const bad: [string, string[], string][] = [
    [
      "off the minute grid",
      [markRow(0, QUIET), `${at(1) + 1},100,100,100,100,0,${at(2)},0,0,0,0,0`],
      ":3: open_time",
    ],
    ["a repeated minute", [markRow(0, QUIET), markRow(1, QUIET), markRow(1, QUIET)], ":4: open_time"],
    ["a zero price", [markRow(0, QUIET), markRow(1, ["0", "100", "0", "100"])], ':3: open "0" is zero'],
    [
      "high below low",
      [markRow(0, QUIET), markRow(1, ["100", "99", "101", "100"])],
      ":3: high 99 is below low",
    ],
  ];
  it.each(bad)("a mark row %s fails with file:line", async (name, rows, where) => {
    const root = join(dir, `bad-${name.replaceAll(" ", "-")}`);
    await writeTree(root, { [KLINES]: klineFile, [MARKS]: [HEADER, ...rows].join("\n") });
    await expect(feed(root)).rejects.toThrow(`${MARKS}${where}`);
  });

  it("reads the mark file in step with the bars: a bad row of minute 6 fails only once the bars before it went by", async () => {
    const root = join(dir, "late-error");
    await writeTree(root, {
      [KLINES]: klineFile,
      [MARKS]: [
        HEADER,
        ...[0, 1, 2, 3, 4].map((i) => markRow(i, QUIET)),
        `${at(6)},x,1,1,1,0,${at(7) - 1},0,0,0,0,0`,
      ].join("\n"),
    });
    const files = await discoverArchive(root, { symbols: ["ETHUSDT"], ...window });
    const seen: number[] = [];
    const read = async () => {
      for await (const e of archiveMarketEvents(files, window))
        if (e.kind === "bar") seen.push(e.bar.openTime);
    };
    await expect(read()).rejects.toThrow(`${MARKS}:7: open "x"`);
    expect(seen).toEqual([0, 1, 2, 3, 4].map(at));
  });
});

/** Runs the feed of `root` through a simulated venue: a long of 1 ETH opened at minute 1, then `protect`. */
async function venueRun(
  events: readonly MarketEvent[],
  options: { walletBalance?: string; protect?: OrderRequest[] } = {},
): Promise<VenueReport[]> {
  const reports: VenueReport[] = [];
  let entry: { price: string } | undefined;
  const brackets = bundledLeverageBracketCatalog();
  const venue: SimulatedVenue = new SimulatedVenue({
    takerRate: "0.0005",
    slippage: "0",
    instrument: getInstrument,
    margin: options.walletBalance
      ? {
          account: (): VenueAccountView => ({
            settings: { ETHUSDT: { leverage: 20, marginType: "CROSSED" } },
            walletBalance: options.walletBalance!,
            positions: entry
              ? [
                  {
                    symbol: "ETHUSDT",
                    positionSide: "BOTH",
                    positionAmt: venue.positionAmt("ETHUSDT"),
                    entryPrice: entry.price,
                    leverage: 20,
                    marginType: "CROSSED",
                  },
                ]
              : [],
          }),
          brackets: (s) => brackets.get(s).brackets,
        }
      : undefined,
  });
  const handle = async (r: VenueReport) => {
    reports.push(r);
    if (r.kind === "fill" && r.fill.clientOrderId === "entry") entry = { price: r.fill.price };
  };
  for (const e of events) {
    if (e.kind !== "bar") continue;
    await venue.matchBar(e.bar, handle, e.mark);
    if (e.bar.openTime === at(0)) {
      expect(await venue.submit(order("entry", { side: "BUY", type: "MARKET" }))).toMatchObject({
        accepted: true,
      });
    }
    if (e.bar.openTime === at(1)) {
      for (const o of options.protect ?? []) expect(await venue.submit(o)).toMatchObject({ accepted: true });
    }
  }
  return reports;
}

const stop = (id: string, workingType: "MARK_PRICE" | "CONTRACT_PRICE") =>
  order(id, {
    side: "SELL",
    type: "STOP_MARKET",
    triggerPrice: "96",
    reduceOnly: true,
    purpose: "STOP_LOSS",
    workingType,
  });
const fills = (rs: VenueReport[]) =>
  rs.flatMap((r) => (r.kind === "fill" ? [[r.fill.clientOrderId, r.fill.price, r.time] as const] : []));

describe("the simulated venue on the feed", () => {
  it("a MARK_PRICE STOP_MARKET triggers on the mark's dip that the trade bar never reached (§2.3 workingType)", async () => {
    const withMarks = await venueRun((await feed(join(dir, "good"))).events, {
      protect: [stop("sl", "MARK_PRICE")],
    });
    // Triggered at 96 on the mark (low 94), filled at 96 clamped to the trade bar's [97, 100.5]: 97.
    expect(fills(withMarks)).toEqual([
      ["entry", "100", at(1)],
      ["sl", "97", at(3) + MIN - 1],
    ]);
    const triggering = withMarks.find((r) => r.kind === "triggering");
    expect(triggering?.time).toBeGreaterThanOrEqual(at(3));
    expect(triggering?.time).toBeLessThan(at(4));

    const lastPrice = await venueRun((await feed(join(dir, "good"), withoutMinuteMarks)).events, {
      protect: [stop("sl", "MARK_PRICE")],
    });
    expect(fills(lastPrice)).toEqual([["entry", "100", at(1)]]);

    const contract = await venueRun((await feed(join(dir, "good"))).events, {
      protect: [stop("sl", "CONTRACT_PRICE")],
    });
    expect(fills(contract)).toEqual([["entry", "100", at(1)]]);
  });

  it("liquidates a long on a mark low the trade bar never reached (§4.7: liquidation against the mark)", async () => {
    // 1 ETH at 100 on a 5 USDT cross wallet: the liquidation price lies between the trade low 97 and the mark low 94.
    const withMarks = await venueRun((await feed(join(dir, "good"))).events, { walletBalance: "5" });
    const liquidation = withMarks.find((r) => r.kind === "liquidation");
    expect(liquidation?.time).toBe(at(3) + MIN - 1);
    if (liquidation?.kind !== "liquidation") throw new Error("no liquidation");
    const lp = Number(liquidation.liquidation.liquidationPrice);
    expect(lp).toBeGreaterThan(94);
    expect(lp).toBeLessThan(97);
    expect(Number(liquidation.liquidation.price)).toBeLessThanOrEqual(lp);
    // The mark crossed the liquidation price inside the bar: the event records it there.
    expect(liquidation.liquidation.markPrice).toBe(liquidation.liquidation.liquidationPrice);

    const lastPrice = await venueRun((await feed(join(dir, "good"), withoutMinuteMarks)).events, {
      walletBalance: "5",
    });
    expect(lastPrice.some((r) => r.kind === "liquidation")).toBe(false);
  });
});
