/**
 * The daily realized-loss limit: when the net realized PnL of the current UTC day (realized PnL − commission +
 * funding) is −dailyLossLimit or lower, trading moves to `dailyLossAction` (REDUCING by default, or HALTED) until
 * the next UTC day.
 */
import { Dec } from "../decimal.ts";
import { str } from "./order-effect.ts";
import type { RiskLimits, RiskSnapshot } from "./types.ts";

/** The rule name recorded in TradingStateChanged.by. */
export const DAILY_LOSS_LIMIT = "dailyLossLimit";

/** One UTC day in ms. */
export const DAY_MS = 86_400_000;

/** The UTC day number (days since the epoch) of market time `ms`. */
export function utcDay(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** The numbers of a breached daily loss limit, or undefined when the limit is off or not breached. */
export function dailyLossBreach(
  snapshot: RiskSnapshot,
  limits: RiskLimits,
): Record<string, string> | undefined {
  if (limits.dailyLossLimit === undefined) return undefined;
  const realized = new Dec(snapshot.realizedToday);
  const limit = new Dec(limits.dailyLossLimit);
  if (realized.gt(limit.neg())) return undefined;
  return { realizedToday: str(realized), dailyLossLimit: str(limit) };
}
