/**
 * The quiet bar: a bar in which matching can change nothing but the symbol's clock and last prices. Most bars of
 * a backtest are quiet (no order of the symbol, or only untriggered stops and take-profits out of the bar's
 * reach), so the venue recognises them without running the matching steps (`matchStep`), which clone the state
 * and walk the intrabar path.
 *
 * A bar is quiet for `symbol` when every working order of the symbol
 * - is an untriggered STOP, STOP_MARKET, TAKE_PROFIT or TAKE_PROFIT_MARKET (stage `algo`; trailing stops move
 *   their extreme on every bar, so they are never quiet),
 * - already works at the bar's open (`workingFrom` ≤ openTime, not entered in this bar),
 * - does not expire in it (not GTD with goodTillDate ≤ closeTime, matching.ts rule 2),
 * - and has a trigger the watched range (the mark bar's for MARK_PRICE when given, else the trade bar's) does not
 *   reach: a rising trigger above the high, a falling one below the low. Every intrabar path lies within
 *   [low, high], so no path mode triggers it (the rule of `triggerHit`, with the same float comparison: prices
 *   have at most 15 significant digits, so their order as doubles is exact).
 * Liquidation is checked apart (liquidation.ts), as in a full match.
 *
 * `passQuietBar` is then exactly what `startBar`, the matching steps and `endBar` give for such a bar:
 * `test/venue-quiet-bar.test.ts` checks it against them on generated states and bars.
 */
import {
  firesUpward,
  type MarkBar,
  type MatchBar,
  type MatchingOptions,
  type MatchingState,
  triggerValue,
} from "./matching.ts";

const QUIET_TYPES: ReadonlySet<string> = new Set([
  "STOP",
  "STOP_MARKET",
  "TAKE_PROFIT",
  "TAKE_PROFIT_MARKET",
]);

/**
 * Whether matching `bar` (with its mark bar, when given) can change nothing but the clock and last prices. A bar
 * `startBar` would refuse (one already open, a mark bar of another minute, no volume under a participation rate)
 * is not quiet: the full match then throws its error.
 */
export function isQuietBar(
  state: MatchingState,
  bar: MatchBar,
  mark: MarkBar | undefined,
  options: Pick<MatchingOptions, "participationRate">,
): boolean {
  const symbol = bar.symbol;
  if (state.bars[symbol] !== undefined || (mark !== undefined && mark.openTime !== bar.openTime))
    return false;
  if (options.participationRate !== undefined && bar.volume === undefined) return false;
  for (const o of state.orders) {
    const r = o.request;
    if (r.symbol !== symbol) continue;
    if (o.stage !== "algo" || !QUIET_TYPES.has(r.type) || o.workingFrom > bar.openTime || o.entered)
      return false;
    if (r.timeInForce === "GTD" && r.goodTillDate! <= bar.closeTime) return false;
    const trigger = triggerValue(r);
    if (Number.isNaN(trigger)) return false;
    const up = firesUpward(r);
    const range = r.workingType === "MARK_PRICE" && mark !== undefined ? mark : bar;
    if (up ? Number(range.high) >= trigger : Number(range.low) <= trigger) return false;
  }
  return true;
}

/**
 * The state after a quiet bar: the symbol's last price is the close (the mark's close when given), its clock the
 * closeTime; nothing else changes. Call only when `isQuietBar` holds.
 */
export function passQuietBar(state: MatchingState, bar: MatchBar, mark: MarkBar | undefined): MatchingState {
  // Copy, then set: a spread with a computed key is several times slower in V8, and this runs on most bars.
  const lastPrice = { ...state.lastPrice };
  lastPrice[bar.symbol] = bar.close;
  const clock = { ...state.clock };
  clock[bar.symbol] = bar.closeTime;
  let markPrice = state.markPrice;
  if (mark) {
    markPrice = { ...markPrice };
    markPrice[bar.symbol] = mark.close;
  }
  // Field by field, as matching.ts's clone() (a spread of a state of varying shape is slow in V8); the maps that do
  // not change are shared, as the states of the matching core share what they do not change.
  const next: MatchingState = {
    orders: state.orders,
    positions: state.positions,
    lastPrice,
    markPrice,
    clock,
    bars: state.bars,
    orderSeq: state.orderSeq,
    tradeSeq: state.tradeSeq,
  };
  if (state.ticks) next.ticks = state.ticks;
  return next;
}
