/**
 * 1m bars built from trades (src/domain/bars/from-trades.ts) against a batch reference (group by minute, exact
 * decimal sums), and the tick feed (src/adapters/market/tick-feed.ts) handing ticks out minute by minute.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openTickFeed, TickFeed } from "../src/adapters/market/tick-feed.ts";
import { type BarTrade, MinuteBarBuilder, minuteBarsFromTrades } from "../src/domain/bars/from-trades.ts";

const T0 = 1721347020000; // 2024-07-18 23:57 UTC

async function* from<T>(xs: T[]): AsyncGenerator<T> {
  yield* xs;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const tradesArb = fc
  .array(
    fc.record({
      dt: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 50_000, max: 200_000 }),
      ),
      price: fc.integer({ min: 1, max: 99_999 }),
      qty: fc.integer({ min: 1, max: 50_000 }),
      buyerMaker: fc.boolean(),
    }),
    { minLength: 1, maxLength: 200 },
  )
  .map((rows) => {
    let time = T0;
    return rows.map((r): BarTrade => {
      time += r.dt;
      return {
        time,
        price: (r.price / 10).toFixed(1),
        qty: (r.qty / 1000).toFixed(3),
        buyerMaker: r.buyerMaker,
      };
    });
  });

describe("minuteBarsFromTrades", () => {
  it("equals the batch reference: per minute with trades, first/max/min/last price, exact sums and count", async () => {
    await fc.assert(
      fc.asyncProperty(tradesArb, async (trades) => {
        const bars = await collect(minuteBarsFromTrades("BTCUSDT", from(trades)));
        const minutes = [...new Set(trades.map((t) => Math.floor(t.time / 60_000) * 60_000))];
        expect(bars.map((b) => b.openTime)).toEqual(minutes);
        for (const bar of bars) {
          const ts = trades.filter((t) => Math.floor(t.time / 60_000) * 60_000 === bar.openTime);
          const prices = ts.map((t) => new Decimal(t.price));
          const sum = (xs: BarTrade[]) => xs.reduce((s, t) => s.plus(t.qty), new Decimal(0));
          expect(bar).toEqual({
            symbol: "BTCUSDT",
            openTime: bar.openTime,
            open: ts[0]!.price,
            high: expect.any(String),
            low: expect.any(String),
            close: ts.at(-1)!.price,
            volume: sum(ts).toFixed(),
            trades: ts.length,
            takerBuyVolume: sum(ts.filter((t) => !t.buyerMaker)).toFixed(),
          });
          expect(new Decimal(bar.high).eq(Decimal.max(...prices))).toBe(true);
          expect(new Decimal(bar.low).eq(Decimal.min(...prices))).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("rejects a trade before the minute being built", () => {
    const b = new MinuteBarBuilder("X");
    b.push({ time: T0 + 60_000, price: "1", qty: "1", buyerMaker: true });
    expect(() => b.push({ time: T0, price: "1", qty: "1", buyerMaker: true })).toThrow(/before the minute/);
  });
});

describe("TickFeed", () => {
  it("hands each symbol's ticks of a time range out once, skipping unread ones before it; opens files and directories", async () => {
    const dir = await mkdtemp(join(tmpdir(), "perpsource-tick-feed-"));
    try {
      await mkdir(join(dir, "caps"));
      await writeFile(
        join(dir, "caps", "A-trades-x.csv"),
        "1,10,1,10,100,true\n2,10,1,10,60000,true\n3,10,1,10,60001,true\n4,10,1,10,200000,true\n",
      );
      await writeFile(join(dir, "caps", "notes.txt"), "not a tick file");
      await writeFile(join(dir, "B-trades-y.csv"), "9,20,1,20,5,false\n");
      await writeFile(join(dir, "C-trades-z.csv"), "9,20,1,20,5,false\n");
      const feed = await openTickFeed(
        dir,
        ["caps", "B-trades-y.csv", join(dir, "C-trades-z.csv")],
        ["A", "B"],
      );
      expect(feed.has("A")).toBe(true);
      expect(feed.has("B")).toBe(true);
      expect(feed.has("C")).toBe(false); // not a symbol of the run
      const ids = async (symbol: string, from: number, to: number) =>
        (await collect(feed.between(symbol, from, to))).map((t) => (t.kind === "trade" ? t.id : -1));
      expect(await ids("A", 0, 59_999)).toEqual([1]);
      expect(await ids("A", 0, 59_999)).toEqual([]);
      expect(await ids("B", 0, 59_999)).toEqual([9]);
      expect(await ids("A", 60_001, 119_999)).toEqual([3]); // 2 (before the range, unread) is skipped
      expect(await ids("A", 180_000, 239_999)).toEqual([4]);
      expect(await ids("Z", 0, 1e15)).toEqual([]);
      await feed.close();
      await expect(openTickFeed(dir, ["missing"], ["A"])).rejects.toThrow(
        /no such file or directory missing/,
      );
      await mkdir(join(dir, "empty"));
      await expect(openTickFeed(dir, ["empty"], ["A"])).rejects.toThrow(
        /holds no trades, bookTicker or markPrice1s/,
      );
      const a = { path: "a", absolutePath: join(dir, "B-trades-y.csv") };
      expect(
        () =>
          new TickFeed([
            { symbol: "A", trades: [a] },
            { symbol: "A", trades: [a] },
          ]),
      ).toThrow(/twice/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
