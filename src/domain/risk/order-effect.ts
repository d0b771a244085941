/**
 * What an order would do to the account: the price it is valued at, its quantity, whether it reduces a position,
 * and the position after it. Pure decimal arithmetic (src/domain/decimal.ts).
 */
import { canonical, Dec } from "../decimal.ts";
import { closingOrder } from "../orders/closing.ts";
import type { OrderIntent, RiskPosition, RiskSnapshot } from "./types.ts";

type Order = OrderIntent["order"];

/**
 * The price an order is valued at: the limit price (LIMIT, STOP, TAKE_PROFIT), the trigger price
 * (STOP_MARKET, TAKE_PROFIT_MARKET), the activation price (TRAILING_STOP_MARKET), else the reference price
 * (MARKET), else the symbol's mark; undefined when none is known.
 */
export function orderValuationPrice(
  order: Order,
  referencePrice: string | undefined,
  mark: string | undefined,
): string | undefined {
  return order.price ?? order.triggerPrice ?? order.activatePrice ?? referencePrice ?? mark;
}

/** The price a rule compares with the mark (fat finger): the limit price, else a MARKET order's reference price. */
export function executionPrice(intent: OrderIntent): string | undefined {
  if (intent.order.price !== undefined) return intent.order.price;
  return intent.order.type === "MARKET" ? intent.referencePrice : undefined;
}

/** The position the order acts on (same symbol and position side), if open. */
export function positionOf(order: Order, snapshot: RiskSnapshot): RiskPosition | undefined {
  return snapshot.positions.find((p) => p.symbol === order.symbol && p.positionSide === order.positionSide);
}

/** The order's quantity: its own, or the whole position for closePosition (0 when flat). */
export function orderQuantity(order: Order, position: RiskPosition | undefined): Dec {
  if (order.quantity !== undefined) return new Dec(order.quantity);
  return position ? new Dec(position.positionAmt).abs() : new Dec(0);
}

/** +1 for BUY, −1 for SELL. */
export function sideSign(side: "BUY" | "SELL"): 1 | -1 {
  return side === "BUY" ? 1 : -1;
}

/**
 * Whether the order reduces its position: the position is open, the order's side is opposite to it, and the
 * order is reduce-only, closes the position (closePosition, or a hedge-mode close: `closingOrder`), or is no
 * larger than it.
 */
export function reducesPosition(order: Order, position: RiskPosition | undefined): boolean {
  if (!position) return false;
  const amt = new Dec(position.positionAmt);
  if (amt.isZero() || amt.isNegative() === (order.side === "SELL")) return false;
  return closingOrder(order) || orderQuantity(order, position).lte(amt.abs());
}

/**
 * Whether the order can only reduce: reduce-only, closePosition or a hedge-mode close, and it reduces an open position
 * (NautilusTrader's semantics: such an order passes every exposure rule; only the trading state judges it).
 */
export function onlyReduces(order: Order, position: RiskPosition | undefined): boolean {
  return closingOrder(order) && reducesPosition(order, position);
}

/** The signed position size after the order fills completely (a reduce-only order stops at flat). */
export function positionAfter(order: Order, position: RiskPosition | undefined): Dec {
  const amt = new Dec(position?.positionAmt ?? 0);
  const after = amt.plus(orderQuantity(order, position).times(sideSign(order.side)));
  if (!closingOrder(order)) return after;
  // A reduce-only order never opens or flips a position.
  if (!reducesPosition(order, position) || after.isNegative() !== amt.isNegative()) return new Dec(0);
  return after;
}

/** `value` as a canonical decimal string. */
export const str = (value: Dec): string => canonical(value);

/**
 * The price the order's symbol is valued at: its mark, else the order's own valuation price.
 * @returns undefined when neither is known (no bar of the symbol yet and a MARKET order without reference).
 */
export function symbolPrice(intent: OrderIntent, snapshot: RiskSnapshot): string | undefined {
  const mark = snapshot.marks[intent.order.symbol];
  return mark ?? orderValuationPrice(intent.order, intent.referencePrice, undefined);
}

/** The notional of a working order that may still open exposure (0 for a reducing one or one without price). */
export function openOrderNotional(o: RiskSnapshot["openOrders"][number]): Dec {
  if (o.reducing || o.price === undefined) return new Dec(0);
  return new Dec(o.quantity).times(o.price).abs();
}
