/**
 * Exact decimal arithmetic for prices (quote asset), quantities (base asset) and money (USDT).
 *
 * `Dec` is a dedicated decimal.js constructor (never the library's global configuration): 50 significant digits,
 * half-even rounding, euclidean modulo (remainder always ≥ 0), and no exponent notation in `toString()`.
 * Sums, differences and products of exchange decimals are exact at this precision; only divisions can round.
 *
 * String policy (one helper each):
 * - `canonical(d)`: computed amounts (PnL, fees, funding, averaged entry prices) — plain notation, no exponent,
 *   no trailing fractional zeros, never "-0" (e.g. "14.692400608", "-5.0995", "0").
 * - `formatAtScale(d, increment)`: order-facing prices/quantities — exactly the decimals of the tickSize /
 *   stepSize string, trailing zeros kept (e.g. "1.020" at step "0.001", "89.00" at tick "0.01").
 */
import { Decimal } from "decimal.js";

/** The project's decimal constructor (binance-usdm.md §1.3: a decimal library with exact base-10 arithmetic). */
export const Dec = Decimal.clone({
  precision: 50,
  rounding: Decimal.ROUND_HALF_EVEN,
  modulo: Decimal.EUCLID,
  toExpNeg: -1_000,
  toExpPos: 1_000,
});
/** A decimal value created by `Dec`. */
export type Dec = Decimal;

const DECIMAL_STRING = /^-?\d+(\.\d+)?$/;
const INCREMENT_STRING = /^\d+(\.\d+)?$/;

/**
 * Parses a plain decimal string ("123.45", "-0.5"; no exponent, no sign "+") or re-creates a decimal under
 * `Dec`'s configuration. Throws an Error naming `what` when the string is not a plain decimal.
 */
export function toDec(value: Dec | string, what = "value"): Dec {
  if (typeof value === "string") {
    if (!DECIMAL_STRING.test(value))
      throw new Error(`${what}: expected a decimal string like "123.45", got "${value}"`);
    return new Dec(value);
  }
  return new Dec(value);
}

/** The canonical string of a decimal: plain notation, no trailing fractional zeros, "0" for zero. */
export function canonical(value: Dec): string {
  return value.isZero() ? "0" : value.toFixed();
}

/**
 * Number of decimals written in an increment string (tickSize/stepSize), trailing zeros included:
 * "0.10" → 2, "0.001" → 3, "1" → 0, "10" → 0. Throws for anything but an unsigned plain decimal.
 */
export function decimalsOf(increment: string): number {
  // The last answer is kept: a strategy asks for its instrument's tick scale on every bar.
  if (increment === lastIncrement.text) return lastIncrement.decimals;
  if (!INCREMENT_STRING.test(increment)) {
    throw new Error(`increment: expected an unsigned decimal string like "0.01", got "${increment}"`);
  }
  const dot = increment.indexOf(".");
  const decimals = dot < 0 ? 0 : increment.length - dot - 1;
  lastIncrement = { text: increment, decimals };
  return decimals;
}

let lastIncrement: { text: string; decimals: number } = { text: "1", decimals: 0 };

function positiveIncrement(increment: string, what: string): Dec {
  decimalsOf(increment);
  const d = new Dec(increment);
  if (d.lte(0)) throw new Error(`${what} must be > 0, got "${increment}"`);
  return d;
}

/**
 * Floors a quantity onto the LOT_SIZE / MARKET_LOT_SIZE grid (binance-usdm.md §1.3 step 3):
 * `units = floor((q − minQty) / stepSize)`, `q' = minQty + units × stepSize`, exact.
 * Returns 0 when `q < minQty` (the order cannot be placed). Throws when stepSize ≤ 0 or a string is malformed.
 */
export function floorToStep(quantity: Dec | string, stepSize: string, minQty = "0"): Dec {
  const q = toDec(quantity, "quantity");
  const step = positiveIncrement(stepSize, "stepSize");
  const min = toDec(minQty, "minQty");
  if (q.lt(min)) return new Dec(0);
  return min.plus(q.minus(min).divToInt(step).times(step));
}

/**
 * Rounds a price onto the PRICE_FILTER grid (binance-usdm.md §1.3 step 4):
 * `units = (p − minPrice) / tickSize` rounded down ("floor") or up ("ceil"), `p' = minPrice + units × tickSize`.
 * Exact; the caller chooses the side-aware mode (e.g. strategies.md §2.3: LONG floors SL/TP, SHORT ceils).
 * Throws when tickSize ≤ 0 or a string is malformed.
 */
export function roundToTick(
  price: Dec | string,
  tickSize: string,
  mode: "floor" | "ceil",
  minPrice = "0",
): Dec {
  const p = toDec(price, "price");
  const tick = positiveIncrement(tickSize, "tickSize");
  const min = toDec(minPrice, "minPrice");
  const remainder = p.minus(min).mod(tick); // euclidean: 0 ≤ remainder < tick
  if (remainder.isZero()) return p;
  const floored = p.minus(remainder);
  return mode === "floor" ? floored : floored.plus(tick);
}

/**
 * Serialises a tick/step-aligned value with exactly the decimals of `increment` (its own scale: "0.10" → 2
 * decimals, "1" → 0), as Binance expects order parameters (binance-usdm.md §1.3 step 6).
 * Throws when `value` has more significant decimals than that scale (it would need rounding: a caller bug).
 */
export function formatAtScale(value: Dec, increment: string): string {
  const scale = decimalsOf(increment);
  if (value.decimalPlaces() > scale) {
    throw new Error(
      `${canonical(value)} has more decimals than the increment "${increment}" allows (${scale})`,
    );
  }
  return value.isZero() ? new Dec(0).toFixed(scale) : value.toFixed(scale);
}
