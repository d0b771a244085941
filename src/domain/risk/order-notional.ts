/** Max order notional: |quantity| × valuation price must not exceed `maxOrderNotional` (USDT). */
import { Dec } from "../decimal.ts";
import { noPriceDenial } from "./no-price.ts";
import { orderQuantity, orderValuationPrice, positionOf, str } from "./order-effect.ts";
import type { PreTradeRule } from "./types.ts";

/** Denies an order whose notional (quantity × `orderValuationPrice`) is above `limits.maxOrderNotional`. */
export const maxOrderNotional: PreTradeRule = (intent, snapshot, limits) => {
  if (limits.maxOrderNotional === undefined) return undefined;
  const { order } = intent;
  const price = orderValuationPrice(order, intent.referencePrice, snapshot.marks[order.symbol]);
  if (price === undefined) return noPriceDenial("maxOrderNotional", intent);
  const notional = orderQuantity(order, positionOf(order, snapshot)).times(price).abs();
  const limit = new Dec(limits.maxOrderNotional);
  if (notional.lte(limit)) return undefined;
  return {
    rule: "maxOrderNotional",
    reason: `order notional ${str(notional)} USDT exceeds the limit ${str(limit)} USDT`,
    numbers: { notional: str(notional), limit: str(limit), price },
  };
};
