/**
 * The report's statistics (src/projections/report-stats.ts) on hand-computed vectors, and properties: Sharpe
 * is invariant to the equity's scale, the maximum drawdown is the brute-force largest fall and at most 100 %
 * of its peak, the profit factor agrees with the win and loss sums, exposure is a share of the window.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dec } from "../src/domain/decimal.ts";
import { MONEY_SCALE, toUnits } from "../src/projections/fixed-point.ts";
import {
  cagr,
  calmarRatio,
  downsideDeviation,
  drawdownStats,
  exposure,
  monthlyReturns,
  sampleStdDev,
  shareOfGross,
  sharpeRatio,
  simpleReturns,
  sortinoRatio,
  tradeStats,
  YEAR_MS,
} from "../src/projections/report-stats.ts";
import type { TradeView } from "../src/projections/trades.ts";

const MINUTE = 60_000;
const curveOf = (equities: string[]) => equities.map((equity, i) => ({ time: i * MINUTE, equity }));

/** A closed (or open) trade with the given net PnL and times; the other fields do not enter the statistics. */
function trade(netPnl: string, entryTime: number, exitTime: number | null): TradeView {
  return {
    id: 1,
    symbol: "BTCUSDT",
    side: "LONG",
    entryTime,
    exitTime,
    entryPrice: "100",
    exitPrice: exitTime === null ? null : "100",
    quantity: "1",
    closedQuantity: exitTime === null ? "0" : "1",
    fills: 2,
    realizedPnl: netPnl,
    fees: "0",
    funding: "0",
    liquidationFee: "0",
    netPnl,
    liquidated: false,
    open: exitTime === null,
  };
}

describe("returns, Sharpe, Sortino, CAGR, Calmar on hand-computed vectors", () => {
  it("simple returns of 100 → 110 → 121 → 108.9 are +10 %, +10 %, −10 %", () => {
    expect(simpleReturns(["100", "110", "121", "108.9"])).toEqual([0.1, 0.1, -0.1]);
    // a return from an equity ≤ 0 is undefined
    expect(simpleReturns(["100", "0", "5"])).toBeNull();
    expect(simpleReturns(["100"])).toEqual([]);
  });

  it("Sharpe of [0.1, 0.1, −0.1] is √(365/12) and Sortino √(365/3)", () => {
    const r = [0.1, 0.1, -0.1];
    // mean = 0.1/3 = 1/30; deviations 2/30, 2/30, −4/30; sample variance = (4 + 4 + 16)/900 / 2 = 12/900;
    // sd = √12/30; mean/sd = 1/√12; × √365 → √(365/12) ≈ 5.515131
    expect(sampleStdDev(r)).toBeCloseTo(Math.sqrt(12) / 30, 12);
    expect(sharpeRatio(r)).toBeCloseTo(Math.sqrt(365 / 12), 9);
    expect(sharpeRatio(r)).toBeCloseTo(5.515131, 5);
    // downside deviation = √((0 + 0 + 0.01)/3) = 0.1/√3; mean/DD = (1/30)·√3/0.1 = 1/√3; × √365 → √(365/3) ≈ 11.030261
    expect(downsideDeviation(r)).toBeCloseTo(0.1 / Math.sqrt(3), 12);
    expect(sortinoRatio(r)).toBeCloseTo(11.030261, 5);
  });

  it("a flat curve, one return or no losing day gives null ratios, never NaN or Infinity", () => {
    expect(sharpeRatio([0, 0, 0])).toBeNull(); // sd = 0
    expect(sharpeRatio([0.01, 0.01])).toBeNull(); // constant growth: sd = 0
    expect(sharpeRatio([0.05])).toBeNull(); // n < 2
    expect(sharpeRatio([])).toBeNull();
    expect(sortinoRatio([0.01, 0.02])).toBeNull(); // no losing day: downside deviation 0
    expect(sortinoRatio([-0.01])).toBeNull();
  });

  it("CAGR: 100 → 121 over two years is 10 %; 100 → 50 over half a year is −75 %; all lost is −100 %", () => {
    expect(cagr("100", "121", 2 * YEAR_MS)).toBeCloseTo(0.1, 12); // 1.21^(1/2) − 1
    expect(cagr("100", "50", YEAR_MS / 2)).toBeCloseTo(-0.75, 12); // 0.5^2 − 1
    expect(cagr("100", "0", YEAR_MS)).toBe(-1);
    expect(cagr("100", "-3", YEAR_MS)).toBe(-1);
    expect(cagr("0", "10", YEAR_MS)).toBeNull();
    expect(cagr("100", "110", 0)).toBeNull();
  });

  it("Calmar = CAGR / max drawdown ratio; null without a drawdown", () => {
    expect(calmarRatio(0.3, 0.15)).toBeCloseTo(2, 12);
    expect(calmarRatio(0.3, 0)).toBeNull();
    expect(calmarRatio(null, 0.1)).toBeNull();
    expect(calmarRatio(0.3, null)).toBeNull();
  });
});

describe("maximum drawdown and its duration", () => {
  it("100, 120, 90, 110, 120, 60, 80: max 60 USDT (50 %) from the second 120, never recovered", () => {
    // running peak 100, 120, 120, 120, 120 (reached again at minute 4: the peak moves there), 120, 120;
    // falls: 30 at minute 2 (from minute 1), 60 at minute 5 (from minute 4) → max 60 = 50 % of 120;
    // not recovered: duration = last sample (6) − peak (4) = 2 min; underwater spells 1 → 4 (3 min), 4 → 6 (2 min)
    const stats = drawdownStats(curveOf(["100", "120", "90", "110", "120", "60", "80"]));
    expect(stats).toEqual({
      maxDrawdown: "60",
      maxDrawdownRatio: 0.5,
      peakTime: 4 * MINUTE,
      troughTime: 5 * MINUTE,
      recoveryTime: null,
      durationMs: 2 * MINUTE,
      longestUnderwaterMs: 3 * MINUTE,
    });
  });

  it("on a tie in USDT the earliest trough wins; a recovery ends the duration", () => {
    // 100, 80, 100, 80: falls of 20 at minutes 1 and 3; the first counts, recovered at minute 2
    const stats = drawdownStats(curveOf(["100", "80", "100", "80"]));
    expect(stats).toMatchObject({
      maxDrawdown: "20",
      maxDrawdownRatio: 0.2,
      peakTime: 0,
      troughTime: MINUTE,
      recoveryTime: 2 * MINUTE,
      durationMs: 2 * MINUTE,
      longestUnderwaterMs: 2 * MINUTE,
    });
  });

  it("a curve that never falls has no drawdown; a fall from a peak ≤ 0 has no ratio", () => {
    expect(drawdownStats(curveOf(["100", "100", "101"]))).toEqual({
      maxDrawdown: "0",
      maxDrawdownRatio: 0,
      peakTime: null,
      troughTime: null,
      recoveryTime: null,
      durationMs: 0,
      longestUnderwaterMs: 0,
    });
    expect(drawdownStats([]).maxDrawdown).toBe("0");
    expect(drawdownStats(curveOf(["0", "-5"])).maxDrawdownRatio).toBeNull();
  });

  it("is the brute-force largest fall, exactly, and at most 100 % of its peak for a positive curve", () => {
    const equity = fc
      .tuple(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 0, max: 99 }))
      .map(([units, cents]) => `${units}.${String(cents).padStart(2, "0")}`);
    fc.assert(
      fc.property(fc.array(equity, { minLength: 1, maxLength: 40 }), (equities) => {
        const stats = drawdownStats(curveOf(equities));
        const units = equities.map((e) => toUnits(e, MONEY_SCALE));
        let fall = 0n;
        for (let i = 0; i < units.length; i++)
          for (let j = i + 1; j < units.length; j++)
            if (units[i]! - units[j]! > fall) fall = units[i]! - units[j]!;
        expect(toUnits(stats.maxDrawdown, MONEY_SCALE)).toBe(fall);
        expect(stats.maxDrawdownRatio).toBeGreaterThanOrEqual(0);
        expect(stats.maxDrawdownRatio).toBeLessThanOrEqual(1);
        expect(stats.durationMs).toBeLessThanOrEqual(stats.longestUnderwaterMs);
      }),
    );
  });
});

describe("Sharpe and Sortino do not depend on the equity's scale", () => {
  it("multiplying every equity by k > 0 leaves the returns, Sharpe and Sortino unchanged", () => {
    const equity = fc.integer({ min: 1_000, max: 1_000_000 }).map(String);
    const scale = fc.integer({ min: 1, max: 10_000 }).map((n) => new Dec(n).div(100));
    fc.assert(
      fc.property(fc.array(equity, { minLength: 3, maxLength: 30 }), scale, (equities, k) => {
        const base = simpleReturns(equities)!;
        const scaled = simpleReturns(equities.map((e) => new Dec(e).times(k).toFixed()))!;
        scaled.forEach((r, i) => {
          expect(r).toBeCloseTo(base[i]!, 12);
        });
        const [s1, s2] = [sharpeRatio(base), sharpeRatio(scaled)];
        if (s1 === null) expect(s2).toBeNull();
        else expect(s2).toBeCloseTo(s1, 6);
        const [d1, d2] = [sortinoRatio(base), sortinoRatio(scaled)];
        if (d1 === null) expect(d2).toBeNull();
        else expect(d2).toBeCloseTo(d1, 6);
      }),
    );
  });
});

describe("monthly returns", () => {
  it("each UTC month's last sample over the previous month's, the first over the initial balance", () => {
    const curve = [
      { time: Date.UTC(2025, 0, 15), equity: "105" },
      { time: Date.UTC(2025, 0, 31, 23, 59, 59, 999), equity: "110" }, // January closes at 110: 110/100 − 1
      { time: Date.UTC(2025, 1, 10), equity: "99" }, // February: 99/110 − 1 = −10 %
      { time: Date.UTC(2025, 2, 1), equity: "118.8" }, // March: 118.8/99 − 1 = +20 %
    ];
    expect(monthlyReturns("100", curve)).toEqual([
      { month: "2025-01", equity: "110", return: 0.1 },
      { month: "2025-02", equity: "99", return: -0.1 },
      { month: "2025-03", equity: "118.8", return: 0.2 },
    ]);
    expect(monthlyReturns("0", curve)[0]!.return).toBeNull();
  });
});

describe("trade statistics", () => {
  it("+30, −10, −20, 0, +50 (and an open +1000): 2 wins, 2 losses, PF 80/30, expectancy 10", () => {
    const trades = [
      trade("30", 0, 10),
      trade("-10", 10, 30),
      trade("-20", 30, 60),
      trade("0", 60, 70),
      trade("50", 70, 120),
      trade("1000", 120, null), // open: left out
    ];
    // gross profit 30 + 50 = 80, gross loss |−10 − 20| = 30; PF = 80/30; expectancy (80 − 30)/5 = 10;
    // average win 80/2 = 40, average loss −30/2 = −15; durations 10, 20, 30, 10, 50 → mean 24
    expect(tradeStats(trades)).toEqual({
      trades: 5,
      wins: 2,
      losses: 2,
      winRate: 0.4,
      grossProfit: "80",
      grossLoss: "30",
      profitFactor: 80 / 30,
      expectancy: "10",
      averageWin: "40",
      averageLoss: "-15",
      largestWin: "50",
      largestLoss: "-20",
      averageDurationMs: 24,
    });
  });

  it("no trade, or no losing trade, gives nulls", () => {
    expect(tradeStats([])).toMatchObject({ trades: 0, winRate: null, profitFactor: null, expectancy: null });
    expect(tradeStats([trade("5", 0, 1)])).toMatchObject({
      winRate: 1,
      profitFactor: null,
      averageLoss: null,
    });
  });

  it("profit factor and expectancy agree with the sums of wins and losses", () => {
    const net = fc
      .tuple(fc.integer({ min: -100_000, max: 100_000 }), fc.integer({ min: 0, max: 99 }))
      .map(([units, cents]) => new Dec(units).plus(new Dec(cents).div(100)).toFixed());
    fc.assert(
      fc.property(fc.array(net, { maxLength: 30 }), (nets) => {
        const stats = tradeStats(nets.map((n, i) => trade(n, i, i + 1)));
        const total = nets.reduce((acc, n) => acc.plus(n), new Dec(0));
        expect(new Dec(stats.grossProfit).minus(stats.grossLoss).eq(total)).toBe(true);
        expect(stats.wins + stats.losses).toBeLessThanOrEqual(stats.trades);
        if (stats.profitFactor !== null && stats.wins > 0) {
          expect(stats.profitFactor > 1).toBe(total.gt(0));
          expect(stats.profitFactor).toBeCloseTo(
            new Dec(stats.grossProfit).div(stats.grossLoss).toNumber(),
            12,
          );
        }
        if (stats.expectancy !== null)
          expect(Number(stats.expectancy)).toBeCloseTo(total.div(nets.length).toNumber(), 7);
      }),
    );
  });
});

describe("exposure and cost shares", () => {
  it("the union of the trades' spans over the window: [10,30] ∪ [20,50] ∪ [60, open) of [0,100] is 80 %", () => {
    const trades = [trade("1", 10, 30), trade("1", 20, 50), trade("1", 60, null)];
    // [10, 50] (40) + [60, 100] (40) = 80 of 100
    expect(exposure(trades, 0, 100)).toBe(0.8);
    expect(exposure([trade("1", -10, 5)], 0, 100)).toBe(0.05); // clipped to the window
    expect(exposure([], 0, 100)).toBe(0);
    expect(exposure(trades, 100, 100)).toBeNull();
  });

  it("is a share of the window that adding a trade never lowers", () => {
    const span = fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 }));
    fc.assert(
      fc.property(fc.array(span, { maxLength: 20 }), span, (spans, extra) => {
        const toTrade = ([a, b]: [number, number]) => trade("0", Math.min(a, b), Math.max(a, b));
        const base = exposure(spans.map(toTrade), 0, 1000)!;
        expect(base).toBeGreaterThanOrEqual(0);
        expect(base).toBeLessThanOrEqual(1);
        expect(exposure([...spans, extra].map(toTrade), 0, 1000)!).toBeGreaterThanOrEqual(base);
      }),
    );
  });

  it("fees and funding as shares of |gross PnL|", () => {
    expect(shareOfGross("10", "-50")).toBe(0.2); // 10 / |−50|
    expect(shareOfGross("-5", "100")).toBe(-0.05); // funding paid 5 on a gross 100
    expect(shareOfGross("1", "0")).toBeNull();
  });
});
