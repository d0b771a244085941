/**
 * Decisions of the account actor: pure functions from its context and a venue report to the event to append.
 * Formulas: binance-usdm.md §4.2 (realized PnL, entry price), §4.3 (commission), §4.4 (funding).
 */
import { applyFill, flatPosition } from "../domain/accounting.ts";
import { Dec } from "../domain/decimal.ts";
import type { EventData } from "../events/catalog.ts";
import type { AccountContext } from "./account.machine.ts";

/** A fill reported by the venue. Price in quote asset, quantity in base asset, commission in USDT. */
export interface FillReport {
  symbol: string;
  clientOrderId: string;
  tradeId: string;
  side: "BUY" | "SELL";
  price: string;
  quantity: string;
  commission: string;
}

/**
 * Books a fill: new position (weighted entry on adds, unchanged entry on reduces, re-entry on a flip) and
 * walletBalance += realizedPnl − commission.
 */
export function decideFillBooking(account: AccountContext, fill: FillReport): EventData<"FillBooked"> {
  const before = account.positions[fill.symbol] ?? flatPosition;
  const { position, realizedPnl } = applyFill(before, fill);
  const walletBalance = new Dec(account.walletBalance).plus(realizedPnl).minus(fill.commission);
  return {
    symbol: fill.symbol,
    clientOrderId: fill.clientOrderId,
    tradeId: fill.tradeId,
    side: fill.side,
    price: fill.price,
    quantity: fill.quantity,
    commission: fill.commission,
    realizedPnl,
    positionAmt: position.positionAmt,
    entryPrice: position.entryPrice,
    walletBalance: walletBalance.toFixed(),
  };
}

/** A funding payment reported by the venue: fundingFee is the signed wallet change in USDT. */
export interface FundingReport {
  symbol: string;
  fundingTime: number;
  fundingRate: string;
  markPrice: string;
  positionAmt: string;
  fundingFee: string;
}

/** Books a funding payment: walletBalance += fundingFee. */
export function decideFundingBooking(
  account: AccountContext,
  report: FundingReport,
): EventData<"FundingFeeBooked"> {
  return {
    ...report,
    walletBalance: new Dec(account.walletBalance).plus(report.fundingFee).toFixed(),
  };
}
