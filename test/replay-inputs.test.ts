/**
 * The pure parts of replay: a live log read back into its inputs (`InputReader`: market events with their mark
 * kline, venue reports and answers only for an external venue, an operator's changes by ordinal), the warm-up
 * round trip (`warmUpEvents`), and the what-if configuration (`loadWhatIfConfig`: the file's backtest keys over
 * the recorded ones, each bad key named with its source).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadWhatIfConfig } from "../src/config/load.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { InputReader } from "../src/engine/recorded-inputs.ts";
import { warmUpEvents } from "../src/engine/warm-up-record.ts";
import { configChanges, difference } from "../src/engine/what-if.ts";
import type { DomainEvent } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";

let position = 0;
/** A recorded event of `stream` caused by `causationId` at `eventTime`. */
function ev(stream: string, e: DomainEvent, causationId: string, eventTime = 1000): RecordedEvent {
  position += 1;
  return {
    ...e,
    eventId: `00000000-0000-8000-8000-${String(position).padStart(12, "0")}`,
    metadata: { correlationId: "run", causationId, eventTime },
    stream,
    revision: 0,
    position,
  };
}

const bar = {
  symbol: "BTCUSDT",
  interval: "1m" as const,
  openTime: 60_000,
  closeTime: 119_999,
  open: "100",
  high: "101",
  low: "99",
  close: "100.5",
  volume: "3",
};
const submitted = ev(
  "order-a",
  {
    type: "OrderSubmitted",
    data: {
      clientOrderId: "a",
      symbol: "BTCUSDT",
      side: "BUY",
      type: "MARKET",
      purpose: "ENTRY",
      positionSide: "BOTH",
      quantity: "1",
      reduceOnly: false,
    },
  },
  "some-decision",
);
const log = [
  ev(
    "symbol-BTCUSDT",
    {
      type: "BarClosed",
      data: { ...bar, markPrice: "100.4", markOpen: "100.1", markHigh: "101.2", markLow: "98.9" },
    },
    "bar:BTCUSDT:60000",
    119_999,
  ),
  ev(
    "symbol-BTCUSDT",
    { type: "BarClosed", data: { ...bar, openTime: 120_000, closeTime: 179_999, markPrice: "100.4" } },
    "bar:BTCUSDT:120000",
    179_999,
  ),
  submitted,
  ev("order-a", { type: "OrderAccepted", data: { clientOrderId: "a", orderId: "77" } }, submitted.eventId),
  ev(
    "order-a",
    {
      type: "OrderFilled",
      data: {
        clientOrderId: "a",
        symbol: "BTCUSDT",
        side: "BUY",
        tradeId: "9",
        price: "100",
        quantity: "1",
        cumulativeQuantity: "1",
        commission: "0.05",
        commissionAsset: "USDT",
        maker: false,
        status: "FILLED",
      },
    },
    "venue:trade:BTCUSDT:9",
    180_001,
  ),
  ev(
    "risk-main",
    {
      type: "TradingStateChanged",
      data: { accountId: "main", from: "ACTIVE", to: "HALTED", by: "operator", reason: "stop" },
    },
    "operator:halt",
  ),
  ev(
    "order-a",
    { type: "OrderExpired", data: { clientOrderId: "a", reason: "IOC", expiryReason: 2 } },
    "venue:expired:a",
    180_002,
  ),
];

describe("recorded inputs of a live log", () => {
  it("testnet: market events with their whole mark kline, venue reports in order, answers and out-of-band records (operator changes) by ordinal", () => {
    const reader = new InputReader(true);
    for (const e of log) reader.add(e);
    const { inputs, answers, outOfBand, events } = reader.result();
    expect(events).toBe(log.length);
    expect(inputs.map((i) => [i.kind, i.ordinal])).toEqual([
      ["market", 0],
      ["market", 1],
      ["report", 4],
      ["report", 6],
    ]);
    expect(inputs[0]).toMatchObject({
      event: {
        kind: "bar",
        time: 119_999,
        bar,
        mark: { openTime: 60_000, open: "100.1", high: "101.2", low: "98.9", close: "100.4" },
      },
    });
    // markPrice alone (a backtest's, or a live log written before the whole kline was): no mark kline to match on.
    const second = inputs[1]!;
    expect(second.kind === "market" && second.event.kind === "bar" && second.event.mark).toBeUndefined();
    expect(inputs[2]).toMatchObject({
      report: { kind: "fill", time: 180_001, fill: { tradeId: "9", maker: false, status: "FILLED" } },
    });
    expect(inputs[3]).toMatchObject({
      report: { kind: "expired", symbol: "BTCUSDT", clientOrderId: "a", reason: "IOC", expiryReason: 2 },
    });
    expect([...answers]).toEqual([
      [3, { kind: "submit", clientOrderId: "a", result: { accepted: true, orderId: "77" } }],
    ]);
    expect([...outOfBand.keys()]).toEqual([5]);
  });

  it("paper: the venue's events are derived, only the market events are inputs", () => {
    const reader = new InputReader(false);
    for (const e of log) reader.add(e);
    const { inputs, answers, outOfBand } = reader.result();
    expect(inputs.map((i) => i.kind)).toEqual(["market", "market"]);
    expect(answers.size).toBe(0);
    expect(outOfBand.size).toBe(1);
  });

  it("a report on an order the log never submitted is refused, naming it", () => {
    const reader = new InputReader(true);
    expect(() => reader.add(log[6]!)).toThrow("the log reports on order a before submitting it");
  });

  it("a WarmUpRecorded gives back its bars (closeTime = openTime + 59 999) and gaps in order", () => {
    const events = warmUpEvents({
      runId: "run",
      symbol: "ETHUSDT",
      from: 0,
      to: 240_000,
      inputs: [
        [0, "1", "2", "0.5", "1.5", "10"],
        { fromOpenTime: 60_000, toOpenTime: 180_000, missingBars: 2 },
        [180_000, "1.5", "1.6", "1.4", "1.55", "7"],
      ],
    });
    expect(events).toEqual([
      {
        kind: "bar",
        time: 59_999,
        bar: {
          symbol: "ETHUSDT",
          interval: "1m",
          openTime: 0,
          closeTime: 59_999,
          open: "1",
          high: "2",
          low: "0.5",
          close: "1.5",
          volume: "10",
        },
      },
      {
        kind: "gap",
        time: 180_000,
        gap: { symbol: "ETHUSDT", fromOpenTime: 60_000, toOpenTime: 180_000, missingBars: 2 },
      },
      {
        kind: "bar",
        time: 239_999,
        bar: {
          symbol: "ETHUSDT",
          interval: "1m",
          openTime: 180_000,
          closeTime: 239_999,
          open: "1.5",
          high: "1.6",
          low: "1.4",
          close: "1.55",
          volume: "7",
        },
      },
    ]);
  });
});

describe("the what-if configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-what-if-"));
  const recorded = BacktestConfigSchema.parse({
    symbols: ["BTCUSDT", "ETHUSDT"],
    from: "2025-05-05",
    to: "2025-05-06",
  });
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return name;
  };
  const problems = (name: string): readonly string[] => {
    try {
      loadWhatIfConfig(name, recorded, dir);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    throw new Error("expected a ConfigError");
  };

  it("lays the file's backtest keys over the recorded configuration", () => {
    const name = file(
      "ok.json",
      JSON.stringify({ backtest: { smaCross: { smaShort: 8 }, slippage: "0.0002" } }),
    );
    const config = loadWhatIfConfig(name, recorded, dir);
    expect(config.smaCross).toEqual({ ...recorded.smaCross, smaShort: 8 });
    expect(config.slippage).toBe("0.0002");
    expect(config.symbols).toEqual(recorded.symbols);
    expect(configChanges(recorded, config)).toEqual([
      'slippage: "0.0001" → "0.0002"',
      "smaCross.smaShort: 21 → 8",
    ]);
    // Restating a fixed key unchanged is fine.
    const same = file("same.json", JSON.stringify({ backtest: { symbols: ["BTCUSDT", "ETHUSDT"] } }));
    expect(loadWhatIfConfig(same, recorded, dir)).toEqual(recorded);
  });

  it("names each bad key with its source", () => {
    const label = `what-if file ${join(dir, "bad.json")}`;
    expect(
      problems(file("bad.json", JSON.stringify({ backtest: { smaCross: { smaShort: -1, bogus: 1 } } }))),
    ).toEqual([
      `backtest.smaCross.smaShort (from ${label}): expected an integer number of bars ≥ 1`,
      `backtest.smaCross.bogus (from ${label}): unknown key`,
    ]);
    expect(
      problems(file("fixed.json", JSON.stringify({ backtest: { to: "2025-06-01" }, store: "x" }))),
    ).toEqual([
      `store (from what-if file ${join(dir, "fixed.json")}): a what-if changes only backtest keys`,
      `backtest.to (from what-if file ${join(dir, "fixed.json")}): the recorded run's is fixed ("2025-05-06")`,
    ]);
    expect(problems(file("list.json", "[1]"))).toEqual([
      `what-if file ${join(dir, "list.json")} must hold a JSON object`,
    ]);
    expect(problems(file("broken.json", "{"))[0]).toMatch(
      /^cannot read what-if file .*broken\.json as JSON: /,
    );
  });

  it("the difference is the what-if minus the recorded run, exact", () => {
    const a = {
      orders: 3,
      fills: 2,
      realizedPnl: "1.1",
      fees: "0.3",
      funding: "-0.01",
      netPnl: "0.79",
      maxDrawdown: "5",
    };
    const b = {
      orders: 1,
      fills: 1,
      realizedPnl: "0.1",
      fees: "0.1",
      funding: "0",
      netPnl: "0",
      maxDrawdown: "5.00000001",
    };
    expect(difference(a, b)).toEqual({
      orders: -2,
      fills: -1,
      realizedPnl: "-1",
      fees: "-0.2",
      funding: "0.01",
      netPnl: "-0.79",
      maxDrawdown: "0.00000001",
    });
  });
});
