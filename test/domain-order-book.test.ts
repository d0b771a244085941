/**
 * The local order book (src/domain/book/order-book.ts, binance-usdm.md §5.3 [LOB]): fast-check properties on
 * generated books, the strategies.md §3.6 order-book vector, and replays of the real depth captures
 * (futures/um/ws-capture/derived, depth-sample): the continuity check holds over each whole capture, every
 * dropped event is found, the book never crosses, and its top equals the captured bookTicker at every update id
 * both streams carry.
 */
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { readDepthFile } from "../src/adapters/market/depth.ts";
import { readBookTickerFile } from "../src/adapters/market/ticks.ts";
import type { CsvSource } from "../src/adapters/market/types.ts";
import {
  type BookLevel,
  bandDepth,
  type DepthSnapshot,
  type DepthUpdate,
  OrderBook,
} from "../src/domain/book/order-book.ts";
import { Dec } from "../src/domain/decimal.ts";
import { type DepthCapture, loadDepthCapture, replayDepthCapture } from "./support/depth-capture.ts";
import { requireRealData } from "./support/real-data.ts";

/** A price on a 0.1 grid, sometimes with a trailing zero ("12.30"): the same level either way. */
const price = fc
  .tuple(fc.integer({ min: 1, max: 60 }), fc.boolean())
  .map(([n, pad]) => `${100 + Math.floor(n / 10)}.${n % 10}${pad ? "0" : ""}`);
const qty = fc.oneof(
  fc.constant("0"),
  fc.constant("0.000"),
  fc
    .integer({ min: 1, max: 5_000 })
    .map((n) => `${Math.floor(n / 1000)}.${String(n % 1000).padStart(3, "0")}`),
);
const levels = fc.array(fc.tuple(price, qty), { maxLength: 8 });

/** A snapshot at update id 1000 and a continuous chain of updates after it (the first one bridging it). */
const chain = fc
  .record({
    bids: levels,
    asks: levels,
    updates: fc.array(fc.record({ bids: levels, asks: levels, span: fc.integer({ min: 1, max: 5 }) }), {
      minLength: 1,
      maxLength: 12,
    }),
  })
  .map(({ bids, asks, updates }) => {
    const snapshot: DepthSnapshot = {
      symbol: "BTCUSDT",
      lastUpdateId: 1000,
      transactionTime: 0,
      bids: bids.filter(([, q]) => !new Dec(q).isZero()),
      asks: asks.filter(([, q]) => !new Dec(q).isZero()),
    };
    let previous = 998;
    const list: DepthUpdate[] = updates.map((u, i) => {
      const first = previous + 1;
      const last = i === 0 ? Math.max(1000, previous + u.span) : previous + u.span;
      const update = {
        symbol: "BTCUSDT",
        eventTime: i,
        transactionTime: i,
        firstUpdateId: first,
        finalUpdateId: last,
        previousFinalUpdateId: previous,
        bids: u.bids,
        asks: u.asks,
      };
      previous = last;
      return update;
    });
    return { snapshot, updates: list };
  });

/** The net effect of a continuous chain: one update with every level's last quantity. */
function netEffect(updates: readonly DepthUpdate[]): DepthUpdate {
  const side = (pick: (u: DepthUpdate) => readonly BookLevel[]) => {
    const last = new Map<string, BookLevel>();
    for (const u of updates) for (const level of pick(u)) last.set(new Dec(level[0]).toFixed(), level);
    return [...last.values()];
  };
  return {
    ...updates.at(-1)!,
    firstUpdateId: updates[0]!.firstUpdateId,
    previousFinalUpdateId: updates[0]!.previousFinalUpdateId,
    bids: side((u) => u.bids),
    asks: side((u) => u.asks),
  };
}

/** A book's levels with canonical prices (a level's spelling is the last one written). */
const canonicalView = (book: OrderBook) => {
  const v = book.view(10_000);
  const norm = (ls: BookLevel[]) => ls.map(([p, q]) => [new Dec(p).toFixed(), new Dec(q).toFixed()]);
  return { ...v, bids: norm(v.bids), asks: norm(v.asks) };
};

describe("OrderBook properties", () => {
  it("applying a continuous chain equals applying its net effect, and the sides stay sorted", () => {
    fc.assert(
      fc.property(chain, ({ snapshot, updates }) => {
        const stepwise = OrderBook.fromSnapshot(snapshot);
        for (const u of updates) expect(stepwise.apply(u)).toEqual({ kind: "applied" });
        const once = OrderBook.fromSnapshot(snapshot);
        expect(once.apply(netEffect(updates))).toEqual({ kind: "applied" });
        expect(canonicalView(stepwise)).toEqual(canonicalView(once));
        const v = stepwise.view(10_000);
        for (let i = 1; i < v.bids.length; i++)
          expect(new Dec(v.bids[i - 1]![0]).gt(v.bids[i]![0])).toBe(true);
        for (let i = 1; i < v.asks.length; i++)
          expect(new Dec(v.asks[i - 1]![0]).lt(v.asks[i]![0])).toBe(true);
        for (const [, q] of [...v.bids, ...v.asks]) expect(new Dec(q).gt(0)).toBe(true);
      }),
    );
  });

  it("a pu break is always detected, at the update that breaks, and leaves the book as it was", () => {
    fc.assert(
      fc.property(
        chain.filter((c) => c.updates.length >= 2),
        fc.nat(),
        fc.integer({ min: 1, max: 50 }),
        ({ snapshot, updates }, at, shift) => {
          const k = 1 + (at % (updates.length - 1));
          const broken = updates.map((u, i) =>
            i === k ? { ...u, previousFinalUpdateId: u.previousFinalUpdateId + shift } : u,
          );
          const book = OrderBook.fromSnapshot(snapshot);
          const reference = OrderBook.fromSnapshot(snapshot);
          for (const u of updates.slice(0, k)) reference.apply(u);
          const outcomes = broken.map((u) => book.apply(u));
          expect(outcomes.slice(0, k).every((o) => o.kind === "applied")).toBe(true);
          const gap = {
            kind: "gap",
            rule: "continuity",
            expected: updates[k - 1]!.finalUpdateId,
            update: {
              U: broken[k]!.firstUpdateId,
              u: broken[k]!.finalUpdateId,
              pu: broken[k]!.previousFinalUpdateId,
            },
          };
          for (const o of outcomes.slice(k)) expect(o).toEqual(gap);
          expect(book.inSync).toBe(false);
          expect(book.view(10_000)).toEqual(reference.view(10_000));
        },
      ),
    );
  });

  it("before the first applied update: u < lastUpdateId is stale, U > lastUpdateId is a gap", () => {
    fc.assert(
      fc.property(chain, fc.integer({ min: 1, max: 500 }), ({ snapshot, updates }, d) => {
        const book = OrderBook.fromSnapshot(snapshot);
        const before = book.view(10_000);
        const old = {
          ...updates[0]!,
          firstUpdateId: 900 - d,
          finalUpdateId: 1000 - d,
          previousFinalUpdateId: 899 - d,
        };
        expect(book.apply(old)).toEqual({ kind: "stale" });
        expect(book.view(10_000)).toEqual(before);
        const late = { ...updates[0]!, firstUpdateId: 1000 + d, finalUpdateId: 1000 + d + 3 };
        expect(book.apply(late)).toMatchObject({ kind: "gap", rule: "first", expected: 1000 });
        expect(book.view(10_000)).toEqual(before);
        expect(book.apply(updates[0]!)).toMatchObject({ kind: "gap" });
      }),
    );
  });

  it("refuses a malformed level without changing the book, naming it", () => {
    const book = OrderBook.fromSnapshot({
      symbol: "BTCUSDT",
      lastUpdateId: 5,
      transactionTime: 0,
      bids: [["100.0", "1"]],
      asks: [["100.1", "2"]],
    });
    const update: DepthUpdate = {
      symbol: "BTCUSDT",
      eventTime: 1,
      transactionTime: 1,
      firstUpdateId: 5,
      finalUpdateId: 6,
      previousFinalUpdateId: 4,
      bids: [["100.0", "0"]],
      asks: [["1e3", "1"]],
    };
    expect(() => book.apply(update)).toThrow(
      /update 5\.\.6 ask 0 price: expected an unsigned decimal string/,
    );
    expect(book.bestBid()).toEqual(["100.0", "1"]);
    expect(() => book.apply({ ...update, symbol: "ETHUSDT" })).toThrow(/update of ETHUSDT/);
  });
});

describe("bandDepth (strategies.md §3.3 order book)", () => {
  it("vector 7: B 30, A 10 inside the band → s = 0.5; levels outside the band do not count", () => {
    // mid = 100.05: the band is [99.54975, 100.55025].
    const view = {
      symbol: "BTCUSDT",
      lastUpdateId: 1,
      time: 0,
      bids: [
        ["100.0", "10"],
        ["99.6", "20"],
        ["99.5", "1000"],
      ] as BookLevel[],
      asks: [
        ["100.1", "4"],
        ["100.55", "6"],
        ["100.6", "1000"],
      ] as BookLevel[],
    };
    const d = bandDepth(view)!;
    expect(d).toEqual({ mid: "100.05", bidQty: "30", askQty: "10" });
    const b = new Dec(d.bidQty);
    const a = new Dec(d.askQty);
    expect(b.minus(a).div(b.plus(a)).toFixed()).toBe("0.5");
    expect(bandDepth({ ...view, asks: [] })).toBeUndefined();
  });
});

const root = requireRealData("order book replay of the WebSocket depth captures");
const DIR = "futures/um/ws-capture/derived";
const WINDOWS = [
  ["BTCUSDT", "2023-04-04T2358_2023-04-05T0007"],
  ["BTCUSDT", "2024-07-18T2357_2024-07-19T0005"],
  ["BTCUSDT", "2024-08-08T2354_2024-08-09T0000"],
  ["ETHUSDT", "2024-07-18T2357_2024-07-19T0005"],
] as const;
const source = (dir: string, name: string): CsvSource => ({
  path: `${dir}/${name}`,
  absolutePath: join(root ?? "", dir, name),
});

describe.skipIf(!root)("OrderBook on the real depth captures", () => {
  const captures = new Map<string, DepthCapture>();
  beforeAll(async () => {
    for (const [symbol, window] of WINDOWS)
      captures.set(
        `${symbol} ${window}`,
        await loadDepthCapture(source(DIR, `${symbol}-depth-${window}.csv.gz`)),
      );
  });

  it.each(WINDOWS)(
    "%s %s: continuous after the snapshot, never crossed, its top equals the bookTicker at each shared update id",
    async (symbol, window) => {
      const capture = captures.get(`${symbol} ${window}`)!;
      const { lastUpdateId } = capture.snapshot;
      const tops = new Map<number, string>();
      const kinds: string[] = [];
      replayDepthCapture(capture, (update, outcome, book) => {
        kinds.push(outcome.kind);
        if (outcome.kind !== "applied") return;
        const bid = book.bestBid()!;
        const ask = book.bestAsk()!;
        expect(new Dec(bid[0]).lt(ask[0]), `crossed after u=${update.finalUpdateId}`).toBe(true);
        tops.set(update.finalUpdateId, `${bid[0]} ${bid[1]} ${ask[0]} ${ask[1]}`);
      });
      // Every update older than the snapshot is stale, every other one applies: no gap anywhere.
      const older = capture.updates.filter((u) => u.finalUpdateId < lastUpdateId).length;
      expect(kinds.filter((k) => k === "stale").length).toBe(older);
      expect(kinds.filter((k) => k === "applied").length).toBe(capture.updates.length - older);
      expect(capture.updates.length - older).toBeGreaterThan(1000);

      let compared = 0;
      const bookTicker = source(DIR, `${symbol}-bookTicker-${window}.csv.gz`);
      for await (const t of readBookTickerFile(bookTicker, symbol)) {
        const top = tops.get(t.updateId);
        if (top === undefined) continue;
        expect(top, `bookTicker ${t.updateId}`).toBe(`${t.bidPrice} ${t.bidQty} ${t.askPrice} ${t.askQty}`);
        compared++;
      }
      expect(compared).toBeGreaterThan(100);
    },
  );

  it("a dropped event of a capture is found at the next one (continuity), and after the snapshot (first)", () => {
    const capture = captures.get(`BTCUSDT ${WINDOWS[1][1]}`)!;
    const { lastUpdateId } = capture.snapshot;
    const live = capture.updates.filter((u) => u.finalUpdateId >= lastUpdateId);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: live.length - 2 }), (k) => {
        const updates = [...live.slice(0, k), ...live.slice(k + 1)];
        const found: { outcome: unknown }[] = [];
        replayDepthCapture(
          capture,
          (_u, outcome) => {
            if (outcome.kind === "gap" && found.length === 0) found.push({ outcome });
          },
          updates,
        );
        const missing = live[k]!;
        const next = live[k + 1]!;
        expect(found[0]?.outcome).toEqual(
          k === 0
            ? { kind: "gap", rule: "first", expected: lastUpdateId, update: ids(next) }
            : { kind: "gap", rule: "continuity", expected: missing.previousFinalUpdateId, update: ids(next) },
        );
      }),
      { numRuns: 25 },
    );
  });

  it("depth-sample: the truncated update file does not bridge its snapshot (a gap of the first rule)", async () => {
    const sample = "futures/um/depth-sample";
    const snapshots = [];
    for await (const r of readDepthFile(source(sample, "btcusdt-depth-snap.csv"), "BTCUSDT"))
      if (r.kind === "snapshot") snapshots.push(r.snapshot);
    const updates = [];
    for await (const r of readDepthFile(source(sample, "btcusdt-depth-update.csv"), "BTCUSDT"))
      if (r.kind === "update") updates.push(r.update);
    expect(snapshots.length).toBe(1);
    const book = OrderBook.fromSnapshot(snapshots[0]!);
    const before = book.view(1000);
    const first = updates[0]!;
    expect(first.firstUpdateId).toBeGreaterThan(snapshots[0]!.lastUpdateId);
    expect(book.apply(first)).toEqual({
      kind: "gap",
      rule: "first",
      expected: snapshots[0]!.lastUpdateId,
      update: ids(first),
    });
    expect(book.view(1000)).toEqual(before);
    expect(book.inSync).toBe(false);
  });
});

function ids(u: DepthUpdate) {
  return { U: u.firstUpdateId, u: u.finalUpdateId, pu: u.previousFinalUpdateId };
}
