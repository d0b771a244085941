/**
 * The book streams' pure parts on real data: the wire parsers (src/adapters/binance/book-wire.ts) on the raw
 * captured Binance messages (futures/um/ws-capture/raw: `@depth@0ms`, `@bookTicker` and the REST depth body)
 * against the derived CSVs of the same capture, and `BookSync` (book-sync.ts, the [LOB] procedure of
 * binance-usdm.md §5.3) fed the BTCUSDT 2024-07-18 capture: in sync from the buffered stream and the snapshot,
 * resynced after a dropped event, a disconnect, a snapshot older than the stream, each time back on the book that
 * replaying the capture directly gives.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { BookSync, type SyncStep } from "../src/adapters/binance/book-sync.ts";
import { depthSnapshotFromRest, parseBookMessage } from "../src/adapters/binance/book-wire.ts";
import { BinanceWireError } from "../src/adapters/binance/market-wire.ts";
import { type BookTick, readBookTickerFile } from "../src/adapters/market/ticks.ts";
import type { BookView, DepthSnapshot, DepthUpdate } from "../src/domain/book/order-book.ts";
import { type DepthCapture, loadDepthCapture, replayDepthCapture } from "./support/depth-capture.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("book wire and sync on the BTCUSDT 2024-07-18 capture");
const DERIVED = "futures/um/ws-capture/derived";
const WINDOW = "2024-07-18T2357_2024-07-19T0005";
const src = (dir: string, name: string) => ({
  path: `${dir}/${name}`,
  absolutePath: `${root}/${dir}/${name}`,
});

let capture: DepthCapture;
/** The direct replay's view (100 levels) after each applied update id. */
let direct: Map<number, BookView>;
let finalView: BookView;

beforeAll(async () => {
  if (!root) return;
  capture = await loadDepthCapture(src(DERIVED, `BTCUSDT-depth-${WINDOW}.csv.gz`));
  direct = new Map();
  const book = replayDepthCapture(capture, (u, outcome, b) => {
    if (outcome.kind === "applied") direct.set(u.finalUpdateId, b.view(100));
  });
  finalView = book.view(100);
});

/** The raw messages of the capture's first file (`<receive time> <json>` per line). */
function rawMessages(): unknown[] {
  const text = gunzipSync(
    readFileSync(`${root}/futures/um/ws-capture/raw/usdm_btcusdt_20240718.gz`),
  ).toString();
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l.slice(l.indexOf(" ") + 1)));
}

describe.skipIf(!root)("book wire formats on the raw capture", () => {
  it("depthUpdate, bookTicker and the REST depth body parse to the derived CSVs' records", async () => {
    const raw = rawMessages();
    const updates: DepthUpdate[] = [];
    const ticks: BookTick[] = [];
    let snapshot: DepthSnapshot | undefined;
    for (const m of raw) {
      const { stream, data } = m as { stream?: string; data?: unknown };
      if (stream === undefined) {
        snapshot = depthSnapshotFromRest("BTCUSDT", m);
        continue;
      }
      const parsed = parseBookMessage(data);
      if (parsed?.kind === "depthUpdate") updates.push(parsed.update);
      else if (parsed?.kind === "bookTicker") ticks.push(parsed.tick);
      else expect(stream).toBe("btcusdt@trade"); // @trade is not a book message: undefined
    }
    expect(snapshot).toEqual(capture.snapshot);
    expect(updates.length).toBeGreaterThan(1000);
    expect(updates).toEqual(capture.updates.slice(0, updates.length));
    const derived: BookTick[] = [];
    for await (const t of readBookTickerFile(
      src(DERIVED, `BTCUSDT-bookTicker-${WINDOW}.csv.gz`),
      "BTCUSDT",
    )) {
      derived.push(t);
      if (derived.length === ticks.length) break;
    }
    expect(ticks).toEqual(derived);
  });

  it("a malformed message names its type and field", () => {
    const m = { e: "depthUpdate", E: 1, T: 1, s: "BTCUSDT", U: 2, u: 3, pu: 1, b: [["1.0", 2]], a: [] };
    expect(() => parseBookMessage(m)).toThrow(BinanceWireError);
    expect(() => parseBookMessage(m)).toThrow(/malformed depthUpdate message: field b\.0\.1/);
    expect(() => parseBookMessage({ ...m, b: [], U: 4 })).toThrow(/U 4 > u 3/);
    expect(() => parseBookMessage({ e: "aggTrade", s: "BTCUSDT" })).toThrow(
      /malformed aggTrade message: field E/,
    );
    expect(() => depthSnapshotFromRest("BTCUSDT", { lastUpdateId: "x" })).toThrow(
      /GET \/fapi\/v1\/depth BTCUSDT: field lastUpdateId/,
    );
    expect(parseBookMessage({ e: "kline" })).toBeUndefined();
  });
});

/** Feeds updates to `sync`, collecting the steps. */
function feed(sync: BookSync, updates: readonly DepthUpdate[]): SyncStep[] {
  return updates.map((u) => sync.update(u));
}

/** A snapshot of the direct replay's book at update `index` (every level). */
function snapshotAt(index: number): DepthSnapshot {
  const book = replayDepthCapture(capture, undefined, capture.updates.slice(0, index + 1));
  const v = book.view(100_000);
  return {
    symbol: "BTCUSDT",
    lastUpdateId: v.lastUpdateId,
    transactionTime: v.time,
    bids: v.bids,
    asks: v.asks,
  };
}

/** Every view equals the direct replay's at its update id (views at a snapshot's id aside). */
function expectDirect(views: readonly BookView[]): void {
  let compared = 0;
  for (const v of views) {
    const expected = direct.get(v.lastUpdateId);
    if (expected === undefined) continue;
    expect(v).toEqual(expected);
    compared++;
  }
  expect(compared).toBeGreaterThan(0);
}

describe.skipIf(!root)("BookSync on the BTCUSDT 2024-07-18 capture", () => {
  const split = () => {
    const before = capture.updates.filter((u) => u.transactionTime <= capture.snapshot.transactionTime);
    return { before, after: capture.updates.slice(before.length) };
  };

  it("buffers, asks for one snapshot, then follows the stream: the capture's book at every update", () => {
    const sync = new BookSync("BTCUSDT");
    const { before, after } = split();
    const buffered = feed(sync, before);
    expect(buffered.map((s) => s.fetch)).toEqual(before.map((_, i) => i === 0));
    expect(buffered.every((s) => s.views.length === 0 && s.resync === undefined)).toBe(true);
    const synced = sync.snapshot(capture.snapshot);
    expect(synced.fetch).toBe(false);
    const steps = feed(sync, after);
    expect(steps.every((s) => !s.fetch && s.resync === undefined)).toBe(true);
    const views = [...synced.views, ...steps.flatMap((s) => s.views)];
    expectDirect(views);
    expect(views.at(-1)).toEqual(finalView);
  });

  it("a dropped event: resync (continuity), one fetch, an old snapshot refused (first rule), a fresh one syncs", () => {
    const sync = new BookSync("BTCUSDT");
    const { before, after } = split();
    feed(sync, before);
    sync.snapshot(capture.snapshot);
    const k = 2_000;
    feed(sync, after.slice(0, k));
    const lost = after[k]!;
    const next = after[k + 1]!;
    const gap = sync.update(next);
    expect(gap).toEqual({
      fetch: true,
      views: [],
      resync: {
        kind: "gap",
        rule: "continuity",
        expected: lost.previousFinalUpdateId,
        update: { U: next.firstUpdateId, u: next.finalUpdateId, pu: next.previousFinalUpdateId },
      },
    });
    expect(sync.synced).toBe(false);
    const waiting = feed(sync, after.slice(k + 2, k + 50));
    expect(waiting.every((s) => !s.fetch && s.views.length === 0)).toBe(true);
    // The snapshot taken before the loss is older than the buffer: refused, asked again.
    const old = sync.snapshot(capture.snapshot);
    expect(old).toMatchObject({ fetch: true, views: [], resync: { kind: "gap", rule: "first" } });
    // A snapshot at the 30th buffered event: the older ones are stale, the rest applies.
    const index = before.length + k + 30;
    const fresh = sync.snapshot(snapshotAt(index));
    expect(fresh.fetch).toBe(false);
    expect(fresh.views.length).toBe(50 - 30);
    const steps = feed(sync, after.slice(k + 50));
    expectDirect([...fresh.views, ...steps.flatMap((s) => s.views)]);
    expect(steps.at(-1)!.views.at(-1)).toEqual(finalView);
  });

  it("a disconnect drops the book and the buffer; the next event asks for a snapshot", () => {
    const sync = new BookSync("BTCUSDT");
    const { before, after } = split();
    feed(sync, before);
    sync.snapshot(capture.snapshot);
    feed(sync, after.slice(0, 100));
    expect(sync.disconnected()).toEqual({ fetch: false, views: [], resync: { kind: "disconnected" } });
    expect(sync.disconnected()).toEqual({ fetch: false, views: [] });
    expect(sync.view()).toBeUndefined();
    const [first, ...rest] = feed(sync, after.slice(300, 310));
    expect(first!.fetch).toBe(true);
    expect(rest.every((s) => !s.fetch)).toBe(true);
    const fresh = sync.snapshot(snapshotAt(before.length + 305));
    // The event at the snapshot's id applies again ([LOB] step 4: U ≤ lastUpdateId ≤ u), then the rest.
    expect(fresh.views.map((v) => v.lastUpdateId)).toEqual(after.slice(305, 310).map((u) => u.finalUpdateId));
    expectDirect(fresh.views);
  });

  it("a buffer past its limit drops its oldest events and says so once; a failed fetch is asked again", () => {
    const sync = new BookSync("BTCUSDT", { maxBuffer: 3 });
    const steps = feed(sync, capture.updates.slice(0, 6));
    expect(steps.map((s) => s.resync?.kind)).toEqual([
      undefined,
      undefined,
      undefined,
      "bufferOverflow",
      undefined,
      undefined,
    ]);
    sync.snapshotFailed();
    expect(sync.update(capture.updates[6]!).fetch).toBe(true);
    expect(() => sync.update({ ...capture.updates[7]!, symbol: "ETHUSDT" })).toThrow(/update of ETHUSDT/);
  });
});
