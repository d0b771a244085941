import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { concatMap, config, from, lastValueFrom, Observable, take, toArray } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverArchive } from "../src/adapters/market/archive.ts";
import { readKlineFile } from "../src/adapters/market/klines.ts";
import { archiveMarketEvents } from "../src/adapters/market/merge.ts";
import { type Bar, MarketDataError, type MarketEvent } from "../src/adapters/market/types.ts";
import { type IntervalEvent, initialBarAggregator, stepBarAggregator } from "../src/domain/bars/aggregate.ts";
import { aggregateBars, withAggregatedBars } from "../src/market/aggregate-bars.ts";
import { consumeInOrder, pull } from "../src/market/pull.ts";
import { referenceAggregate } from "./support/bar-reference.ts";
import { requireRealData } from "./support/real-data.ts";

/** A few awaited microtask turns: an async consumer that is slower than the source's own awaits. */
async function slowWork(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

/** An async source of 0..n−1 that counts what it produced and whether it was closed (its finally ran). */
function countingSource(n: number) {
  const stats = { produced: 0, consumed: 0, maxLead: 0, closed: false };
  let closedResolve!: () => void;
  const closed = new Promise<void>((resolve) => {
    closedResolve = resolve;
  });
  async function* source(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < n; i++) {
        await Promise.resolve();
        stats.produced++;
        stats.maxLead = Math.max(stats.maxLead, stats.produced - stats.consumed);
        yield i;
      }
    } finally {
      stats.closed = true;
      closedResolve();
    }
  }
  const handler = async (item: number): Promise<number> => {
    await slowWork();
    stats.consumed++;
    return item * 2;
  };
  return { stats, source: source(), handler, closed };
}

describe("pull: backpressure over an async iterable", () => {
  it("never reads more than `window` items ahead of an async consumer, and keeps order", async () => {
    for (const window of [1, 3]) {
      const { stats, source, handler, closed } = countingSource(500);
      const out = await lastValueFrom(consumeInOrder(source, handler, { window }).pipe(toArray()));
      expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i * 2));
      expect(stats.maxLead).toBe(window); // bounded, and the window is used for read-ahead
      await closed;
    }
  });

  it("(the check can fail) from(asyncIterable) runs ahead of the same consumer", async () => {
    const { stats, source, handler } = countingSource(500);
    await lastValueFrom(from(source).pipe(concatMap(handler), toArray()));
    expect(stats.maxLead).toBeGreaterThan(100);
  });

  it("runs one handler at a time even when handlers take different times", async () => {
    let running = 0;
    let maxRunning = 0;
    const seen: number[] = [];
    async function* source() {
      yield* [5, 0, 3, 1, 4, 2];
    }
    const out = await lastValueFrom(
      consumeInOrder(
        source(),
        async (turns: number) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await slowWork(turns);
          seen.push(turns);
          running--;
          return turns;
        },
        { window: 4 },
      ).pipe(toArray()),
    );
    expect(out).toEqual([5, 0, 3, 1, 4, 2]);
    expect(seen).toEqual(out);
    expect(maxRunning).toBe(1);
  });

  describe("errors and closing", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "perpsource-streams-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("a source's MarketDataError arrives unchanged, with its file:line, after the items before it", async () => {
      const absolutePath = join(dir, "BTCUSDT-1m-bad.csv");
      writeFileSync(
        absolutePath,
        "open_time,open,high,low,close,volume\n" +
          "1746372780000,95505.4,95505.5,95502.7,95502.7,16.536\n" +
          "1746372840000,95502.8,95502.8,95478,95478.1,28.313\n" +
          "1746372900000,95478.1,95479,95470,95478.1,1\n" +
          "1746372960000,95478.1,95400,95479,95478.1,1\n",
      );
      const handled: number[] = [];
      const error = await lastValueFrom(
        consumeInOrder(readKlineFile({ path: "bad/BTCUSDT-1m-bad.csv", absolutePath }), async (row) => {
          await slowWork();
          handled.push(row.openTime);
        }),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MarketDataError);
      expect(error).toMatchObject({ file: "bad/BTCUSDT-1m-bad.csv", line: 5 });
      expect((error as Error).message).toMatch(/^bad\/BTCUSDT-1m-bad\.csv:5: /);
      // The parser releases a row once it has read the next (a repeated open_time replaces the row).
      expect(handled).toEqual([1746372780000, 1746372840000]);
    });

    it("a handler's error errors the stream and closes the iterator", async () => {
      const { stats, source, closed } = countingSource(1_000);
      const boom = new Error("store append failed");
      const result = lastValueFrom(
        consumeInOrder(source, async (i: number) => {
          await slowWork();
          if (i === 10) throw boom;
          stats.consumed++;
        }),
      );
      await expect(result).rejects.toBe(boom);
      await closed;
      expect(stats.closed).toBe(true);
      expect(stats.produced).toBe(11);
    });

    it("an early unsubscribe closes the iterator, also while the reader waits for room", async () => {
      const first = countingSource(1_000);
      const three = await lastValueFrom(
        consumeInOrder(first.source, first.handler, { window: 2 }).pipe(take(3), toArray()),
      );
      expect(three).toEqual([0, 2, 4]);
      await first.closed;
      expect(first.stats.produced).toBeLessThanOrEqual(5);

      const second = countingSource(1_000);
      let release!: () => void;
      const blocked = new Promise<void>((resolve) => {
        release = resolve;
      });
      const subscription = consumeInOrder(second.source, () => blocked).subscribe();
      await slowWork(20);
      subscription.unsubscribe();
      await second.closed;
      expect(second.stats.produced).toBe(1);
      release();
    });

    it("an iterator whose return() rejects is reported, not swallowed", async () => {
      const failure = new Error("close failed");
      const reported: unknown[] = [];
      const previous = config.onUnhandledError;
      config.onUnhandledError = (e) => reported.push(e);
      try {
        const iterable: AsyncIterable<number> = {
          [Symbol.asyncIterator]: () => ({
            next: async () => ({ done: false, value: 1 }),
            return: async () => {
              throw failure;
            },
          }),
        };
        await lastValueFrom(consumeInOrder(iterable, (x) => x).pipe(take(2), toArray()));
        await slowWork(10);
        expect(reported).toEqual([failure]);
      } finally {
        config.onUnhandledError = previous;
      }
    });

    it("items$ is single use; window must be an integer ≥ 1", async () => {
      const feed = pull(countingSource(3).source);
      await lastValueFrom(feed.items$.pipe(toArray()));
      await expect(lastValueFrom(feed.items$)).rejects.toThrow(
        "pull: items$ reads one iterator and can be subscribed only once",
      );
      expect(() => pull(countingSource(1).source, { window: 0 })).toThrow(
        "pull: window must be an integer ≥ 1, got 0",
      );
      expect(() => pull(countingSource(1).source, { window: 1.5 })).toThrow(RangeError);
    });
  });

  it("memory stays flat over 2 million items with an awaiting consumer", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const total = 2_000_000;
    const resolved = Promise.resolve();
    async function* numbers() {
      for (let i = 0; i < total; i++) {
        produced++;
        maxLead = Math.max(maxLead, produced - handled);
        yield { i, payload: `item-${i}` };
      }
    }
    const heapAt: number[] = [];
    let produced = 0;
    let handled = 0;
    let maxLead = 0;
    await lastValueFrom(
      consumeInOrder(numbers(), async (item) => {
        // Two awaits per item against the source's one: without backpressure the items would pile up.
        await resolved;
        await resolved;
        handled++;
        if (item.i === 100_000 || item.i === total - 1) {
          gc();
          heapAt.push(process.memoryUsage().heapUsed);
        }
      }),
      { defaultValue: undefined },
    );
    expect(handled).toBe(total);
    expect(maxLead).toBe(1); // from(numbers()) leads by a third of the items with this consumer
    // Buffering the items in between (about half of 1.9 million) would take well over 100 MB.
    expect(heapAt[1]! - heapAt[0]!).toBeLessThan(8 * 1024 * 1024);
  });
});

const T0 = 1_704_067_200_000;
const minuteBar = (symbol: string, minute: number, price: string): MarketEvent => {
  const openTime = T0 + minute * 60_000;
  const bar: Bar = {
    symbol,
    interval: "1m",
    openTime,
    closeTime: openTime + 59_999,
    open: price,
    high: price,
    low: price,
    close: price,
    volume: "1",
  };
  return { kind: "bar", time: bar.closeTime, bar };
};

describe("aggregateBars operator", () => {
  const events: MarketEvent[] = [
    minuteBar("BTCUSDT", 0, "1"),
    {
      kind: "funding",
      time: T0 + 60_003,
      funding: {
        symbol: "BTCUSDT",
        fundingTime: T0 + 60_003,
        fundingRate: "0.0001",
        fundingIntervalHours: 8,
        markPrice: "1",
        markPriceSource: "lastClose",
      },
    },
    ...[1, 2, 3, 4, 5, 6].map((m) => minuteBar("BTCUSDT", m, String(m + 1))),
  ];

  it("emits the pure aggregator's events, ignoring funding; flushOnComplete emits the open bucket", async () => {
    let state = initialBarAggregator("5m");
    const expected: IntervalEvent[] = [];
    for (const e of events) {
      if (e.kind === "funding") continue;
      const step = stepBarAggregator(state, e);
      state = step.state;
      expected.push(...step.emitted);
    }
    const out = await lastValueFrom(from(events).pipe(aggregateBars("5m"), toArray()));
    expect(out).toEqual(expected);
    expect(out.map((e) => e.kind === "bar" && [e.bar.close, e.bar.minutes])).toEqual([["5", 5]]);
    const flushed = await lastValueFrom(
      from(events).pipe(aggregateBars("5m", { flushOnComplete: true }), toArray()),
    );
    expect(flushed.map((e) => e.kind === "bar" && [e.bar.openTime, e.bar.minutes, e.bar.partial])).toEqual([
      [T0, 5, false],
      [T0 + 300_000, 2, true],
    ]);
  });

  it("resumes from a saved state; rejects a state of another interval", async () => {
    let state = initialBarAggregator("5m");
    for (const e of events.slice(0, 4)) if (e.kind !== "funding") state = stepBarAggregator(state, e).state;
    const out = await lastValueFrom(from(events.slice(4)).pipe(aggregateBars("5m", { state }), toArray()));
    expect(out.map((e) => e.kind === "bar" && [e.bar.open, e.bar.close, e.bar.minutes])).toEqual([
      ["1", "5", 5],
    ]);
    expect(() => aggregateBars("1h", { state })).toThrow("aggregateBars(1h): the given state aggregates 5m");
  });

  it("errors on out-of-order input and passes source errors through unchanged", async () => {
    const outOfOrder = [minuteBar("BTCUSDT", 3, "1"), minuteBar("BTCUSDT", 2, "1")];
    await expect(lastValueFrom(from(outOfOrder).pipe(aggregateBars("5m")))).rejects.toThrow(
      /BTCUSDT: bar .* is out of order/,
    );
    const bad = new MarketDataError("f.csv", 9, "bad row");
    const failing = new Observable<MarketEvent>((s) => s.error(bad));
    await expect(lastValueFrom(failing.pipe(aggregateBars("5m")))).rejects.toBe(bad);
  });

  it("withAggregatedBars: each market event, then what it closed per interval, in the given order", async () => {
    const market = [
      ...Array.from({ length: 15 }, (_, m) => minuteBar("BTCUSDT", m, String(m + 1))),
      ...Array.from({ length: 15 }, (_, m) => minuteBar("ETHUSDT", m, String(m + 1))),
    ].sort((a, b) => a.time - b.time);
    const out = await lastValueFrom(from(market).pipe(withAggregatedBars(["5m", "15m"]), toArray()));
    const label = (e: MarketEvent | IntervalEvent) =>
      e.kind === "bar" ? `${e.bar.symbol} ${e.bar.interval}@${(e.bar.openTime - T0) / 60_000}` : e.kind;
    expect(out.map(label).slice(-6)).toEqual([
      "BTCUSDT 1m@14",
      "BTCUSDT 5m@10",
      "BTCUSDT 15m@0",
      "ETHUSDT 1m@14",
      "ETHUSDT 5m@10",
      "ETHUSDT 15m@0",
    ]);
    expect(out).toHaveLength(30 + 6 + 2);
  });

  it("keeps pull's backpressure: 1m events and 5m bars in one ordered stream, at most `window` ahead", async () => {
    const { stats } = countingSource(0);
    async function* market() {
      for (let m = 0; m < 200; m++) {
        await Promise.resolve();
        stats.produced++;
        stats.maxLead = Math.max(stats.maxLead, stats.produced - stats.consumed);
        yield minuteBar("BTCUSDT", m, String(m + 1));
      }
    }
    const feed = pull(market(), { window: 2 });
    const handled: string[] = [];
    await lastValueFrom(
      feed.items$.pipe(
        withAggregatedBars(["5m"]),
        feed.consume(async (e: MarketEvent | IntervalEvent) => {
          await slowWork();
          if (e.kind === "bar") handled.push(`${e.bar.interval}@${e.bar.openTime - T0}`);
          if (e.kind === "bar" && e.bar.interval === "1m") stats.consumed++;
        }),
      ),
      { defaultValue: undefined },
    );
    expect(handled).toHaveLength(240);
    expect(handled.slice(0, 7)).toEqual([
      "1m@0",
      "1m@60000",
      "1m@120000",
      "1m@180000",
      "1m@240000",
      "5m@0",
      "1m@300000",
    ]);
    expect(stats.maxLead).toBeLessThanOrEqual(2);
  });
});

const root = requireRealData("streamed 1h aggregation of BTCUSDT 1m 2025-05 against the batch reference");

describe.skipIf(!root)("aggregation on real data", () => {
  it("BTCUSDT 1m 2025-05 (the file starts 05-04 15:33), pulled and aggregated to 1h, equals the batch reference", async () => {
    const window = { from: Date.UTC(2025, 4, 4), to: Date.UTC(2025, 5, 1) };
    const files = (await discoverArchive(root!, { symbols: ["BTCUSDT"], ...window })).filter(
      (f) => f.kind === "klines",
    );
    expect(files.map((f) => f.path)).toEqual([
      "futures/um/ohlcv/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-04_2025-06-24.csv",
    ]);
    const minutes: Bar[] = [];
    const feed = pull(archiveMarketEvents(files, window));
    const hourly = await lastValueFrom(
      feed.items$.pipe(
        withAggregatedBars(["1h"]),
        feed.consume((e: MarketEvent | IntervalEvent) => {
          if (e.kind === "bar" && e.bar.interval === "1m") minutes.push(e.bar as Bar);
          return e;
        }),
        toArray(),
      ),
    );
    const streamed = hourly.filter(
      (e): e is IntervalEvent =>
        (e.kind === "bar" && e.bar.interval === "1h") || (e.kind === "gap" && "interval" in e.gap),
    );
    const ref = referenceAggregate("BTCUSDT", minutes, "1h", window.from, window.to);
    expect(minutes.length).toBeGreaterThan(38_000);
    expect(ref.gaps).toEqual([
      {
        symbol: "BTCUSDT",
        interval: "1h",
        fromOpenTime: window.from,
        toOpenTime: Date.UTC(2025, 4, 4, 15),
        missingBars: 15,
      },
    ]);
    expect(ref.bars[0]).toMatchObject({ openTime: Date.UTC(2025, 4, 4, 15), minutes: 27, partial: true });
    expect(ref.bars).toHaveLength(28 * 24 - 15);
    expect(ref.bars.slice(1).every((b) => !b.partial)).toBe(true);
    expect(streamed).toEqual([
      { kind: "gap", time: ref.gaps[0]!.toOpenTime, gap: ref.gaps[0] },
      ...ref.bars.map((bar) => ({ kind: "bar", time: bar.closeTime, bar })),
    ]);
  });
});
