/**
 * Risk view, derived from the positions at mark: gross exposure Σ|notional|, net exposure Σ signed notional,
 * leverage = gross / equity, and initial margin = notional / configured leverage (binance-usdm.md §4.5).
 */
import { canonical, Dec } from "../domain/decimal.ts";
import { quotient, ZERO } from "./amounts.ts";
import type { PositionView } from "./positions.ts";

/** Exposure of one open position. USDT decimal strings. */
export interface SymbolExposure {
  symbol: string;
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
  /** One entry per open position, in the order the symbols were first seen. */
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
