/** The string patterns of the event catalog, shared by its zod schemas and its hand-written fast paths. */

/** A decimal number: optional minus, digits, optional fraction (no exponent). */
export const DECIMAL_PATTERN = /^-?\d+(\.\d+)?$/;
/** A Binance symbol, e.g. BTCUSDT. */
export const SYMBOL_PATTERN = /^[A-Z0-9]{2,30}$/;
