/**
 * The parts of the live market source (src/adapters/binance/market-*.ts) without the network: the wire parser,
 * the minute mark klines, the order across symbols (fast-check), the pipeline under random drops, repeats and
 * reconnects against REST over real bars (fast-check), the funding fallback, and the socket's backoff and
 * rotation against the fake exchange.
 */
import { readFile } from "node:fs/promises";
import { Writable } from "node:stream";
import fc from "fast-check";
import pino from "pino";
import { from, lastValueFrom, Subject, toArray } from "rxjs";
import { beforeAll, describe, expect, it } from "vitest";
import { MinuteMarks } from "../src/adapters/binance/market-marks.ts";
import { compareMarketEvents, eventSymbol, inMarketOrder } from "../src/adapters/binance/market-order.ts";
import { MarketPipeline, type PipelineInput } from "../src/adapters/binance/market-pipeline.ts";
import { lockstepAck, type MarketRest } from "../src/adapters/binance/market-rest.ts";
import { MarketSocket } from "../src/adapters/binance/market-socket.ts";
import {
  BinanceWireError,
  type KlineMessage,
  parseMarketMessage,
} from "../src/adapters/binance/market-wire.ts";
import { archiveMarketEvents, discoverArchive } from "../src/adapters/market/archive.ts";
import { compareDecimals } from "../src/adapters/market/csv.ts";
import type { Bar, MarketEvent } from "../src/adapters/market/types.ts";
import { FakeBinanceMarket } from "./support/binance-market-fake.ts";
import { collect } from "./support/market.ts";
import { requireRealData } from "./support/real-data.ts";

const MINUTE = 60_000;
const T0 = Date.parse("2025-05-05T08:10:00Z");
const silent = pino({ level: "silent" });

function kline(symbol: string, openTime: number, x: boolean, o = "100.5"): unknown {
  return {
    e: "kline",
    E: openTime + MINUTE,
    s: symbol,
    k: {
      t: openTime,
      T: openTime + MINUTE - 1,
      s: symbol,
      i: "1m",
      o,
      c: "101",
      h: "102",
      l: "99.25",
      v: "3",
      x,
    },
  };
}

describe("parseMarketMessage", () => {
  it("reads a kline as a Bar with its decimal strings as sent, and a markPriceUpdate", () => {
    const k = parseMarketMessage(kline("BTCUSDT", T0, true, "100.50")) as KlineMessage;
    expect(k).toEqual({
      kind: "kline",
      symbol: "BTCUSDT",
      eventTime: T0 + MINUTE,
      closed: true,
      bar: {
        symbol: "BTCUSDT",
        interval: "1m",
        openTime: T0,
        closeTime: T0 + MINUTE - 1,
        open: "100.50",
        high: "102",
        low: "99.25",
        close: "101",
        volume: "3",
      },
    });
    const mark = {
      e: "markPriceUpdate",
      E: T0 + 5,
      s: "ETHUSDT",
      p: "1800.10",
      r: "-0.0001",
      T: T0 + 3_000_000,
    };
    expect(parseMarketMessage(mark)).toEqual({
      kind: "markPrice",
      symbol: "ETHUSDT",
      eventTime: T0 + 5,
      markPrice: "1800.10",
      fundingRate: "-0.0001",
      nextFundingTime: T0 + 3_000_000,
    });
    expect(parseMarketMessage({ e: "aggTrade", E: 1, s: "BTCUSDT" })).toBeUndefined();
  });

  it("names the message type and field of a malformed message", () => {
    const bad = kline("BTCUSDT", T0, true) as { k: Record<string, unknown> };
    bad.k.o = 100.5;
    expect(() => parseMarketMessage(bad)).toThrow(BinanceWireError);
    expect(() => parseMarketMessage(bad)).toThrow(/malformed kline message: field k\.o/);
    const shifted = kline("BTCUSDT", T0 + 1, true);
    expect(() => parseMarketMessage(shifted)).toThrow(/not a 1m bar's/);
    expect(() => parseMarketMessage({ e: "markPriceUpdate", E: 1, s: "BTCUSDT", p: "1", r: "0" })).toThrow(
      /field T/,
    );
  });
});

describe("MinuteMarks", () => {
  it("aggregates a minute by event time: open at the lowest E, close at the highest, high and low by value", () => {
    const marks = new MinuteMarks();
    marks.add("BTCUSDT", T0 + 30_000, "100.9");
    marks.add("BTCUSDT", T0 + 400, "101.25");
    marks.add("BTCUSDT", T0 + 59_000, "100.95");
    marks.add("BTCUSDT", T0 + 10_000, "100.10");
    marks.add("BTCUSDT", T0 + 20_000, "101.250001");
    expect(marks.take("BTCUSDT", T0)).toEqual({
      openTime: T0,
      open: "101.25",
      high: "101.250001",
      low: "100.10",
      close: "100.95",
    });
    expect(marks.take("BTCUSDT", T0)).toBeUndefined(); // taken
  });

  it("gives no kline for a minute joined late, cut by a reconnect, or seen only at its end", () => {
    const marks = new MinuteMarks();
    const minute = (i: number) => T0 + i * MINUTE;
    marks.add("ETHUSDT", minute(0) + 1_500, "10"); // joined 1.5 s into the minute
    marks.add("ETHUSDT", minute(0) + 59_200, "10.5");
    marks.add("ETHUSDT", minute(1) + 200, "11");
    marks.add("ETHUSDT", minute(1) + 30_000, "12");
    marks.disconnected();
    marks.add("ETHUSDT", minute(1) + 59_500, "13"); // on the new connection
    marks.add("ETHUSDT", minute(2) + 900, "14");
    marks.add("ETHUSDT", minute(2) + 59_100, "13.5");
    marks.add("ETHUSDT", minute(3) + 59_000, "15"); // one mark at +59 s: exchange-sim without 1m mark data
    expect(marks.take("ETHUSDT", minute(0))).toBeUndefined();
    expect(marks.take("ETHUSDT", minute(1))).toBeUndefined();
    expect(marks.take("ETHUSDT", minute(2))).toEqual({
      openTime: minute(2),
      open: "14",
      high: "14",
      low: "13.5",
      close: "13.5",
    });
    expect(marks.take("ETHUSDT", minute(3))).toBeUndefined();
  });
});

const captureRoot = requireRealData("minute marks of a real markPrice@1s capture");

describe.skipIf(!captureRoot)(
  "MinuteMarks on a real markPrice@1s capture (BTCUSDT 2023-04-04 23:58 … 04-05 00:06)",
  () => {
    it("gives every minute the capture watched whole its kline, and none to the partial first and last", async () => {
      const file = `${captureRoot}/futures/um/ws-capture/derived/BTCUSDT-markPrice1s-2023-04-04T2358_2023-04-05T0007.csv`;
      const rows = (await readFile(file, "utf8"))
        .trim()
        .split("\n")
        .slice(1)
        .map((line) => line.split(","))
        .map(([e, p]) => ({ e: Number(e), p: p! }));
      const marks = new MinuteMarks();
      for (const { e, p } of rows) marks.add("BTCUSDT", e, p);
      const minutes = [...new Set(rows.map(({ e }) => e - (e % MINUTE)))];
      const klines = minutes.map((m) => marks.take("BTCUSDT", m));
      // 23:58 joined at +21 s and 00:06 cut at +54 s; the seven minutes between watched whole.
      expect(klines.map((k) => k !== undefined)).toEqual([false, ...Array(7).fill(true), false]);
      const at0000 = Date.parse("2023-04-05T00:00:00Z");
      const of0000 = rows.filter(({ e }) => e >= at0000 && e < at0000 + MINUTE);
      expect(of0000).toHaveLength(60);
      const prices = of0000.map(({ p }) => p).sort(compareDecimals);
      expect(klines[minutes.indexOf(at0000)]).toEqual({
        openTime: at0000,
        open: of0000[0]!.p,
        high: prices.at(-1),
        low: prices[0],
        close: of0000.at(-1)!.p,
      });
    });
  },
);

/** A bar event of `symbol` at minute index `i` (values do not matter to the order). */
const barAt = (symbol: string, i: number): MarketEvent => {
  const openTime = T0 + i * MINUTE;
  const bar: Bar = {
    symbol,
    interval: "1m",
    openTime,
    closeTime: openTime + MINUTE - 1,
    open: "1",
    high: "1",
    low: "1",
    close: "1",
    volume: "0",
  };
  return { kind: "bar", time: bar.closeTime, bar };
};

describe("inMarketOrder", () => {
  it("puts per-symbol ordered streams, interleaved in any way, in the archive merge's order", () => {
    const symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT"];
    /** One symbol's events: bars at some minutes, a gap before a bar after a hole, a settlement at minute 30. */
    const stream = (symbol: string, present: boolean[]): MarketEvent[] => {
      const out: MarketEvent[] = [];
      let last = -1;
      present.forEach((here, i) => {
        if (!here) return;
        if (i === 30) {
          const funding = {
            symbol,
            fundingTime: T0 + 30 * MINUTE + symbols.indexOf(symbol),
            fundingRate: "0.0001",
            fundingIntervalHours: 8,
            markPrice: "1",
            markPriceSource: "markPriceKline" as const,
          };
          out.push({ kind: "funding", time: funding.fundingTime, funding });
        }
        if (i > last + 1 && last >= 0) {
          const gap = {
            symbol,
            fromOpenTime: T0 + (last + 1) * MINUTE,
            toOpenTime: T0 + i * MINUTE,
            missingBars: i - last - 1,
          };
          out.push({ kind: "gap", time: gap.toOpenTime, gap });
        }
        out.push(barAt(symbol, i));
        last = i;
      });
      return out.sort(compareMarketEvents);
    };
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.nat(2), { minLength: 200, maxLength: 200 }),
        (presence, picks) => {
          const queues = symbols.map((s, i) => stream(s, presence[i]!));
          const expected = queues.flat().sort(compareMarketEvents);
          const interleaved: MarketEvent[] = [];
          let p = 0;
          while (queues.some((q) => q.length > 0)) {
            const nonEmpty = queues.filter((q) => q.length > 0);
            interleaved.push(nonEmpty[(picks[p++ % picks.length] ?? 0) % nonEmpty.length]!.shift()!);
          }
          const released: MarketEvent[] = [];
          let beforeEnd = -1;
          const source = new Subject<MarketEvent>();
          source.pipe(inMarketOrder(symbols)).subscribe((e) => released.push(e));
          for (const e of interleaved) source.next(e);
          beforeEnd = released.length;
          source.complete();
          expect(released).toEqual(expected);
          // Before the end, everything before every symbol's last event was out already (no needless holding).
          const lasts = symbols.map((s) => expected.filter((e) => eventSymbol(e) === s).at(-1));
          if (lasts.every((e) => e !== undefined)) {
            const bound = lasts.sort(compareMarketEvents)[0]!;
            expect(beforeEnd).toBeGreaterThanOrEqual(
              expected.filter((e) => compareMarketEvents(e, bound) < 0).length,
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("errors on an event out of its symbol's order", async () => {
    const out = lastValueFrom(
      from([barAt("AAAUSDT", 2), barAt("AAAUSDT", 1)]).pipe(inMarketOrder(["AAAUSDT"])),
    );
    await expect(out).rejects.toThrow(/AAAUSDT bar .* after bar/);
  });
});

const root = requireRealData("live market pipeline over real bars");

describe.skipIf(!root)("MarketPipeline over real bars (2025-05-05 08:10–08:40, no settlement)", () => {
  const symbols = ["BTCUSDT", "ETHUSDT"];
  const minutes = 30;
  let truth: MarketEvent[];
  let bars: Map<string, Bar[]>;

  beforeAll(async () => {
    const window = { symbols, from: T0, to: T0 + minutes * MINUTE };
    truth = await collect(archiveMarketEvents(await discoverArchive(root!, window), window));
    bars = new Map(
      symbols.map((s) => [s, truth.flatMap((e) => (e.kind === "bar" && e.bar.symbol === s ? [e.bar] : []))]),
    );
  });

  /** REST over the real bars; the exchange clock at `now.value`. */
  const restOver = (
    now: { value: number },
    fundingRows: MarketRest["fundingRates"] = async () => [],
  ): MarketRest => ({
    serverTime: async () => now.value,
    klines: async (symbol, fromTime, to) =>
      (bars.get(symbol) ?? []).filter(
        (b) => b.openTime >= fromTime && b.openTime < to && b.closeTime < now.value,
      ),
    fundingRates: fundingRows,
  });

  it("delivers every minute once, in order, whatever the stream drops, repeats or reconnects", async () => {
    const action = fc.constantFrom("send", "send", "send", "drop", "repeat");
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(action, action, fc.boolean(), fc.boolean()), {
          minLength: minutes,
          maxLength: minutes,
        }),
        async (script) => {
          const now = { value: T0 };
          const pipeline = new MarketPipeline(symbols, restOver(now), silent, { sleep: async () => {} });
          const inputs: { at: number; input: PipelineInput }[] = [];
          const repeats: KlineMessage[] = [];
          script.forEach(([btc, eth, reverse, reconnect], i) => {
            const at = T0 + (i + 1) * MINUTE + 5;
            const order = reverse ? [1, 0] : [0, 1];
            for (const j of order) {
              const doing = j === 0 ? btc : eth;
              const bar = bars.get(symbols[j]!)![i]!;
              const message = parseMarketMessage(kline(bar.symbol, bar.openTime, true)) as KlineMessage;
              message.bar = bar;
              if (doing !== "drop") inputs.push({ at, input: message });
              if (doing === "repeat") repeats.push(message);
            }
            for (const again of repeats.splice(0)) inputs.push({ at, input: again });
            if (reconnect) {
              inputs.push({ at, input: { kind: "disconnected" } });
              inputs.push({ at, input: { kind: "resync", reason: "reconnected", stale: [] } });
            }
          });
          inputs.push({
            at: T0 + (minutes + 1) * MINUTE, // every minute closed ≥ 2 s before: the whole window
            input: { kind: "resync", reason: "stale", stale: symbols },
          });
          const out: MarketEvent[] = [];
          for (const { at, input } of inputs) {
            now.value = at;
            out.push(...(await pipeline.handle(input)).items.map((item) => item.event));
          }
          const ordered = await lastValueFrom(from(out).pipe(inMarketOrder(symbols), toArray()));
          const first = out.find((e) => e.kind === "bar");
          if (first === undefined) return;
          const origin = first.time - MINUTE + 1;
          expect(ordered.map((e) => `${e.kind} ${eventSymbol(e)} ${e.time}`)).toEqual(
            truth.filter((e) => e.time > origin).map((e) => `${e.kind} ${eventSymbol(e)} ${e.time}`),
          );
          expect(ordered).toEqual(truth.filter((e) => e.time > origin));
        },
      ),
      { numRuns: 60 },
    );
  });

  it.each([
    ["has no settlement", async () => []],
    [
      "fails",
      async () => {
        throw new Error("ECONNRESET");
      },
    ],
  ] as [string, MarketRest["fundingRates"]][])(
    "settles funding from the stream's last estimate when GET /fapi/v1/fundingRate %s",
    async (_what, fundingRates) => {
      const lines: { msg: string }[] = [];
      const logger = pino(
        { level: "warn" },
        new Writable({
          write(chunk, _e, done) {
            lines.push(JSON.parse(String(chunk)));
            done();
          },
        }),
      );
      const now = { value: T0 + MINUTE + 5 };
      const pipeline = new MarketPipeline(symbols, restOver(now, fundingRates), logger, {
        sleep: async () => {},
      });
      const settleAt = T0 + 2 * MINUTE; // a made-up settlement time inside the window
      const mark = (symbol: string, e: number, p: string, r: string, t: number): PipelineInput => ({
        kind: "markPrice",
        symbol,
        eventTime: e,
        markPrice: p,
        fundingRate: r,
        nextFundingTime: t,
      });
      const closed = (symbol: string, i: number): PipelineInput => ({
        kind: "kline",
        symbol,
        eventTime: 0,
        closed: true,
        bar: bars.get(symbol)![i]!,
      });
      const run = async (input: PipelineInput) => (await pipeline.handle(input)).items.map((i) => i.event);
      const out = [
        ...(await run(mark("BTCUSDT", T0 + MINUTE + 58_000, "95000.1", "0.00012", settleAt))),
        ...(await run(closed("BTCUSDT", 1))),
        ...(await run(mark("BTCUSDT", T0 + 2 * MINUTE + 1_000, "95001", "0.0002", settleAt + 8 * 3_600_000))),
        ...(await run(closed("BTCUSDT", 2))),
      ];
      expect(out.map((e) => e.kind)).toEqual(["bar", "funding", "bar"]);
      expect(out[1]).toEqual({
        kind: "funding",
        time: settleAt,
        funding: {
          symbol: "BTCUSDT",
          fundingTime: settleAt,
          fundingRate: "0.00012",
          fundingIntervalHours: 8,
          markPrice: "95000.1",
          markPriceSource: "markPriceKline",
        },
      });
      expect(lines.map((l) => l.msg)).toContain(
        "live market: GET /fapi/v1/fundingRate has no settlement; the stream's last estimate is used",
      );
    },
  );
});

describe("MarketSocket", () => {
  it("waits longer after each failed attempt, with jitter, and again from the start once connected", () => {
    const draws = [0, 0.999, 0.5, 0, 0];
    const socket = new MarketSocket({
      client: { wsUrl: "ws://127.0.0.1:9" },
      logger: { trace: () => {}, info: () => {}, error: () => {} },
      random: () => draws.shift() ?? 0,
    });
    const delay = () =>
      (socket as unknown as { options: { reconnectTimeout: number } }).options.reconnectTimeout;
    expect(delay()).toBe(250); // 500 ms × 0.5
    socket.emit("reconnecting", { wsKey: "usdmMarket", event: {} });
    expect(delay()).toBe(1_000); // 1 s × (0.5 + 0.999 / 2), rounded
    for (let i = 0; i < 10; i++) socket.emit("reconnecting", { wsKey: "usdmMarket", event: {} });
    expect(delay()).toBe(22_500); // capped at 30 s × 0.75
    socket.emit("open", { wsKey: "usdmMarket", event: {}, wsUrl: "", ws: {} as never });
    expect(delay()).toBe(250);
    socket.shutdown();
  });

  it("rotates a connection after rotateAfterMs through the SDK's reconnect", async () => {
    const fake = await FakeBinanceMarket.start({ bars: new Map(), settlements: [] });
    const socket = new MarketSocket({
      client: { wsUrl: fake.wsUrl },
      logger: { trace: () => {}, info: () => {}, error: () => {} },
      rotateAfterMs: 300,
    });
    const reconnected = new Promise<string>((resolve) =>
      socket.on("reconnected", ({ wsUrl }) => resolve(wsUrl)),
    );
    await socket.subscribe(["btcusdt@kline_1m"], "usdmMarket");
    expect(await reconnected).toBe(`${fake.wsUrl}/market/stream`);
    await fake.waitForSubscriptions(2, ["btcusdt@kline_1m"]);
    expect(fake.connections.slice(0, 2)).toEqual(["/market/stream", "/market/stream"]);
    socket.shutdown();
    await fake.close();
  });
});

describe("lockstepAck", () => {
  it("sends the API key, tells a 409 (nothing waiting) apart, and names any other refusal", async () => {
    const fake = await FakeBinanceMarket.start({
      bars: new Map(),
      settlements: [],
      lockstep: true,
      apiKey: "k1",
    });
    try {
      expect(await lockstepAck(fake.restUrl, "k1")).toBe(false);
      await expect(lockstepAck(`${fake.restUrl}/`, "other")).rejects.toThrow(/HTTP 401 .*-2015/);
    } finally {
      await fake.close();
    }
  });
});
