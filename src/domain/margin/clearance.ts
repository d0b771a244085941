/**
 * The simulator's liquidation fill (binance-usdm.md §4.8). The model is an assumption (§4.8 marks it
 * UNCONFIRMED): the whole position is closed in one fill at the price the venue chose; the clearance fee is the
 * liquidated notional at that price × the symbol's `liquidationFee`, capped at the position margin that remains
 * after the fill's loss; the wallet never ends below 0 (the insurance fund absorbs a bankruptcy: the loss booked
 * is capped at the wallet, and the rest is reported as covered by the fund). Partial liquidation tiers and ADL
 * are not modelled.
 */
import { canonical, Dec, toDec } from "../decimal.ts";

/** Margin mode of a position (§4.1). */
export type MarginType = "ISOLATED" | "CROSSED";

/** Position side: BOTH in one-way mode, LONG / SHORT in hedge mode (§4.1). */
export type PositionSide = "BOTH" | "LONG" | "SHORT";

/** What the venue knows when it liquidates a position. */
export type LiquidationFillInput = {
  readonly symbol: string;
  readonly positionSide: PositionSide;
  readonly marginType: MarginType;
  /** Signed size before the liquidation (> 0 long, < 0 short), base asset. */
  readonly positionAmt: string;
  readonly entryPrice: string;
  /** The mark price that crossed the liquidation price. */
  readonly markPrice: string;
  /** The position's liquidation price (§4.7) when it was triggered. */
  readonly liquidationPrice: string;
  /** The fill price of the liquidation (the venue's choice, e.g. the mark price). */
  readonly price: string;
  /** The symbol's clearance fee rate (exchangeInfo `liquidationFee`, a ratio: "0.0125" = 1.25 %). */
  readonly liquidationFee: string;
  /**
   * The wallet the loss comes out of, USDT: the position's isolated wallet (ISOLATED), or the cross wallet
   * balance (CROSSED).
   */
  readonly walletBalance: string;
  /** The position's maintenance margin at the trigger (§4.6), USDT; reported as is. */
  readonly maintMargin: string;
};

/** The numbers of a `PositionLiquidated` event. USDT amounts; strings canonical. */
export type LiquidationFill = {
  readonly symbol: string;
  readonly positionSide: PositionSide;
  readonly marginType: MarginType;
  readonly positionAmt: string;
  readonly entryPrice: string;
  readonly markPrice: string;
  readonly liquidationPrice: string;
  readonly price: string;
  /** PnL booked on the wallet: `positionAmt × (price − entryPrice)`, but not below −walletBalance. */
  readonly realizedPnl: string;
  /** Clearance fee charged (≥ 0), booked as INSURANCE_CLEAR. */
  readonly clearanceFee: string;
  /** The loss beyond the wallet, taken by the insurance fund (≥ 0): realizedPnl − the uncapped PnL. */
  readonly insuranceFundCover: string;
  /** walletBalance after: walletBalance + realizedPnl − clearanceFee (≥ 0). */
  readonly walletBalance: string;
  /** The change of the wallet, realizedPnl − clearanceFee; for ISOLATED also the change of the account's wallet. */
  readonly walletDelta: string;
  readonly maintMargin: string;
};

/**
 * Closes a position by liquidation (§4.8 simulator model, see the module): uncapped PnL = positionAmt × (price −
 * entryPrice); booked PnL = max(uncapped, −walletBalance); fee = min(|positionAmt| × price × liquidationFee,
 * walletBalance + booked PnL); walletBalance after = walletBalance + booked − fee.
 * @throws Error when the position is flat, the wallet is negative, or a number is malformed.
 */
export function liquidationFill(input: LiquidationFillInput): LiquidationFill {
  const amt = toDec(input.positionAmt, "positionAmt");
  if (amt.isZero()) throw new Error(`cannot liquidate a flat ${input.symbol} ${input.positionSide} position`);
  const price = toDec(input.price, "price");
  const wallet = toDec(input.walletBalance, "walletBalance");
  if (wallet.isNegative()) throw new Error(`walletBalance must be ≥ 0, got ${input.walletBalance}`);
  const uncapped = amt.times(price.minus(toDec(input.entryPrice, "entryPrice")));
  const booked = Dec.max(uncapped, wallet.neg());
  const remaining = wallet.plus(booked);
  const fee = Dec.min(amt.abs().times(price).times(toDec(input.liquidationFee, "liquidationFee")), remaining);
  const delta = booked.minus(fee);
  return {
    symbol: input.symbol,
    positionSide: input.positionSide,
    marginType: input.marginType,
    positionAmt: canonical(amt),
    entryPrice: input.entryPrice,
    markPrice: input.markPrice,
    liquidationPrice: input.liquidationPrice,
    price: input.price,
    realizedPnl: canonical(booked),
    clearanceFee: canonical(fee),
    insuranceFundCover: canonical(booked.minus(uncapped)),
    walletBalance: canonical(wallet.plus(delta)),
    walletDelta: canonical(delta),
    maintMargin: input.maintMargin,
  };
}
