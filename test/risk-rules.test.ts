/**
 * The pre-trade rules and the state rules of src/domain/risk on constructed accounts: each rule denies just past
 * its limit with its numbers, and passes exactly at it (exact decimals); reducing orders meet only the trading
 * state; the drawdown halt is a latch.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preTradeCheck } from "../src/domain/risk/check.ts";
import { decideTradingState } from "../src/domain/risk/decide-trading-state.ts";
import type { OrderIntent, RiskLimits, RiskSnapshot } from "../src/domain/risk/types.ts";
import type { OrderRequest } from "../src/engine/venue.ts";

const T0 = Date.UTC(2025, 4, 5, 12, 0);

/** A flat account of 10,000 USDT with BTCUSDT marked at 100,000 and ETHUSDT at 2,500. */
function snapshot(over: Partial<RiskSnapshot> = {}): RiskSnapshot {
  return {
    time: T0,
    walletBalance: "10000",
    equity: "10000",
    peakEquity: "10000",
    realizedToday: "0",
    positions: [],
    marks: { BTCUSDT: "100000", ETHUSDT: "2500" },
    openOrders: [],
    orderTimes: [],
    tradingState: "ACTIVE",
    ...over,
  };
}

function order(over: Partial<OrderRequest> = {}): OrderRequest {
  return {
    clientOrderId: "ps-BTCUSDT-000001-E",
    symbol: "BTCUSDT",
    side: "BUY",
    type: "MARKET",
    purpose: "ENTRY",
    positionSide: "BOTH",
    quantity: "0.01",
    reduceOnly: false,
    ...over,
  };
}

const intent = (over: Partial<OrderRequest> = {}, referencePrice?: string): OrderIntent =>
  referencePrice === undefined ? { order: order(over) } : { order: order(over), referencePrice };

const long = (symbol: string, positionAmt: string, markPrice: string) => ({
  symbol,
  positionSide: "BOTH" as const,
  positionAmt,
  markPrice,
});

describe("pre-trade rules", () => {
  it("no limits: every order passes", () => {
    expect(preTradeCheck(intent({ quantity: "1000" }), snapshot(), {})).toBeUndefined();
  });

  it("maxOrderNotional: quantity × reference price, equal passes, one step more is denied", () => {
    const limits: RiskLimits = { maxOrderNotional: "1000" };
    // 0.01 × 100000 = 1000 exactly.
    expect(preTradeCheck(intent({ quantity: "0.01" }, "100000"), snapshot(), limits)).toBeUndefined();
    expect(preTradeCheck(intent({ quantity: "0.011" }, "100000"), snapshot(), limits)).toEqual({
      rule: "maxOrderNotional",
      reason: "order notional 1100 USDT exceeds the limit 1000 USDT",
      numbers: { notional: "1100", limit: "1000", price: "100000" },
    });
    // A LIMIT order is valued at its own price, a STOP_MARKET at its trigger.
    const limit = { type: "LIMIT" as const, price: "90000", quantity: "0.0111", timeInForce: "GTC" as const };
    expect(preTradeCheck(intent(limit), snapshot(), limits)).toBeUndefined(); // 0.0111 × 90000 = 999
    expect(preTradeCheck(intent(limit), snapshot(), { maxOrderNotional: "998.99" })?.numbers).toEqual({
      notional: "999",
      limit: "998.99",
      price: "90000",
    });
    const stop = { type: "STOP_MARKET" as const, triggerPrice: "100001", quantity: "0.01" };
    expect(preTradeCheck(intent(stop), snapshot(), limits)?.numbers["notional"]).toBe("1000.01");
  });

  it("maxPositionNotional: the position after the order plus same-side working orders, at mark", () => {
    const limits: RiskLimits = { maxPositionNotional: "3000" };
    const s = snapshot({ positions: [long("BTCUSDT", "0.02", "100000")] });
    expect(preTradeCheck(intent({ quantity: "0.01" }, "100000"), s, limits)).toBeUndefined(); // 0.03 × 1e5 = 3000
    const withOrder = snapshot({
      positions: [long("BTCUSDT", "0.02", "100000")],
      openOrders: [
        {
          symbol: "BTCUSDT",
          positionSide: "BOTH",
          side: "BUY",
          quantity: "0.001",
          reducing: false,
          price: "99000",
        },
      ],
    });
    expect(preTradeCheck(intent({ quantity: "0.01" }, "100000"), withOrder, limits)).toEqual({
      rule: "maxPositionNotional",
      reason: "BTCUSDT position notional after the order 3099 USDT exceeds the limit 3000 USDT",
      numbers: { positionNotional: "3099", openOrdersNotional: "99", limit: "3000", markPrice: "100000" },
    });
    // A SELL that flips the long to a bigger short is judged on the short: −0.04 × 1e5 = 4000.
    expect(
      preTradeCheck(intent({ side: "SELL", quantity: "0.06" }, "100000"), s, limits)?.numbers,
    ).toMatchObject({
      positionNotional: "4000",
    });
  });

  it("maxGrossExposure: Σ |position notional| after the order + working opening orders", () => {
    const s = snapshot({ positions: [long("ETHUSDT", "-1", "2500")] });
    // ETH 2500 + BTC 0.025 × 100000 = 5000.
    expect(
      preTradeCheck(intent({ quantity: "0.025" }, "100000"), s, { maxGrossExposure: "5000" }),
    ).toBeUndefined();
    expect(
      preTradeCheck(intent({ quantity: "0.025" }, "100000"), s, { maxGrossExposure: "4999.99" }),
    ).toEqual({
      rule: "maxGrossExposure",
      reason: "gross exposure after the order 5000 USDT exceeds the limit 4999.99 USDT",
      numbers: { grossExposure: "5000", limit: "4999.99" },
    });
  });

  it("maxLeverage: gross exposure / equity, exact at the limit", () => {
    const s = snapshot({ equity: "2000", positions: [long("ETHUSDT", "2", "2500")] });
    // (5000 + 0.05 × 100000) / 2000 = 5.
    expect(preTradeCheck(intent({ quantity: "0.05" }, "100000"), s, { maxLeverage: "5" })).toBeUndefined();
    expect(preTradeCheck(intent({ quantity: "0.050001" }, "100000"), s, { maxLeverage: "5" })).toEqual({
      rule: "maxLeverage",
      reason: "account leverage after the order 5.00005 exceeds the limit 5",
      numbers: { leverage: "5.00005", grossExposure: "10000.1", equity: "2000", limit: "5" },
    });
    expect(preTradeCheck(intent(), snapshot({ equity: "0" }), { maxLeverage: "100" })?.reason).toBe(
      "equity 0 USDT is not positive: leverage is unbounded",
    );
  });

  it("maxOpenPositions: a new position beyond the limit is denied, adding to an open one passes", () => {
    const s = snapshot({ positions: [long("ETHUSDT", "1", "2500")] });
    expect(preTradeCheck(intent(), s, { maxOpenPositions: 2 })).toBeUndefined();
    expect(preTradeCheck(intent(), s, { maxOpenPositions: 1 })).toEqual({
      rule: "maxOpenPositions",
      reason: "BTCUSDT would open position 2 with 1 open, above the limit 1",
      numbers: { openPositions: "1", limit: "1" },
    });
    expect(
      preTradeCheck(intent({ symbol: "ETHUSDT", quantity: "1" }, "2500"), s, { maxOpenPositions: 1 }),
    ).toBeUndefined();
    // A working opening order on a flat symbol counts as a position.
    const pending = snapshot({
      openOrders: [
        {
          symbol: "ETHUSDT",
          positionSide: "BOTH",
          side: "BUY",
          quantity: "1",
          reducing: false,
          price: "2500",
        },
      ],
    });
    expect(preTradeCheck(intent(), pending, { maxOpenPositions: 1 })?.rule).toBe("maxOpenPositions");
  });

  it("priceBand: a limit price or a MARKET reference price more than the band from the mark", () => {
    const limits: RiskLimits = { priceBand: "0.05" };
    // 5 % of 100000 = 5000: 105000 is on the band, 105000.1 outside.
    expect(preTradeCheck(intent({}, "105000"), snapshot(), limits)).toBeUndefined();
    expect(preTradeCheck(intent({}, "105000.1"), snapshot(), limits)).toEqual({
      rule: "priceBand",
      reason: "price 105000.1 is 0.050001 from the mark 100000, outside the band 0.05",
      numbers: { price: "105000.1", markPrice: "100000", deviation: "0.050001", band: "0.05" },
    });
    const fatFinger = { type: "LIMIT" as const, price: "9500", timeInForce: "GTC" as const };
    expect(preTradeCheck(intent(fatFinger), snapshot(), limits)?.numbers["deviation"]).toBe("0.905");
    // A trigger price is not an execution price.
    const farStop = { type: "STOP_MARKET" as const, triggerPrice: "50000" };
    expect(preTradeCheck(intent(farStop), snapshot(), limits)).toBeUndefined();
  });

  it("orderRate: N orders per window of market time; orders older than the window do not count", () => {
    const limits: RiskLimits = { orderRate: { orders: 3, windowMs: 60_000 } };
    const times = [T0 - 60_000, T0 - 59_999, T0 - 1];
    expect(preTradeCheck(intent(), snapshot({ orderTimes: times }), limits)).toBeUndefined();
    expect(preTradeCheck(intent(), snapshot({ orderTimes: [...times, T0] }), limits)).toEqual({
      rule: "orderRate",
      reason: "3 orders were sent in the last 60000 ms of market time, the limit is 3",
      numbers: { recentOrders: "3", limit: "3", windowMs: "60000" },
    });
  });

  it("trading state: HALTED denies everything, REDUCING only what does not reduce", () => {
    const s = (tradingState: RiskSnapshot["tradingState"]) =>
      snapshot({ tradingState, positions: [long("BTCUSDT", "0.02", "100000")] });
    const close = { side: "SELL" as const, reduceOnly: true, quantity: "0.02", purpose: "FLATTEN" as const };
    expect(preTradeCheck(intent(close), s("HALTED"), {})).toEqual({
      rule: "tradingStateHalted",
      reason: "trading is HALTED: no order passes",
      numbers: {},
    });
    expect(preTradeCheck(intent(close), s("REDUCING"), {})).toBeUndefined();
    // A SELL no larger than the long reduces even without reduceOnly; a larger one would flip it.
    expect(preTradeCheck(intent({ side: "SELL", quantity: "0.02" }), s("REDUCING"), {})).toBeUndefined();
    expect(preTradeCheck(intent({ side: "SELL", quantity: "0.021" }), s("REDUCING"), {})).toEqual({
      rule: "tradingStateReducing",
      reason: "trading is REDUCING: only orders that reduce a position pass",
      numbers: { positionAmt: "0.02" },
    });
    expect(preTradeCheck(intent(), s("REDUCING"), {})?.rule).toBe("tradingStateReducing");
    expect(preTradeCheck(intent(), snapshot({ tradingState: "REDUCING" }), {})?.numbers).toEqual({
      positionAmt: "0",
    });
  });

  it("hedge mode: a close of a side (SELL on LONG, BUY on SHORT) reduces like a reduce-only order, per side", () => {
    const s = snapshot({
      tradingState: "REDUCING",
      positions: [
        { symbol: "BTCUSDT", positionSide: "LONG", positionAmt: "0.02", markPrice: "100000" },
        { symbol: "BTCUSDT", positionSide: "SHORT", positionAmt: "-0.01", markPrice: "100000" },
      ],
    });
    const limits: RiskLimits = { maxOrderNotional: "1", maxPositionNotional: "1", maxGrossExposure: "1" };
    // Larger than its side: still only a close (the venue caps it), so it passes REDUCING and the exposure limits.
    const closeLong = intent({ side: "SELL", positionSide: "LONG", quantity: "0.05", purpose: "FLATTEN" });
    expect(preTradeCheck(closeLong, s, limits)).toBeUndefined();
    const closeShort = intent({ side: "BUY", positionSide: "SHORT", quantity: "0.01", purpose: "FLATTEN" });
    expect(preTradeCheck(closeShort, s, limits)).toBeUndefined();
    // Adding to a side is not a close, even though it offsets the other side.
    const addShort = intent({ side: "SELL", positionSide: "SHORT", quantity: "0.01" });
    expect(preTradeCheck(addShort, s, limits)).toMatchObject({
      rule: "tradingStateReducing",
      numbers: { positionAmt: "-0.01" },
    });
    // A close of a flat side reduces nothing.
    const flat = snapshot({ tradingState: "REDUCING" });
    expect(preTradeCheck(closeLong, flat, {})?.rule).toBe("tradingStateReducing");
  });

  it("a reduce-only order that reduces passes every exposure, price and rate limit", () => {
    const limits: RiskLimits = {
      maxOrderNotional: "1",
      maxPositionNotional: "1",
      maxGrossExposure: "1",
      maxLeverage: "0.001",
      maxOpenPositions: 0,
      priceBand: "0.0001",
      orderRate: { orders: 1, windowMs: 60_000 },
    };
    const s = snapshot({ positions: [long("BTCUSDT", "0.02", "100000")], orderTimes: [T0] });
    const stop = {
      side: "SELL" as const,
      type: "STOP_MARKET" as const,
      triggerPrice: "90000",
      reduceOnly: true,
    };
    expect(preTradeCheck(intent({ ...stop, quantity: "0.02" }), s, limits)).toBeUndefined();
    // Without the position to reduce, the same order meets the limits.
    expect(
      preTradeCheck(intent({ ...stop, quantity: "0.02" }), snapshot({ orderTimes: [T0] }), limits)?.rule,
    ).toBe("orderRate");
  });

  it("an order that cannot be valued is denied by a rule that needs a price, with the reason", () => {
    const s = snapshot({ marks: {} });
    expect(preTradeCheck(intent(), s, { maxOrderNotional: "1000" })).toEqual({
      rule: "maxOrderNotional",
      reason: "maxOrderNotional: no price to value the BTCUSDT order at (no mark yet and no order price)",
      numbers: {},
    });
  });
});

describe("state rules", () => {
  const limits: RiskLimits = { maxDrawdown: "0.15", dailyLossLimit: "500" };

  it("drawdown: equity at peak × (1 − 0.15) halts, a cent above does not", () => {
    const at = snapshot({ peakEquity: "12000", equity: "10200" });
    expect(decideTradingState(at, limits, { state: "ACTIVE" })).toEqual({
      from: "ACTIVE",
      to: "HALTED",
      by: "drawdownHalt",
      reason: "equity 10200 USDT fell 0.15 below the peak 12000 USDT (limit 0.15)",
      numbers: {
        equity: "10200",
        peakEquity: "12000",
        drawdown: "0.15",
        maxDrawdown: "0.15",
        haltEquity: "10200",
      },
    });
    expect(
      decideTradingState(snapshot({ peakEquity: "12000", equity: "10200.01" }), limits, { state: "ACTIVE" }),
    ).toBe(undefined);
    expect(decideTradingState(at, limits, { state: "REDUCING", by: "operator" })?.to).toBe("HALTED");
  });

  it("daily loss: −limit moves to REDUCING (or the configured action), a new UTC day back to ACTIVE", () => {
    const breach = snapshot({ realizedToday: "-500" });
    expect(decideTradingState(breach, limits, { state: "ACTIVE" })).toEqual({
      from: "ACTIVE",
      to: "REDUCING",
      by: "dailyLossLimit",
      reason: "net realized PnL of 2025-05-05 -500 USDT reached the daily loss limit 500 USDT",
      numbers: { realizedToday: "-500", dailyLossLimit: "500" },
    });
    expect(
      decideTradingState(snapshot({ realizedToday: "-499.99" }), limits, { state: "ACTIVE" }),
    ).toBeUndefined();
    expect(
      decideTradingState(breach, { ...limits, dailyLossAction: "HALTED" }, { state: "ACTIVE" })?.to,
    ).toBe("HALTED");
    const reduced = { state: "REDUCING" as const, by: "dailyLossLimit", since: T0 };
    expect(decideTradingState(breach, limits, reduced)).toBeUndefined();
    expect(decideTradingState(snapshot({ time: T0 + 11 * 3_600_000 }), limits, reduced)).toBeUndefined();
    expect(decideTradingState(snapshot({ time: T0 + 12 * 3_600_000 }), limits, reduced)).toMatchObject({
      from: "REDUCING",
      to: "ACTIVE",
      by: "dailyLossLimit",
    });
    // An operator's REDUCING is not lifted by the day's reset.
    expect(
      decideTradingState(snapshot({ time: T0 + 86_400_000 }), limits, { ...reduced, by: "operator" }),
    ).toBeUndefined();
  });

  it("property: once HALTED by the drawdown, no equity or PnL path lifts it; only an operator resume does", () => {
    const amount = fc.integer({ min: 0, max: 10_000_000 }).map((c) => (c / 100).toFixed(2));
    fc.assert(
      fc.property(
        fc.array(fc.record({ equity: amount, loss: amount, hours: fc.integer({ min: 0, max: 48 }) }), {
          minLength: 1,
          maxLength: 50,
        }),
        (path) => {
          let current = {
            state: "ACTIVE" as RiskSnapshot["tradingState"],
            by: undefined as string | undefined,
            since: T0,
          };
          let peak = 10000;
          let time = T0;
          let haltedByDrawdown = false;
          for (const step of path) {
            time += step.hours * 3_600_000;
            peak = Math.max(peak, Number(step.equity));
            const s = snapshot({
              time,
              equity: step.equity,
              peakEquity: peak.toFixed(2),
              realizedToday: `-${step.loss}`,
              tradingState: current.state,
            });
            const change = decideTradingState(s, limits, current);
            if (haltedByDrawdown && change !== undefined) return false;
            if (change) {
              if (change.from !== current.state) return false;
              current = { state: change.to, by: change.by, since: time };
              if (change.by === "drawdownHalt") haltedByDrawdown = true;
            }
            if (haltedByDrawdown && current.state !== "HALTED") return false;
          }
          // An operator resume lifts it; with equity back at the peak nothing halts again.
          const resumed = { state: "ACTIVE" as const, by: "operator", since: time };
          const healthy = snapshot({ time, equity: "10000", peakEquity: "10000", realizedToday: "0" });
          return decideTradingState(healthy, limits, resumed) === undefined;
        },
      ),
    );
  });
});

describe("pre-trade rule properties", () => {
  const price = fc.integer({ min: 1, max: 2_000_000 }).map((c) => (c / 100).toFixed(2));
  const qty = fc.integer({ min: 1, max: 100_000 }).map((c) => (c / 1000).toFixed(3));
  const symbol = fc.constantFrom("BTCUSDT", "ETHUSDT", "SOLUSDT");
  const usdt = fc.integer({ min: 1, max: 10_000_000 }).map((c) => (c / 10).toFixed(1));
  const account = fc.record({
    positions: fc.uniqueArray(fc.record({ symbol, amt: qty, short: fc.boolean(), mark: price }), {
      selector: (p) => p.symbol,
      maxLength: 3,
    }),
    equity: usdt,
    order: fc.record({
      symbol,
      side: fc.constantFrom("BUY" as const, "SELL" as const),
      quantity: qty,
      ref: price,
    }),
    limits: fc.record(
      {
        maxOrderNotional: usdt,
        maxPositionNotional: usdt,
        maxGrossExposure: usdt,
        maxLeverage: fc.integer({ min: 1, max: 100 }).map(String),
        maxOpenPositions: fc.integer({ min: 1, max: 4 }),
        priceBand: fc.integer({ min: 1, max: 99 }).map((c) => `0.${String(c).padStart(2, "0")}`),
      },
      { requiredKeys: [] },
    ),
  });
  type Account = typeof account extends fc.Arbitrary<infer T> ? T : never;
  const build = ({ positions, equity, order: o }: Account) => {
    const marks: Record<string, string> = { BTCUSDT: "100", ETHUSDT: "100", SOLUSDT: "100" };
    for (const p of positions) marks[p.symbol] = p.mark;
    return {
      s: snapshot({
        equity,
        marks,
        positions: positions.map((p) => long(p.symbol, p.short ? `-${p.amt}` : p.amt, p.mark)),
      }),
      i: intent({ symbol: o.symbol, side: o.side, quantity: o.quantity }, o.ref),
    };
  };

  it("loosening every limit never turns a pass into a denial", () => {
    fc.assert(
      fc.property(account, fc.integer({ min: 1, max: 5 }), (a, factor) => {
        const { s, i } = build(a);
        if (preTradeCheck(i, s, a.limits) !== undefined) return true;
        const l = a.limits;
        const times = (v: string | undefined) => (v === undefined ? undefined : String(Number(v) * factor));
        const looser: RiskLimits = {
          ...(l.maxOrderNotional ? { maxOrderNotional: times(l.maxOrderNotional)! } : {}),
          ...(l.maxPositionNotional ? { maxPositionNotional: times(l.maxPositionNotional)! } : {}),
          ...(l.maxGrossExposure ? { maxGrossExposure: times(l.maxGrossExposure)! } : {}),
          ...(l.maxLeverage ? { maxLeverage: times(l.maxLeverage)! } : {}),
          ...(l.maxOpenPositions ? { maxOpenPositions: l.maxOpenPositions + factor } : {}),
        };
        if (l.priceBand) looser.priceBand = l.priceBand;
        return preTradeCheck(i, s, looser) === undefined;
      }),
    );
  });

  it("a reduce-only order that reduces its position passes any limits unless HALTED", () => {
    fc.assert(
      fc.property(account, fc.constantFrom("ACTIVE" as const, "REDUCING" as const), (a, state) => {
        const { s } = build(a);
        const p = s.positions[0];
        if (p === undefined) return true;
        const amt = Number(p.positionAmt);
        const close = intent({
          symbol: p.symbol,
          side: amt > 0 ? "SELL" : "BUY",
          quantity: p.positionAmt.replace("-", ""),
          reduceOnly: true,
        });
        const tight: RiskLimits = {
          ...a.limits,
          maxOrderNotional: "0.1",
          maxOpenPositions: 1,
          orderRate: { orders: 1, windowMs: 1 },
        };
        const denial = preTradeCheck(close, { ...s, tradingState: state, orderTimes: [s.time] }, tight);
        return (
          denial === undefined &&
          preTradeCheck(close, { ...s, tradingState: "HALTED" }, tight)?.rule === "tradingStateHalted"
        );
      }),
    );
  });
});
