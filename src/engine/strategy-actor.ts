/**
 * A strategy actor: one strategy on one symbol. It holds the strategy's state, feeds it the market inputs the
 * strategy declared, and hands each decision on. Its state is a pure function of the inputs it was given (all in
 * the log), so it is rebuilt by feeding them again.
 */
import type { Instrument } from "../domain/instruments.ts";
import type {
  AnyStrategy,
  PositionView,
  StrategyContext,
  StrategyDecision,
  StrategyInput,
  StrategyInputs,
} from "../strategies/strategy.ts";

/** A strategy actor's state as JSON (a checkpoint's part). */
export interface PersistedStrategy {
  state: unknown;
  warm: boolean;
  warmFrom?: number;
}

/** Hosts one strategy instance. */
export class StrategyActor {
  private state: unknown;
  private readonly ctx: StrategyContext<unknown>;
  private readonly inputs: StrategyInputs;
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
  }

  /** Whether the strategy consumes `input`'s kind (bars of its intervals, funding when declared, always gaps). */
  consumes(input: StrategyInput): boolean {
    if (input.kind === "funding") return this.inputs.funding;
    if (input.kind === "bar") return this.inputs.intervals.includes(input.bar.interval);
    return true;
  }

  /** Steps the strategy on `input` (at market time `time`, ms) and returns its decision. */
  step(input: StrategyInput, position: PositionView, time: number): StrategyDecision {
    const next = this.strategy.step(this.state, input, this.ctx, position);
    this.state = next.state;
    const warm = this.strategy.isWarm(this.state, this.ctx.params);
    if (warm && !this.warm && this.warmFrom === undefined) this.warmFrom = time;
    this.warm = warm;
    return next.decision;
  }

  /** The strategy's state, for a checkpoint. */
  persist(): PersistedStrategy {
    return {
      state: this.state,
      warm: this.warm,
      ...(this.warmFrom === undefined ? {} : { warmFrom: this.warmFrom }),
    };
  }

  /** Continues from `persisted` (from `persist()`). */
  restore(persisted: PersistedStrategy): void {
    this.state = persisted.state;
    this.warm = persisted.warm;
    this.warmFrom = persisted.warmFrom;
  }
}
