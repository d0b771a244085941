/**
 * Decisions of the account actor: pure functions from its context and a venue report to the event to append.
 * Formulas: binance-usdm.md §4.2 (realized PnL, entry price), §4.3 (commission), §4.4 (funding), §4.5 (initial
 * margin).
 *
 * Isolated margin model (the simulator's; Binance publishes the isolated wallet `iw` but not its bookkeeping):
 * opening or adding moves the fill's initial margin (fill notional / leverage, 8 decimals half-even) into the
 * position's isolated wallet; a partial close releases the closed share of it (iw × closedQty / |size|); a full
 * close releases all of it; a flip keeps only the new side's initial margin; funding on the position is paid from
 * or into it. Realized PnL and commissions are booked to the wallet balance. The isolated wallet is what the
 * liquidation price of an isolated position is computed from (§4.7, WB).
 */
import { applyFill, flatPosition } from "../domain/accounting.ts";
import { Dec } from "../domain/decimal.ts";
import type { EventData } from "../events/catalog.ts";
import {
  type AccountContext,
  type BookedPosition,
  type PositionSide,
  positionKey,
} from "./account.machine.ts";

/** Decimals of margin amounts (Binance reports margins with 8). */
const MARGIN_DECIMALS = 8;

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
 * Books a fill: new position (weighted entry on adds, unchanged entry on reduces, re-entry on a flip),
 * walletBalance += realizedPnl − commission, and for an ISOLATED symbol the position's isolated wallet (module
 * docstring). `positionSide` is BOTH in one-way mode.
 */
export function decideFillBooking(
  account: AccountContext,
  fill: FillReport,
  positionSide: PositionSide = "BOTH",
): EventData<"FillBooked"> {
  const before: BookedPosition = account.positions[positionKey(fill.symbol, positionSide)] ?? flatPosition;
  const { position, realizedPnl } = applyFill(before, fill);
  const walletBalance = new Dec(account.walletBalance).plus(realizedPnl).minus(fill.commission);
  const settings = account.settings[fill.symbol];
  const isolatedWallet =
    settings?.marginType === "ISOLATED"
      ? isolatedWalletAfter(before, position.positionAmt, fill, settings.leverage)
      : undefined;
  return {
    symbol: fill.symbol,
    ...(positionSide === "BOTH" ? {} : { positionSide }),
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
    ...(isolatedWallet === undefined ? {} : { isolatedWallet }),
  };
}

/** The isolated wallet after a fill took the position from `before` to `positionAmt` (module docstring). */
function isolatedWalletAfter(
  before: BookedPosition,
  positionAmt: string,
  fill: FillReport,
  leverage: number,
): string {
  const was = new Dec(before.positionAmt);
  const now = new Dec(positionAmt);
  const wallet = new Dec(before.isolatedWallet ?? "0");
  const margin = (quantity: Dec) =>
    quantity.times(fill.price).div(leverage).toDecimalPlaces(MARGIN_DECIMALS, Dec.ROUND_HALF_EVEN);
  if (now.isZero()) return "0";
  if (was.isZero() || was.isNeg() === now.isNeg()) {
    if (now.abs().gte(was.abs())) return wallet.plus(margin(now.abs().minus(was.abs()))).toFixed();
    const released = wallet
      .times(was.abs().minus(now.abs()))
      .div(was.abs())
      .toDecimalPlaces(MARGIN_DECIMALS, Dec.ROUND_HALF_EVEN);
    return wallet.minus(released).toFixed();
  }
  return margin(now.abs()).toFixed(); // a flip: the new side's initial margin only
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

/**
 * Books a funding payment: walletBalance += fundingFee, and an isolated position's wallet with it.
 * `positionSide` is BOTH in one-way mode.
 */
export function decideFundingBooking(
  account: AccountContext,
  report: FundingReport,
  positionSide: PositionSide = "BOTH",
): EventData<"FundingFeeBooked"> {
  const position = account.positions[positionKey(report.symbol, positionSide)];
  const isolatedWallet = position?.isolatedWallet;
  return {
    ...report,
    walletBalance: new Dec(account.walletBalance).plus(report.fundingFee).toFixed(),
    ...(positionSide === "BOTH" ? {} : { positionSide }),
    ...(isolatedWallet === undefined
      ? {}
      : { isolatedWallet: new Dec(isolatedWallet).plus(report.fundingFee).toFixed() }),
  };
}
