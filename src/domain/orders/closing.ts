/**
 * Which orders can only reduce a position (binance-usdm.md §2.2 "Risk-reducing orders", §4.1): reduceOnly or
 * closePosition in either mode, and in hedge mode a SELL on the LONG side or a BUY on the SHORT side (Binance
 * forbids reduceOnly there: the position side makes them closes).
 */

/** The fields of an order that decide whether it closes. */
export interface ClosingFields {
  readonly side: "BUY" | "SELL";
  readonly positionSide: "BOTH" | "LONG" | "SHORT";
  readonly reduceOnly: boolean;
  readonly closePosition?: boolean;
}

/** Whether the order may only reduce its position (module comment). */
export function closingOrder(r: ClosingFields): boolean {
  if (r.reduceOnly || r.closePosition === true) return true;
  return r.positionSide === "LONG" ? r.side === "SELL" : r.positionSide === "SHORT" && r.side === "BUY";
}
