/**
 * The double's market replay on the real BTCUSDT / ETHUSDT archive (2025-05-05), in lockstep: closed klines in
 * time-then-symbol order with the archive's exact prices, each preceded by its unclosed update and the minute's
 * markPrice ticks; the exchange core gets every bar at its close time; REST klines, fundingRate and
 * premiumIndex see exactly what was published by the exchange clock.
 */

import { readFileSync } from "node:fs";
import fc from "fast-check";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { discoverArchive } from "../src/adapters/market/archive.ts";
import type { ArchiveFile } from "../src/adapters/market/types.ts";
import { hmacCredentials } from "../src/exchange-sim/auth.ts";
import { createExchangeSim, type ExchangeSim } from "../src/exchange-sim/server.ts";
import { referenceAggregate } from "./support/bar-reference.ts";
import {
  ack,
  type CsvBar,
  csvBars,
  FakeExchange,
  isClosedKline,
  type WireMessage,
  WsProbe,
} from "./support/exchange-sim.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("exchange-sim replay of BTCUSDT/ETHUSDT 2025-05-05");
const FROM = Date.UTC(2025, 4, 5);
const DAY = 86_400_000;
const WINDOW = { from: FROM, to: FROM + DAY };
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const KEY = "test-key";
const logger = pino({ level: "silent" });

describe.skipIf(!root)("exchange-sim replay (real data)", () => {
  let files: ArchiveFile[];
  let sim: ExchangeSim | undefined;
  const probes: WsProbe[] = [];

  beforeAll(async () => {
    files = await discoverArchive(root!, { symbols: SYMBOLS, ...WINDOW });
  });

  afterEach(async () => {
    for (const p of probes.splice(0)) await p.close();
    await sim?.close();
    sim = undefined;
  });

  async function start(exchange = new FakeExchange()) {
    sim = await createExchangeSim({
      dataRoot: root!,
      symbols: SYMBOLS,
      window: WINDOW,
      lockstep: true,
      credentials: hmacCredentials(KEY, "secret"),
      exchange,
      logger,
      files,
    });
    const url = await sim.listen({ port: 0 });
    return { url, ws: url.replace("http", "ws"), exchange };
  }

  /**
   * Receives messages until `count` closed klines came, acking each but the last (the replay then stands at
   * that kline's close); returns every message of the connection in order.
   */
  async function replayBars(probe: WsProbe, url: string, count: number): Promise<WireMessage[]> {
    const messages: WireMessage[] = [];
    let closed = 0;
    while (closed < count) {
      const m = await probe.next();
      messages.push(m);
      if (isClosedKline(m) && ++closed < count) expect(await ack(url, KEY)).toBe(200);
    }
    return messages;
  }

  it("publishes the archive's bars as closed klines in time-then-symbol order, each after its x:false update and mark ticks", async () => {
    const { url, ws, exchange } = await start();
    const probe = new WsProbe(
      `${ws}/market/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m/btcusdt@markPrice@1s`,
    );
    probes.push(probe);
    const messages = await replayBars(probe, url, 40);
    const expected = [
      ...csvBars(root!, "BTCUSDT", FROM, FROM + 20 * 60_000),
      ...csvBars(root!, "ETHUSDT", FROM, FROM + 20 * 60_000),
    ].sort((a, b) => a.openTime - b.openTime || (a.symbol < b.symbol ? -1 : 1));
    expect(expected).toHaveLength(40);

    const closedKlines = messages.filter(isClosedKline).map((m) => ({ stream: m.stream, ...m.data! }));
    expect(
      closedKlines.map(({ stream, E, s, k }) => [stream, E, s, k!.t, k!.T, k!.o, k!.h, k!.l, k!.c, k!.v]),
    ).toEqual(
      expected.map((b) => [
        `${b.symbol.toLowerCase()}@kline_1m`,
        b.closeTime,
        b.symbol,
        b.openTime,
        b.closeTime,
        b.open,
        b.high,
        b.low,
        b.close,
        b.volume,
      ]),
    );
    // OHLCV files: no taker buy volume to send, so no V (nor Q), never a made-up "0".
    expect(closedKlines.filter(({ k }) => k !== undefined && ("V" in k || "Q" in k))).toEqual([]);
    // Each closed kline comes right after its unclosed update (same content, x false); BTCUSDT's mark ticks
    // (no 1m mark files: the bar's close, within the minute) come before both.
    for (const [i, m] of messages.entries()) {
      if (!isClosedKline(m)) continue;
      const data = m.data!;
      expect(messages[i - 1]).toEqual({ stream: m.stream, data: { ...data, k: { ...data.k, x: false } } });
      if (data.s !== "BTCUSDT") continue;
      const mark = messages[i - 2]!;
      expect(mark.stream).toBe("btcusdt@markPrice@1s");
      expect(mark.data).toMatchObject({
        e: "markPriceUpdate",
        s: "BTCUSDT",
        p: data.k!.c,
        E: data.k!.t + 59_000,
      });
    }
    // The exchange core saw every bar, at its close time, before the bar was published.
    expect(
      exchange.bars.slice(0, 40).map(({ bar, now }) => [bar.symbol, bar.openTime, bar.close, now]),
    ).toEqual(expected.map((b) => [b.symbol, b.openTime, b.close, b.closeTime]));
  });

  it("--speed: streams the closed klines in order without acks, never before their wall-clock schedule", async () => {
    const speed = 6_000; // a minute of data every 10 ms
    sim = await createExchangeSim({
      dataRoot: root!,
      symbols: ["BTCUSDT"],
      window: WINDOW,
      speed,
      credentials: hmacCredentials(KEY, "secret"),
      exchange: new FakeExchange(),
      logger,
      files: files.filter((f) => f.symbol === "BTCUSDT"),
    });
    // Taken before listen() starts the replay's clock, so no arrival can look earlier than its schedule.
    const startedAt = performance.now();
    const url = await sim.listen({ port: 0 });
    const probe = new WsProbe(`${url.replace("http", "ws")}/market/ws/btcusdt@kline_1m`);
    probes.push(probe);
    const arrivals: { k: NonNullable<WireMessage["k"]>; at: number }[] = [];
    while (arrivals.length < 20) {
      const m = await probe.next();
      if (isClosedKline(m)) arrivals.push({ k: m.k!, at: performance.now() - startedAt });
    }
    const first = arrivals[0]!.k.t;
    expect(first).toBeGreaterThanOrEqual(FROM);
    const expected = csvBars(root!, "BTCUSDT", first, first + 20 * 60_000);
    expect(arrivals.map((a) => [a.k.t, a.k.o, a.k.h, a.k.l, a.k.c, a.k.v])).toEqual(
      expected.map((b) => [b.openTime, b.open, b.high, b.low, b.close, b.volume]),
    );
    // Bar n closes at FROM + n minutes − 1 ms of market time: due after (its close − FROM) / speed wall ms.
    for (const { k, at } of arrivals) expect(at).toBeGreaterThanOrEqual((k.T - FROM) / speed - 1);
    expect((await (await fetch(`${url}/sim/v1/status`)).json()) as { waitingForAck: boolean }).toMatchObject({
      lockstep: false,
      speed,
      waitingForAck: false,
    });
  });

  it("REST klines return only bars closed by the exchange clock, windowed by startTime/endTime/limit as Binance does", async () => {
    const { url, ws } = await start();
    const probe = new WsProbe(`${ws}/market/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m`);
    probes.push(probe);
    await replayBars(probe, url, 2 * 30);
    const status = (await (await fetch(`${url}/sim/v1/status`)).json()) as { now: number; barsSent: number };
    expect(status.barsSent).toBe(60);
    // The replay stands at the 30th minute's close, waiting for the ack of nothing newer.
    // The day before the window (the history a client warms up on) and the 30 minutes replayed.
    const published = csvBars(root!, "BTCUSDT", FROM - DAY, FROM + 30 * 60_000);
    expect(status.now).toBe(published.at(-1)!.closeTime);
    const rows = (b: CsvBar) => [b.openTime, b.open, b.high, b.low, b.close, b.volume, b.closeTime, "0", 0]; // OHLCV files: no taker buy volume, so the row ends after the trade count (never a made-up "0")

    const all = await (await fetch(`${url}/fapi/v1/klines?symbol=BTCUSDT&interval=1m`)).json();
    expect(all).toEqual(published.slice(-500).map(rows));

    const T = (minute: number) => FROM + minute * 60_000;
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.integer({ min: -1_500, max: 40 }), { nil: undefined }),
        fc.option(fc.integer({ min: -1_500, max: 40 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 1_500 }), { nil: undefined }),
        fc.integer({ min: 0, max: 59_999 }),
        async (start, end, limit, offset) => {
          const q = new URLSearchParams({ symbol: "BTCUSDT", interval: "1m" });
          if (start !== undefined) q.set("startTime", String(Math.max(0, T(start) + offset)));
          if (end !== undefined) q.set("endTime", String(Math.max(0, T(end) + offset)));
          if (limit !== undefined) q.set("limit", String(limit));
          const r = await fetch(`${url}/fapi/v1/klines?${q}`);
          expect(r.headers.get("x-mbx-used-weight-1m")).toMatch(/^\d+$/);
          // Binance: openTime in [startTime, endTime]; with startTime the first `limit`, else the last `limit`.
          const inRange = published.filter(
            (b) =>
              (start === undefined || b.openTime >= Math.max(0, T(start) + offset)) &&
              (end === undefined || b.openTime <= Math.max(0, T(end) + offset)),
          );
          const n = limit ?? 500;
          const want =
            start !== undefined ? inRange.slice(0, n) : inRange.slice(Math.max(0, inRange.length - n));
          expect(await r.json()).toEqual(want.map(rows));
        },
      ),
      { numRuns: 60 },
    );

    // Higher intervals: the 1m bars aggregated into UTC buckets (the test suite's reference aggregator), closed
    // buckets only.
    for (const interval of ["5m", "15m", "1h"] as const) {
      const reference = referenceAggregate(
        "BTCUSDT",
        published,
        interval,
        published[0]!.openTime,
        status.now + 1,
      )
        .bars.filter((b) => b.closeTime <= status.now)
        .map((b) => [b.openTime, b.open, b.high, b.low, b.close, b.volume, b.closeTime, "0", 0]);
      const served = await (
        await fetch(`${url}/fapi/v1/klines?symbol=BTCUSDT&interval=${interval}&limit=1000`)
      ).json();
      expect(served).toEqual(reference);
      const last3 = await (
        await fetch(`${url}/fapi/v1/klines?symbol=BTCUSDT&interval=${interval}&endTime=${FROM}&limit=3`)
      ).json();
      expect(last3).toEqual(reference.filter((r) => (r[0] as number) <= FROM).slice(-3));
    }
    // No 1m mark-price files: a minute's mark kline is its close (the one mark tick published).
    const marks = await (
      await fetch(`${url}/fapi/v1/markPriceKlines?symbol=BTCUSDT&interval=1m&limit=5`)
    ).json();
    expect(marks).toEqual(
      published
        .slice(-5)
        .map((b) => [
          b.openTime,
          b.close,
          b.close,
          b.close,
          b.close,
          "0",
          b.closeTime,
          "0",
          0,
          "0",
          "0",
          "0",
        ]),
    );
    const weekly = await fetch(`${url}/fapi/v1/klines?symbol=BTCUSDT&interval=1w`);
    expect([weekly.status, await weekly.json()]).toEqual([400, { code: -1120, msg: "Invalid interval." }]);

    const bad = await fetch(`${url}/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=1501`);
    expect([bad.status, await bad.json()]).toEqual([
      400,
      { code: -1130, msg: "Data sent for parameter 'limit' is not valid." },
    ]);
    const unknown = await fetch(`${url}/fapi/v1/klines?symbol=SOLUSDT&interval=1m`);
    expect([unknown.status, await unknown.json()]).toEqual([400, { code: -1121, msg: "Invalid symbol." }]);
    const missing = await fetch(`${url}/fapi/v1/klines?symbol=BTCUSDT`);
    expect(((await missing.json()) as { code: number }).code).toBe(-1102);
    const notInteger = await fetch(`${url}/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime=abc`);
    expect(((await notInteger.json()) as { code: number }).code).toBe(-1100);
  });

  it("fundingRate and premiumIndex answer at the exchange clock: the day before and the 00:00 settlement, the 08:00 one announced", async () => {
    const { url, ws, exchange } = await start();
    // The archive's BTCUSDT settlements (read from the CSV) and bars around the window's start.
    const rows = readFundingRows(root!, "BTCUSDT");
    const before = csvBars(root!, "BTCUSDT", FROM - 60_000, FROM)[0]!;
    const nextSettlement = rows.find((r) => r.time > FROM)!;
    // Before the first bar: the last price before the window, the first settlement of the window announced.
    const announced = (price: string, time: number) => ({
      symbol: "BTCUSDT",
      markPrice: price,
      indexPrice: price,
      estimatedSettlePrice: price,
      lastFundingRate: rows.find((r) => r.time >= FROM)!.rate,
      interestRate: "0.00010000",
      nextFundingTime: Math.round(rows.find((r) => r.time >= FROM)!.time / 60_000) * 60_000,
      time,
    });
    expect(await (await fetch(`${url}/fapi/v1/premiumIndex?symbol=BTCUSDT`)).json()).toEqual(
      announced(before.close, FROM),
    );

    const probe = new WsProbe(`${ws}/market/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m`);
    probes.push(probe);
    await replayBars(probe, url, 3);
    const funding = (await (await fetch(`${url}/fapi/v1/fundingRate?symbol=BTCUSDT`)).json()) as unknown[];
    const settled = rows.filter((r) => r.time >= FROM - DAY && r.time <= FROM + 60_000);
    expect(settled.length).toBeGreaterThanOrEqual(2);
    expect(funding).toEqual(
      settled.map((r) => ({
        symbol: "BTCUSDT",
        fundingRate: r.rate,
        fundingTime: r.time,
        markPrice: expect.any(String),
      })),
    );
    const last = settled.at(-1)!;
    expect(exchange.settlements.map((s) => [s.settlement.symbol, s.settlement.fundingRate, s.now])).toEqual([
      ["BTCUSDT", last.rate, last.time],
      ["ETHUSDT", expect.any(String), expect.any(Number)],
    ]);
    const premium = (await (await fetch(`${url}/fapi/v1/premiumIndex?symbol=BTCUSDT`)).json()) as unknown;
    const lastBar = csvBars(root!, "BTCUSDT", FROM, FROM + 2 * 60_000).at(-1)!;
    expect(premium).toEqual({
      ...announced(lastBar.close, lastBar.closeTime),
      lastFundingRate: nextSettlement.rate,
      nextFundingTime: Math.round(nextSettlement.time / 60_000) * 60_000,
    });
    const both = (await (await fetch(`${url}/fapi/v1/premiumIndex`)).json()) as { symbol: string }[];
    expect(both.map((p) => p.symbol)).toEqual(SYMBOLS);
  });
});

/**
 * The settlements of the official monthly fundingRate files of 2025-04 and 2025-05 (the merge's first source:
 * their calc_time wins over the REST-derived copies'), split by hand.
 */
function readFundingRows(root: string, symbol: string): { time: number; rate: string }[] {
  return ["2025-04", "2025-05"].flatMap((month) =>
    readFileSync(
      `${root}/futures/um/monthly/fundingRate/${symbol}/${symbol}-fundingRate-${month}.csv`,
      "utf8",
    )
      .split("\n")
      .slice(1)
      .filter((l) => l !== "")
      .map((l) => l.split(","))
      .map(([t, , r]) => ({ time: Number(t), rate: r! })),
  );
}
