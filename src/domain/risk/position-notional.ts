/**
 * Max position notional per symbol: the symbol's position after the order, plus its working opening orders on
 * the same side (worst case: they all fill), valued at the mark, must not exceed `maxPositionNotional` (USDT).
 */
import { Dec } from "../decimal.ts";
import { noPriceDenial } from "./no-price.ts";
import { openOrderNotional, positionAfter, positionOf, str, symbolPrice } from "./order-effect.ts";
import type { PreTradeRule } from "./types.ts";

/** Denies an order that would take its symbol's position notional above `limits.maxPositionNotional`. */
export const maxPositionNotional: PreTradeRule = (intent, snapshot, limits) => {
  if (limits.maxPositionNotional === undefined) return undefined;
  const { order } = intent;
  const price = symbolPrice(intent, snapshot);
  if (price === undefined) return noPriceDenial("maxPositionNotional", intent);
  const after = positionAfter(order, positionOf(order, snapshot)).times(price).abs();
  const pending = snapshot.openOrders
    .filter(
      (o) => o.symbol === order.symbol && o.positionSide === order.positionSide && o.side === order.side,
    )
    .reduce((sum, o) => sum.plus(openOrderNotional(o)), new Dec(0));
  const notional = after.plus(pending);
  const limit = new Dec(limits.maxPositionNotional);
  if (notional.lte(limit)) return undefined;
  return {
    rule: "maxPositionNotional",
    reason: `${order.symbol} position notional after the order ${str(notional)} USDT exceeds the limit ${str(limit)} USDT`,
    numbers: {
      positionNotional: str(notional),
      openOrdersNotional: str(pending),
      limit: str(limit),
      markPrice: price,
    },
  };
};
