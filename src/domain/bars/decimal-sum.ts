/**
 * Exact running sums of unsigned decimal strings (volumes, trade counts aside) without decimal.js: integer units
 * of 10^-scale, held as a JS number while that is a safe integer and as BigInt digits beyond. The value is plain
 * JSON, so a sum can sit in a serialised strategy snapshot.
 */

/** `units × 10^-scale`; `units` is a safe integer, or its decimal digits (a string) once it is not. */
export interface DecimalSum {
  readonly units: number | string;
  readonly scale: number;
}

/** The empty sum. */
export const ZERO_SUM: DecimalSum = { units: 0, scale: 0 };

/** Digits up to which a parsed integer is always a safe integer (10^15 < 2^53). */
const SAFE_DIGITS = 15;

/**
 * `sum + value` exactly; `value` is an unsigned plain decimal ("16.536", "0", "12"); the result keeps the larger
 * of the two scales. Throws an Error naming `what` when `value` is not an unsigned plain decimal.
 */
export function addToSum(sum: DecimalSum, value: string, what: string): DecimalSum {
  let units = 0;
  let digits = 0;
  let scale = -1; // -1 while in the integer part
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 46 /* . */ && scale < 0 && digits > 0) {
      scale = 0;
      continue;
    }
    const digit = c - 48;
    if (digit < 0 || digit > 9) throw new Error(`${what}: expected an unsigned decimal, got "${value}"`);
    units = units * 10 + digit;
    digits++;
    if (scale >= 0) scale++;
  }
  if (digits === 0 || scale === 0) throw new Error(`${what}: expected an unsigned decimal, got "${value}"`);
  if (scale < 0) scale = 0;
  const target = Math.max(sum.scale, scale);
  if (digits <= SAFE_DIGITS && typeof sum.units === "number") {
    const total = sum.units * 10 ** (target - sum.scale) + units * 10 ** (target - scale);
    // Rounding is monotonic: a true total beyond 2^53 − 1 never rounds to a safe integer.
    if (Number.isSafeInteger(total)) return { units: total, scale: target };
  }
  const digitsOnly = scale === 0 ? value : value.replace(".", "");
  const total =
    BigInt(sum.units) * 10n ** BigInt(target - sum.scale) +
    BigInt(digitsOnly) * 10n ** BigInt(target - scale);
  return {
    units: total <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(total) : total.toString(),
    scale: target,
  };
}

/**
 * The canonical decimal string of a sum: plain notation, no trailing fractional zeros, "0" for zero
 * (the policy of `canonical` in src/domain/decimal.ts).
 */
export function formatSum(sum: DecimalSum): string {
  const digits = String(sum.units);
  if (sum.scale === 0) return digits;
  const padded = digits.padStart(sum.scale + 1, "0");
  let end = padded.length;
  while (end > padded.length - sum.scale && padded.charCodeAt(end - 1) === 48) end--;
  const whole = padded.slice(0, padded.length - sum.scale);
  return end === padded.length - sum.scale
    ? whole
    : `${whole}.${padded.slice(padded.length - sum.scale, end)}`;
}
