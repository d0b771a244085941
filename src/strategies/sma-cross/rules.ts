/**
 * `sma-cross` (strategies.md §2): a 21/200 SMA crossover of closed 1m closes, a structural stop at the extreme
 * of the bars before the signal, a fixed reward:risk take-profit, at most one position per symbol.
 *
 * Pure and incremental: `stepSmaCross` consumes one closed bar and returns the next state (immutable, a new
 * object per bar whose windows share their buffers with the previous state's: see `RollingWindow`; its JSON
 * form is `smaCrossStateToJson`) and a decision. Per bar it only parses close/high/low into integer price
 * units (10^-scale, scale = decimals of the instrument's tickSize) and updates exact integer sums; decimal.js
 * runs only when a crossover fires (sizing).
 */
import type { Direction } from "../../domain/bracket.ts";
import { decimalsOf, floorToStep, formatAtScale, toDec } from "../../domain/decimal.ts";
import {
  compareSma,
  initialSma,
  RollingWindow,
  type SmaState,
  type SmaStateJson,
  smaFromJson,
  smaReady,
  smaToJson,
  smaValue,
  stepSma,
} from "../../domain/indicators/sma.ts";
import type { Instrument } from "../../domain/instruments.ts";
import { fromScaledUnits, toScaledUnits } from "../../domain/scaled-units.ts";

/** sma-cross works on 1m bars: consecutive bars are this many ms apart. */
export const SMA_CROSS_BAR_INTERVAL_MS = 60_000;

/** Strategy parameters (strategies.md §2.2). */
export type SmaCrossParams = {
  /** Short SMA window, bars. */
  readonly smaShort: number;
  /** Long SMA window, bars. */
  readonly smaLong: number;
  /** Bars before the signal bar searched for the structural stop. */
  readonly pivotLookback: number;
  /** Take-profit distance as a multiple of the risk (decimal string, e.g. "3"). */
  readonly tpSlRatio: string;
  /** Minimum bars between two accepted signals. */
  readonly cooldownBars: number;
  /** Margin committed per entry, USDT (decimal string; required, no default). */
  readonly marginUsdt: string;
  /** Leverage (integer); the position notional is marginUsdt × leverage. */
  readonly leverage: number;
};

/** Defaults of strategies.md §2.2; `marginUsdt` has none. */
export const smaCrossDefaults: Omit<SmaCrossParams, "marginUsdt"> = {
  smaShort: 21,
  smaLong: 200,
  pivotLookback: 30,
  tpSlRatio: "3",
  cooldownBars: 15,
  leverage: 10,
};

/** Strategy state between bars (immutable; its JSON form is `SmaCrossStateJson`). */
export type SmaCrossState = {
  /** Decimals of the price units (the instrument's tickSize scale), fixed by the first bar; null before it. */
  readonly priceScale: number | null;
  /** openTime of the last bar consumed (ms), null after a (re)start. */
  readonly lastOpenTime: number | null;
  /** Bars consumed since the warm-up anchor; the next bar gets this index. */
  readonly barCount: number;
  readonly short: SmaState;
  readonly long: SmaState;
  /** Exact sign of SMA_short − SMA_long at the last bar; null until both averages are valid. */
  readonly relation: -1 | 0 | 1 | null;
  /** Lows / highs (price units) of the last min(pivotLookback, barCount) bars, oldest first. */
  readonly lows: RollingWindow;
  readonly highs: RollingWindow;
  /** Index of the bar of the last accepted signal (cooldown anchor), null if none since the anchor. */
  readonly lastSignalBarIndex: number | null;
};

/** `SmaCrossState` as JSON (a checkpoint's form): the same fields in the same order, windows as arrays. */
export type SmaCrossStateJson = Omit<SmaCrossState, "short" | "long" | "lows" | "highs"> & {
  readonly short: SmaStateJson;
  readonly long: SmaStateJson;
  readonly lows: readonly number[];
  readonly highs: readonly number[];
};

/** A closed kline; prices are decimal strings in quote asset. */
export type SmaCrossBar = {
  readonly openTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
};

/** What the strategy needs besides the bar. `positionOpen` is true while a position or a pending entry exists. */
export type SmaCrossContext = {
  readonly params: SmaCrossParams;
  readonly instrument: Instrument;
  readonly positionOpen: boolean;
};

/** Why a crossover was not acted on (catalog `SignalSuppressed.reason`). */
export type SuppressionReason =
  | "positionOpen"
  | "cooldown"
  | "stopWindowTooShort"
  | "invalidRisk"
  | "quantityTooSmall";

/** The outcome of one bar. Prices at the tick scale, quantity at the MARKET_LOT_SIZE step scale. */
export type SmaCrossDecision =
  | { readonly kind: "none" }
  | {
      readonly kind: "signal";
      readonly direction: Direction;
      /** Index of the signal bar s since the warm-up anchor. */
      readonly barIndex: number;
      /** SMA values at bar s, in quote asset (float64). */
      readonly smaShort: number;
      readonly smaLong: number;
      /** P_ref = close of bar s. */
      readonly referencePrice: string;
      /** Structural stop from the pivot window (before the fill). */
      readonly stopPrice: string;
      /** floor_step(marginUsdt × leverage / P_ref) on MARKET_LOT_SIZE, base asset. */
      readonly quantity: string;
    }
  | { readonly kind: "suppressed"; readonly direction: Direction; readonly reason: SuppressionReason };

const NONE: SmaCrossDecision = { kind: "none" };

function positiveInteger(value: number, name: string, min = 1): void {
  if (!Number.isInteger(value) || value < min)
    throw new Error(`sma-cross ${name} must be an integer ≥ ${min}, got ${value}`);
}

function positiveDecimal(value: string, name: string): void {
  if (toDec(value, `sma-cross ${name}`).lte(0))
    throw new Error(`sma-cross ${name} must be > 0, got "${value}"`);
}

/** A fresh state (warm-up from the next bar). Throws an Error naming the first invalid parameter. */
export function initialSmaCrossState(params: SmaCrossParams): SmaCrossState {
  positiveInteger(params.smaShort, "smaShort");
  positiveInteger(params.smaLong, "smaLong");
  positiveInteger(params.pivotLookback, "pivotLookback");
  positiveInteger(params.cooldownBars, "cooldownBars", 0);
  positiveInteger(params.leverage, "leverage");
  positiveDecimal(params.tpSlRatio, "tpSlRatio");
  positiveDecimal(params.marginUsdt, "marginUsdt");
  return emptyState(params.smaShort, params.smaLong);
}

function emptyState(smaShort: number, smaLong: number): SmaCrossState {
  return {
    priceScale: null,
    lastOpenTime: null,
    barCount: 0,
    short: initialSma(smaShort),
    long: initialSma(smaLong),
    relation: null,
    lows: RollingWindow.of([]),
    highs: RollingWindow.of([]),
    lastSignalBarIndex: null,
  };
}

/** The JSON form of `state` (plain data, field order as in `SmaCrossState`). */
export function smaCrossStateToJson(state: SmaCrossState): SmaCrossStateJson {
  return {
    priceScale: state.priceScale,
    lastOpenTime: state.lastOpenTime,
    barCount: state.barCount,
    short: smaToJson(state.short),
    long: smaToJson(state.long),
    relation: state.relation,
    lows: state.lows.toArray(),
    highs: state.highs.toArray(),
    lastSignalBarIndex: state.lastSignalBarIndex,
  };
}

/**
 * The state of `json` (from `smaCrossStateToJson`, possibly through a JSON round trip).
 * Throws an Error naming the field when `json` is malformed.
 */
export function smaCrossStateFromJson(json: unknown): SmaCrossState {
  const o = json as Partial<Record<keyof SmaCrossStateJson, unknown>> | null;
  if (typeof o !== "object" || o === null) throw new Error("sma-cross state: expected an object");
  const nullable = (field: keyof SmaCrossStateJson, ok: (v: unknown) => boolean): void => {
    if (o[field] !== null && !ok(o[field])) throw new Error(`sma-cross state.${field}: malformed`);
  };
  const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  nullable("priceScale", isCount);
  nullable("lastOpenTime", isCount);
  nullable("relation", (v) => v === -1 || v === 0 || v === 1);
  nullable("lastSignalBarIndex", isCount);
  if (!isCount(o.barCount)) throw new Error("sma-cross state.barCount: expected a non-negative integer");
  const prices = (field: "lows" | "highs"): RollingWindow => {
    const v = o[field];
    if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x)))
      throw new Error(`sma-cross state.${field}: expected an array of integers`);
    return RollingWindow.of(v);
  };
  return {
    priceScale: o.priceScale as number | null,
    lastOpenTime: o.lastOpenTime as number | null,
    barCount: o.barCount as number,
    short: smaFromJson(o.short, "sma-cross state.short"),
    long: smaFromJson(o.long, "sma-cross state.long"),
    relation: o.relation as -1 | 0 | 1 | null,
    lows: prices("lows"),
    highs: prices("highs"),
    lastSignalBarIndex: o.lastSignalBarIndex as number | null,
  };
}

/** Restart after a data gap (strategies.md §0): averages, stop window and cooldown restart; warm-up again. */
export function resetSmaCross(state: SmaCrossState): SmaCrossState {
  return emptyState(state.short.period, state.long.period);
}

/**
 * Structural stop (strategies.md §2.3 "Stop") from the bars before the signal bar: the window is the last
 * min(pivotLookback, available) of them; LONG → min low, SHORT → max high. Undefined when the window has fewer
 * than 3 bars. Works on any consistent units (e.g. price units).
 */
export function pivotStop(
  direction: Direction,
  priorLows: readonly number[],
  priorHighs: readonly number[],
  pivotLookback: number,
): number | undefined {
  const values = direction === "LONG" ? priorLows : priorHighs;
  const window = values.slice(Math.max(0, values.length - pivotLookback));
  if (window.length < 3) return undefined;
  return direction === "LONG" ? Math.min(...window) : Math.max(...window);
}

function crossing(previous: -1 | 0 | 1 | null, current: -1 | 0 | 1 | null): Direction | undefined {
  if (previous === null || current === null) return undefined;
  if (previous <= 0 && current > 0) return "LONG";
  if (previous >= 0 && current < 0) return "SHORT";
  return undefined;
}

/**
 * Consumes one closed 1m bar (strategies.md §2.3). A crossover at bar s (LONG: S_{s−1} ≤ L_{s−1} and S_s > L_s;
 * SHORT mirrored; equal-to-equal is none) is, in this order: suppressed `positionOpen` (does not consume the
 * cooldown), `cooldown` (s − s_last < cooldownBars, s_last = last accepted signal), `stopWindowTooShort`
 * (< 3 prior bars), `invalidRisk` (P_ref = C_s not beyond the stop), `quantityTooSmall` (floor_step(margin ×
 * leverage / P_ref) is 0 or its notional < minNotional); otherwise a signal. The first possible signal is at
 * bar index smaLong (200 with defaults: 201 bars).
 * A bar with the last bar's openTime is a duplicate and is ignored (state unchanged, decision none).
 * Throws an Error for out-of-order bars, for a bar that does not follow the previous one by 1 minute (a gap:
 * call `resetSmaCross` first), for malformed prices, and when the instrument's tick scale or the SMA periods
 * differ from those the state was built with.
 */
export function stepSmaCross(
  state: SmaCrossState,
  bar: SmaCrossBar,
  ctx: SmaCrossContext,
): { state: SmaCrossState; decision: SmaCrossDecision } {
  const { params, instrument } = ctx;
  if (state.short.period !== params.smaShort || state.long.period !== params.smaLong) {
    throw new Error(
      `sma-cross state was built for SMA ${state.short.period}/${state.long.period}, params say ${params.smaShort}/${params.smaLong}`,
    );
  }
  if (state.lastOpenTime !== null) {
    if (bar.openTime === state.lastOpenTime) return { state, decision: NONE };
    if (bar.openTime < state.lastOpenTime) {
      throw new Error(
        `sma-cross: bar ${bar.openTime} arrived after bar ${state.lastOpenTime} (out of order)`,
      );
    }
    if (bar.openTime !== state.lastOpenTime + SMA_CROSS_BAR_INTERVAL_MS) {
      throw new Error(
        `sma-cross: bar ${bar.openTime} does not follow bar ${state.lastOpenTime} by 1 minute (data gap: reset the state first)`,
      );
    }
  }
  const scale = decimalsOf(instrument.tickSize);
  if (state.priceScale !== null && state.priceScale !== scale) {
    throw new Error(
      `sma-cross: ${instrument.symbol} tickSize ${instrument.tickSize} changed the price scale mid-run`,
    );
  }
  let close: number;
  let low: number;
  let high: number;
  try {
    close = toScaledUnits(bar.close, scale, "close");
    low = toScaledUnits(bar.low, scale, "low");
    high = toScaledUnits(bar.high, scale, "high");
  } catch (error) {
    // The bar's identity is named only when there is an error: no string building per bar.
    throw new Error(`${instrument.symbol} bar at ${bar.openTime}: ${(error as Error).message}`);
  }

  const short = stepSma(state.short, close);
  const long = stepSma(state.long, close);
  const relation = smaReady(short) && smaReady(long) ? compareSma(short, long) : null;
  const barIndex = state.barCount;
  const next: SmaCrossState = {
    priceScale: scale,
    lastOpenTime: bar.openTime,
    barCount: barIndex + 1,
    short,
    long,
    relation,
    lows: state.lows.append(low, params.pivotLookback),
    highs: state.highs.append(high, params.pivotLookback),
    lastSignalBarIndex: state.lastSignalBarIndex,
  };

  const direction = crossing(state.relation, relation);
  if (direction === undefined) return { state: next, decision: NONE };
  const suppressed = (reason: SuppressionReason) => ({
    state: next,
    decision: { kind: "suppressed", direction, reason } as const,
  });

  if (ctx.positionOpen) return suppressed("positionOpen");
  if (state.lastSignalBarIndex !== null && barIndex - state.lastSignalBarIndex < params.cooldownBars) {
    return suppressed("cooldown");
  }
  const stop = pivotStop(direction, state.lows.toArray(), state.highs.toArray(), params.pivotLookback);
  if (stop === undefined) return suppressed("stopWindowTooShort");
  if (direction === "LONG" ? close - stop <= 0 : stop - close <= 0) return suppressed("invalidRisk");

  const referencePrice = fromScaledUnits(close, scale);
  const quantity = floorToStep(
    toDec(params.marginUsdt, "marginUsdt").times(params.leverage).div(referencePrice),
    instrument.marketStepSize,
    instrument.marketMinQty,
  );
  if (quantity.isZero() || quantity.times(referencePrice).lt(toDec(instrument.minNotional, "minNotional"))) {
    return suppressed("quantityTooSmall");
  }

  const unit = 10 ** scale;
  return {
    state: { ...next, lastSignalBarIndex: barIndex },
    decision: {
      kind: "signal",
      direction,
      barIndex,
      smaShort: smaValue(short)! / unit,
      smaLong: smaValue(long)! / unit,
      referencePrice,
      stopPrice: fromScaledUnits(stop, scale),
      quantity: formatAtScale(quantity, instrument.marketStepSize),
    },
  };
}
