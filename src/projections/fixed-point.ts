/**
 * Fixed-point amounts for the per-bar hot path of the projections (binance-usdm.md §1.3 step 2: a decimal
 * string parsed into a BigInt mantissa at a scale, so sums and products stay exact without decimal.js work
 * on every bar). Money is held in units of 10^-`MONEY_SCALE` USDT.
 */

/**
 * Decimals of the money unit. Exchange decimals have ≤ 8 decimals (12 for averaged entry prices), so a
 * product of two of them, and every sum of such products, fits exactly.
 */
export const MONEY_SCALE = 24;

const DECIMAL = /^-?\d+(\.\d+)?$/;
/** 10^0 … 10^(2·MONEY_SCALE). */
const POWERS_OF_TEN = Array.from({ length: 2 * MONEY_SCALE + 1 }, (_, i) => 10n ** BigInt(i));

/** Number of significant decimals of a plain decimal string ("1.2300" → 2, "-5" → 0). */
export function significantDecimals(value: string): number {
  const dot = value.indexOf(".");
  if (dot < 0) return 0;
  let end = value.length;
  while (end > dot + 1 && value.charCodeAt(end - 1) === 48 /* 0 */) end--;
  return end - dot - 1;
}

/**
 * `value` (a plain decimal string, e.g. "-65432.10") as an integer count of 10^-`scale` (0 ≤ scale ≤
 * 2·MONEY_SCALE). Throws an Error when `value` is not a plain decimal or has more significant decimals than
 * `scale`.
 */
export function toUnits(value: string, scale: number): bigint {
  if (!DECIMAL.test(value)) throw new Error(`expected a decimal string like "123.45", got "${value}"`);
  const decimals = significantDecimals(value);
  if (decimals > scale) throw new Error(`"${value}" has more than ${scale} significant decimals`);
  const dot = value.indexOf(".");
  const digits = dot < 0 ? value : value.slice(0, dot) + value.slice(dot + 1, dot + 1 + decimals);
  const small = Number(digits);
  const mantissa = Number.isSafeInteger(small) ? BigInt(small) : BigInt(digits);
  return mantissa * POWERS_OF_TEN[scale - decimals]!;
}

/** Formats a count of 10^-`scale` as a canonical decimal string (no trailing fractional zeros, "0" for zero). */
export function formatUnits(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  const integer = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, "");
  const body = fraction ? `${integer}.${fraction}` : integer;
  return negative ? `-${body}` : body;
}
