/**
 * Small runs of the real trading engine and simulated venue whose logs exercise the decision trace: a target
 * strategy recording factors (an order that fills, one the risk engine denies, factors without a decision, a
 * hold, a decision on a gap); an entry whose stop-loss the risk engine denies, so the position is flattened; an
 * entry filled beyond its stop (flattened at once); a flip in hedge mode (two orders for one decision).
 */
import { z } from "zod";
import { InMemoryEventStore } from "../../src/adapters/store/memory.ts";
import { SimulatedVenue } from "../../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../../src/domain/instruments.ts";
import type { RiskLimits } from "../../src/domain/risk/types.ts";
import { TradingEngine } from "../../src/engine/trading-engine.ts";
import type { RecordedEvent } from "../../src/events/envelope.ts";
import type { FactorValue, Strategy, StrategyDecision } from "../../src/strategies/strategy.ts";
import { bar, T0 } from "./scenario.ts";

/** Minute i's bar of ETHUSDT: open 2000 + i, high +3, low −2, close 2001 + i. */
export const ohlc = (i: number): [string, string, string, string] => {
  const p = 2000 + i;
  return [`${p}`, `${p + 3}`, `${p - 2}`, `${p + 1}`];
};

/** What the scripted strategy does at its i-th 1m bar (given the bar's close). */
type Step = (close: string) => { decision: StrategyDecision; factors?: Record<string, FactorValue> };

const target = (positionAmt: string, close: string, extra: { hold?: "band" } = {}): StrategyDecision => ({
  kind: "target",
  positionAmt,
  referencePrice: close,
  signal: { positionAmt },
  ...extra,
});

/**
 * The target run's script, one step per bar: 0 target 1 with factors (fills at bar 1's open, 2001); 1 target 3
 * with factors (a 2 ETH move, ~4004 USDT: denied by maxOrderNotional 3000); 2 factors, no decision; 3 a hold
 * (band), no factors; then nothing, and the gap before bar 6 sends the target to 0 with factors (fills at bar
 * 6's open, 2006).
 */
const targetScript: Step[] = [
  (close) => ({ decision: target("1", close), factors: { score: 0.5, price: close, warm: true } }),
  (close) => ({ decision: target("3", close), factors: { score: 1.5, price: close, warm: true } }),
  () => ({ decision: { kind: "none" }, factors: { score: null, price: null, warm: false } }),
  (close) => ({ decision: target("1", close, { hold: "band" }) }),
];

type ScriptState = { i: number; close: string };

const scripted: Strategy<Record<string, never>, ScriptState> = {
  name: "toy-scripted",
  configKey: "toyScripted",
  paramsVersion: 2,
  params: z.strictObject({}),
  inputs: () => ({ intervals: ["1m"], funding: false }),
  warmupBars: () => 0,
  symbolSettings: () => ({ leverage: 5, marginType: "CROSSED" as const }),
  init: () => ({ i: 0, close: "0" }),
  isWarm: () => true,
  step(state, input) {
    if (input.kind === "gap")
      return { state, decision: target("0", state.close), factors: { gap: true, score: 0 } };
    if (input.kind !== "bar") return { state, decision: { kind: "none" } };
    const next = { i: state.i + 1, close: input.bar.close };
    const step = targetScript[state.i];
    if (!step) return { state: next, decision: { kind: "none" } };
    const { decision, factors } = step(input.bar.close);
    return { state: next, decision, ...(factors ? { factors } : {}) };
  },
};

/** Enters `direction` 1 ETH at its first bar with the stop at `stopPrice`, take-profit 1× the risk; then nothing. */
const entryOnce = (
  direction: "LONG" | "SHORT",
  stopPrice: string,
): Strategy<Record<string, never>, { entered: boolean }> => ({
  name: "toy-entry",
  configKey: "toyEntry",
  paramsVersion: 1,
  params: z.strictObject({}),
  inputs: () => ({ intervals: ["1m"], funding: false }),
  warmupBars: () => 0,
  symbolSettings: () => ({ leverage: 5, marginType: "CROSSED" as const }),
  init: () => ({ entered: false }),
  isWarm: () => true,
  step(state, input) {
    if (input.kind !== "bar" || state.entered) return { state, decision: { kind: "none" } };
    return {
      state: { entered: true },
      decision: {
        kind: "entry",
        direction,
        quantity: "1",
        referencePrice: input.bar.close,
        stopPrice,
        takeProfitRiskMultiple: "1",
        signal: { bar: 0 },
      },
    };
  },
});

/** Targets `list[i]` at its i-th bar (no factors); then nothing. */
const targetList = (list: string[]): Strategy<Record<string, never>, { i: number }> => ({
  name: "toy-targets",
  configKey: "toyTargets",
  paramsVersion: 1,
  params: z.strictObject({}),
  inputs: () => ({ intervals: ["1m"], funding: false }),
  warmupBars: () => 0,
  symbolSettings: () => ({ leverage: 5, marginType: "CROSSED" as const }),
  init: () => ({ i: 0 }),
  isWarm: () => true,
  step(state, input) {
    if (input.kind !== "bar" || state.i >= list.length) return { state, decision: { kind: "none" } };
    return { state: { i: state.i + 1 }, decision: target(list[state.i]!, input.bar.close) };
  },
});

/** A finished engine run: its store (still open) and its whole log. */
export interface DecisionRun {
  store: InMemoryEventStore;
  events: RecordedEvent[];
}

/** How a run is set up: its risk limits, its bars (minutes 0..minutes−1, a 1m gap before `gapBefore`), hedge mode. */
interface RunOptions {
  riskLimits?: RiskLimits;
  minutes: number;
  gapBefore?: number;
  dualSidePosition?: boolean;
}

async function run<S>(
  strategy: Strategy<Record<string, never>, S>,
  runId: string,
  { riskLimits = {}, minutes, gapBefore, dualSidePosition = false }: RunOptions,
): Promise<DecisionRun> {
  const store = new InMemoryEventStore();
  const venue = new SimulatedVenue({
    takerRate: "0.0005",
    slippage: "0",
    instrument: getInstrument,
    dualSidePosition,
  });
  const engine = new TradingEngine({
    store,
    venue,
    runId,
    accountId: "main",
    strategy: strategy as Strategy<Record<string, never>, unknown>,
    params: {},
    instrument: getInstrument,
    brackets: () => [],
    symbols: ["ETHUSDT"],
    riskLimits,
    dualSidePosition,
  });
  await engine.openAccount("100000", { causationId: "t", eventTime: T0 });
  for (let i = 0; i < minutes; i++) {
    if (gapBefore !== undefined && i === gapBefore - 1) continue;
    const b = bar("ETHUSDT", i, ohlc(i));
    if (i === gapBefore)
      await engine.onGap(
        { symbol: "ETHUSDT", fromOpenTime: T0 + (i - 1) * 60_000, toOpenTime: b.openTime, missingBars: 1 },
        b.openTime,
      );
    await venue.matchBar(b, engine.onVenueReport);
    await engine.onBar(b);
  }
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  return { store, events };
}

/** The target run (see `targetScript`): bars 0..7 without bar 5, maxOrderNotional 3000 USDT. */
export function targetRun(): Promise<DecisionRun> {
  return run(scripted, "targets", { riskLimits: { maxOrderNotional: "3000" }, minutes: 8, gapBefore: 6 });
}

/**
 * The bracket run: SHORT 1 ETH at bar 0's close (2001), filled at bar 1's open (2001). The fill's commission
 * (1.0005 USDT) breaches the daily loss limit of 1 USDT, which halts trading: the stop-loss is denied
 * (tradingStateHalted), the position is unprotected, and the flatten sent for it is denied too.
 */
export function bracketRun(): Promise<DecisionRun> {
  const riskLimits: RiskLimits = { dailyLossLimit: "1", dailyLossAction: "HALTED" };
  return run(entryOnce("SHORT", "2300"), "bracket", { riskLimits, minutes: 4 });
}

/**
 * LONG 1 ETH at bar 0's close (2001) with its stop at 2002: the fill at bar 1's open (2001) is at or below the
 * stop, so there is no risk to bracket (InvalidRiskAtFill) and the position is flattened at once (the flatten,
 * sent while the venue matches bar 1, fills at bar 1's open too).
 */
export function invalidRiskRun(): Promise<DecisionRun> {
  return run(entryOnce("LONG", "2002"), "invalid-risk", { minutes: 4 });
}

/** Hedge mode: LONG 1, then a flip to SHORT 0.5 (two orders: close the LONG, open the SHORT), then flat. */
export function hedgeFlipRun(): Promise<DecisionRun> {
  return run(targetList(["1", "-0.5", "0"]), "hedge-flip", { minutes: 5, dualSidePosition: true });
}
