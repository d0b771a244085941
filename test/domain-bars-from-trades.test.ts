/**
 * 1m bars built from trades (src/domain/bars/from-trades.ts) against a batch reference (group by minute, exact
 * decimal sums), and the tick feed (src/adapters/market/tick-feed.ts) handing ticks out minute by minute.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TickFeed } from "../src/adapters/market/tick-feed.ts";
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
  it("hands each symbol's ticks out up to a time, each once, in stream order", async () => {
    const dir = await mkdtemp(join(tmpdir(), "perpsource-tick-feed-"));
    try {
      const write = async (name: string, body: string) => {
        const absolutePath = join(dir, name);
        await writeFile(absolutePath, body);
        return { path: name, absolutePath };
      };
      const a = await write(
        "A-trades.csv",
        "1,10,1,10,100,true\n2,10,1,10,60000,true\n3,10,1,10,60001,true\n",
      );
      const b = await write("B-trades.csv", "9,20,1,20,5,false\n");
      const feed = new TickFeed([
        { symbol: "A", trades: [a] },
        { symbol: "B", trades: [b] },
      ]);
      expect(feed.has("A")).toBe(true);
      expect(feed.has("C")).toBe(false);
      const ids = async (symbol: string, time: number) =>
        (await collect(feed.until(symbol, time))).map((t) => (t.kind === "trade" ? t.id : -1));
      expect(await ids("A", 59_999)).toEqual([1]);
      expect(await ids("A", 59_999)).toEqual([]);
      expect(await ids("B", 59_999)).toEqual([9]);
      expect(await ids("A", 60_000)).toEqual([2]);
      expect(await ids("A", 1e15)).toEqual([3]);
      expect(await ids("C", 1e15)).toEqual([]);
      await feed.close();
      expect(
        () =>
          new TickFeed([
            { symbol: "A", trades: [a] },
            { symbol: "A", trades: [b] },
          ]),
      ).toThrow(/twice/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
