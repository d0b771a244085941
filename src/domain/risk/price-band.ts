/**
 * Price band against the mark (fat finger): an order's execution price — its limit price, or a MARKET order's
 * reference price — more than `priceBand` (a ratio) away from the symbol's mark is denied:
 * |price − mark| > mark × priceBand. Trigger prices are not execution prices and are not judged (like Binance's
 * PERCENT_PRICE filter, binance-usdm.md §1). An order without a price to judge, or a symbol without a mark, passes.
 */
import { Dec } from "../decimal.ts";
import { executionPrice, str } from "./order-effect.ts";
import type { PreTradeRule } from "./types.ts";

/** Denies an order priced more than `limits.priceBand` from the mark. */
export const priceBand: PreTradeRule = (intent, snapshot, limits) => {
  if (limits.priceBand === undefined) return undefined;
  const price = executionPrice(intent);
  const mark = snapshot.marks[intent.order.symbol];
  if (price === undefined || mark === undefined) return undefined;
  const distance = new Dec(price).minus(mark).abs();
  const band = new Dec(limits.priceBand);
  const allowed = new Dec(mark).times(band);
  if (distance.lte(allowed)) return undefined;
  const ratio = distance.div(mark).toDecimalPlaces(8);
  return {
    rule: "priceBand",
    reason: `price ${price} is ${str(ratio)} from the mark ${mark}, outside the band ${str(band)}`,
    numbers: { price, markPrice: mark, deviation: str(ratio), band: str(band) },
  };
};
