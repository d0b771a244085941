/**
 * The pre-trade check: the trading state first; an order that only reduces (reduce-only or closePosition, and
 * reducing an open position) then passes — NautilusTrader's semantics: reducing risk is never refused by an
 * exposure, price or rate limit; every other order meets each rule in turn and the first denial wins.
 */
import { maxGrossExposure, maxLeverage } from "./exposure.ts";
import { maxOpenPositions } from "./open-positions.ts";
import { onlyReduces, positionOf } from "./order-effect.ts";
import { maxOrderNotional } from "./order-notional.ts";
import { orderRate } from "./order-rate.ts";
import { maxPositionNotional } from "./position-notional.ts";
import { priceBand } from "./price-band.ts";
import { tradingStateGate } from "./trading-state-gate.ts";
import type { Denial, OrderIntent, PreTradeRule, RiskLimits, RiskSnapshot } from "./types.ts";

/** The rules an order that may add exposure meets, in order. */
export const preTradeRules: readonly PreTradeRule[] = [
  priceBand,
  orderRate,
  maxOrderNotional,
  maxPositionNotional,
  maxGrossExposure,
  maxLeverage,
  maxOpenPositions,
];

/** The first denial of `intent` under `limits` in `snapshot`, or undefined when it passes. Pure. */
export function preTradeCheck(
  intent: OrderIntent,
  snapshot: RiskSnapshot,
  limits: RiskLimits,
): Denial | undefined {
  const gate = tradingStateGate(intent, snapshot, limits);
  if (gate) return gate;
  if (onlyReduces(intent.order, positionOf(intent.order, snapshot))) return undefined;
  for (const rule of preTradeRules) {
    const denial = rule(intent, snapshot, limits);
    if (denial) return denial;
  }
  return undefined;
}
