/**
 * The kernel runs any module of the strategy port: a toy strategy declared on 5m bars (aggregated from 1m by the
 * strategy actor, strategies.md §0) enters LONG at the close of its third 5m bar with a bracket; the engine
 * records the decision with the strategy's name and params version, executes the entry and protects the fill —
 * without naming the strategy anywhere. Its inputs are exactly the 5m bars of the 1m feed, and a 1m gap reaches
 * it as a partial 5m bar, not a reset.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SimulatedVenue } from "../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { TradingEngine } from "../src/engine/trading-engine.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import type { Strategy, StrategyBar } from "../src/strategies/strategy.ts";
import { bar, dataOf, T0 } from "./support/scenario.ts";

type ToyState = { seen: StrategyBar[]; gaps: number; entered: boolean };
const toy: Strategy<{ quantity: string }, ToyState> = {
  name: "toy-5m",
  configKey: "toy5m",
  paramsVersion: 3,
  params: z.strictObject({ quantity: z.string() }),
  inputs: () => ({ intervals: ["5m"], funding: false }),
  warmupBars: () => 0,
  symbolSettings: () => ({ leverage: 5, marginType: "CROSSED" as const }),
  init: () => ({ seen: [], gaps: 0, entered: false }),
  isWarm: (state) => state.seen.length >= 3,
  step(state, input, { params }, position) {
    if (input.kind === "gap")
      return { state: { ...state, gaps: state.gaps + 1 }, decision: { kind: "none" } };
    if (input.kind !== "bar") return { state, decision: { kind: "none" } };
    const seen = [...state.seen, input.bar];
    if (seen.length < 3 || state.entered || position.open)
      return { state: { ...state, seen }, decision: { kind: "none" } };
    return {
      state: { ...state, seen, entered: true },
      decision: {
        kind: "entry",
        direction: "LONG",
        quantity: params.quantity,
        referencePrice: input.bar.close,
        stopPrice: input.bar.low,
        takeProfitRiskMultiple: "2",
        signal: { bars: seen.length },
      },
    };
  },
};

const ohlc = (i: number): [string, string, string, string] => {
  const p = 2000 + i;
  return [`${p}`, `${p + 3}`, `${p - 2}`, `${p + 1}`];
};

describe("the strategy port", () => {
  it("a 5m strategy decides on aggregated bars; the engine executes and brackets its entry", async () => {
    const store = new InMemoryEventStore();
    const venue = new SimulatedVenue({ takerRate: "0.0005", slippage: "0", instrument: getInstrument });
    const engine = new TradingEngine({
      store,
      venue,
      runId: "port",
      accountId: "main",
      strategy: toy,
      params: { quantity: "0.5" },
      instrument: getInstrument,
      brackets: () => [],
      symbols: ["ETHUSDT"],
    });
    await engine.openAccount("10000", { causationId: "t", eventTime: T0 });
    // Minutes 0..17 without minute 7: three 5m buckets (the second one partial), then the entry fills at 15's close+1.
    for (let i = 0; i < 18; i++) {
      if (i === 7) continue;
      const b = bar("ETHUSDT", i, ohlc(i));
      if (i === 8)
        await engine.onGap(
          { symbol: "ETHUSDT", fromOpenTime: T0 + 7 * 60_000, toOpenTime: b.openTime, missingBars: 1 },
          b.openTime,
        );
      await venue.matchBar(b, engine.onVenueReport);
      await engine.onBar(b);
    }
    const events: RecordedEvent[] = [];
    for await (const e of store.readAll()) events.push(e);

    const [signal] = dataOf(events, "EntrySignalled");
    // The third 5m bar is minutes 10..14: open of 10, extremes of 10..14, close of 14.
    expect(signal).toMatchObject({
      strategy: "toy-5m",
      paramsVersion: 3,
      barOpenTime: T0 + 10 * 60_000,
      referencePrice: "2015",
      stopPrice: "2008",
      quantity: "0.5",
      signal: { bars: 3 },
    });
    const state = engine.checkpoint().symbols[0]!.strategy.state as ToyState;
    expect(state.gaps).toBe(0); // a 1m hole is a partial 5m bar, not a 5m gap
    expect(state.seen.map((b) => [b.openTime - T0, b.open, b.high, b.low, b.close, b.partial])).toEqual([
      [0, "2000", "2007", "1998", "2005", false],
      [5 * 60_000, "2005", "2012", "2003", "2010", true],
      [10 * 60_000, "2010", "2017", "2008", "2015", false],
    ]);
    // Entry at the open of minute 15 (2015), stop 2008 → risk 7, take-profit 2015 + 2 × 7 = 2029.
    const [protection] = dataOf(events, "PositionProtectionRequested");
    expect(protection).toMatchObject({
      entryPrice: "2015",
      stopPrice: "2008.00",
      takeProfitPrice: "2029.00",
      quantity: "0.5",
    });
    expect(engine.warmFrom()).toEqual({ ETHUSDT: T0 + 15 * 60_000 - 1 });
  });
});

/** Targets a fixed list of positions, one per 1m bar. */
const targets = (list: string[]): Strategy<Record<string, never>, { i: number }> => ({
  name: "toy-target",
  configKey: "toyTarget",
  paramsVersion: 1,
  params: z.strictObject({}),
  inputs: () => ({ intervals: ["1m"], funding: false }),
  warmupBars: () => 0,
  symbolSettings: () => ({ leverage: 5, marginType: "CROSSED" as const }),
  init: () => ({ i: 0 }),
  isWarm: () => true,
  step(state, input) {
    if (input.kind !== "bar" || state.i >= list.length) return { state, decision: { kind: "none" } };
    return {
      state: { i: state.i + 1 },
      decision: {
        kind: "target",
        positionAmt: list[state.i]!,
        referencePrice: input.bar.close,
        signal: { i: state.i },
      },
    };
  },
});

describe("target positions", () => {
  it("moves the position with one MARKET order per change, reduce-only when it only reduces", async () => {
    const store = new InMemoryEventStore();
    const venue = new SimulatedVenue({ takerRate: "0.0005", slippage: "0", instrument: getInstrument });
    // ETHUSDT: MARKET_LOT_SIZE step 0.001, MIN_NOTIONAL 20 USDT; prices around 2000.
    const list = ["1", "1", "0.4", "-0.5", "-0.5005", "-0.509", "0"];
    const engine = new TradingEngine({
      store,
      venue,
      runId: "targets",
      accountId: "main",
      strategy: targets(list),
      params: {},
      instrument: getInstrument,
      brackets: () => [],
      symbols: ["ETHUSDT"],
    });
    await engine.openAccount("100000", { causationId: "t", eventTime: T0 });
    const positions: string[] = [];
    for (let i = 0; i <= list.length; i++) {
      const b = bar("ETHUSDT", i, ohlc(i));
      await venue.matchBar(b, engine.onVenueReport);
      positions.push(engine.accountState.positions.ETHUSDT?.positionAmt ?? "0");
      await engine.onBar(b);
    }
    const events: RecordedEvent[] = [];
    for await (const e of store.readAll()) events.push(e);
    const set = dataOf(events, "TargetPositionSet");
    expect(set.map((s) => [s.targetPositionAmt, s.positionAmt, s.clientOrderId ?? s.reason])).toEqual([
      ["1", "0", "ps-ETHUSDT-000001-T"],
      ["1", "1", "atTarget"],
      ["0.4", "1", "ps-ETHUSDT-000002-T"],
      ["-0.5", "0.4", "ps-ETHUSDT-000003-T"],
      ["-0.5005", "-0.5", "belowMinNotional"], // 0.0005 floors to 0 at the 0.001 step
      ["-0.509", "-0.5", "belowMinNotional"], // 0.009 × ~2005 = 18 USDT < 20
      ["0", "-0.5", "ps-ETHUSDT-000004-T"],
    ]);
    const orders = dataOf(events, "OrderSubmitted");
    expect(orders.map((o) => [o.side, o.quantity, o.reduceOnly, o.purpose])).toEqual([
      ["BUY", "1.000", false, "TARGET"],
      ["SELL", "0.600", true, "TARGET"],
      ["SELL", "0.900", false, "TARGET"], // a flip: not reduce-only
      ["BUY", "0.500", true, "TARGET"],
    ]);
    // Each order fills at the next bar's open: the position seen before each bar's decision.
    expect(positions).toEqual(["0", "1", "1", "0.4", "-0.5", "-0.5", "-0.5", "0"]);
  });

  it("hedge mode: each side moves on its own, a flip closes one side and opens the other, no reduceOnly", async () => {
    const store = new InMemoryEventStore();
    const venue = new SimulatedVenue({
      takerRate: "0.0005",
      slippage: "0",
      instrument: getInstrument,
      dualSidePosition: true,
    });
    const list = ["1", "0.4", "-0.5", "-0.509", "-0.3", "0.2", "0"];
    const engine = new TradingEngine({
      store,
      venue,
      runId: "hedge-targets",
      accountId: "main",
      strategy: targets(list),
      params: {},
      instrument: getInstrument,
      brackets: () => [],
      symbols: ["ETHUSDT"],
      dualSidePosition: true,
    });
    await engine.openAccount("100000", { causationId: "t", eventTime: T0 });
    const sides: string[] = [];
    for (let i = 0; i <= list.length; i++) {
      const b = bar("ETHUSDT", i, ohlc(i));
      await venue.matchBar(b, engine.onVenueReport);
      const p = engine.accountState.positions;
      sides.push(`${p["ETHUSDT:LONG"]?.positionAmt ?? "0"}/${p["ETHUSDT:SHORT"]?.positionAmt ?? "0"}`);
      await engine.onBar(b);
    }
    const events: RecordedEvent[] = [];
    for await (const e of store.readAll()) events.push(e);
    expect(dataOf(events, "AccountOpened")[0]!.dualSidePosition).toBe(true);
    const set = dataOf(events, "TargetPositionSet");
    expect(
      set.map((s) => [
        s.targetPositionAmt,
        s.positionAmt,
        s.clientOrderId ?? s.reason,
        s.secondClientOrderId,
      ]),
    ).toEqual([
      ["1", "0", "ps-ETHUSDT-000001-T", undefined],
      ["0.4", "1", "ps-ETHUSDT-000002-T", undefined],
      ["-0.5", "0.4", "ps-ETHUSDT-000003-T", "ps-ETHUSDT-000004-T"], // the flip: close LONG, open SHORT
      ["-0.509", "-0.5", "belowMinNotional", undefined], // 0.009 × ~2015 < 20 USDT, as in one-way mode
      ["-0.3", "-0.5", "ps-ETHUSDT-000005-T", undefined], // a partial close of the SHORT
      ["0.2", "-0.3", "ps-ETHUSDT-000006-T", "ps-ETHUSDT-000007-T"],
      ["0", "0.2", "ps-ETHUSDT-000008-T", undefined],
    ]);
    const orders = dataOf(events, "OrderSubmitted");
    expect(orders.map((o) => [o.side, o.positionSide, o.quantity, o.reduceOnly])).toEqual([
      ["BUY", "LONG", "1.000", false],
      ["SELL", "LONG", "0.600", false],
      ["SELL", "LONG", "0.400", false],
      ["SELL", "SHORT", "0.500", false],
      ["BUY", "SHORT", "0.200", false],
      ["BUY", "SHORT", "0.300", false],
      ["BUY", "LONG", "0.200", false],
      ["SELL", "LONG", "0.200", false],
    ]);
    // LONG/SHORT seen before each bar's decision: never both open at once after a flip's bar.
    expect(sides).toEqual(["0/0", "1/0", "0.4/0", "0/-0.5", "0/-0.5", "0/-0.3", "0.2/0", "0/0"]);
  });

  it("sends no new order while the last one is still working", async () => {
    const store = new InMemoryEventStore();
    const venue = new SimulatedVenue({ takerRate: "0.0005", slippage: "0", instrument: getInstrument });
    const engine = new TradingEngine({
      store,
      venue,
      runId: "pending",
      accountId: "main",
      strategy: targets(["1", "2"]),
      params: {},
      instrument: getInstrument,
      brackets: () => [],
      symbols: ["ETHUSDT"],
    });
    await engine.openAccount("100000", { causationId: "t", eventTime: T0 });
    // Two closes in a row without a bar open in between: the first order has not filled yet.
    await venue.matchBar(bar("ETHUSDT", 0, ohlc(0)), engine.onVenueReport);
    await engine.onBar(bar("ETHUSDT", 0, ohlc(0)));
    await engine.onBar(bar("ETHUSDT", 1, ohlc(1)));
    const events: RecordedEvent[] = [];
    for await (const e of store.readAll()) events.push(e);
    expect(dataOf(events, "TargetPositionSet").map((s) => s.clientOrderId ?? s.reason)).toEqual([
      "ps-ETHUSDT-000001-T",
      "orderPending",
    ]);
  });
});
