/**
 * The taker buy volume and the warm-up's settlements on the live wire, without the network: the client reads
 * `k.V` and REST column 9 into `Bar.takerBuyVolume` (absent when not sent, never "0"; malformed or above the
 * volume: an error naming the field); the double sends its data's taker buy volume (REST rows, kline messages,
 * aggregated intervals as exact sums) and omits it for OHLCV data; WarmUpRecorded reads old logs (6-tuples and
 * gaps) as before and new ones (7-tuples, settlements) back into the same market events; its split into parts;
 * `usdmMarketRest` pages fundingRate and keeps klines under the weight budget.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { USDMClient } from "binance";
import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { usdmMarketRest } from "../src/adapters/binance/market-rest.ts";
import {
  BinanceWireError,
  barFromRestKline,
  type KlineMessage,
  parseMarketMessage,
} from "../src/adapters/binance/market-wire.ts";
import type { Bar } from "../src/adapters/market/types.ts";
import { simCommandOptions } from "../src/cli/commands/exchange-sim.ts";
import { UsageError } from "../src/cli/context.ts";
import { WARM_UP_EVENT_BYTES, warmUpEvents, warmUpParts } from "../src/engine/warm-up-record.ts";
import { type EventData, EventSchemaError, validateEvent } from "../src/events/catalog.ts";
import { klines } from "../src/exchange-sim/klines.ts";
import { MarketHistory } from "../src/exchange-sim/market-history.ts";
import { klineMessage, klineRow, markKlineRow } from "../src/exchange-sim/wire.ts";

const MINUTE = 60_000;
const T0 = Date.parse("2023-09-12T00:00:00Z");

const bar = (i: number, takerBuyVolume?: string, volume = "10.5"): Bar => ({
  symbol: "FILUSDT",
  interval: "1m",
  openTime: T0 + i * MINUTE,
  closeTime: T0 + i * MINUTE + MINUTE - 1,
  open: "4.101",
  high: "4.105",
  low: "4.1",
  close: "4.104",
  volume,
  ...(takerBuyVolume === undefined ? {} : { takerBuyVolume }),
});

describe("the client reads the taker buy volume as sent", () => {
  it("kline message: k.V into takerBuyVolume; no V, no takerBuyVolume (never 0)", () => {
    const withV = parseMarketMessage(klineMessage(bar(0, "6.25"), true, T0 + MINUTE)) as KlineMessage;
    expect(withV.bar).toEqual(bar(0, "6.25"));
    const withoutV = parseMarketMessage(klineMessage(bar(0), true, T0 + MINUTE)) as KlineMessage;
    expect(withoutV.bar).toEqual(bar(0));
    expect("takerBuyVolume" in withoutV.bar).toBe(false);
    const zero = parseMarketMessage(klineMessage(bar(0, "0"), true, T0 + MINUTE)) as KlineMessage;
    expect(zero.bar.takerBuyVolume).toBe("0"); // a real 0 stays a 0
  });

  it("kline message: a malformed V or one above the volume is an error naming k.V", () => {
    const message = klineMessage(bar(0, "6.25"), true, T0 + MINUTE) as { k: Record<string, unknown> };
    expect(() => parseMarketMessage({ ...message, k: { ...message.k, V: 6.25 } })).toThrow(
      /malformed kline message: field k\.V/,
    );
    expect(() => parseMarketMessage({ ...message, k: { ...message.k, V: "10.6" } })).toThrow(
      /field k\.V: taker buy volume 10\.6 exceeds the volume 10\.5/,
    );
  });

  it("REST row: column 9 into takerBuyVolume; a 9-column row has none; bad column 9 named", () => {
    expect(barFromRestKline("FILUSDT", klineRow(bar(3, "1.5")), 0)).toEqual(bar(3, "1.5"));
    const short = klineRow(bar(3));
    expect(short).toHaveLength(9);
    expect(barFromRestKline("FILUSDT", short, 0)).toEqual(bar(3));
    const row = klineRow(bar(3, "1.5"));
    const bad = [...row.slice(0, 9), 1.5, ...row.slice(10)];
    expect(() => barFromRestKline("FILUSDT", bad, 7)).toThrow(BinanceWireError);
    expect(() => barFromRestKline("FILUSDT", bad, 7)).toThrow(
      /GET \/fapi\/v1\/klines FILUSDT row 7 column 9/,
    );
    const above = [...row.slice(0, 9), "11", ...row.slice(10)];
    expect(() => barFromRestKline("FILUSDT", above, 2)).toThrow(/exceeds the volume 10\.5/);
  });
});

describe("the double serves its data's taker buy volume", () => {
  it("REST rows and kline messages carry it when the bar has it, and leave it out otherwise", () => {
    expect(klineRow(bar(1, "2.75"))).toEqual([
      T0 + MINUTE,
      "4.101",
      "4.105",
      "4.1",
      "4.104",
      "10.5",
      T0 + 2 * MINUTE - 1,
      "0",
      0,
      "2.75",
      "0",
      "0",
    ]);
    expect(klineRow(bar(1))).toEqual([
      T0 + MINUTE,
      "4.101",
      "4.105",
      "4.1",
      "4.104",
      "10.5",
      T0 + 2 * MINUTE - 1,
      "0",
      0,
    ]);
    const k = (b: Bar) => (klineMessage(b, true, b.closeTime) as { k: Record<string, unknown> }).k;
    expect(k(bar(1, "2.75"))).toMatchObject({ v: "10.5", V: "2.75" });
    expect(Object.keys(k(bar(1)))).not.toContain("V");
    expect(Object.keys(k(bar(1)))).not.toContain("Q");
    // Mark-price klines: Binance's 12 columns, the ignored ones "0" whatever the trade bar had.
    expect(markKlineRow({ ...bar(1, "2.75"), volume: "0" })).toEqual([
      T0 + MINUTE,
      "4.101",
      "4.105",
      "4.1",
      "4.104",
      "0",
      T0 + 2 * MINUTE - 1,
      "0",
      0,
      "0",
      "0",
      "0",
    ]);
  });

  it("aggregated klines: a bucket's taker buy volume is the exact sum of its minutes', absent if one lacks it", () => {
    const volume = fc.integer({ min: 0, max: 10_000_000 }).map((n) => new Decimal(n).div(1000));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ volume, share: fc.double({ min: 0, max: 1, noNaN: true }), taker: fc.boolean() }),
          {
            minLength: 1,
            maxLength: 150,
          },
        ),
        fc.integer({ min: 0, max: 59 }),
        (minutes, offset) => {
          const history = new MarketHistory(["FILUSDT"]);
          const bars = minutes.map((m, i) =>
            bar(
              offset + i,
              m.taker ? m.volume.times(m.share).toDecimalPlaces(3, Decimal.ROUND_DOWN).toFixed() : undefined,
              m.volume.toFixed(),
            ),
          );
          for (const b of bars) history.addBar(b);
          const now = bars.at(-1)!.closeTime + 3 * 3_600_000;
          const hours = klines(history, "FILUSDT", "1h", { startTime: T0, limit: 10 }, now);
          for (const h of hours) {
            const inside = bars.filter((b) => b.openTime >= h.openTime && b.openTime <= h.closeTime);
            const sum = (f: (b: Bar) => string) => inside.reduce((s, b) => s.plus(f(b)), new Decimal(0));
            expect(h.volume).toBe(sum((b) => b.volume).toFixed());
            if (inside.every((b) => b.takerBuyVolume !== undefined))
              expect(h.takerBuyVolume).toBe(sum((b) => b.takerBuyVolume!).toFixed());
            else expect("takerBuyVolume" in h).toBe(false);
          }
          expect(hours.reduce((n, h) => n + (h.closeTime - h.openTime + 1) / 3_600_000, 0)).toBe(
            hours.length,
          );
          // Mark klines never carry a taker volume.
          for (const m of klines(history, "FILUSDT", "1m", { startTime: T0, limit: 500 }, now, "mark"))
            expect("takerBuyVolume" in m).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("WarmUpRecorded", () => {
  const base = { runId: "paper-x", symbol: "FILUSDT", from: T0, to: T0 + 3 * MINUTE };

  it("an old log's 6-tuples and gaps read back as before: bars without a taker volume", () => {
    const old = validateEvent("WarmUpRecorded", {
      ...base,
      inputs: [
        [T0, "4.101", "4.105", "4.1", "4.104", "10.5"],
        { fromOpenTime: T0 + MINUTE, toOpenTime: T0 + 2 * MINUTE, missingBars: 1 },
        [T0 + 2 * MINUTE, "4.101", "4.105", "4.1", "4.104", "10.5"],
      ],
    });
    const events = warmUpEvents(old);
    expect(events.map((e) => e.kind)).toEqual(["bar", "gap", "bar"]);
    expect(events[0]).toEqual({ kind: "bar", time: T0 + MINUTE - 1, bar: bar(0) });
    expect(events.every((e) => e.kind !== "bar" || !("takerBuyVolume" in e.bar))).toBe(true);
  });

  it("7-tuples and settlements read back into the bars with their taker volume and the settlements", () => {
    const settlement = {
      fundingTime: T0 - 3_600_000 + 3,
      fundingRate: "0.00010000",
      fundingIntervalHours: 8,
      markPrice: "4.1",
      markPriceSource: "markPriceKline" as const,
    };
    const data = validateEvent("WarmUpRecorded", {
      ...base,
      inputs: [settlement, [T0, "4.101", "4.105", "4.1", "4.104", "10.5", "3.2"]],
    });
    expect(warmUpEvents(data)).toEqual([
      { kind: "funding", time: settlement.fundingTime, funding: { symbol: "FILUSDT", ...settlement } },
      { kind: "bar", time: T0 + MINUTE - 1, bar: bar(0, "3.2") },
    ]);
  });

  it("refuses an 8-tuple, a taker volume that is no decimal, and a settlement missing a field", () => {
    const bad = (input: unknown) => () => validateEvent("WarmUpRecorded", { ...base, inputs: [input] });
    expect(bad([T0, "4.1", "4.1", "4.1", "4.1", "1", "1", "1"])).toThrow(EventSchemaError);
    expect(bad([T0, "4.1", "4.1", "4.1", "4.1", "1", 0.5])).toThrow(
      /WarmUpRecorded is invalid at field "inputs/,
    );
    expect(
      bad({ fundingTime: T0, fundingRate: "0.0001", markPrice: "4", markPriceSource: "lastClose" }),
    ).toThrow(EventSchemaError);
  });

  it("parts: consecutive, within the byte bound (or one input alone), and together the whole", () => {
    type Input = EventData<"WarmUpRecorded">["inputs"][number];
    const input = fc.oneof(
      fc
        .tuple(fc.integer({ min: 0, max: 1e12 }), fc.stringMatching(/^\d{1,12}(\.\d{1,8})?$/), fc.boolean())
        .map(([t, v, taker]): Input => (taker ? [t, v, v, v, v, v, v] : [t, v, v, v, v, v])),
      fc
        .integer({ min: 1, max: 1e12 })
        .map((t): Input => ({ fromOpenTime: t, toOpenTime: t + 1, missingBars: 1 })),
    );
    fc.assert(
      fc.property(
        fc.array(input, { maxLength: 300 }),
        fc.integer({ min: 10, max: 4_000 }),
        (inputs, maxBytes) => {
          const parts = warmUpParts(inputs, maxBytes);
          expect(parts.flat()).toEqual(inputs);
          expect(parts.length).toBeGreaterThan(0);
          for (const part of parts) {
            const bytes = part.reduce((n, i) => n + JSON.stringify(i).length + 1, 0);
            if (part.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
          }
          // Greedy: no part could have taken the next part's first input.
          for (let i = 1; i < parts.length; i++) {
            const bytes = [...parts[i - 1]!, parts[i]![0]!].reduce(
              (n, x) => n + JSON.stringify(x).length + 1,
              0,
            );
            expect(bytes).toBeGreaterThan(maxBytes);
          }
        },
      ),
    );
    expect(warmUpParts([])).toEqual([[]]);
    expect(WARM_UP_EVENT_BYTES).toBeLessThan(1_048_576); // EventStoreDB's default MaxAppendSize
  });
});

describe("exchange-sim --history-days", () => {
  it("sets the days of history before --from (default 1); anything but an integer 0–400 is a usage error", () => {
    const flags = { port: "0", symbols: "FILUSDT", from: "2023-09-12", lockstep: true };
    expect(simCommandOptions(flags).historyDays).toBe(1);
    expect(simCommandOptions({ ...flags, historyDays: "42" }).historyDays).toBe(42);
    expect(simCommandOptions({ ...flags, historyDays: "0" }).historyDays).toBe(0);
    for (const bad of ["-1", "1.5", "401", "x", ""])
      expect(() => simCommandOptions({ ...flags, historyDays: bad })).toThrow(
        /--history-days: expected an integer/,
      );
    expect(() => simCommandOptions({ ...flags, historyDays: "401" })).toThrow(UsageError);
  });
});

describe("usdmMarketRest", () => {
  /** A server answering `handler`, with the used weight header `weight()`; its URL and a request log. */
  async function serve(handler: (url: URL) => unknown, weight: () => number) {
    const requests: URL[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url!, "http://x");
      requests.push(url);
      res.writeHead(200, { "content-type": "application/json", "x-mbx-used-weight-1m": String(weight()) });
      res.end(JSON.stringify(handler(url)));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it("pages GET /fapi/v1/fundingRate by 1 000 until a short page: every settlement once, in order", async () => {
    const rows = Array.from({ length: 2_345 }, (_, i) => ({
      symbol: "FILUSDT",
      fundingTime: T0 + i * 3_600_000 + (i % 7),
      fundingRate: `0.0000${i % 10}`,
      markPrice: "4.1",
    }));
    const server = await serve(
      (url) => {
        const start = Number(url.searchParams.get("startTime"));
        const end = Number(url.searchParams.get("endTime"));
        const limit = Number(url.searchParams.get("limit"));
        return rows.filter((r) => r.fundingTime >= start && r.fundingTime <= end).slice(0, limit);
      },
      () => 1,
    );
    try {
      const rest = usdmMarketRest(new USDMClient({ baseUrl: server.url }));
      const got = await rest.fundingRates("FILUSDT", T0 + 10 * 3_600_000, rows.at(-1)!.fundingTime);
      expect(got).toEqual(rows.slice(10));
      expect(server.requests.filter((r) => r.pathname === "/fapi/v1/fundingRate")).toHaveLength(3);
    } finally {
      await server.close();
    }
  });

  it("waits for the next minute before a klines page that would pass the weight budget", async () => {
    let used = 0;
    const server = await serve(
      (url) => {
        const start = Number(url.searchParams.get("startTime"));
        return Array.from({ length: 1_000 }, (_, i) => klineRow(bar((start - T0) / MINUTE + i)));
      },
      () => (used += 5),
    );
    try {
      const waits: number[] = [];
      const slept: number[] = [];
      const rest = usdmMarketRest(new USDMClient({ baseUrl: server.url }), {
        weightBudget: 12,
        onWait: (weight) => waits.push(weight),
        sleep: async (ms) => {
          slept.push(ms);
          used = 0; // the next minute
        },
      });
      const bars = await rest.klines("FILUSDT", T0, T0 + 5_000 * MINUTE);
      expect(bars).toHaveLength(5_000);
      // Five pages of weight 5: the server reports 5, 10, then the third (10 + 5 > 12) waits for the next
      // minute (5, 10 again), as does the fifth.
      expect(waits).toEqual([10, 10]);
      expect(slept.every((ms) => ms > 0 && ms <= MINUTE)).toBe(true);
    } finally {
      await server.close();
    }
  });
});
