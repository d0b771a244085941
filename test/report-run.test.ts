/**
 * `runReport` (src/projections/run-report.ts) on small hand-made logs folded by the projections: one round trip
 * over two days with every figure worked out by hand, and a run without a trade on a flat curve, whose
 * undefined statistics are null (never NaN or Infinity in the JSON).
 */
import { describe, expect, it } from "vitest";
import type { EventData, EventType } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { createProjections } from "../src/projections/index.ts";
import { YEAR_MS } from "../src/projections/report-stats.ts";
import { configDifferences, runReport } from "../src/projections/run-report.ts";

const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;
const closeOf = (minute: number) => T0 + (minute + 1) * MINUTE - 1;

/** A log in global order; the projections fold it without the machine audit (no order streams needed). */
function fold(
  build: (add: <T extends EventType>(type: T, data: EventData<T>, time: number) => void) => void,
) {
  const projections = createProjections({ audit: false });
  let position = 0;
  build((type, data, time) => {
    position++;
    projections.apply({
      stream: "s",
      revision: position - 1,
      position,
      eventId: String(position),
      type,
      data,
      metadata: { correlationId: "test", causationId: "test", eventTime: time },
    } as RecordedEvent);
  });
  return runReport(projections);
}

type Add = <T extends EventType>(type: T, data: EventData<T>, time: number) => void;

function start(add: Add): void {
  add(
    "RunStarted",
    {
      runId: "test",
      mode: "backtest",
      strategy: "sma-cross",
      symbols: ["BTCUSDT"],
      from: T0,
      to: T0 + 2 * 86_400_000,
      config: {},
      manifest: [],
    },
    T0,
  );
  add("AccountOpened", { accountId: "main", asset: "USDT", walletBalance: "1000" }, T0);
}

function bar(add: Add, minute: number, close: string): void {
  const openTime = T0 + minute * MINUTE;
  add(
    "BarClosed",
    {
      symbol: "BTCUSDT",
      interval: "1m",
      openTime,
      closeTime: closeOf(minute),
      open: close,
      high: close,
      low: close,
      close,
      volume: "1",
    },
    closeOf(minute),
  );
}

function booked(
  add: Add,
  minute: number,
  side: "BUY" | "SELL",
  fill: Partial<EventData<"FillBooked">>,
): void {
  add(
    "FillBooked",
    {
      symbol: "BTCUSDT",
      clientOrderId: `ps-BTCUSDT-1-${side === "BUY" ? "E" : "TP"}`,
      tradeId: String(minute),
      side,
      price: "0",
      quantity: "1",
      commission: "0",
      realizedPnl: "0",
      positionAmt: "0",
      entryPrice: "0",
      walletBalance: "0",
      ...fill,
    },
    T0 + minute * MINUTE,
  );
}

describe("runReport", () => {
  it("one round trip over two days, every figure by hand", () => {
    const report = fold((add) => {
      start(add);
      bar(add, 0, "100"); // equity 1000
      // BUY 1 @ 100, commission 0.1: wallet 999.9
      booked(add, 1, "BUY", {
        price: "100",
        commission: "0.1",
        positionAmt: "1",
        entryPrice: "100",
        walletBalance: "999.9",
      });
      bar(add, 1, "110"); // 999.9 + 10 = 1009.9 (the peak)
      bar(add, 1439, "90"); // 999.9 − 10 = 989.9: day 1 closes here, 20 below the peak
      bar(add, 1440, "120"); // 1019.9: recovered
      // SELL 1 @ 120: rp 20, commission 0.12 → wallet 999.9 + 20 − 0.12 = 1019.78
      booked(add, 1441, "SELL", {
        price: "120",
        commission: "0.12",
        realizedPnl: "20",
        walletBalance: "1019.78",
      });
      bar(add, 1441, "120"); // 1019.78: day 2 closes here
    });
    const { stats } = report;
    expect(report.account).toMatchObject({ initialBalance: "1000", equity: "1019.78", netPnl: "19.78" });
    // daily returns: 989.9/1000 − 1 = −0.0101; 1019.78/989.9 − 1 ≈ 0.0301849; mean ≈ 0.0100424, sample sd
    // = |r2 − r1|/√2 ≈ 0.0284857 → Sharpe ≈ 0.352545 × √365 ≈ 6.73532; downside deviation √(0.0101²/2) ≈
    // 0.0071418 → Sortino ≈ 26.8645
    expect(stats.dailyReturns).toBe(2);
    expect(stats.sharpe).toBeCloseTo(6.735324, 5);
    expect(stats.sortino).toBeCloseTo(26.864516, 5);
    expect(stats.totalReturn).toBeCloseTo(0.01978, 12);
    // the period runs from T0 to the last sample, 1442 minutes − 1 ms
    const periodMs = 1442 * MINUTE - 1;
    expect(stats.endTime - stats.startTime).toBe(periodMs);
    expect(stats.cagr).toBeCloseTo(1.01978 ** (YEAR_MS / periodMs) - 1, 6);
    // max drawdown 1009.9 → 989.9 = 20 (20/1009.9 ≈ 1.9804 %), peak at minute 1, recovered at minute 1440;
    // the last sample (1019.78 < 1019.9) is underwater for one minute
    expect(stats).toMatchObject({
      maxDrawdown: "20",
      maxDrawdownPeakTime: closeOf(1),
      maxDrawdownTroughTime: closeOf(1439),
      maxDrawdownRecoveryTime: closeOf(1440),
      maxDrawdownDurationMs: 1439 * MINUTE,
      longestUnderwaterMs: 1439 * MINUTE,
    });
    expect(stats.maxDrawdownRatio).toBeCloseTo(20 / 1009.9, 12);
    expect(stats.calmar).toBeCloseTo(stats.cagr! / (20 / 1009.9), 6);
    // the trade: net 20 − 0.1 − 0.12 = 19.78, a win; no loser → no profit factor
    expect(report.trades).toHaveLength(1);
    expect(report.trades[0]).toMatchObject({
      side: "LONG",
      netPnl: "19.78",
      open: false,
      unrealizedPnl: null,
    });
    expect(stats).toMatchObject({ trades: 1, wins: 1, winRate: 1, profitFactor: null, expectancy: "19.78" });
    // in the market from minute 1 to minute 1441 of the period
    expect(stats.exposure).toBeCloseTo((1440 * MINUTE) / periodMs, 12);
    expect(stats.feesShareOfGross).toBeCloseTo(0.22 / 20, 12);
    expect(stats.fundingShareOfGross).toBe(0);
    expect(report.monthlyReturns).toEqual([{ month: "2024-01", equity: "1019.78", return: 0.01978 }]);
    expect(report.symbols).toEqual([
      {
        symbol: "BTCUSDT",
        trades: 1,
        openTrades: 0,
        wins: 1,
        winRate: 1,
        realizedPnl: "20",
        fees: "0.22",
        funding: "0",
        liquidationFees: "0",
        netPnl: "19.78",
        unrealizedPnl: "0",
        exposure: stats.exposure,
      },
    ]);
    expect(report.curve.points.map((p) => [p.equity, p.drawdown])).toEqual([
      ["1000", 0],
      ["1009.9", 0],
      ["989.9", expect.closeTo(20 / 1009.9, 11)],
      ["1019.9", 0],
      ["1019.78", expect.closeTo(0.12 / 1019.9, 11)], // drawdowns are floored to 12 decimals,
    ]);
  });

  it("a run without a trade on a flat curve: undefined statistics are null, and the JSON has no NaN", () => {
    const report = fold((add) => {
      start(add);
      for (const minute of [0, 1, 1440]) bar(add, minute, "100");
    });
    expect(report.stats).toMatchObject({
      totalReturn: 0,
      cagr: 0,
      volatility: 0,
      sharpe: null,
      sortino: null,
      calmar: null,
      maxDrawdown: "0",
      maxDrawdownRatio: 0,
      maxDrawdownPeakTime: null,
      trades: 0,
      openTrades: 0,
      winRate: null,
      profitFactor: null,
      expectancy: null,
      exposure: 0,
      feesShareOfGross: null,
      fundingShareOfGross: null,
    });
    expect(JSON.stringify(report)).not.toMatch(/NaN|Infinity/);
  });
});

describe("configDifferences", () => {
  it("lists, per config, the leaves not equal in every config (missing ones as absent)", () => {
    const a = {
      strategy: "sma-cross",
      smaCross: { leverage: 10, marginType: "ISOLATED" },
      symbols: ["BTCUSDT"],
    };
    const b = {
      strategy: "sma-cross",
      smaCross: { leverage: 3, marginType: "ISOLATED" },
      symbols: ["BTCUSDT"],
    };
    const c = { strategy: "multifactor-v2", symbols: ["BTCUSDT"], multifactor: { tvs: 0.5 } };
    expect(configDifferences([a, b])).toEqual([{ "smaCross.leverage": "10" }, { "smaCross.leverage": "3" }]);
    expect(configDifferences([a, c])).toEqual([
      {
        "multifactor.tvs": "absent",
        "smaCross.leverage": "10",
        "smaCross.marginType": '"ISOLATED"',
        strategy: '"sma-cross"',
      },
      {
        "multifactor.tvs": "0.5",
        "smaCross.leverage": "absent",
        "smaCross.marginType": "absent",
        strategy: '"multifactor-v2"',
      },
    ]);
    expect(configDifferences([a])).toEqual([{}]);
    expect(configDifferences([a, structuredClone(a)])).toEqual([{}, {}]);
  });
});
