/**
 * Leverage brackets of one symbol (binance-usdm.md §4.6, `GET /fapi/v1/leverageBracket`): which bracket a
 * notional falls in, the largest position a leverage allows (-2027), and the consistency check every loaded set
 * of brackets passes. Notionals are USDT (|positionAmt| × price), ratios are decimal strings (0.004 = 0.4 %).
 *
 * Boundary convention (§4.6 says it is UNCONFIRMED): a notional belongs to the bracket with
 * `notionalFloor < notional ≤ notionalCap`; notional 0 belongs to bracket 1. So a notional exactly equal to a cap
 * is in the lower bracket, and the cap of a bracket is the largest notional its leverage allows.
 */
import { canonical, type Dec, toDec } from "../decimal.ts";

/** One bracket, as Binance sends it, with its decimals as exact canonical strings. */
export type LeverageBracket = {
  /** 1, 2, … in order of notional. */
  readonly bracket: number;
  /** The highest leverage a position in this bracket may use (integer ≥ 1). */
  readonly initialLeverage: number;
  /** Upper bound of the bracket's notional, USDT (inclusive, see the module's convention). */
  readonly notionalCap: string;
  /** Lower bound of the bracket's notional, USDT (exclusive; 0 for bracket 1). */
  readonly notionalFloor: string;
  /** Maintenance margin rate, a ratio (0.004 = 0.4 %). */
  readonly maintMarginRatio: string;
  /** Maintenance amount ("cum"), USDT. */
  readonly cum: string;
};

/** The brackets of one symbol. */
export type SymbolBrackets = {
  readonly symbol: string;
  /**
   * Binance's `notionalCoef`, sent when the account's brackets are scaled; kept as information only: the
   * brackets are taken as sent (already the account's), nothing is multiplied by it.
   */
  readonly notionalCoef?: string;
  /** Bracket 1 first; at least one. */
  readonly brackets: readonly LeverageBracket[];
};

/** A set of brackets that breaks a rule of §4.6; the message names the symbol and the bracket. */
export class LeverageBracketError extends Error {
  override name = "LeverageBracketError";
}

/**
 * Checks the brackets of `symbol` (§4.6): numbered 1…n in order; bracket 1 starts at notional 0; each floor is
 * the previous cap and each cap is above its floor; initialLeverage an integer ≥ 1, never rising from one bracket
 * to the next; 0 ≤ maintMarginRatio < 1; cum_1 = 0 and `cum_n = notionalFloor_n × (MMR_n − MMR_{n−1}) + cum_{n−1}`
 * exactly.
 * @throws LeverageBracketError naming the symbol, the bracket and the rule, e.g.
 *   `BTCUSDT bracket 3: cum 951 ≠ notionalFloor × (MMR − previous MMR) + previous cum = 950`.
 */
export function verifyBrackets(symbol: string, brackets: readonly LeverageBracket[]): void {
  const fail = (b: LeverageBracket | undefined, message: string): never => {
    throw new LeverageBracketError(`${symbol}${b === undefined ? "" : ` bracket ${b.bracket}`}: ${message}`);
  };
  if (brackets.length === 0) fail(undefined, "no brackets");
  let previous: LeverageBracket | undefined;
  for (const [i, b] of brackets.entries()) {
    if (b.bracket !== i + 1) fail(b, `expected bracket number ${i + 1} at position ${i + 1}`);
    if (!Number.isInteger(b.initialLeverage) || b.initialLeverage < 1)
      fail(b, `initialLeverage ${b.initialLeverage} is not an integer ≥ 1`);
    const floor = toDec(b.notionalFloor, `${symbol} bracket ${b.bracket} notionalFloor`);
    const cap = toDec(b.notionalCap, `${symbol} bracket ${b.bracket} notionalCap`);
    const mmr = toDec(b.maintMarginRatio, `${symbol} bracket ${b.bracket} maintMarginRatio`);
    const cum = toDec(b.cum, `${symbol} bracket ${b.bracket} cum`);
    if (cap.lte(floor)) fail(b, `notionalCap ${b.notionalCap} ≤ notionalFloor ${b.notionalFloor}`);
    if (mmr.lt(0) || mmr.gte(1)) fail(b, `maintMarginRatio ${b.maintMarginRatio} is not in [0, 1)`);
    if (previous === undefined) {
      if (!floor.isZero()) fail(b, `notionalFloor ${b.notionalFloor} ≠ 0`);
      if (!cum.isZero()) fail(b, `cum ${b.cum} ≠ 0`);
    } else {
      if (!floor.eq(previous.notionalCap))
        fail(b, `notionalFloor ${b.notionalFloor} ≠ the previous notionalCap ${previous.notionalCap}`);
      if (b.initialLeverage > previous.initialLeverage)
        fail(b, `initialLeverage ${b.initialLeverage} > the previous ${previous.initialLeverage}`);
      const expected = floor.times(mmr.minus(previous.maintMarginRatio)).plus(previous.cum);
      if (!cum.eq(expected))
        fail(
          b,
          `cum ${b.cum} ≠ notionalFloor × (MMR − previous MMR) + previous cum = ${canonical(expected)}`,
        );
    }
    previous = b;
  }
}

/**
 * The bracket of a notional (USDT, ≥ 0): `notionalFloor < notional ≤ notionalCap`, bracket 1 for 0 (§4.6).
 * A notional above the last cap gets the last bracket: the cap bounds new positions (-2027, `maxNotionalFor`),
 * while the mark notional of an open position can grow past it with the price, and keeps the last bracket's
 * maintenance rate.
 * @throws Error when the notional is negative or not a decimal.
 */
export function bracketFor(brackets: readonly LeverageBracket[], notional: Dec | string): LeverageBracket {
  const n = toDec(notional, "notional");
  if (n.isNegative()) throw new Error(`notional must be ≥ 0, got ${canonical(n)}`);
  for (const b of brackets) if (n.lte(b.notionalCap)) return b;
  return brackets[brackets.length - 1]!;
}

/**
 * The largest position notional (USDT) a leverage allows: the cap of the highest bracket whose initialLeverage
 * ≥ `leverage` (§4.5, §4.6). A position whose notional after an order exceeds it is refused with -2027
 * MAX_LEVERAGE_RATIO (§5.2).
 * @throws LeverageBracketError when `leverage` is not an integer ≥ 1 or above bracket 1's initialLeverage (no
 *   position may use it).
 */
export function maxNotionalFor(brackets: readonly LeverageBracket[], leverage: number): string {
  if (!Number.isInteger(leverage) || leverage < 1)
    throw new LeverageBracketError(`leverage ${leverage} is not an integer ≥ 1`);
  let allowed: LeverageBracket | undefined;
  for (const b of brackets) if (b.initialLeverage >= leverage) allowed = b;
  if (allowed === undefined)
    throw new LeverageBracketError(
      `leverage ${leverage} is above the highest the brackets allow (${brackets[0]?.initialLeverage})`,
    );
  return allowed.notionalCap;
}

/**
 * The highest leverage a position of `notional` (USDT, ≥ 0) may use: the initialLeverage of its bracket (§4.6),
 * or null when it is above the last cap (no leverage allows it). For every leverage L and notional N:
 * `N ≤ maxNotionalFor(L)` exactly when `L ≤ maxLeverageFor(N)`.
 */
export function maxLeverageFor(brackets: readonly LeverageBracket[], notional: Dec | string): number | null {
  const n = toDec(notional, "notional");
  const last = brackets[brackets.length - 1]!;
  if (n.gt(last.notionalCap)) return null;
  return bracketFor(brackets, n).initialLeverage;
}
