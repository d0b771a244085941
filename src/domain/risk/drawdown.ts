/**
 * The drawdown halt (seed 002's 15 %): equity ≤ peakEquity × (1 − maxDrawdown) halts trading. The halt is a
 * latch: no rule lifts it, only an operator's resume (see `decideTradingState`).
 */
import { Dec } from "../decimal.ts";
import { str } from "./order-effect.ts";
import type { RiskLimits, RiskSnapshot } from "./types.ts";

/** The rule name recorded in TradingStateChanged.by. */
export const DRAWDOWN_HALT = "drawdownHalt";

/** The numbers of a breached drawdown limit, or undefined when the limit is off or not breached. */
export function drawdownBreach(
  snapshot: RiskSnapshot,
  limits: RiskLimits,
): Record<string, string> | undefined {
  if (limits.maxDrawdown === undefined) return undefined;
  const peak = new Dec(snapshot.peakEquity);
  const equity = new Dec(snapshot.equity);
  const limit = new Dec(limits.maxDrawdown);
  const floor = peak.times(new Dec(1).minus(limit));
  if (equity.gt(floor)) return undefined;
  const drawdown = peak.gt(0) ? peak.minus(equity).div(peak).toDecimalPlaces(8) : new Dec(0);
  return {
    equity: str(equity),
    peakEquity: str(peak),
    drawdown: str(drawdown),
    maxDrawdown: str(limit),
    haltEquity: str(floor),
  };
}
