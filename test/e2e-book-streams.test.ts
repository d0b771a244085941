/**
 * The live book and trade streams (src/adapters/binance/book-streams.ts) against the double replaying the real
 * BTCUSDT WebSocket capture of 2024-07-18 23:57 .. 07-19 00:05 (futures/um/ws-capture/derived) in lockstep,
 * driven by the live market feed (which acks each closed kline): the local book stream, synced from the
 * double's `GET /fapi/v1/depth` and its `@depth@100ms` diffs, shows at every update id the book that replaying
 * the capture directly shows there; the bookTicker stream is the capture's bookTicker rows; the aggTrade stream
 * covers every captured trade once, each aggregate its trades' exact sum. With every connection rotated
 * (`--faults rotate-ws`), the book resyncs after each reconnect (logged) and still ends on the capture's book.
 */
import { Writable } from "node:stream";
import { USDMClient } from "binance";
import pino from "pino";
import type { Subscription } from "rxjs";
import { concatMap } from "rxjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  aggTradeStream,
  bookTickerStream,
  depthSnapshotsOverClient,
  localBookStream,
} from "../src/adapters/binance/book-streams.ts";
import type { AggTrade } from "../src/adapters/binance/book-wire.ts";
import { openLiveMarketFeed } from "../src/adapters/binance/market-feed.ts";
import {
  type BookTick,
  readBookTickerFile,
  readTradeFile,
  type TradeTick,
} from "../src/adapters/market/ticks.ts";
import type { BookView } from "../src/domain/book/order-book.ts";
import { Dec } from "../src/domain/decimal.ts";
import { hmacCredentials } from "../src/exchange-sim/auth.ts";
import { parseFaultSpec } from "../src/exchange-sim/faults.ts";
import { createExchangeSim, type ExchangeSim } from "../src/exchange-sim/server.ts";
import { type DepthCapture, loadDepthCapture, replayDepthCapture } from "./support/depth-capture.ts";
import { FakeExchange } from "./support/exchange-sim.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("book streams against exchange-sim on the BTCUSDT 2024-07-18 capture");
const DIR = "futures/um/ws-capture/derived";
const CAPTURE = "2024-07-18T2357_2024-07-19T0005";
const SYMBOL = "BTCUSDT";
const KEY = "book-streams-key";
const FROM = Date.parse("2024-07-18T23:57:00Z");
const TO = Date.parse("2024-07-19T00:05:00Z");
/** The last minute the replay publishes closes here: the double publishes messages with T ≤ it. */
const LAST_CLOSE = TO - 1;
const src = (name: string) => ({ path: `${DIR}/${name}`, absolutePath: `${root}/${DIR}/${name}` });

let capture: DepthCapture;
/** The direct replay's top 20 levels (as JSON) at each applied update id, and its final top 100. */
let direct: Map<number, string>;
let finalView: BookView;

beforeAll(async () => {
  if (!root) return;
  capture = await loadDepthCapture(src(`${SYMBOL}-depth-${CAPTURE}.csv.gz`));
  direct = new Map();
  const published = capture.updates.filter((u) => u.transactionTime <= LAST_CLOSE);
  const book = replayDepthCapture(
    capture,
    (update, outcome, b) => {
      if (outcome.kind === "applied") direct.set(update.finalUpdateId, top(b.view(20)));
    },
    published,
  );
  finalView = book.view(100);
});

const top = (v: BookView) => JSON.stringify([v.lastUpdateId, v.bids, v.asks]);
const clip = (v: BookView, n: number): BookView => ({
  ...v,
  bids: v.bids.slice(0, n),
  asks: v.asks.slice(0, n),
});

interface Run {
  views: BookView[];
  ticks: BookTick[];
  trades: AggTrade[];
  logs: { msg: string; [k: string]: unknown }[];
}

let sim: ExchangeSim | undefined;
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await sim?.close();
  sim = undefined;
});

/** Replays the capture window on the double with the three streams subscribed; resolves when it is done. */
async function run(faults?: string): Promise<Run> {
  sim = await createExchangeSim({
    dataRoot: root!,
    symbols: [SYMBOL],
    window: { from: FROM, to: TO },
    lockstep: true,
    credentials: hmacCredentials(KEY, "secret"),
    exchange: new FakeExchange(),
    logger: pino({ level: "silent" }),
    historyMs: 0,
    captures: [DIR],
    ...(faults === undefined ? {} : { faults: parseFaultSpec(faults) }),
  });
  const url = await sim.listen({ port: 0 });
  const wsUrl = url.replace("http", "ws");
  const out: Run = { views: [], ticks: [], trades: [], logs: [] };
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk, _enc, done) {
        out.logs.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  const failures: unknown[] = [];
  const options = { symbols: [SYMBOL], wsUrl, logger };
  const snapshots = depthSnapshotsOverClient(new USDMClient({ baseUrl: url, disableTimeSync: true }));
  subscriptions.push(
    localBookStream({ ...options, snapshots }).subscribe({
      next: (v) => out.views.push(v),
      error: (e) => failures.push(e),
    }),
    bookTickerStream(options).subscribe({ next: (t) => out.ticks.push(t), error: (e) => failures.push(e) }),
    aggTradeStream(options).subscribe({ next: (t) => out.trades.push(t), error: (e) => failures.push(e) }),
  );
  const wanted = ["btcusdt@aggtrade", "btcusdt@bookticker", "btcusdt@depth@100ms"];
  await waitUntil(() => wanted.every((s) => sim!.status().marketStreams.includes(s)));
  // The kline client the lockstep replay waits for (and is acked by): the live market feed.
  const feed = openLiveMarketFeed({
    symbols: [SYMBOL],
    restUrl: url,
    wsUrl,
    logger,
    lockstep: true,
    apiKey: KEY,
  });
  subscriptions.push(
    feed.events.pipe(concatMap(async (e) => feed.processed(e))).subscribe({ error: (e) => failures.push(e) }),
  );
  await sim.finished();
  // The last minute's messages were sent before its closed kline was acked; let the sockets deliver them.
  await waitUntil(() => out.views.at(-1)?.lastUpdateId === finalView.lastUpdateId || failures.length > 0);
  await feed.close();
  if (failures.length > 0) throw failures[0];
  return out;
}

async function waitUntil(condition: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Checks every view against the direct replay, and the last one at 100 levels. */
function expectCaptureBook(views: readonly BookView[]): void {
  expect(views.length).toBeGreaterThan(1000);
  for (const v of views) {
    const expected = direct.get(v.lastUpdateId);
    // A view emitted right after a snapshot may sit at the snapshot's id, not an update's: skip those.
    if (expected !== undefined) expect(top(clip(v, 20)), `view at ${v.lastUpdateId}`).toBe(expected);
  }
  expect(views.at(-1)).toEqual(finalView);
  for (const v of views) expect(new Dec(v.bids[0]![0]).lt(v.asks[0]![0])).toBe(true);
}

describe.skipIf(!root)("book streams against exchange-sim replaying a capture", () => {
  it("the local book is the capture's at every update id; bookTicker and aggTrade are the capture's", async () => {
    const out = await run();
    expectCaptureBook(out.views);
    const synced = out.logs.filter((l) => l.msg === "local book: in sync");
    expect(synced.length).toBe(1);
    expect(out.logs.filter((l) => l.msg === "local book: resync")).toEqual([]);

    const ticks: BookTick[] = [];
    for await (const t of readBookTickerFile(src(`${SYMBOL}-bookTicker-${CAPTURE}.csv.gz`), SYMBOL))
      if (t.time >= FROM && t.time <= LAST_CLOSE) ticks.push(t);
    expect(out.ticks).toEqual(ticks);

    const trades: TradeTick[] = [];
    for await (const t of readTradeFile(src(`${SYMBOL}-trades-${CAPTURE}.csv`), SYMBOL))
      if (t.time >= FROM && t.time <= LAST_CLOSE) trades.push(t);
    const byId = new Map(trades.map((t) => [t.id, t]));
    expect(out.trades[0]!.firstTradeId).toBe(trades[0]!.id);
    expect(out.trades.at(-1)!.lastTradeId).toBe(trades.at(-1)!.id);
    for (const [i, a] of out.trades.entries()) {
      if (i > 0) {
        expect(a.firstTradeId).toBe(out.trades[i - 1]!.lastTradeId + 1);
        expect(a.aggId).toBe(out.trades[i - 1]!.aggId + 1);
      }
      const members = [];
      for (let id = a.firstTradeId; id <= a.lastTradeId; id++) members.push(byId.get(id)!);
      expect(
        members.every((t) => t.price === a.price && t.time === a.time && t.buyerMaker === a.buyerMaker),
      ).toBe(true);
      expect(members.reduce((s, t) => s.plus(t.qty), new Dec(0)).eq(a.qty)).toBe(true);
    }
    expect(out.trades.length).toBeLessThan(trades.length);
  });

  it("resyncs after every reconnect (rotate-ws) and still ends on the capture's book", async () => {
    const out = await run("rotate-ws:every=3");
    const resyncs = out.logs.filter((l) => l.msg === "local book: resync");
    expect(resyncs.length).toBeGreaterThan(0);
    for (const r of resyncs) expect(r.reason).toEqual({ kind: "disconnected" });
    const synced = out.logs.filter((l) => l.msg === "local book: in sync").length;
    expect(synced).toBeGreaterThanOrEqual(2);
    expect(synced).toBeLessThanOrEqual(resyncs.length + 1);
    expectCaptureBook(out.views);
  });
});
