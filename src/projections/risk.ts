/**
 * Risk view, derived from the positions at mark: gross exposure Σ|notional|, net exposure Σ signed notional,
 * leverage = gross / equity, and initial margin = notional / configured leverage (binance-usdm.md §4.5); and the
 * pre-trade risk engine's record: the trading state, its last change, the denials per rule, and each limit with
 * its current use (`TradingRiskProjection`).
 */
import { canonical, Dec } from "../domain/decimal.ts";
import { utcDay } from "../domain/risk/daily-loss.ts";
import type { EventData } from "../events/catalog.ts";
import { quotient, ZERO } from "./amounts.ts";
import { formatUnits, MONEY_SCALE } from "./fixed-point.ts";
import type { PositionView } from "./positions.ts";

/** Exposure of one open position. USDT decimal strings. */
export interface SymbolExposure {
  symbol: string;
  /** Hedge mode only: the position's side (absent in one-way mode). */
  positionSide?: "LONG" | "SHORT";
  positionAmt: string;
  /** The mark the notional was taken at (latest close, else entryPrice). */
  markPrice: string;
  /** |positionAmt| × markPrice. */
  notional: string;
  /** notional signed like positionAmt. */
  signedNotional: string;
  /** notional / configured leverage, rounded to 8 decimals; null without a configured leverage. */
  initialMargin: string | null;
}

/** Account risk at mark. USDT decimal strings unless stated. */
export interface RiskView {
  /** walletBalance + Σ unrealizedPnl. */
  equity: string;
  /** Σ |notional|. */
  grossExposure: string;
  /** Σ signed notional (long − short). */
  netExposure: string;
  /** grossExposure / equity, a ratio rounded to 8 decimals (2 = 2×); null when equity ≤ 0. */
  leverage: string | null;
  /** The run's configured leverage (RunStarted config.smaCross.leverage), or null when absent. */
  configuredLeverage: number | null;
  /** grossExposure / configured leverage, rounded to 8 decimals; null without a configured leverage. */
  initialMargin: string | null;
  /** One entry per open position (hedge mode: per side), in the order the symbols were first seen. */
  exposures: SymbolExposure[];
}

/** The risk view of `positions` for an account with `equity` (USDT) and a configured leverage (or null). */
export function riskView(
  positions: readonly PositionView[],
  equity: string,
  leverage: number | null,
): RiskView {
  let gross = ZERO;
  let net = ZERO;
  const exposures: SymbolExposure[] = [];
  for (const p of positions) {
    if (p.side === "FLAT") continue;
    const notional = new Dec(p.notional);
    const signed = p.side === "LONG" ? notional : notional.neg();
    gross = gross.plus(notional);
    net = net.plus(signed);
    exposures.push({
      symbol: p.symbol,
      ...(p.positionSide === undefined ? {} : { positionSide: p.positionSide }),
      positionAmt: p.positionAmt,
      markPrice: p.markPrice ?? p.entryPrice,
      notional: canonical(notional),
      signedNotional: canonical(signed),
      initialMargin: leverage === null ? null : quotient(notional, new Dec(leverage)),
    });
  }
  const equityD = new Dec(equity);
  return {
    equity: canonical(equityD),
    grossExposure: canonical(gross),
    netExposure: canonical(net),
    leverage: equityD.gt(0) ? quotient(gross, equityD) : null,
    configuredLeverage: leverage,
    initialMargin: leverage === null ? null : quotient(gross, new Dec(leverage)),
    exposures,
  };
}

/** A limit of the run (RiskLimitsSet) and how much of it the account uses now. */
export interface RiskLimitUse {
  /** The limit's key, as recorded (e.g. maxDrawdown, maxGrossExposure, orderRateOrders). */
  name: string;
  /** The limit (decimal string or integer), null when off. */
  limit: string | number | null;
  /**
   * The account's current use of it (decimal string), null for a limit judged per order (maxOrderNotional,
   * priceBand, orderRate…) or when off: open-position count, largest position notional, gross exposure,
   * leverage, the net realized PnL of the last event's UTC day, the drawdown from the peak equity (since the
   * last operator resume).
   */
  use: string | null;
}

/** The trading state and the pre-trade risk engine's record, folded from the risk and order streams. */
export interface TradingRiskView {
  /** ACTIVE, REDUCING or HALTED; null before any RiskLimitsSet (a log written before the risk engine). */
  tradingState: "ACTIVE" | "REDUCING" | "HALTED" | null;
  /** The last TradingStateChanged with its market time, null before any. */
  lastStateChange: (EventData<"TradingStateChanged"> & { time: number }) | null;
  /** Every change of state so far. */
  stateChanges: number;
  /** OrderDenied events, in total and per rule. */
  ordersDenied: number;
  deniedByRule: Record<string, number>;
  /** Peak equity the drawdown is measured from (USDT), null before any bar. */
  peakEquity: string | null;
  /** Net realized PnL (realized − commission + funding) of the UTC day of the last event, USDT. */
  realizedToday: string;
}

/** Fold of RiskLimitsSet, TradingStateChanged, OrderDenied, the day's realized PnL and the peak equity. */
export class TradingRiskProjection {
  private limits: EventData<"RiskLimitsSet">["limits"] | null = null;
  private state: TradingRiskView["tradingState"] = null;
  private last: TradingRiskView["lastStateChange"] = null;
  private changes = 0;
  private denied = 0;
  private readonly byRule: Record<string, number> = {};
  /** Peak equity in 10^-MONEY_SCALE USDT units, null before any sample or after an operator's resume. */
  private peak: bigint | null = null;
  private day = -1;
  private dayPnl = ZERO;

  limitsSet(data: EventData<"RiskLimitsSet">): void {
    this.limits = data.limits;
    this.state = "ACTIVE";
  }

  stateChanged(data: EventData<"TradingStateChanged">, time: number): void {
    this.state = data.to;
    this.last = { ...data, time };
    this.changes++;
    if (data.by === "operator" && data.to !== "HALTED") this.peak = null;
  }

  orderDenied(data: EventData<"OrderDenied">): void {
    this.denied++;
    this.byRule[data.rule] = (this.byRule[data.rule] ?? 0) + 1;
  }

  /** An equity sample (10^-MONEY_SCALE USDT units) at a bar close. */
  sample(equity: bigint): void {
    if (this.peak === null || equity > this.peak) this.peak = equity;
  }

  /** A booked amount (realized − commission, or a funding fee) at market time `time`. */
  book(amount: Dec, time: number): void {
    const day = utcDay(time);
    if (day !== this.day) {
      this.day = day;
      this.dayPnl = ZERO;
    }
    this.dayPnl = this.dayPnl.plus(amount);
  }

  /** The view at market time `now` (the last event's). */
  view(now: number | null): TradingRiskView {
    const today = now !== null && utcDay(now) === this.day;
    return {
      tradingState: this.state,
      lastStateChange: this.last === null ? null : { ...this.last },
      stateChanges: this.changes,
      ordersDenied: this.denied,
      deniedByRule: { ...this.byRule },
      peakEquity: this.peak === null ? null : formatUnits(this.peak, MONEY_SCALE),
      realizedToday: today ? canonical(this.dayPnl) : "0",
    };
  }

  /** Each recorded limit with the account's use of it (`exposure`: the risk view at mark). */
  limitUses(exposure: RiskView, trading: TradingRiskView): RiskLimitUse[] {
    if (this.limits === null) return [];
    const equity = new Dec(exposure.equity);
    const use: Record<string, string> = {
      maxOpenPositions: String(exposure.exposures.length),
      maxPositionNotional: canonical(exposure.exposures.reduce((max, e) => Dec.max(max, e.notional), ZERO)),
      maxGrossExposure: exposure.grossExposure,
      dailyLossLimit: trading.realizedToday,
    };
    if (exposure.leverage !== null) use["maxLeverage"] = exposure.leverage;
    if (trading.peakEquity !== null && new Dec(trading.peakEquity).gt(0)) {
      const peak = new Dec(trading.peakEquity);
      use["maxDrawdown"] = quotient(Dec.max(peak.minus(equity), ZERO), peak);
    }
    return Object.entries(this.limits).map(([name, limit]) => ({
      name,
      limit,
      use: limit === null ? null : (use[name] ?? null),
    }));
  }
}
