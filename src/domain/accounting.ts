/**
 * Exact position accounting for one-way mode (binance-usdm.md §4.2–4.4; strategies.md §0 "Backtest fills").
 *
 * Precision: sums and products are exact (no rounding). The only rounding is the quantity-weighted entry price
 * after adding to a position, a quotient that may not terminate: it is rounded half-even to
 * `ENTRY_PRICE_DECIMALS` (12) decimals. All strings out are canonical (`canonical` in decimal.ts): plain
 * notation, no exponent, no trailing fractional zeros, "0" for zero.
 */
import { canonical, Dec, toDec } from "./decimal.ts";

/** Decimals kept by an averaged entry price (half-even). */
export const ENTRY_PRICE_DECIMALS = 12;

/** A one-way (`BOTH`) position: signed size in base asset (> 0 long, < 0 short) and its entry price (USDT). */
export type Position = {
  readonly positionAmt: string;
  /** Quantity-weighted average fill price of the open size; "0" when flat. */
  readonly entryPrice: string;
};

/** No position. */
export const flatPosition: Position = { positionAmt: "0", entryPrice: "0" };

/** A fill: BUY adds +quantity, SELL adds −quantity (base asset, > 0), at `price` (USDT, > 0). */
export type Fill = {
  readonly side: "BUY" | "SELL";
  readonly quantity: string;
  readonly price: string;
};

function positive(value: string, what: string): Dec {
  const d = toDec(value, what);
  if (d.lte(0)) throw new Error(`${what} must be > 0, got "${value}"`);
  return d;
}

/**
 * Applies one fill (binance-usdm.md §4.2), returning the new position and the fill's realized PnL (USDT,
 * before commission):
 * - from flat, or adding on the same side: entry = (|a|·e + q·p) / (|a| + q), rounded to 12 decimals;
 * - reducing: entry unchanged, realizedPnl = closedQty × side × (price − entry);
 * - flipping: closes the whole position (realizing as above) and opens the remainder at the fill price.
 * Throws an Error when quantity or price is not a positive decimal string.
 */
export function applyFill(position: Position, fill: Fill): { position: Position; realizedPnl: string } {
  const quantity = positive(fill.quantity, "fill.quantity");
  const price = positive(fill.price, "fill.price");
  const amt = toDec(position.positionAmt, "positionAmt");
  const entry = toDec(position.entryPrice, "entryPrice");
  const delta = fill.side === "BUY" ? quantity : quantity.neg();
  const next = amt.plus(delta);

  if (amt.isZero() || amt.isNegative() === delta.isNegative()) {
    const size = amt.abs();
    const averaged = size.times(entry).plus(quantity.times(price)).div(size.plus(quantity));
    return {
      position: {
        positionAmt: canonical(next),
        entryPrice: canonical(averaged.toDecimalPlaces(ENTRY_PRICE_DECIMALS)),
      },
      realizedPnl: "0",
    };
  }

  const closed = Dec.min(amt.abs(), quantity);
  const realized = closed.times(price.minus(entry)).times(amt.isNegative() ? -1 : 1);
  let entryPrice: string;
  if (next.isZero()) entryPrice = "0";
  else if (next.isNegative() === amt.isNegative()) entryPrice = position.entryPrice;
  else entryPrice = canonical(price);
  return { position: { positionAmt: canonical(next), entryPrice }, realizedPnl: canonical(realized) };
}

/** Commission of a fill (USDT): price × |quantity| × rate (binance-usdm.md §4.3; rate is a ratio, 0.0004 = 0.04 %). */
export function commission(price: string, quantity: string, rate: string): string {
  return canonical(toDec(price, "price").times(toDec(quantity, "quantity").abs()).times(toDec(rate, "rate")));
}

/**
 * Wallet delta of a funding settlement (USDT): −positionAmt × markPrice × fundingRate (binance-usdm.md §4.4).
 * Positive rate: a long pays (negative delta), a short receives.
 */
export function fundingFee(positionAmt: string, markPrice: string, fundingRate: string): string {
  return canonical(
    toDec(positionAmt, "positionAmt")
      .times(toDec(markPrice, "markPrice"))
      .times(toDec(fundingRate, "fundingRate"))
      .neg(),
  );
}

/** Unrealized PnL at `markPrice` (USDT): positionAmt × (markPrice − entryPrice) = |size| × side × (mark − entry). */
export function unrealizedPnl(position: Position, markPrice: string): string {
  const amt = toDec(position.positionAmt, "positionAmt");
  return canonical(amt.times(toDec(markPrice, "markPrice").minus(toDec(position.entryPrice, "entryPrice"))));
}

/** Absolute notional (USDT): |positionAmt × price|. */
export function notional(positionAmt: string, price: string): string {
  return canonical(toDec(positionAmt, "positionAmt").times(toDec(price, "price")).abs());
}

/**
 * Modelled fill price with slippage (strategies.md §0 "Backtest fills", §2.4 vector 8): BUY × (1 + slippage),
 * SELL × (1 − slippage); slippage is a ratio (0.0001 = 0.01 %). Not tick-rounded.
 */
export function fillPriceWithSlippage(modelPrice: string, side: "BUY" | "SELL", slippage: string): string {
  const slip = toDec(slippage, "slippage");
  const factor = side === "BUY" ? new Dec(1).plus(slip) : new Dec(1).minus(slip);
  return canonical(toDec(modelPrice, "modelPrice").times(factor));
}
