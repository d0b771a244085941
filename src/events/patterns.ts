/** The string patterns of the event catalog, shared by its zod schemas and its hand-written fast paths. */

/** A decimal number: optional minus, digits, optional fraction (no exponent). */
export const DECIMAL_PATTERN = /^-?\d+(\.\d+)?$/;
/** A Binance symbol, e.g. BTCUSDT. */
export const SYMBOL_PATTERN = /^[A-Z0-9]{2,30}$/;

/**
 * `DECIMAL_PATTERN.test(text)`, by a scan of the characters instead of the regex engine (several times faster
 * on the short strings of a bar, and it runs for each of a bar's prices).
 */
export function isDecimalText(text: string): boolean {
  const n = text.length;
  let i = text.charCodeAt(0) === 45 ? 1 : 0; // "-"
  const start = i;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  if (i === start) return false;
  if (i === n) return true;
  if (text.charCodeAt(i) !== 46) return false; // "."
  const fraction = ++i;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  return i === n && i > fraction;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
