/**
 * Max open positions: an order that would open a position on a flat symbol is denied when the account already
 * has `maxOpenPositions` positions (symbols with a position, or flat with a working opening order).
 */
import { positionOf, reducesPosition } from "./order-effect.ts";
import type { PreTradeRule } from "./types.ts";

/** Denies an order opening one more position than `limits.maxOpenPositions`. */
export const maxOpenPositions: PreTradeRule = (intent, snapshot, limits) => {
  if (limits.maxOpenPositions === undefined) return undefined;
  const { order } = intent;
  const key = (symbol: string, side: string) => `${symbol}|${side}`;
  const open = new Set(snapshot.positions.map((p) => key(p.symbol, p.positionSide)));
  for (const o of snapshot.openOrders) if (!o.reducing) open.add(key(o.symbol, o.positionSide));
  const own = key(order.symbol, order.positionSide);
  if (open.has(own) || reducesPosition(order, positionOf(order, snapshot))) return undefined;
  if (open.size < limits.maxOpenPositions) return undefined;
  return {
    rule: "maxOpenPositions",
    reason: `${order.symbol} would open position ${open.size + 1} with ${open.size} open, above the limit ${limits.maxOpenPositions}`,
    numbers: { openPositions: String(open.size), limit: String(limits.maxOpenPositions) },
  };
};
