/**
 * The markPrice streams of the double: with 1m mark-price klines in the archive, each minute publishes the
 * kline's open, its extremes in the order of the minute's direction, and its close, on `@markPrice@1s` and
 * `@markPrice`, with `r` / `T` = the next settlement of the funding files; on the raw `/market/ws/…` form
 * unwrapped; nothing of the /market streams reaches a `/public` connection. The bars and funding are the real
 * BTCUSDT files (linked); the 1m mark klines are written for the test: each real bar's prices + 1.5.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decimal } from "decimal.js";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { hmacCredentials } from "../src/exchange-sim/auth.ts";
import { createExchangeSim, type ExchangeSim } from "../src/exchange-sim/server.ts";
import {
  ack,
  csvBars,
  FakeExchange,
  isClosedKline,
  payload,
  type WireMessage,
  WsProbe,
} from "./support/exchange-sim.ts";
import { linkTree, writeTree } from "./support/market.ts";
import { requireRealData } from "./support/real-data.ts";

const source = requireRealData("exchange-sim markPrice streams on BTCUSDT 2025-05-05");
const FROM = Date.UTC(2025, 4, 5);
const MINUTES = 4;
const KEY = "mark-key";

describe.skipIf(!source)("exchange-sim markPrice streams (real bars, written 1m marks)", () => {
  let sim: ExchangeSim | undefined;
  const probes: WsProbe[] = [];
  afterAll(async () => {
    for (const p of probes) await p.close();
    await sim?.close();
  });

  it("publishes each minute's mark kline as O, extremes, C with the next settlement's r and T", async () => {
    const root = mkdtempSync(join(tmpdir(), "perpsource-sim-marks-"));
    await linkTree(source!, root, [
      "futures/um/ohlcv/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-04_2025-06-24.csv",
      "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.csv",
    ]);
    const bars = csvBars(source!, "BTCUSDT", FROM, FROM + MINUTES * 60_000);
    const shift = (price: string) => new Decimal(price).plus("1.5").toFixed();
    const marks = bars.map((b) => ({
      t: b.openTime,
      o: shift(b.open),
      h: shift(b.high),
      l: shift(b.low),
      c: shift(b.close),
    }));
    await writeTree(root, {
      "futures/um/monthly/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2025-05.csv": [
        "open_time,open,high,low,close",
        ...marks.map((m) => `${m.t},${m.o},${m.h},${m.l},${m.c}`),
      ].join("\n"),
    });
    const exchange = new FakeExchange();
    sim = await createExchangeSim({
      dataRoot: root,
      symbols: ["BTCUSDT"],
      window: { from: FROM, to: FROM + 86_400_000 },
      lockstep: true,
      credentials: hmacCredentials(KEY, "secret"),
      exchange,
      logger: pino({ level: "silent" }),
      historyMs: 0,
    });
    const url = await sim.listen({ port: 0 });
    const ws = url.replace("http", "ws");
    const open = async (path: string) => {
      const p = new WsProbe(`${ws}${path}`);
      probes.push(p);
      await p.opened;
      return p;
    };
    const publicProbe = await open("/public/stream?streams=btcusdt@kline_1m/btcusdt@markPrice@1s");
    const raw = await open("/market/ws/btcusdt@markPrice");
    const market = await open("/market/stream?streams=btcusdt@kline_1m/btcusdt@markPrice@1s");

    const messages: WireMessage[] = [];
    for (let closed = 0; closed < MINUTES; ) {
      const m = await market.next();
      messages.push(m);
      if (isClosedKline(m) && ++closed < MINUTES) expect(await ack(url, KEY)).toBe(200);
    }
    // The next settlement after 00:00 (the first event, at the window's start) is the file's 08:00 one.
    const eight = Date.UTC(2025, 4, 5, 8);
    const row = readFileSync(
      join(root, "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.csv"),
      "utf8",
    )
      .split("\n")
      .map((line) => line.split(","))
      .find((f) => Math.abs(Number(f[0]) - eight) < 60_000)!;
    const next = { T: eight, r: row[2] };
    const ticks = messages.filter((m) => m.stream === "btcusdt@markPrice@1s").map((m) => m.data!);
    const expected = marks.flatMap((m) => {
      const rising = new Decimal(m.c).gte(m.o);
      const path = rising ? [m.o, m.l, m.h, m.c] : [m.o, m.h, m.l, m.c];
      return path.map((p, i) => ({
        e: "markPriceUpdate",
        E: m.t + [0, 20_000, 40_000, 59_000][i]!,
        s: "BTCUSDT",
        p,
        P: p,
        i: p,
        ...next,
      }));
    });
    expect(ticks).toEqual(expected);
    // The same ticks, unwrapped, on the raw connection of `@markPrice`.
    const rawTicks: unknown[] = [];
    while (rawTicks.length < expected.length) rawTicks.push(await raw.next());
    expect(rawTicks).toEqual(ticks);
    // The exchange got each bar with its mark kline.
    expect(exchange.bars.map((b) => b.mark)).toEqual(
      marks.map((m) => ({ openTime: m.t, open: m.o, high: m.h, low: m.l, close: m.c })),
    );
    // /market streams never reach a /public connection.
    expect(publicProbe.queued).toBe(0);
    const premium = (await (await fetch(`${url}/fapi/v1/premiumIndex?symbol=BTCUSDT`)).json()) as {
      markPrice: string;
    };
    expect(premium.markPrice).toBe(marks.at(-1)!.c);
    expect(payload(messages.at(-1)!).k?.c).toBe(bars.at(-1)!.close);
    // GET /fapi/v1/markPriceKlines: the published mark klines, in Binance's 12 columns.
    const markKlines = await (
      await fetch(`${url}/fapi/v1/markPriceKlines?symbol=BTCUSDT&interval=1m`)
    ).json();
    expect(markKlines).toEqual(
      marks.map((m) => [m.t, m.o, m.h, m.l, m.c, "0", m.t + 59_999, "0", 0, "0", "0", "0"]),
    );
  });
});
