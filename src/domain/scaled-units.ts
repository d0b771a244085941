/**
 * Prices as exact integers on the hot path: a price string is read as an integer count of 10^-scale units
 * (scale = the decimals of the instrument's tickSize string, e.g. "0.10" → 2), without decimal.js or float
 * arithmetic (strategies.md §2.3: keep running sums in integer units so streaming sums are exact).
 */

/**
 * Parses an unsigned plain decimal price ("95505.4", "30002", "9.1230") into integer units of 10^-scale.
 * Extra trailing zeros beyond `scale` are accepted ("9.1230" at scale 3 → 9123).
 * Throws an Error naming `what` for signs, exponents, empty parts, non-zero digits beyond `scale`, or values
 * whose unit count is not a safe integer.
 */
export function toScaledUnits(value: string, scale: number, what = "price"): number {
  let units = 0;
  let decimals = -1; // -1 while in the integer part
  let digits = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 46 /* . */ && decimals < 0 && digits > 0) {
      decimals = 0;
      continue;
    }
    const digit = c - 48;
    if (digit < 0 || digit > 9)
      throw new Error(`${what}: expected an unsigned decimal string, got "${value}"`);
    digits++;
    if (decimals >= 0) {
      decimals++;
      if (decimals > scale) {
        if (digit !== 0)
          throw new Error(`${what} "${value}" has more than ${scale} decimals (the tick scale)`);
        continue;
      }
    }
    units = units * 10 + digit;
  }
  if (digits === 0 || decimals === 0)
    throw new Error(`${what}: expected an unsigned decimal string, got "${value}"`);
  for (let d = Math.max(decimals, 0); d < scale; d++) units *= 10;
  if (!Number.isSafeInteger(units))
    throw new Error(`${what} "${value}" exceeds the exact integer range at scale ${scale}`);
  return units;
}

/** Formats integer units of 10^-scale as a plain decimal string with exactly `scale` decimals (9123, 3 → "9.123"). */
export function fromScaledUnits(units: number, scale: number): string {
  if (!Number.isSafeInteger(units)) throw new Error(`units must be a safe integer, got ${units}`);
  const negative = units < 0;
  const digits = String(Math.abs(units)).padStart(scale + 1, "0");
  const body = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${body}` : body;
}
