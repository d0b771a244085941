/** The denial of an order that a configured rule cannot value: no mark and no price of its own. */
import type { Denial, OrderIntent } from "./types.ts";

/** `rule` needs a price for `intent`'s symbol and there is none (no bar of the symbol yet, no order price). */
export function noPriceDenial(rule: string, intent: OrderIntent): Denial {
  return {
    rule,
    reason: `${rule}: no price to value the ${intent.order.symbol} order at (no mark yet and no order price)`,
    numbers: {},
  };
}
