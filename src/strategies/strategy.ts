/**
 * The strategy port. A strategy is a module that declares its market inputs, its versioned parameters (a zod
 * schema) and a serialisable state, and a pure step `(state, input, view) → (state, intents)`. The kernel feeds
 * it (src/engine/strategy-actor.ts), records its decisions and executes its intents; it never names a strategy.
 * Adding one is a folder under src/strategies and a line in registry.ts.
 */
import type { z } from "zod";
import type { BarInterval } from "../domain/bars/intervals.ts";
import type { Direction } from "../domain/bracket.ts";
import type { Instrument } from "../domain/instruments.ts";
import type { LeverageBracket } from "../domain/margin/brackets.ts";
import type { EventData } from "../events/catalog.ts";

/**
 * A closed bar as strategies see it (strategies.md §0): a 1m bar, or one aggregated from 1m in UTC buckets.
 * Prices (quote asset) and volume (base asset) as decimal strings, times in ms.
 */
export interface StrategyBar {
  readonly symbol: string;
  readonly interval: BarInterval;
  readonly openTime: number;
  readonly closeTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
  /**
   * Base volume bought by takers: present only when the source has it (the official 12-column kline layout),
   * and on an aggregated bar only when every one of its minutes had it. Absent, never "0", otherwise.
   */
  readonly takerBuyVolume?: string;
  /** An aggregated bar built from some, not all, of its minutes. */
  readonly partial?: boolean;
}

/** One market input of a strategy, in market-time order. */
export type StrategyInput =
  | { readonly kind: "bar"; readonly bar: StrategyBar }
  /** A realized funding settlement (rate per interval, positive: longs pay shorts). */
  | { readonly kind: "funding"; readonly funding: StrategyFunding }
  /** Bars of the strategy's interval are missing: it must restart its warm-up (strategies.md §0). */
  | { readonly kind: "gap"; readonly gap: StrategyGap };

/**
 * A realized funding settlement as strategies see it: its rate (a ratio per interval, positive: longs pay
 * shorts), time (ms) and interval (hours). Also the settlements nothing priced (before a symbol's first bar).
 */
export type StrategyFunding = Pick<
  EventData<"FundingRateSettled">,
  "symbol" | "fundingTime" | "fundingRate" | "fundingIntervalHours"
>;

/** Missing bars of one interval: openTimes [fromOpenTime, toOpenTime), ms. */
export interface StrategyGap {
  readonly symbol: string;
  readonly fromOpenTime: number;
  readonly toOpenTime: number;
  readonly missingBars: number;
}

/** What a strategy consumes. Intervals other than 1m are aggregated from 1m (strategies.md §0). */
export interface StrategyInputs {
  /** Bar intervals, e.g. ["1m"] or ["1h"]; the strategy gets the bars and the gaps of these intervals. */
  readonly intervals: readonly BarInterval[];
  /** Realized funding settlements. */
  readonly funding: boolean;
  /**
   * Decides on the account's equity (`PositionView.equity`): its bars reach it once every symbol's bar of the
   * same close time is in (or market time moved past it), so that one decision time values every position at
   * marks of that time (strategies.md §1.6 "one value per bar for all symbols"). Default false.
   */
  readonly equity?: boolean;
}

/** The strategy's view of its own trading on the symbol when it decides. */
export interface PositionView {
  /** True while a position or an entry that may still fill exists on the symbol. */
  readonly open: boolean;
  /** Signed position size, base asset ("0" when flat). */
  readonly positionAmt: string;
  /**
   * The account's equity, USDT: wallet balance + every position's unrealized PnL at its symbol's latest mark
   * (backtest without mark files: the bar's close). Given to strategies declaring `inputs().equity` ("0" in a
   * warm-up before the window, where decisions are dropped).
   */
  readonly equity?: string;
}

/**
 * An entry with its bracket: a MARKET order of `quantity` (base asset) in `direction`, protected once it fills
 * by a reduce-only stop at `stopPrice` and a take-profit `takeProfitRiskMultiple` × the risk the fill took.
 */
export interface EntryIntent {
  readonly kind: "entry";
  readonly direction: Direction;
  /** Base asset, at the MARKET_LOT_SIZE step. */
  readonly quantity: string;
  /** The price the decision was made at (quote asset). */
  readonly referencePrice: string;
  /** Planned stop-loss trigger, at the tick (quote asset). */
  readonly stopPrice: string;
  /** Take-profit distance as a multiple of the risk (decimal string). */
  readonly takeProfitRiskMultiple: string;
  /** The numbers behind the decision, recorded with it (e.g. the SMA values). */
  readonly signal: Readonly<Record<string, number | string>>;
}

/**
 * A target position: the engine moves the symbol's one-way position to `positionAmt` with a MARKET order
 * (reduce-only when it only reduces), unless the change is worth less than MIN_NOTIONAL or an order is pending.
 */
export interface TargetIntent {
  readonly kind: "target";
  /** Signed target size, base asset, at the MARKET_LOT_SIZE step. */
  readonly positionAmt: string;
  /** The price the decision was made at (quote asset); values the change for MIN_NOTIONAL. */
  readonly referencePrice: string;
  /** The numbers behind the decision. */
  readonly signal: Readonly<Record<string, number | string>>;
  /**
   * Set when the strategy's own sizing sends no order although its goal differs from the position (its
   * `positionAmt` is then the current position): `band`, the change is within its trade band; `belowMinNotional`,
   * the change floors to 0 or to less than MIN_NOTIONAL. Recorded as TargetPositionSet.reason.
   */
  readonly hold?: "band" | "belowMinNotional";
}

/** What one step of a strategy decided. */
export type StrategyDecision =
  | { readonly kind: "none" }
  | EntryIntent
  | TargetIntent
  /** A signal the strategy saw but did not act on, and why (recorded for the decision trace). */
  | { readonly kind: "suppressed"; readonly direction: Direction; readonly reason: string };

/** The outcome of one step. */
export interface StrategyStep<S> {
  readonly state: S;
  readonly decision: StrategyDecision;
  /**
   * The values the strategy computed on this input, by name (float64 numbers; decimal strings for money; null
   * for a value not yet valid): recorded as FactorComputed before the decision, its first link in the decision
   * trace. Absent when the step computed nothing worth recording.
   */
  readonly factors?: Readonly<Record<string, FactorValue>>;
}

/** One recorded factor value: float64, a decimal string (money, quantities), a flag, or null (not valid). */
export type FactorValue = number | string | boolean | null;

/** The fixed context of a strategy instance on one symbol. */
export interface StrategyContext<P> {
  readonly params: P;
  readonly instrument: Instrument;
  /** N: the number of symbols the run trades (its configured, resolved symbol list). */
  readonly symbols: number;
  /** The symbol's leverage brackets (binance-usdm.md §4.4), for notional caps. */
  readonly brackets: readonly LeverageBracket[];
}

/** A strategy module. `P`: validated parameters; `S`: its JSON-serialisable state. */
export interface Strategy<P, S> {
  /** The name runs record and `--strategy` selects, e.g. "sma-cross". */
  readonly name: string;
  /** The key of its parameters in the backtest configuration (e.g. `smaCross` for `backtest.smaCross`). */
  readonly configKey: string;
  /** Version of the parameter schema; recorded with every decision. */
  readonly paramsVersion: number;
  /** Validates and defaults the parameters (errors name the field). */
  readonly params: z.ZodType<P, unknown>;
  /** The market inputs it consumes. */
  inputs(params: P): StrategyInputs;
  /** Closed bars of its first interval it needs before it can decide (its warm-up). */
  warmupBars(params: P): number;
  /**
   * The leverage (integer 1–125) and margin type it trades each symbol with; the engine configures them at the
   * venue before the first order (SymbolConfigured).
   */
  symbolSettings(params: P): { leverage: number; marginType: "ISOLATED" | "CROSSED" };
  /** A fresh state. Throws an Error naming an invalid parameter. */
  init(ctx: StrategyContext<P>): S;
  /** Whether the state has seen enough bars to decide. */
  isWarm(state: S, params: P): boolean;
  /** Consumes one input. Pure: same state and input, same result. */
  step(state: S, input: StrategyInput, ctx: StrategyContext<P>, position: PositionView): StrategyStep<S>;
  /**
   * The state as a checkpoint: plain JSON that later steps cannot change (a deep copy of whatever `step`
   * mutates in place, e.g. via the structures' `toJSON()`). Optional: without it the state itself is the
   * checkpoint, right only for a plain-JSON state that `step` never mutates (e.g. sma-cross's).
   */
  snapshotState?(state: S): unknown;
  /**
   * A state from `snapshotState`'s output, in memory or after a JSON round trip; it must not share mutable
   * parts with `json` (a checkpoint can be restored more than once). Throws naming the field when `json` is
   * malformed. Optional: without it `json` is the state (see `snapshotState`).
   */
  restoreState?(json: unknown, ctx: StrategyContext<P>): S;
}

/** A strategy of any parameter and state types (the registry's element type). */
// biome-ignore lint/suspicious/noExplicitAny: the registry erases each strategy's own P and S
export type AnyStrategy = Strategy<any, any>;
