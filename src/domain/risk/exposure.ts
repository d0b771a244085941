/**
 * Account exposure after the order: gross exposure = Σ |position notional| at mark (the order's position taken
 * as it would be after the order) + Σ notional of working opening orders (other orders that may still fill);
 * account leverage = gross exposure / equity.
 */
import { Dec } from "../decimal.ts";
import { noPriceDenial } from "./no-price.ts";
import { openOrderNotional, positionAfter, positionOf, str, symbolPrice } from "./order-effect.ts";
import type { Denial, OrderIntent, PreTradeRule, RiskSnapshot } from "./types.ts";

/** Gross exposure (USDT) after `intent` fills, or undefined when a position or the order has no price. */
export function grossExposureAfter(intent: OrderIntent, snapshot: RiskSnapshot): Dec | undefined {
  const { order } = intent;
  const price = symbolPrice(intent, snapshot);
  if (price === undefined) return undefined;
  let gross = positionAfter(order, positionOf(order, snapshot)).times(price).abs();
  for (const p of snapshot.positions) {
    if (p.symbol === order.symbol && p.positionSide === order.positionSide) continue;
    if (p.markPrice === undefined) return undefined;
    gross = gross.plus(new Dec(p.positionAmt).times(p.markPrice).abs());
  }
  for (const o of snapshot.openOrders) gross = gross.plus(openOrderNotional(o));
  return gross;
}

/** Denies an order that would take gross exposure above `limits.maxGrossExposure` (USDT). */
export const maxGrossExposure: PreTradeRule = (intent, snapshot, limits) => {
  if (limits.maxGrossExposure === undefined) return undefined;
  const gross = grossExposureAfter(intent, snapshot);
  if (gross === undefined) return noPriceDenial("maxGrossExposure", intent);
  const limit = new Dec(limits.maxGrossExposure);
  if (gross.lte(limit)) return undefined;
  return {
    rule: "maxGrossExposure",
    reason: `gross exposure after the order ${str(gross)} USDT exceeds the limit ${str(limit)} USDT`,
    numbers: { grossExposure: str(gross), limit: str(limit) },
  };
};

/**
 * Denies an order that would take account leverage (gross exposure / equity) above `limits.maxLeverage`; with
 * equity ≤ 0 every order that is not only reducing is denied.
 */
export const maxLeverage: PreTradeRule = (intent, snapshot, limits): Denial | undefined => {
  if (limits.maxLeverage === undefined) return undefined;
  const gross = grossExposureAfter(intent, snapshot);
  if (gross === undefined) return noPriceDenial("maxLeverage", intent);
  const equity = new Dec(snapshot.equity);
  const limit = new Dec(limits.maxLeverage);
  if (equity.lte(0)) {
    return {
      rule: "maxLeverage",
      reason: `equity ${str(equity)} USDT is not positive: leverage is unbounded`,
      numbers: { grossExposure: str(gross), equity: str(equity), limit: str(limit) },
    };
  }
  // gross / equity ≤ limit ⇔ gross ≤ limit × equity (exact, no division).
  if (gross.lte(limit.times(equity))) return undefined;
  const leverage = gross.div(equity).toDecimalPlaces(8);
  return {
    rule: "maxLeverage",
    reason: `account leverage after the order ${str(leverage)} exceeds the limit ${str(limit)}`,
    numbers: { leverage: str(leverage), grossExposure: str(gross), equity: str(equity), limit: str(limit) },
  };
};
