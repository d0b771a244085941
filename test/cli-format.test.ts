import { describe, expect, it } from "vitest";
import { monthRange, parseInterval, parseKinds, parseSymbols } from "../src/cli/args.ts";
import { replayReport, summaryJsonLine, summaryTable } from "../src/cli/format.ts";

const summary = {
  runId: "bt-0001",
  bars: 146_880,
  orders: 42,
  fills: 40,
  makerFills: 3,
  partialFills: 1,
  liquidations: 2,
  realizedPnl: "-123.45",
  fees: "12.5",
  funding: "-0.75",
  netPnl: "-136.7",
  unrealizedPnl: "-0.5",
  equity: "9870.123456789",
  maxDrawdown: "310.2",
  gaps: 2,
  barsWithoutMark: 0,
  fundingSettlements: { BTCUSDT: 153, ETHUSDT: 0 },
  warmFrom: { BTCUSDT: 1_746_415_259_999 },
  skippedSymbols: { ALGOUSDT: "its 1m kline files hold no bar in 2025-05-05..2025-06-24" },
  completed: true,
  ordersDenied: 2,
  tradingState: "HALTED",
  warnings: [],
  events: 150_000,
  barsPerSec: 51234.6,
  eventLogSha256: "ab".repeat(32),
};

describe("backtest summary", () => {
  it("--json is one line with exactly the documented keys, money as strings", () => {
    const line = summaryJsonLine(summary);
    expect(line).not.toContain("\n");
    expect(Object.keys(JSON.parse(line))).toEqual([
      "bars",
      "orders",
      "ordersDenied",
      "fills",
      "makerFills",
      "partialFills",
      "liquidations",
      "realizedPnl",
      "fees",
      "funding",
      "unrealizedPnl",
      "equity",
      "maxDrawdown",
      "tradingState",
      "gaps",
      "barsWithoutMark",
      "fundingSettlements",
      "warmFrom",
      "skippedSymbols",
      "completed",
      "events",
      "barsPerSec",
      "eventLogSha256",
    ]);
    expect(JSON.parse(line)).toMatchObject({
      bars: 146_880,
      realizedPnl: "-123.45",
      barsPerSec: 51234.6,
      ordersDenied: 2,
      makerFills: 3,
      partialFills: 1,
      liquidations: 2,
      tradingState: "HALTED",
      skippedSymbols: { ALGOUSDT: "its 1m kline files hold no bar in 2025-05-05..2025-06-24" },
    });
  });

  it("the table aligns one row per figure and names the store", () => {
    const rows = summaryTable(summary, "sqlite:var/perpsource.sqlite").split("\n");
    expect(rows).toContain("  realizedPnl         -123.45 USDT");
    expect(rows).toContain("  barsPerSec          51235");
    expect(rows).toContain("  netPnl              -136.7 USDT");
    expect(rows).toContain("  liquidations        2");
    expect(rows).toContain("  makerFills          3");
    expect(rows).toContain("  equity              9870.12345679 USDT"); // 8 decimals, half-even
    expect(rows).toContain("  fundingSettlements  BTCUSDT 153, ETHUSDT 0");
    expect(rows).toContain("  warmFrom            BTCUSDT 2025-05-05T03:20:59.999Z");
    expect(rows).toContain(
      "  skippedSymbols      ALGOUSDT (its 1m kline files hold no bar in 2025-05-05..2025-06-24)",
    );
    expect(summaryTable({ ...summary, skippedSymbols: {} }, "memory:").split("\n")).toContain(
      "  skippedSymbols      none",
    );
    expect(rows.at(-1)).toBe("  store               sqlite:var/perpsource.sqlite");
  });
});

describe("replay report", () => {
  const base = {
    runId: "bt-0001",
    events: 10,
    eventLogSha256: "cd".repeat(32),
    replayedSha256: "ef".repeat(32),
  };

  it("says ok without differences", () => {
    expect(replayReport({ ...base, ok: true, differences: [] })).toMatch(/^replay ok/);
  });

  it("shows the first five differences and counts the rest", () => {
    const differences = Array.from({ length: 8 }, (_, i) => `event ${i} differs`);
    const text = replayReport({ ...base, ok: false, differences });
    expect(text).toMatch(/^replay FAILED/);
    expect(text).toContain("  - event 4 differs");
    expect(text).not.toContain("event 5 differs");
    expect(text).toContain("… and 3 more");
  });
});

describe("data fetch arguments", () => {
  it("month ranges are inclusive and cross years", () => {
    expect(monthRange("2025-05", "2025-06")).toEqual(["2025-05", "2025-06"]);
    expect(monthRange("2024-11", "2025-02")).toEqual(["2024-11", "2024-12", "2025-01", "2025-02"]);
    expect(monthRange("2025-03", "2025-03")).toEqual(["2025-03"]);
  });

  it("intervals are Binance's kline intervals", () => {
    expect(parseInterval("1m")).toBe("1m");
    expect(parseInterval("8h")).toBe("8h");
    expect(() => parseInterval("7m")).toThrow("expected one of 1m, 3m, 5m");
  });

  it("symbols are upper-cased, kinds checked", () => {
    expect(parseSymbols("btcusdt, ethusdt")).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(() => parseSymbols("btc-usdt")).toThrow("expected symbols such as BTCUSDT,ETHUSDT");
    expect(() => parseSymbols("all")).toThrow("ALL is resolved by a backtest from the data it finds");
    expect(parseKinds("klines,markPriceKlines")).toEqual(["klines", "markPriceKlines"]);
    expect(() => parseKinds("klines,trades")).toThrow(
      "expected a list of klines, fundingRate, markPriceKlines",
    );
  });
});
