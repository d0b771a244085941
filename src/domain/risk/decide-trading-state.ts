/**
 * The state rules: from the account snapshot, the limits and the current trading state, the change of state a
 * rule calls for (the data of a TradingStateChanged), or none. Pure.
 *
 * - drawdown halt: any state but HALTED → HALTED (`drawdownHalt`); latched: no rule lifts a halt, whoever set it;
 * - daily loss: a state below `dailyLossAction` (ACTIVE < REDUCING < HALTED) → `dailyLossAction` (`dailyLossLimit`);
 * - a new UTC day: a state the daily loss limit set goes back to ACTIVE (`dailyLossLimit`, "new UTC day").
 * Rules only tighten the state an operator set; only an operator loosens it (except the daily reset of the
 * rule's own change).
 */
import { DAILY_LOSS_LIMIT, dailyLossBreach, utcDay } from "./daily-loss.ts";
import { DRAWDOWN_HALT, drawdownBreach } from "./drawdown.ts";
import type { RiskLimits, RiskSnapshot, TradingState } from "./types.ts";

/** The current trading state and the last change that set it (absent: ACTIVE since the limits were set). */
export interface CurrentTradingState {
  state: TradingState;
  /** Who set it: a rule's name or "operator". */
  by?: string;
  /** Market time (ms) of that change. */
  since?: number;
}

/** A change of state a rule decided: TradingStateChanged's data without the account id. */
export interface TradingStateDecision {
  from: TradingState;
  to: TradingState;
  by: string;
  reason: string;
  numbers: Record<string, string>;
}

/** `YYYY-MM-DD` of market time `ms` (UTC). */
const utcDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const severity: Record<TradingState, number> = { ACTIVE: 0, REDUCING: 1, HALTED: 2 };

/** The change a state rule calls for in `snapshot`, or undefined. */
export function decideTradingState(
  snapshot: RiskSnapshot,
  limits: RiskLimits,
  current: CurrentTradingState,
): TradingStateDecision | undefined {
  const from = current.state;
  if (from === "HALTED") return undefined; // latched: only an operator resumes
  const drawdown = drawdownBreach(snapshot, limits);
  if (drawdown) {
    return {
      from,
      to: "HALTED",
      by: DRAWDOWN_HALT,
      reason: `equity ${drawdown.equity} USDT fell ${drawdown.drawdown} below the peak ${drawdown.peakEquity} USDT (limit ${drawdown.maxDrawdown})`,
      numbers: drawdown,
    };
  }
  const action = limits.dailyLossAction ?? "REDUCING";
  const loss = dailyLossBreach(snapshot, limits);
  if (loss && severity[from] < severity[action]) {
    return {
      from,
      to: action,
      by: DAILY_LOSS_LIMIT,
      reason: `net realized PnL of ${utcDate(snapshot.time)} ${loss.realizedToday} USDT reached the daily loss limit ${loss.dailyLossLimit} USDT`,
      numbers: loss,
    };
  }
  if (
    !loss &&
    from !== "ACTIVE" &&
    current.by === DAILY_LOSS_LIMIT &&
    current.since !== undefined &&
    utcDay(snapshot.time) > utcDay(current.since)
  ) {
    return {
      from,
      to: "ACTIVE",
      by: DAILY_LOSS_LIMIT,
      reason: "a new UTC day: the daily loss limit is reset",
      numbers: { realizedToday: snapshot.realizedToday },
    };
  }
  return undefined;
}
