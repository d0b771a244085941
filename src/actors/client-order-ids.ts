/**
 * Deterministic clientOrderIds: `ps-<SYMBOL>-<n>-<leg>` where n is the symbol's signal number (6 digits) and leg
 * is E (entry), SL (stop-loss), TP (take-profit), FL (flatten) or T (a move to a target position). Fits Binance's `^[.A-Z:/a-z0-9_-]{1,36}$`.
 */
export type OrderLeg = "E" | "SL" | "TP" | "FL" | "T";

/** The clientOrderId of one leg of signal `n` on `symbol`. */
export function clientOrderIdFor(symbol: string, n: number, leg: OrderLeg): string {
  return `ps-${symbol}-${String(n).padStart(6, "0")}-${leg}`;
}
