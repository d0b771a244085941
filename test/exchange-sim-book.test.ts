/**
 * The double's recorded book streams (src/exchange-sim/book-capture.ts) on the real WebSocket captures: which
 * capture files a window takes and the window they narrow it to, `GET /fapi/v1/depth` (the capture's snapshot
 * before anything is published; advanced by the diffs before a later window; limits, weight, errors), and the
 * `--captures` flag. The streams themselves are tested end to end in test/e2e-book-streams.test.ts.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { depthSnapshotsOverRest, depthWeight } from "../src/adapters/binance/book-streams.ts";
import { BinanceRest } from "../src/adapters/binance/rest.ts";
import { simCommandOptions } from "../src/cli/commands/exchange-sim.ts";
import { UsageError } from "../src/cli/context.ts";
import { captureWindow, discoverCaptures } from "../src/exchange-sim/book-capture.ts";
import { createExchangeSim, type ExchangeSim } from "../src/exchange-sim/server.ts";
import { USED_WEIGHT_HEADER } from "../src/exchange-sim/weight.ts";
import { loadDepthCapture, replayDepthCapture } from "./support/depth-capture.ts";
import { FakeExchange } from "./support/exchange-sim.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("exchange-sim depth captures");
const DIR = "futures/um/ws-capture/derived";
const at = (iso: string) => Date.parse(iso);

let sim: ExchangeSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function double(from: string, to: string, captures = [DIR]) {
  sim = await createExchangeSim({
    dataRoot: root!,
    symbols: ["BTCUSDT"],
    window: { from: at(from), to: at(to) },
    lockstep: true,
    exchange: new FakeExchange(),
    logger: pino({ level: "silent" }),
    historyMs: 0,
    captures,
  });
  return sim;
}

describe.skipIf(!root)("exchange-sim captures", () => {
  it("takes each symbol's files overlapping the window and narrows the window to their span", async () => {
    const window = { from: at("2024-07-18T00:00:00Z"), to: at("2024-07-20T00:00:00Z") };
    const found = await discoverCaptures(root!, [DIR], ["BTCUSDT", "ETHUSDT"], window);
    expect(found.map((c) => [c.symbol, c.depth?.path, c.bookTicker?.path, c.trades?.path])).toEqual(
      ["BTCUSDT", "ETHUSDT"].map((s) => [
        s,
        `${DIR}/${s}-depth-2024-07-18T2357_2024-07-19T0005.csv.gz`,
        `${DIR}/${s}-bookTicker-2024-07-18T2357_2024-07-19T0005.csv.gz`,
        `${DIR}/${s}-trades-2024-07-18T2357_2024-07-19T0005.csv`,
      ]),
    );
    expect(captureWindow(found, window)).toEqual({
      from: at("2024-07-18T23:57:00Z"),
      to: at("2024-07-19T00:06:00Z"),
    });
    const none = await discoverCaptures(root!, [DIR], ["BTCUSDT"], {
      from: at("2025-05-05T00:00:00Z"),
      to: at("2025-05-06T00:00:00Z"),
    });
    expect(none).toEqual([]);
    await expect(discoverCaptures(root!, ["futures/um/nothing"], ["BTCUSDT"], window)).rejects.toThrow(
      /no such file or directory futures\/um\/nothing/,
    );
  });

  it("refuses two files of one symbol and kind in the window, naming both", async () => {
    const dir = await mkdtemp(join(tmpdir(), "captures-"));
    try {
      for (const name of [
        "BTCUSDT-depth-2024-07-18T2357_2024-07-19T0005.csv",
        "BTCUSDT-depth-2024-07-19T0000_2024-07-19T0010.csv",
      ])
        await writeFile(join(dir, name), "");
      await expect(
        discoverCaptures(dir, ["."], ["BTCUSDT"], {
          from: at("2024-07-19T00:00:00Z"),
          to: at("2024-07-19T00:05:00Z"),
        }),
      ).rejects.toThrow(
        /BTCUSDT-depth-2024-07-18T2357_2024-07-19T0005\.csv and BTCUSDT-depth-2024-07-19T0000/,
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("GET /fapi/v1/depth: the capture's snapshot before anything is published, `limit` levels, weight by limit", async () => {
    const capture = await loadDepthCapture({
      path: "depth",
      absolutePath: join(root!, DIR, "BTCUSDT-depth-2024-07-18T2357_2024-07-19T0005.csv.gz"),
    });
    const { app } = await double("2024-07-18T23:57:00Z", "2024-07-19T00:05:00Z");
    const r = await app.inject({ url: "/fapi/v1/depth?symbol=BTCUSDT&limit=100" });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({
      lastUpdateId: capture.snapshot.lastUpdateId,
      T: capture.snapshot.transactionTime,
      bids: capture.snapshot.bids.slice(0, 100),
      asks: capture.snapshot.asks.slice(0, 100),
    });
    const used = Number(r.headers[USED_WEIGHT_HEADER.toLowerCase()]);
    const r1000 = await app.inject({ url: "/fapi/v1/depth?symbol=BTCUSDT&limit=1000" });
    expect(Number(r1000.headers[USED_WEIGHT_HEADER.toLowerCase()]) - used).toBe(20);
    expect(r1000.json().bids.length).toBe(1000);
    const bad = await app.inject({ url: "/fapi/v1/depth?symbol=BTCUSDT&limit=7" });
    expect([bad.statusCode, bad.json().code]).toEqual([400, -1130]);
    const missing = await app.inject({ url: "/fapi/v1/depth?limit=5" });
    expect([missing.statusCode, missing.json().code]).toEqual([400, -1102]);
  });

  it("a later window starts the double's book on every diff before it; without a depth capture it is refused", async () => {
    const capture = await loadDepthCapture({
      path: "depth",
      absolutePath: join(root!, DIR, "BTCUSDT-depth-2024-07-18T2357_2024-07-19T0005.csv.gz"),
    });
    const from = at("2024-07-19T00:01:00Z");
    const expected = replayDepthCapture(
      capture,
      undefined,
      capture.updates.filter((u) => u.transactionTime < from),
    ).view(50);
    const { app } = await double("2024-07-19T00:01:00Z", "2024-07-19T00:05:00Z");
    const body = (await app.inject({ url: "/fapi/v1/depth?symbol=BTCUSDT&limit=50" })).json();
    expect(expected.lastUpdateId).toBeGreaterThan(capture.snapshot.lastUpdateId);
    expect(body).toMatchObject({
      lastUpdateId: expected.lastUpdateId,
      T: expected.time,
      bids: expected.bids,
      asks: expected.asks,
    });
    await sim!.close();
    const tradesOnly = await double("2024-07-19T00:01:00Z", "2024-07-19T00:05:00Z", [
      `${DIR}/BTCUSDT-trades-2024-07-18T2357_2024-07-19T0005.csv`,
    ]);
    const refused = await tradesOnly.app.inject({ url: "/fapi/v1/depth?symbol=BTCUSDT" });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().msg).toMatch(/no depth capture of BTCUSDT/);
  });

  it("depthSnapshotsOverRest: a snapshot through BinanceRest's budget, counted at the limit's weight", async () => {
    expect([5, 10, 20, 50, 100, 500, 1000].map((l) => depthWeight(l as 5))).toEqual([2, 2, 2, 2, 5, 10, 20]);
    const { app } = await double("2024-07-18T23:57:00Z", "2024-07-19T00:05:00Z");
    const url = await sim!.listen({ port: 0 });
    const expected = (await app.inject({ url: "/fapi/v1/depth?symbol=BTCUSDT&limit=500" })).json();
    const now = Date.now();
    const rest = new BinanceRest({
      restUrl: url,
      apiKey: "k",
      apiSecret: "s",
      logger: pino({ level: "silent" }),
      clock: () => now,
    });
    const snapshot = await depthSnapshotsOverRest(rest)("BTCUSDT", 500);
    expect(snapshot).toEqual({
      symbol: "BTCUSDT",
      lastUpdateId: expected.lastUpdateId,
      transactionTime: expected.T,
      bids: expected.bids,
      asks: expected.asks,
    });
    expect(rest.limiter.usage(now)["REQUEST_WEIGHT/60000ms"]).toMatch(/^\d+\/2400$/);
    expect(Number(rest.limiter.usage(now)["REQUEST_WEIGHT/60000ms"]!.split("/")[0])).toBeGreaterThanOrEqual(
      10,
    );
  });

  it("--captures takes comma-separated paths; an empty list is a usage error", () => {
    const flags = { port: "0", symbols: "BTCUSDT", from: "2024-07-18", to: "2024-07-19", lockstep: true };
    expect(simCommandOptions({ ...flags, captures: `${DIR}, other` }).captures).toEqual([DIR, "other"]);
    expect(simCommandOptions(flags).captures).toBeUndefined();
    expect(() => simCommandOptions({ ...flags, captures: " , " })).toThrow(UsageError);
  });
});
