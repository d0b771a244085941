/**
 * `multifactor-v2` on the strategy port (strategies.md §1): 1h bars aggregated from 1m (with taker-buy volume
 * when the source has it) and funding settlements in; at every 1h close, once warm, the factor (§1.4, streamed
 * by SymbolFactors) and a target position sized from the account's equity (§1.6, sizing.ts) out. Every decision
 * records its factors A–I and its sizing numbers (FactorComputed). A gap, or a change of data source, restarts
 * the warm-up (979 bars, §1.5); until it completes an open position is closed (target 0, reduce-only).
 */
import { canonical, Dec } from "../../domain/decimal.ts";
import { maxNotionalFor } from "../../domain/margin/brackets.ts";
import type { FactorValue, PositionView, Strategy, StrategyContext, StrategyStep } from "../strategy.ts";
import { FACTOR_NAMES, type FactorValues, WARMUP_BARS } from "./factors.ts";
import { MULTIFACTOR_PARAMS_VERSION, type MultifactorParams, multifactorParamsSchema } from "./params.ts";
import { type SizingDecision, sizeOrder } from "./sizing.ts";
import { type SymbolFactorStep, SymbolFactors } from "./symbol-factors.ts";

/** One symbol's state: the factor pipeline (mutated in place by `step`; see `snapshotState`). */
export interface MultifactorState {
  readonly factors: SymbolFactors;
  /** Whether the last bar gave a valid final value (§1.5): the strategy trades only then. */
  readonly warm: boolean;
}

/** The state as JSON (a checkpoint). */
interface MultifactorStateJson {
  factors: ReturnType<SymbolFactors["toJSON"]>;
  warm: boolean;
}

const NONE = { kind: "none" } as const;

/** The sizing inputs of §1.6 for one decision at `price` (the 1h close), from the context and the account. */
function sizing(
  final: number,
  price: string,
  ctx: StrategyContext<MultifactorParams>,
  position: PositionView,
): SizingDecision {
  const { params, instrument } = ctx;
  if (position.equity === undefined) throw new Error("multifactor-v2: the engine gave no equity");
  return sizeOrder({
    equity: position.equity,
    final,
    tvs: params.tvs,
    maxLeverage: params.maxLeverage,
    symbols: ctx.symbols,
    ...(params.maxSymbolNotional === undefined ? {} : { maxSymbolNotional: params.maxSymbolNotional }),
    bracketCap: maxNotionalFor(ctx.brackets, params.maxLeverage),
    positionAmt: position.positionAmt,
    price,
    minNotional: instrument.minNotional,
    marketStepSize: instrument.marketStepSize,
    marketMinQty: instrument.marketMinQty,
  });
}

/** The position after `decision`'s order (base asset, canonical): what the engine is asked to reach. */
function targetPositionAmt(positionAmt: string, decision: SizingDecision): string {
  if (decision.kind === "none") return positionAmt;
  const quantity = new Dec(decision.quantity);
  const position = new Dec(positionAmt);
  return canonical(decision.side === "BUY" ? position.plus(quantity) : position.minus(quantity));
}

/** FactorComputed's record: every §1.4 component (null while invalid), the pipeline's anchor, then the sizing. */
function factorRecord(
  step: SymbolFactorStep,
  flow: boolean,
  extra: Readonly<Record<string, FactorValue>>,
): Record<string, FactorValue> {
  const record: Record<string, FactorValue> = {};
  const values: FactorValues = step.values;
  for (const name of FACTOR_NAMES) record[name] = values[name] ?? null;
  record.flow = flow;
  record.anchor = step.anchor;
  record.bars = step.bars;
  return Object.assign(record, extra);
}

/** The multifactor-v2 strategy module. */
export const multifactorV2: Strategy<MultifactorParams, MultifactorState> = {
  name: "multifactor-v2",
  configKey: "multifactor",
  paramsVersion: MULTIFACTOR_PARAMS_VERSION,
  params: multifactorParamsSchema,
  inputs: () => ({ intervals: ["1h"], funding: true, equity: true }),
  warmupBars: () => WARMUP_BARS,
  // §1.6: ISOLATED margin at the leverage L_max.
  symbolSettings: ({ maxLeverage }) => ({ leverage: maxLeverage, marginType: "ISOLATED" }),
  init: () => ({ factors: new SymbolFactors(), warm: false }),
  isWarm: (state) => state.warm,
  step(state, input, ctx, position): StrategyStep<MultifactorState> {
    const { factors } = state;
    if (input.kind === "funding") {
      factors.settle({ fundingTime: input.funding.fundingTime, rate: Number(input.funding.fundingRate) });
      return { state, decision: NONE };
    }
    if (input.kind === "gap") {
      factors.gap();
      return { state: { factors, warm: false }, decision: NONE };
    }
    const { bar } = input;
    if (bar.interval !== "1h") throw new Error(`multifactor-v2: expected 1h bars, got ${bar.interval}`);
    const step = factors.bar(bar);
    const flow = bar.takerBuyVolume !== undefined;
    const final = step.values.final;
    if (final === undefined) {
      // Warming up (again, after a gap or a change of source): no target but flat (§1.6).
      const next = { factors, warm: false };
      if (new Dec(position.positionAmt).isZero()) return { state: next, decision: NONE };
      return {
        state: next,
        factors: factorRecord(step, flow, { price: bar.close, decision: "warmingUp" }),
        decision: {
          kind: "target",
          positionAmt: "0",
          referencePrice: bar.close,
          signal: { reason: "warmingUp", bars: step.bars },
        },
      };
    }
    const sized = sizing(final, bar.close, ctx, position);
    const record = factorRecord(step, flow, {
      equity: position.equity ?? null,
      price: bar.close,
      positionAmt: position.positionAmt,
      targetNotional: sized.target,
      currentNotional: sized.current,
      deltaNotional: sized.delta,
      band: sized.band,
      decision: sized.kind === "order" ? "order" : sized.reason,
      ...(sized.kind === "order"
        ? { side: sized.side, quantity: sized.quantity, reduceOnly: sized.reduceOnly }
        : {}),
    });
    return {
      state: { factors, warm: true },
      factors: record,
      decision: {
        kind: "target",
        positionAmt: targetPositionAmt(position.positionAmt, sized),
        referencePrice: bar.close,
        signal: { final, targetNotional: sized.target },
        ...(sized.kind === "none" ? { hold: sized.reason === "band" ? "band" : "belowMinNotional" } : {}),
      },
    };
  },
  snapshotState: (state): MultifactorStateJson => ({ factors: state.factors.toJSON(), warm: state.warm }),
  restoreState(json) {
    const o = json as MultifactorStateJson;
    if (typeof o !== "object" || o === null || typeof o.warm !== "boolean")
      throw new Error("multifactor-v2 state: expected { factors, warm: boolean }");
    return { factors: SymbolFactors.fromJSON(JSON.parse(JSON.stringify(o.factors))), warm: o.warm };
  },
};
