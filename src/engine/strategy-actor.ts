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
import type {
  AnyStrategy,
  FactorValue,
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
  /** What the strategy computed for it (recorded as FactorComputed), when it said. */
  factors?: Readonly<Record<string, FactorValue>>;
}

/** An input the strategy consumes, with the openTime of its bar (or gap end, or settlement time), ms. */
export interface TimedInput {
  input: StrategyInput;
  at: number;
}

/** The decisions of a step that decided nothing (shared: most steps). */
const NO_DECISIONS: readonly TimedDecision[] = Object.freeze([]);

/** Hosts one strategy instance. */
export class StrategyActor {
  private state: unknown;
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
    private readonly ctx: StrategyContext<unknown>,
  ) {
    this.state = strategy.init(ctx);
    this.inputs = strategy.inputs(ctx.params);
    this.wantsMinutes = this.inputs.intervals.includes("1m");
    this.aggregators = this.inputs.intervals.filter((i) => i !== "1m").map((i) => initialBarAggregator(i));
  }

  /**
   * Feeds one market input (a 1m bar or gap, or a settlement) at market time `time` (ms): to the strategy when it
   * consumes it, and through the aggregators, whose closed bars and gaps go to the strategy in turn.
   * @returns the strategy's decisions other than "none" and the steps that computed factors, in order.
   */
  step(input: StrategyInput, position: PositionView, time: number): readonly TimedDecision[] {
    // A strategy on 1m bars only (most bars of most runs): no list of inputs to build.
    if (this.aggregators.length === 0 && input.kind !== "funding")
      return this.wantsMinutes
        ? this.feed(input, position, time, minuteAt(input), NO_DECISIONS)
        : NO_DECISIONS;
    return this.consume(this.collect(input), position, time);
  }

  /** Whether the strategy decides on the account's equity (its inputs wait for the minute's other symbols). */
  get decidesOnEquity(): boolean {
    return this.inputs.equity === true;
  }

  /**
   * The first half of `step`: the inputs `input` brings the strategy, in order — itself when the strategy
   * consumes it, then the bars and gaps the aggregators close with it (the aggregators advance).
   */
  collect(input: StrategyInput): TimedInput[] {
    if (input.kind === "funding")
      return this.inputs.funding ? [{ input, at: input.funding.fundingTime }] : [];
    const out: TimedInput[] = [];
    if (this.wantsMinutes) out.push({ input, at: minuteAt(input) });
    for (let i = 0; i < this.aggregators.length; i++) {
      const stepped = stepBarAggregator(this.aggregators[i]!, input);
      this.aggregators[i] = stepped.state;
      for (const e of stepped.emitted) out.push({ input: fromInterval(e), at: openTimeOf(e) });
    }
    return out;
  }

  /**
   * The second half of `step`: the strategy consumes `inputs` (from `collect`) at market time `time` (ms).
   * @returns its decisions other than "none" and the steps that computed factors, in order.
   */
  consume(inputs: readonly TimedInput[], position: PositionView, time: number): readonly TimedDecision[] {
    let out = NO_DECISIONS;
    for (const { input, at } of inputs) out = this.feed(input, position, time, at, out);
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
    if (next.decision.kind === "none" && next.factors === undefined) return out;
    return [...out, { decision: next.decision, at, ...(next.factors ? { factors: next.factors } : {}) }];
  }
}

/** The openTime of a 1m bar, or the end of a gap, ms. */
function minuteAt(input: Exclude<StrategyInput, { kind: "funding" }>): number {
  return input.kind === "bar" ? input.bar.openTime : input.gap.toOpenTime;
}

function fromInterval(e: IntervalEvent): StrategyInput {
  return e.kind === "bar" ? { kind: "bar", bar: e.bar } : { kind: "gap", gap: e.gap };
}

function openTimeOf(e: IntervalEvent): number {
  return e.kind === "bar" ? e.bar.openTime : e.gap.toOpenTime;
}
