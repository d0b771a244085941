/**
 * The trading state's gate: ACTIVE lets every order through; REDUCING only orders that reduce their position
 * (opposite side, reduce-only, closePosition or no larger than the position); HALTED none. Cancels are never
 * judged (they always pass).
 */
import { positionOf, reducesPosition } from "./order-effect.ts";
import type { Denial, PreTradeRule } from "./types.ts";

/** Denies every order when HALTED, and an order that does not reduce its position when REDUCING. */
export const tradingStateGate: PreTradeRule = (intent, snapshot): Denial | undefined => {
  const state = snapshot.tradingState;
  if (state === "HALTED") {
    return { rule: "tradingStateHalted", reason: "trading is HALTED: no order passes", numbers: {} };
  }
  if (state === "REDUCING") {
    const position = positionOf(intent.order, snapshot);
    if (reducesPosition(intent.order, position)) return undefined;
    return {
      rule: "tradingStateReducing",
      reason: "trading is REDUCING: only orders that reduce a position pass",
      numbers: { positionAmt: position?.positionAmt ?? "0" },
    };
  }
  return undefined;
};
