/**
 * The risk engine's exchange-filter rule: the order must pass Binance's stateless checks exactly
 * (`validateOrder`, src/domain/orders/validate.ts: parameters, precision, LOT_SIZE / MARKET_LOT_SIZE,
 * PRICE_FILTER, callbackRate, GTD bounds, position side) before it may reach the venue, as NautilusTrader's
 * RiskEngine checks an order against its instrument. The checks that depend on the market at the venue's moment
 * (MIN_NOTIONAL and PERCENT_PRICE valued at the mark, -2021 would-trigger) are left to the venue, which sees the
 * price the order meets; the price band rule covers fat fingers against the mark.
 */
import type { Instrument } from "../instruments.ts";
import { validateOrder } from "../orders/validate.ts";
import type { Denial, OrderIntent } from "./types.ts";

/** Codes whose answer depends on the market price at the venue: the venue's to give. */
const MARKET_DEPENDENT: ReadonlySet<number> = new Set([-4164, -4016, -4024, -2021]);

/**
 * The first exchange-filter violation of the order as a denial (rule `exchangeFilters`, with Binance's code,
 * name and field), or undefined. `markPrice` values the order where a check needs a price (USDT, > 0).
 */
export function exchangeFilterDenial(
  intent: OrderIntent,
  instrument: Instrument,
  markPrice: string,
  now: number,
  dualSidePosition: boolean,
): Denial | undefined {
  const violation = validateOrder(intent.order, {
    instrument,
    markPrice,
    lastPrice: markPrice,
    dualSidePosition,
    now,
  }).find((v) => !MARKET_DEPENDENT.has(v.code));
  if (!violation) return undefined;
  return {
    rule: "exchangeFilters",
    reason: `${violation.code} ${violation.name}: ${violation.detail}`,
    numbers: { code: String(violation.code), field: violation.field },
  };
}
