/** The pre-trade risk rules and state rules (pure): see each module. */
export { preTradeCheck, preTradeRules } from "./check.ts";
export { DAILY_LOSS_LIMIT, DAY_MS, utcDay } from "./daily-loss.ts";
export {
  type CurrentTradingState,
  decideTradingState,
  type TradingStateDecision,
} from "./decide-trading-state.ts";
export { DRAWDOWN_HALT } from "./drawdown.ts";
export { orderValuationPrice } from "./order-effect.ts";
export type * from "./types.ts";
