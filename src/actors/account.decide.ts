/**
 * Decisions of the account actor: pure functions from its context and a venue report to the event to append.
 * Formulas: binance-usdm.md §4.2 (realized PnL, entry price), §4.3 (commission), §4.4 (funding), §4.5 (initial
 * margin).
 *
 * Isolated margin (the simulator's model, `isolatedWalletAfterFill` in src/domain/margin/margin.ts): fills move
 * initial margin into or out of the position's isolated wallet; funding on the position is paid from or into it;
 * realized PnL and commissions are booked to the wallet balance. The isolated wallet is what the liquidation
 * price of an isolated position is computed from (§4.7, WB).
 */
import { applyFill, flatPosition } from "../domain/accounting.ts";
import { Dec } from "../domain/decimal.ts";
import type { MarginedPosition } from "../domain/margin/account-risk.ts";
import { isolatedWalletAfterFill } from "../domain/margin/margin.ts";
import type { EventData } from "../events/catalog.ts";
import {
  type AccountContext,
  type BookedPosition,
  type PositionSide,
  positionKey,
} from "./account.machine.ts";

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
      ? isolatedWalletAfterFill(before.isolatedWallet ?? "0", before.positionAmt, fill, settings.leverage)
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

/**
 * A funding payment reported by the venue: fundingFee is the signed wallet change in USDT. `positionSide`: the
 * hedge-mode side charged (absent = BOTH, one-way mode).
 */
export interface FundingReport {
  symbol: string;
  positionSide?: "LONG" | "SHORT";
  fundingTime: number;
  fundingRate: string;
  markPrice: string;
  positionAmt: string;
  fundingFee: string;
}

/**
 * Books a funding payment on the report's position (its positionSide, BOTH when absent): walletBalance +=
 * fundingFee, and an isolated position's wallet with it.
 */
export function decideFundingBooking(
  account: AccountContext,
  report: FundingReport,
): EventData<"FundingFeeBooked"> {
  const { positionSide = "BOTH", ...payment } = report;
  const position = account.positions[positionKey(report.symbol, positionSide)];
  const isolatedWallet = position?.isolatedWallet;
  return {
    ...payment,
    walletBalance: new Dec(account.walletBalance).plus(report.fundingFee).toFixed(),
    ...(positionSide === "BOTH" ? {} : { positionSide }),
    ...(isolatedWallet === undefined
      ? {}
      : { isolatedWallet: new Dec(isolatedWallet).plus(report.fundingFee).toFixed() }),
  };
}

/** Binance's settings of a symbol never configured: 20× cross (the exchange's defaults, binance-usdm.md §4.1). */
export const DEFAULT_SYMBOL_SETTINGS = { leverage: 20, marginType: "CROSSED" } as const;

/** The account's open positions with their symbol, side, leverage and margin type (for the margin module). */
export function marginedPositions(account: AccountContext): MarginedPosition[] {
  return Object.entries(account.positions).map(([key, p]) => {
    const [symbol, side] = key.split(":") as [string, "LONG" | "SHORT" | undefined];
    const { leverage, marginType } = account.settings[symbol] ?? DEFAULT_SYMBOL_SETTINGS;
    return {
      symbol,
      positionSide: side ?? "BOTH",
      positionAmt: p.positionAmt,
      entryPrice: p.entryPrice,
      leverage,
      marginType,
      ...(p.isolatedWallet === undefined ? {} : { isolatedWallet: p.isolatedWallet }),
    };
  });
}
