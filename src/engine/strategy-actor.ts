/**
 * A strategy actor: one strategy on one symbol. It holds the strategy's state, feeds it the market inputs the
 * strategy declared — 1m bars, bars aggregated from them (strategies.md §0, src/domain/bars), gaps of those
 * intervals, funding — and hands each decision on. Its state (the strategy's and the aggregators') is a pure
 * function of the inputs it was given, all in the log or the run's input files.
 */
import {
  type BarAggregatorState,
  type IntervalEvent,
  initialBarAggregator,
  stepBarAggregator,
} from "../domain/bars/aggregate.ts";
import type { Instrument } from "../domain/instruments.ts";
import type {
  AnyStrategy,
  PositionView,
  StrategyContext,
  StrategyDecision,
  StrategyInput,
  StrategyInputs,
} from "../strategies/strategy.ts";

/**
 * A strategy actor's state as JSON (a checkpoint's part): a snapshot that later steps of the actor do not change.
 * `state` is the strategy's `snapshotState` output (the state itself when it has none).
 */
export interface PersistedStrategy {
  state: unknown;
  aggregators: BarAggregatorState[];
  warm: boolean;
  warmFrom?: number;
}

/** A decision and the openTime of the bar (or gap end, or settlement time) it was made on. */
export interface TimedDecision {
  decision: StrategyDecision;
  /** ms. */
  at: number;
}

/** The decisions of a step that decided nothing (shared: most steps). */
const NO_DECISIONS: readonly TimedDecision[] = Object.freeze([]);

/** Hosts one strategy instance. */
export class StrategyActor {
  private state: unknown;
  private readonly ctx: StrategyContext<unknown>;
  private readonly inputs: StrategyInputs;
  private readonly wantsMinutes: boolean;
  /** One aggregator per declared interval above 1m. */
  private aggregators: BarAggregatorState[];
  private warm = false;
  /** Market time (ms) of the input after which the strategy first was warm; undefined while it never was. */
  warmFrom: number | undefined;

  constructor(
    readonly strategy: AnyStrategy,
    readonly symbol: string,
    params: unknown,
    instrument: Instrument,
  ) {
    this.ctx = { params, instrument };
    this.state = strategy.init(this.ctx);
    this.inputs = strategy.inputs(params);
    this.wantsMinutes = this.inputs.intervals.includes("1m");
    this.aggregators = this.inputs.intervals.filter((i) => i !== "1m").map((i) => initialBarAggregator(i));
  }

  /**
   * Feeds one market input (a 1m bar or gap, or a settlement) at market time `time` (ms): to the strategy when it
   * consumes it, and through the aggregators, whose closed bars and gaps go to the strategy in turn.
   * @returns the strategy's decisions other than "none", in order.
   */
  step(input: StrategyInput, position: PositionView, time: number): readonly TimedDecision[] {
    let out = NO_DECISIONS;
    if (input.kind === "funding") {
      if (this.inputs.funding) out = this.feed(input, position, time, input.funding.fundingTime, out);
      return out;
    }
    if (this.wantsMinutes) {
      const at = input.kind === "bar" ? input.bar.openTime : input.gap.toOpenTime;
      out = this.feed(input, position, time, at, out);
    }
    for (let i = 0; i < this.aggregators.length; i++) {
      const stepped = stepBarAggregator(this.aggregators[i]!, input);
      this.aggregators[i] = stepped.state;
      for (const e of stepped.emitted) out = this.feed(fromInterval(e), position, time, openTimeOf(e), out);
    }
    return out;
  }

  /**
   * The actor's state, for a checkpoint: the strategy's through its `snapshotState` (identity by default), the
   * aggregators' (immutable states) in a fresh array. Later steps do not change what it returns.
   */
  persist(): PersistedStrategy {
    const strategy = this.strategy;
    return {
      state: strategy.snapshotState === undefined ? this.state : strategy.snapshotState(this.state),
      aggregators: [...this.aggregators],
      warm: this.warm,
      ...(this.warmFrom === undefined ? {} : { warmFrom: this.warmFrom }),
    };
  }

  /**
   * Continues from `persisted` (from `persist()`, in memory or through JSON): the strategy's state through its
   * `restoreState` (identity by default), so stepping on never changes `persisted`. Throws what `restoreState`
   * throws for a malformed state.
   */
  restore(persisted: PersistedStrategy): void {
    const strategy = this.strategy;
    this.state =
      strategy.restoreState === undefined
        ? persisted.state
        : strategy.restoreState(persisted.state, this.ctx);
    this.aggregators = [...persisted.aggregators];
    this.warm = persisted.warm;
    this.warmFrom = persisted.warmFrom;
  }

  /** Steps the strategy on `input`; returns `out` with its decision added (a new array: `out` may be shared). */
  private feed(
    input: StrategyInput,
    position: PositionView,
    time: number,
    at: number,
    out: readonly TimedDecision[],
  ): readonly TimedDecision[] {
    const next = this.strategy.step(this.state, input, this.ctx, position);
    this.state = next.state;
    const warm = this.strategy.isWarm(this.state, this.ctx.params);
    if (warm && !this.warm && this.warmFrom === undefined) this.warmFrom = time;
    this.warm = warm;
    return next.decision.kind === "none" ? out : [...out, { decision: next.decision, at }];
  }
}

function fromInterval(e: IntervalEvent): StrategyInput {
  return e.kind === "bar" ? { kind: "bar", bar: e.bar } : { kind: "gap", gap: e.gap };
}

function openTimeOf(e: IntervalEvent): number {
  return e.kind === "bar" ? e.bar.openTime : e.gap.toOpenTime;
}
