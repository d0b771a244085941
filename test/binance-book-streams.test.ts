/**
 * `localBookStream` (src/adapters/binance/book-streams.ts) through the SDK against a minimal fake of Binance's
 * `/public` stream and `GET /fapi/v1/depth`, fed the real BTCUSDT 2024-07-18 depth capture with one diff event
 * left out: the stream finds the `pu` break, logs the resync, fetches a new snapshot and ends on the book that
 * replaying the whole capture gives. (Against the double: test/e2e-book-streams.test.ts.)
 */
import { createServer, type Server } from "node:http";
import { Writable } from "node:stream";
import { USDMClient } from "binance";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import {
  aggTradeStream,
  depthSnapshotsOverClient,
  localBookStream,
} from "../src/adapters/binance/book-streams.ts";
import type { AggTrade } from "../src/adapters/binance/book-wire.ts";
import type { BookView, DepthSnapshot, DepthUpdate } from "../src/domain/book/order-book.ts";
import { type DepthCapture, loadDepthCapture, replayDepthCapture } from "./support/depth-capture.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("local book stream on the BTCUSDT 2024-07-18 depth capture");
const NAME = "futures/um/ws-capture/derived/BTCUSDT-depth-2024-07-18T2357_2024-07-19T0005.csv.gz";
/** Events sent (a prefix of the capture) and the one left out. */
const SENT = 1_500;
const LOST = 700;

let capture: DepthCapture;
beforeAll(async () => {
  if (root) capture = await loadDepthCapture({ path: NAME, absolutePath: `${root}/${NAME}` });
});

const message = (u: DepthUpdate) => ({
  stream: "btcusdt@depth@100ms",
  data: {
    e: "depthUpdate",
    E: u.eventTime,
    T: u.transactionTime,
    s: u.symbol,
    U: u.firstUpdateId,
    u: u.finalUpdateId,
    pu: u.previousFinalUpdateId,
    b: u.bids,
    a: u.asks,
  },
});

/** The capture's book after its first `n` updates, as a REST snapshot (every level). */
function snapshotAfter(n: number): DepthSnapshot {
  const v = replayDepthCapture(capture, undefined, capture.updates.slice(0, n)).view(100_000);
  return {
    symbol: "BTCUSDT",
    lastUpdateId: v.lastUpdateId,
    transactionTime: v.time,
    bids: v.bids,
    asks: v.asks,
  };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

describe.skipIf(!root)("localBookStream against a fake exchange", () => {
  it("a left-out diff: resync logged (continuity), a second snapshot, and the whole capture's book at the end", async () => {
    const updates = capture.updates.slice(0, SENT);
    const sent = updates.filter((_, i) => i !== LOST);
    // Snapshots served: the capture's own, then the book at the event after the lost one (the client's buffer).
    const snapshots = [capture.snapshot, snapshotAfter(LOST + 2)];
    const requests: string[] = [];
    server = createServer((request, response) => {
      requests.push(request.url ?? "");
      const body = snapshots.shift();
      response.writeHead(body ? 200 : 500, { "content-type": "application/json" });
      const s = body ?? capture.snapshot;
      response.end(
        JSON.stringify({
          lastUpdateId: s.lastUpdateId,
          E: s.transactionTime,
          T: s.transactionTime,
          bids: s.bids,
          asks: s.asks,
        }),
      );
    });
    const wss = new WebSocketServer({ server });
    const paths: string[] = [];
    wss.on("connection", (ws, request) => {
      paths.push(request.url ?? "");
      ws.on("message", (data) => {
        const { method, id } = JSON.parse(String(data)) as { method: string; id: number };
        if (method !== "SUBSCRIBE") return;
        ws.send(JSON.stringify({ result: null, id }));
        for (const u of sent) ws.send(JSON.stringify(message(u)));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const logs: { msg: string; [k: string]: unknown }[] = [];
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk, _enc, done) {
          logs.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    const views: BookView[] = [];
    const expected = replayDepthCapture(capture, undefined, updates).view(100);
    const subscription = localBookStream({
      symbols: ["BTCUSDT"],
      wsUrl: `ws://127.0.0.1:${port}`,
      logger,
      snapshots: depthSnapshotsOverClient(
        new USDMClient({ baseUrl: `http://127.0.0.1:${port}`, disableTimeSync: true }),
      ),
    }).subscribe((v) => views.push(v));
    try {
      const deadline = Date.now() + 30_000;
      while (views.at(-1)?.lastUpdateId !== expected.lastUpdateId && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
    } finally {
      subscription.unsubscribe();
      wss.close();
    }
    expect(paths).toEqual(["/public/stream"]);
    expect(requests).toEqual([
      "/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
      "/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
    ]);
    const lost = updates[LOST]!;
    const next = updates[LOST + 1]!;
    expect(logs.filter((l) => l.msg === "local book: resync").map((l) => l.reason)).toEqual([
      {
        kind: "gap",
        rule: "continuity",
        expected: lost.previousFinalUpdateId,
        update: { U: next.firstUpdateId, u: next.finalUpdateId, pu: next.previousFinalUpdateId },
      },
    ]);
    // In sync once before the break when the first snapshot came back before it arrived, and once after.
    const synced = logs.filter((l) => l.msg === "local book: in sync").length;
    expect(synced).toBeGreaterThanOrEqual(1);
    expect(synced).toBeLessThanOrEqual(2);
    expect(views.at(-1)).toEqual(expected);
  });
});

describe("aggTradeStream against a fake exchange", () => {
  it("parses aggTrades on /market (nq kept) and logs a jump of the aggregate id", async () => {
    const trade = (a: number, extra: Record<string, unknown> = {}) => ({
      stream: "btcusdt@aggTrade",
      data: {
        e: "aggTrade",
        E: 1_000 + a,
        s: "BTCUSDT",
        a,
        p: "63943.90",
        q: "0.020",
        f: 10 * a,
        l: 10 * a + 1,
        T: 999 + a,
        m: true,
        ...extra,
      },
    });
    server = createServer((_request, response) => response.end("{}"));
    const wss = new WebSocketServer({ server });
    const paths: string[] = [];
    wss.on("connection", (ws, request) => {
      paths.push(request.url ?? "");
      ws.on("message", (data) => {
        const { id } = JSON.parse(String(data)) as { id: number };
        ws.send(JSON.stringify({ result: null, id }));
        for (const m of [trade(1), trade(2, { nq: "0.010" }), trade(4)]) ws.send(JSON.stringify(m));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const logs: { msg: string; [k: string]: unknown }[] = [];
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk, _enc, done) {
          logs.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    const got: AggTrade[] = [];
    const subscription = aggTradeStream({
      symbols: ["BTCUSDT"],
      wsUrl: `ws://127.0.0.1:${port}`,
      logger,
    }).subscribe((t) => got.push(t));
    try {
      const deadline = Date.now() + 10_000;
      while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      subscription.unsubscribe();
      wss.close();
    }
    expect(paths).toEqual(["/market/stream"]);
    expect(got[1]).toEqual({
      kind: "aggTrade",
      symbol: "BTCUSDT",
      aggId: 2,
      price: "63943.90",
      qty: "0.020",
      nonRpiQty: "0.010",
      firstTradeId: 20,
      lastTradeId: 21,
      time: 1_001,
      eventTime: 1_002,
      buyerMaker: true,
    });
    expect(got.map((t) => t.aggId)).toEqual([1, 2, 4]);
    expect(logs.filter((l) => l.msg.startsWith("aggTrade: aggregate ids jumped"))).toMatchObject([
      { symbol: "BTCUSDT", previous: 2, aggId: 4 },
    ]);
  });
});
