/**
 * The intrabar path assumption of the simulated venue: a 1m bar says where the price opened, closed and how far
 * it went, not in which order it visited its high and low. The venue therefore assumes a path through the four
 * prices and matches orders in the order the path reaches them (binance-usdm.md §2.3 trigger rules;
 * strategies.md §0 "Backtest fills").
 *
 * Modes (`IntrabarPathMode`):
 * - `stopFirst` (default, strategies.md §0): the conservative rule of the backtest spec. Orders are not ordered
 *   along a path: every order whose price the bar's [low, high] reaches executes, stop-type orders (STOP,
 *   STOP_MARKET, TRAILING_STOP_MARKET) before all others (take-profits and resting LIMITs), then in submission
 *   order. So when a bar touches both the stop and the target of a position, the adverse one fills first. Only a
 *   trailing stop needs a path to track its extreme: it walks the `barDirection` path.
 * - `barDirection`: open → low → high → close for a bar with close ≥ open (an up bar), open → high → low → close
 *   for a down bar (close < open).
 * - `openHighLowClose`, `openLowHighClose`: that fixed order for every bar.
 *
 * A position on the path is a number: k is the k-th point (0 = the open, 3 = the close), k + f a fraction f of
 * the way along the segment from point k to point k + 1 (prices are linear along a segment). Positions only order
 * events inside one bar; they are never prices.
 */

/** How the venue orders what happens inside one bar (see the module comment). */
export type IntrabarPathMode = "stopFirst" | "barDirection" | "openHighLowClose" | "openLowHighClose";

/** Every path mode, for option validation. */
export const INTRABAR_PATH_MODES: readonly IntrabarPathMode[] = [
  "stopFirst",
  "barDirection",
  "openHighLowClose",
  "openLowHighClose",
];

/** A bar's prices as decimal strings (quote asset). */
export interface Ohlc {
  open: string;
  high: string;
  low: string;
  close: string;
}

/**
 * An assumed path through a bar: its points as decimal strings and as numbers (for comparisons only: exchange
 * prices have at most 15 significant digits, so their order as numbers is exact).
 */
export interface IntrabarPath {
  prices: readonly string[];
  values: readonly number[];
}

/**
 * The path `mode` assumes through `bar` (`stopFirst` walks the `barDirection` path where it needs one).
 * @throws Error when the bar is inconsistent (low > open/close or high < open/close).
 */
export function intrabarPath(bar: Ohlc, mode: IntrabarPathMode): IntrabarPath {
  const [o, h, l, c] = [Number(bar.open), Number(bar.high), Number(bar.low), Number(bar.close)];
  if (!(l <= Math.min(o, c) && h >= Math.max(o, c))) {
    throw new Error(
      `bar: inconsistent OHLC (open ${bar.open}, high ${bar.high}, low ${bar.low}, close ${bar.close})`,
    );
  }
  const lowFirst = mode === "openLowHighClose" ? true : mode === "openHighLowClose" ? false : c >= o; // barDirection, stopFirst
  const prices = lowFirst
    ? [bar.open, bar.low, bar.high, bar.close]
    : [bar.open, bar.high, bar.low, bar.close];
  return { prices, values: lowFirst ? [o, l, h, c] : [o, h, l, c] };
}

/** A price condition: `up` holds when price ≥ level (> when strict), `down` when price ≤ level (<). */
export interface PriceCondition {
  dir: "up" | "down";
  level: number;
  strict: boolean;
}

function holds(c: PriceCondition, price: number): boolean {
  if (c.dir === "up") return c.strict ? price > c.level : price >= c.level;
  return c.strict ? price < c.level : price <= c.level;
}

/** Where a condition first holds on a path: `atStart` when it already held at the starting point. */
export interface PathHit {
  pos: number;
  atStart: boolean;
}

/**
 * The first position ≥ `from` at which `cond` holds, walking `path` from `from` where the price is `startPrice`;
 * on a segment the position is where the price crosses the level. Undefined when it never holds.
 */
export function firstHit(
  path: IntrabarPath,
  from: number,
  startPrice: number,
  cond: PriceCondition,
): PathHit | undefined {
  if (holds(cond, startPrice)) return { pos: from, atStart: true };
  const v = path.values;
  for (let k = Math.floor(from); k < v.length - 1; k++) {
    const b = v[k + 1]!;
    if (!holds(cond, b)) continue;
    const a = v[k]!;
    const f = a === b ? 0 : (cond.level - a) / (b - a);
    return { pos: Math.max(from, k + Math.min(1, Math.max(0, f))), atStart: false };
  }
  return undefined;
}

/** The price at position `pos` of `path`, as a number (linear on a segment). */
export function valueAt(path: IntrabarPath, pos: number): number {
  const k = Math.min(Math.floor(pos), path.values.length - 1);
  const a = path.values[k]!;
  if (k === pos || k === path.values.length - 1) return a;
  return a + (path.values[k + 1]! - a) * (pos - k);
}
