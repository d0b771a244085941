/**
 * `sma-cross` on the strategy port (strategies.md §2): 1m bars in, at most one bracketed entry per crossover out.
 * The rules themselves are in rules.ts; this module maps them onto the port.
 */
import type { Strategy } from "../strategy.ts";
import { type SmaCrossConfig, smaCrossParamsSchema } from "./params.ts";
import {
  initialSmaCrossState,
  resetSmaCross,
  type SmaCrossState,
  smaCrossStateFromJson,
  smaCrossStateToJson,
  stepSmaCross,
} from "./rules.ts";

const NONE = { kind: "none" } as const;

/** The sma-cross strategy module. */
export const smaCross: Strategy<SmaCrossConfig, SmaCrossState> = {
  name: "sma-cross",
  configKey: "smaCross",
  paramsVersion: 1,
  params: smaCrossParamsSchema,
  inputs: () => ({ intervals: ["1m"], funding: false }),
  // Both SMAs are valid after smaLong bars, so the next bar can already be a crossover (strategies.md §2.3).
  warmupBars: (params) => params.smaLong,
  symbolSettings: ({ leverage, marginType }) => ({ leverage, marginType }),
  init: ({ params }) => initialSmaCrossState(params),
  isWarm: (state, params) => state.barCount >= params.smaLong,
  // The state is immutable but not plain data (its windows share buffers): checkpoints hold its JSON form.
  snapshotState: smaCrossStateToJson,
  restoreState: smaCrossStateFromJson,
  step(state, input, { params, instrument }, position) {
    if (input.kind === "gap") return { state: resetSmaCross(state), decision: NONE };
    if (input.kind !== "bar") return { state, decision: NONE };
    const next = stepSmaCross(state, input.bar, { params, instrument, positionOpen: position.open });
    const d = next.decision;
    if (d.kind === "none") return { state: next.state, decision: NONE };
    if (d.kind === "suppressed") {
      return {
        state: next.state,
        decision: { kind: "suppressed", direction: d.direction, reason: d.reason },
      };
    }
    return {
      state: next.state,
      decision: {
        kind: "entry",
        direction: d.direction,
        quantity: d.quantity,
        referencePrice: d.referencePrice,
        stopPrice: d.stopPrice,
        takeProfitRiskMultiple: params.tpSlRatio,
        signal: { barIndex: d.barIndex, smaShort: d.smaShort, smaLong: d.smaLong },
      },
    };
  },
};
