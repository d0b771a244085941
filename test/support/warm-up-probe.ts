/**
 * A test strategy that records what reached it: 1h bars (aggregated from 1m by the strategy actor) with their
 * taker buy volume, and funding settlements, from its warm-up on. It never trades; at each 1h bar it reports its
 * running tallies as factors (FactorComputed), so two runs' logs show whether their strategies saw the same
 * inputs — warm-up included, which is otherwise only in the strategy's state. Registered by tests that mock the
 * registry (`withWarmUpProbe`).
 */
import { Decimal } from "decimal.js";
import { z } from "zod";
import type { AnyStrategy, Strategy, StrategyInput } from "../../src/strategies/strategy.ts";

/** What the probe has seen so far (plain JSON, never mutated in place). */
export interface ProbeState {
  bars: number;
  partialBars: number;
  /** 1h bars with a taker buy volume, and the exact sum of it. */
  takerBars: number;
  takerSum: string;
  gaps: number;
  fundings: number;
  firstFundingTime: number | null;
  /** The last settled rate, and the one in force when the first bar closed (as-of funding). */
  lastRate: number | null;
  rateAtFirstBar: number | null;
  firstBarOpenTime: number | null;
}

/** The probe's name; warm-up: `warmupBars` 1h bars (default multifactor-v2's 979). */
export const warmUpProbe: Strategy<{ warmupBars: number }, ProbeState> = {
  name: "warm-up-probe",
  configKey: "warmUpProbe",
  paramsVersion: 1,
  params: z.strictObject({ warmupBars: z.number().int().nonnegative().default(979) }),
  inputs: () => ({ intervals: ["1h"], funding: true }),
  warmupBars: (params) => params.warmupBars,
  symbolSettings: () => ({ leverage: 1, marginType: "CROSSED" as const }),
  init: () => ({
    bars: 0,
    partialBars: 0,
    takerBars: 0,
    takerSum: "0",
    gaps: 0,
    fundings: 0,
    firstFundingTime: null,
    lastRate: null,
    rateAtFirstBar: null,
    firstBarOpenTime: null,
  }),
  isWarm: (state) => state.bars > 0,
  step(state, input: StrategyInput) {
    if (input.kind === "funding") {
      const next = {
        ...state,
        fundings: state.fundings + 1,
        firstFundingTime: state.firstFundingTime ?? input.funding.fundingTime,
        lastRate: Number(input.funding.fundingRate), // as a float64 strategy reads it: "0.0001" = "0.00010000"
      };
      return { state: next, decision: { kind: "none" } };
    }
    if (input.kind === "gap")
      return { state: { ...state, gaps: state.gaps + 1 }, decision: { kind: "none" } };
    const { bar } = input;
    const taker = bar.takerBuyVolume;
    const next: ProbeState = {
      ...state,
      bars: state.bars + 1,
      partialBars: state.partialBars + (bar.partial ? 1 : 0),
      takerBars: state.takerBars + (taker === undefined ? 0 : 1),
      takerSum: taker === undefined ? state.takerSum : new Decimal(state.takerSum).plus(taker).toFixed(),
      firstBarOpenTime: state.firstBarOpenTime ?? bar.openTime,
      rateAtFirstBar: state.bars === 0 ? state.lastRate : state.rateAtFirstBar,
    };
    return {
      state: next,
      decision: { kind: "none" },
      factors: { ...next, takerBuyVolume: taker ?? null },
    };
  },
};

/** The registry module with the probe added (for `vi.mock` of src/strategies/registry.ts). */
export function withWarmUpProbe(registry: {
  getStrategy: (name: string) => AnyStrategy;
  strategyNames: readonly string[];
  strategyParams: (strategy: AnyStrategy, config: object) => unknown;
}) {
  return {
    ...registry,
    strategyNames: [...registry.strategyNames, warmUpProbe.name].sort(),
    getStrategy: (name: string) => (name === warmUpProbe.name ? warmUpProbe : registry.getStrategy(name)),
  };
}
