/**
 * Tick matching on real WebSocket captures (futures/um/ws-capture/derived, /work/shared/data/README.md): the
 * venue is fed the merged trades + bookTicker (+ markPrice1s) stream of a window through `tickStream`, and each
 * expectation is derived from the files themselves, read here with a separate minimal parser (no number is
 * hard-coded): a resting BUY LIMIT fills as a maker at its price at the first trade below it; a MARKET BUY
 * fills at the best ask of the latest bookTicker before it; MARK_PRICE and CONTRACT_PRICE stops trigger at the
 * first mark / trade at or below their trigger; the insurance-fund print of 2023-04-04 fills a resting SELL it
 * goes through unless a participation rate floors its share to 0 (tick-matching.ts, rule 5). And a backtest of
 * a capture window, which has no kline file: its bars are built from the trades (first, highest, lowest, last
 * trade of each minute), its other minutes are gaps, and it replays.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { TickFeed } from "../src/adapters/market/tick-feed.ts";
import { type Tick, type TradeTick, tickStream } from "../src/adapters/market/ticks.ts";
import type { CsvSource } from "../src/adapters/market/types.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SimulatedVenue, type SimulatedVenueOptions } from "../src/adapters/venue/simulated/venue.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { minuteBarsFromTrades } from "../src/domain/bars/from-trades.ts";
import { Dec } from "../src/domain/decimal.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import { matchTickMinute } from "../src/engine/tick-minutes.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("tick matching on the BTCUSDT WebSocket captures");
const DIR = "futures/um/ws-capture/derived";
const W2024 = "2024-07-18T2357_2024-07-19T0005";
const W2023 = "2023-04-04T2358_2023-04-05T0007";

const src = (name: string): CsvSource => ({ path: `${DIR}/${name}`, absolutePath: join(root!, DIR, name) });

/** The data rows of a capture file, split on commas (header dropped), read without the project's readers. */
function rawRows(name: string): string[][] {
  const bytes = readFileSync(join(root!, DIR, name));
  const text = name.endsWith(".gz") ? gunzipSync(bytes).toString("utf8") : bytes.toString("utf8");
  const lines = text.split("\n").filter((l) => l !== "");
  return lines.slice(/^\d/.test(lines[0]!) ? 0 : 1).map((l) => l.split(","));
}

function order(
  id: string,
  fields: Partial<OrderRequest> & Pick<OrderRequest, "side" | "type">,
): OrderRequest {
  return {
    clientOrderId: id,
    symbol: "BTCUSDT",
    purpose: "ENTRY",
    positionSide: "BOTH",
    reduceOnly: false,
    quantity: "0.005",
    ...fields,
  };
}

/**
 * Feeds the window's ticks to a new venue; before the first tick for which `placeBefore(count, last, next)`
 * holds (count ticks seen, `last` the latest, `next` the one to come) it submits `orders` (each must be
 * accepted). Returns the reports and the time of the last tick before the orders.
 */
async function run(
  window: string,
  withMark: boolean,
  placeBefore: (count: number, last: Tick | undefined, next: Tick) => boolean,
  orders: (last: Tick) => OrderRequest[],
  options: Partial<SimulatedVenueOptions> = {},
): Promise<{ reports: VenueReport[]; placedAt: number }> {
  const venue = new SimulatedVenue({
    takerRate: "0.0005",
    slippage: "0",
    instrument: getInstrument,
    ...options,
  });
  const reports: VenueReport[] = [];
  const handle = async (r: VenueReport) => {
    reports.push(r);
  };
  let count = 0;
  let last: Tick | undefined;
  let placedAt: number | undefined;
  for await (const tick of tickStream({
    symbol: "BTCUSDT",
    trades: [src(`BTCUSDT-trades-${window}.csv`)],
    bookTicker: [src(`BTCUSDT-bookTicker-${window}.csv.gz`)],
    markPrice: withMark ? [src(`BTCUSDT-markPrice1s-${window}.csv`)] : [],
  })) {
    if (placedAt === undefined && placeBefore(count, last, tick)) {
      placedAt = last!.time;
      for (const o of orders(last!)) expect(await venue.submit(o)).toMatchObject({ accepted: true });
    }
    await venue.matchTick(tick, handle);
    last = tick;
    count++;
  }
  expect(placedAt).toBeDefined();
  return { reports, placedAt: placedAt! };
}

const fills = (reports: VenueReport[], id: string) =>
  reports.flatMap((r) =>
    r.kind === "fill" && r.fill.clientOrderId === id ? [{ ...r.fill, time: r.time }] : [],
  );

const TICK_SIZE = new Dec(getInstrument("BTCUSDT").tickSize);

describe.skipIf(!root)("tick matching on real captures", () => {
  it(`BTCUSDT ${W2024}: MARKET BUY at the latest ask; resting BUY LIMIT filled as a maker at the first trade below it`, async () => {
    const trades = rawRows(`BTCUSDT-trades-${W2024}.csv`);
    const books = rawRows(`BTCUSDT-bookTicker-${W2024}.csv.gz`);
    // place after 2,000 ticks, between two ms (so "the latest bookTicker" is the last one at or before that ms)
    const when = (count: number, last: Tick | undefined, next: Tick) =>
      count >= 2000 && next.time > last!.time;
    let limitPrice = "";
    const { reports, placedAt } = await run(W2024, false, when, (last) => {
      const later = trades.filter((t) => Number(t[4]) > last.time).map((t) => new Dec(t[1]!));
      limitPrice = Dec.min(...later)
        .plus(TICK_SIZE)
        .toFixed();
      return [
        order("m", { side: "BUY", type: "MARKET" }),
        order("l", { side: "BUY", type: "LIMIT", price: limitPrice, timeInForce: "GTC" }),
      ];
    });
    const quote = books.filter((b) => Number(b[5]) <= placedAt).at(-1)!;
    expect(Number(limitPrice)).toBeLessThan(Number(quote[1])); // the LIMIT does not cross: it rests
    const [m] = fills(reports, "m");
    expect(m).toMatchObject({ price: quote[3], maker: false });
    expect(m!.quantity).toBe(Dec.min("0.005", quote[4]!).toFixed());
    const through = trades.find((t) => Number(t[4]) > placedAt && new Dec(t[1]!).lt(limitPrice))!;
    expect(fills(reports, "l")).toEqual([
      expect.objectContaining({
        price: limitPrice,
        quantity: "0.005",
        maker: true,
        time: Number(through[4]),
      }),
    ]);
  });

  it(`BTCUSDT ${W2023}: a MARK_PRICE stop triggers on the first mark at or below it, a CONTRACT_PRICE one on the first trade`, async () => {
    const marks = rawRows(`BTCUSDT-markPrice1s-${W2023}.csv`);
    const trades = rawRows(`BTCUSDT-trades-${W2023}.csv`);
    let trigger = "";
    const when = (count: number, last: Tick | undefined, next: Tick) =>
      count >= 100 &&
      last!.kind === "trade" &&
      next.time > last!.time &&
      marks.some((m) => Number(m[0]) <= last!.time);
    const { reports, placedAt } = await run(W2023, true, when, (last) => {
      const markNow = marks.filter((m) => Number(m[0]) <= last.time).at(-1)![1]!;
      const later = marks.filter((m) => Number(m[0]) > last.time).map((m) => new Dec(m[1]!));
      // halfway between the mark now and the lowest mark to come, on the tick grid
      const mid = new Dec(markNow).plus(Dec.min(...later)).div(2);
      trigger = mid.toNearest(TICK_SIZE, Dec.ROUND_DOWN).toFixed();
      expect(Number(trigger)).toBeLessThan(Number(markNow));
      expect(Number(trigger)).toBeLessThan(Number((last as Extract<Tick, { kind: "trade" }>).price));
      return [
        order("sm", { side: "SELL", type: "STOP_MARKET", triggerPrice: trigger, workingType: "MARK_PRICE" }),
        order("sc", { side: "SELL", type: "STOP_MARKET", triggerPrice: trigger }),
      ];
    });
    const firstMark = marks.find((m) => Number(m[0]) > placedAt && new Dec(m[1]!).lte(trigger))!;
    const firstTrade = trades.find((t) => Number(t[4]) > placedAt && new Dec(t[1]!).lte(trigger))!;
    const triggering = (id: string) =>
      reports.find((r) => r.kind === "triggering" && r.clientOrderId === id) as Extract<
        VenueReport,
        { kind: "triggering" }
      >;
    expect(triggering("sm")).toMatchObject({
      workingType: "MARK_PRICE",
      triggeredAt: firstMark[1],
      time: Number(firstMark[0]),
    });
    expect(triggering("sc")).toMatchObject({
      workingType: "CONTRACT_PRICE",
      triggeredAt: firstTrade[1],
      time: Number(firstTrade[4]),
    });
  });

  it(`BTCUSDT ${W2023}: the insurance-fund print fills a resting SELL it goes through, unless participation floors it to 0`, async () => {
    const trades = rawRows(`BTCUSDT-trades-${W2023}.csv`);
    // the print farthest from the trade before it (the README's insurance-fund trade, about 2 % off)
    let off = 1;
    for (let i = 2; i < trades.length; i++) {
      const jump = Math.abs(Number(trades[i]![1]) / Number(trades[i - 1]![1]) - 1);
      const best = Math.abs(Number(trades[off]![1]) / Number(trades[off - 1]![1]) - 1);
      if (jump > best) off = i;
    }
    const print = trades[off]!;
    expect(Math.abs(Number(print[1]) / Number(trades[off - 1]![1]) - 1)).toBeGreaterThan(0.01);
    // a SELL above every other trade of the window: only that print goes through it
    const others = trades.filter((_, i) => i !== off).map((t) => new Dec(t[1]!));
    const price = Dec.max(...others)
      .plus(new Dec(1))
      .toFixed();
    expect(Number(price)).toBeLessThan(Number(print[1]));
    const when = (_: number, last: Tick | undefined) => last?.kind === "trade";
    const sell = () => [order("s", { side: "SELL", type: "LIMIT", price, timeInForce: "GTC" })];
    const plain = await run(W2023, false, when, sell);
    expect(fills(plain.reports, "s")).toEqual([
      expect.objectContaining({ price, quantity: "0.005", maker: true, time: Number(print[4]) }),
    ]);
    const capped = await run(W2023, false, when, sell, { participationRate: "0.5" });
    expect(Number(print[2]) * 0.5).toBeLessThan(Number(getInstrument("BTCUSDT").stepSize));
    expect(fills(capped.reports, "s")).toEqual([]);
  });

  it(`BTCUSDT ${W2024}: minute by minute (bars from trades, matchTickMinute), a MARKET sent at a bar's close fills at the ask standing then`, async () => {
    const trades = rawRows(`BTCUSDT-trades-${W2024}.csv`);
    const books = rawRows(`BTCUSDT-bookTicker-${W2024}.csv.gz`);
    const files = {
      symbol: "BTCUSDT",
      trades: [src(`BTCUSDT-trades-${W2024}.csv`)],
      bookTicker: [src(`BTCUSDT-bookTicker-${W2024}.csv.gz`)],
    };
    async function* tradeTicks(): AsyncGenerator<TradeTick> {
      for await (const t of tickStream({ symbol: "BTCUSDT", trades: files.trades }))
        if (t.kind === "trade") yield t;
    }
    const bars = [];
    for await (const bar of minuteBarsFromTrades("BTCUSDT", tradeTicks())) bars.push(bar);
    // every trade is in exactly one bar
    expect(bars.reduce((n, b) => n + b.trades!, 0)).toBe(trades.length);
    expect(
      bars
        .reduce((v, b) => v.plus(b.volume), new Dec(0))
        .eq(trades.reduce((v, t) => v.plus(t[2]!), new Dec(0))),
    ).toBe(true);
    const venue = new SimulatedVenue({ takerRate: "0.0005", slippage: "0", instrument: getInstrument });
    const reports: VenueReport[] = [];
    const feed = new TickFeed([files]);
    const sentAfter: number[] = [];
    const handle = async (r: VenueReport) => {
      reports.push(r);
    };
    for (const [i, bar] of bars.entries()) {
      const closeTime = bar.openTime + 59_999;
      await matchTickMinute(venue, feed, { ...bar, closeTime }, handle);
      // the strategy's turn, at the bar's close: a MARKET BUY after each of the first three bars
      if (i < 3) {
        expect(await venue.submit(order(`m${i}`, { side: "BUY", type: "MARKET" }))).toMatchObject({
          accepted: true,
        });
        sentAfter.push(closeTime);
      }
    }
    await feed.close();
    for (const [i, closeTime] of sentAfter.entries()) {
      const quote = books.filter((b) => Number(b[5]) <= closeTime).at(-1)!;
      const [fill] = fills(reports, `m${i}`);
      expect(fill).toMatchObject({ price: quote[3], maker: false });
      expect(fill!.time).toBeGreaterThan(closeTime);
    }
  });
});

describe.skipIf(!root)("a backtest on a capture window, its bars built from the trades", () => {
  it("BTCUSDT 2024-07-18..19: one bar per minute with trades (first, highest, lowest, last trade), the rest gaps; replays", async () => {
    const logger = pino({ level: "silent" });
    const config = BacktestConfigSchema.parse({
      symbols: ["BTCUSDT"],
      from: "2024-07-18",
      to: "2024-07-19",
      warmupBars: 0,
      smaCross: { smaShort: 2, smaLong: 3, pivotLookback: 3, cooldownBars: 0 },
      venue: { ticks: [DIR] },
    });
    const store = new InMemoryEventStore();
    const summary = await runBacktest(config, { store, dataRoot: root!, logger });

    // The expected bars, from the trades file read here: per minute, the first, highest, lowest and last price.
    const expected = new Map<number, { open: string; high: string; low: string; close: string }>();
    for (const [, price, , , time] of rawRows(`BTCUSDT-trades-${W2024}.csv`)) {
      const minute = Math.floor(Number(time) / 60_000) * 60_000;
      const b = expected.get(minute);
      if (!b) expected.set(minute, { open: price!, high: price!, low: price!, close: price! });
      else {
        if (Number(price) > Number(b.high)) b.high = price!;
        if (Number(price) < Number(b.low)) b.low = price!;
        b.close = price!;
      }
    }
    const bars: { openTime: number; open: string; high: string; low: string; close: string }[] = [];
    const kinds = new Map<string, string>();
    for await (const e of store.readAll()) {
      if (e.type === "BarClosed") bars.push(e.data as (typeof bars)[number]);
      if (e.type === "RunStarted")
        for (const f of (e.data as { manifest: { path: string; kind: string }[] }).manifest)
          kinds.set(f.path, f.kind);
    }
    expect(bars.map((b) => b.openTime)).toEqual([...expected.keys()]);
    for (const b of bars) {
      const { open, high, low, close } = b;
      expect({ open, high, low, close }).toEqual(expected.get(b.openTime));
    }
    expect(summary.bars).toBe(expected.size);
    expect(summary.gaps).toBe(2); // the day's minutes before the capture, and those after it
    expect(kinds.get(`${DIR}/BTCUSDT-trades-${W2024}.csv`)).toBe("trades");
    expect([...kinds.values()]).not.toContain("klines");
    const replay = await verifyReplay(store, { dataRoot: root!, logger });
    expect(replay.differences).toEqual([]);
  });
});
