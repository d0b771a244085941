/**
 * Initial and maintenance margin, margin ratio, and the two margin checks at order submission (-2027, -2019),
 * binance-usdm.md §4.5, §4.6, §5.2. USDT amounts, prices in USDT, quantities in base asset, ratios as decimals
 * (0.004 = 0.4 %); leverage an integer 1–125 (150 for some symbols). All strings out are canonical.
 *
 * Precision: sums and products are exact. Quotients (initial margin = notional / leverage, margin ratio) are
 * rounded to `MARGIN_DECIMALS` decimals: initial margin up (a requirement never rounds in the trader's favour),
 * the margin ratio half-even.
 */
import type { Position } from "../accounting.ts";
import { canonical, Dec, toDec } from "../decimal.ts";
import { bracketFor, type LeverageBracket, maxNotionalFor } from "./brackets.ts";

/** Decimals kept by a margin quotient. */
export const MARGIN_DECIMALS = 12;

/** An order side. */
export type Side = "BUY" | "SELL";

/** A resting (book) order as margin sees it: quantity (base asset, > 0) at its limit price (USDT). */
export type RestingOrder = {
  readonly side: Side;
  readonly quantity: string;
  readonly price: string;
};

function leverageOf(leverage: number): Dec {
  if (!Number.isInteger(leverage) || leverage < 1)
    throw new Error(`leverage must be an integer ≥ 1, got ${leverage}`);
  return new Dec(leverage);
}

function imOf(notional: Dec, leverage: number): Dec {
  return notional.div(leverageOf(leverage)).toDecimalPlaces(MARGIN_DECIMALS, Dec.ROUND_UP);
}

/**
 * Initial margin (USDT) of a notional (USDT, ≥ 0) at a leverage: `notional / leverage` (§4.5), rounded up to 12
 * decimals. For an open position the notional is |positionAmt| × markPrice (the official v3 example: 12.314277 /
 * 20 = 0.61571385).
 * @throws Error when leverage is not an integer ≥ 1 or the notional is negative.
 */
export function initialMargin(notional: string, leverage: number): string {
  const n = toDec(notional, "notional");
  if (n.isNegative()) throw new Error(`notional must be ≥ 0, got ${notional}`);
  return canonical(imOf(n, leverage));
}

/** A maintenance rate and amount: a bracket's, or given (§4.7 vector D gives them). */
export type MaintenanceRate = Pick<LeverageBracket, "maintMarginRatio" | "cum">;

/**
 * Maintenance margin (USDT) of a notional at a given rate: `notional × maintMarginRatio − cum` (§4.6), exact.
 */
export function maintenanceMarginAt(notional: string, rate: MaintenanceRate): string {
  return canonical(
    toDec(notional, "notional")
      .times(toDec(rate.maintMarginRatio, "maintMarginRatio"))
      .minus(toDec(rate.cum, "cum")),
  );
}

/**
 * Maintenance margin (USDT) of a position's mark notional (USDT, ≥ 0), with the MMR and cum of the bracket that
 * contains it (§4.6: 12.314277 × 0.0065 − 0 = 0.08004280 in the official example). Returns the bracket too.
 */
export function maintenanceMargin(
  brackets: readonly LeverageBracket[],
  notional: string,
): { maintMargin: string; bracket: LeverageBracket } {
  const bracket = bracketFor(brackets, notional);
  return { maintMargin: maintenanceMarginAt(notional, bracket), bracket };
}

/**
 * Margin balance (USDT): wallet balance + unrealized PnL. Cross: crossWalletBalance + the cross positions'
 * unrealized PnL; isolated: the position's isolated wallet + its unrealized PnL, which is what Binance reports as
 * the position's `isolatedMargin`.
 */
export function marginBalance(walletBalance: string, unrealizedPnl: string): string {
  return canonical(toDec(walletBalance, "walletBalance").plus(toDec(unrealizedPnl, "unrealizedPnl")));
}

/**
 * Binance's margin ratio: maintMargin / marginBalance (cross: the cross positions' maintenance margin over the
 * cross margin balance; isolated: the position's over its isolated margin), rounded half-even to 12 decimals.
 * Liquidation happens when it reaches 1 (§4.7: margin balance = maintenance margin). Null when the margin
 * balance is ≤ 0 (no ratio; the position is past liquidation).
 */
export function marginRatio(maintMargin: string, marginBalanceUsdt: string): string | null {
  const balance = toDec(marginBalanceUsdt, "marginBalance");
  if (balance.lte(0)) return null;
  return canonical(toDec(maintMargin, "maintMargin").div(balance).toDecimalPlaces(MARGIN_DECIMALS));
}

/**
 * The isolated wallet of a position after a fill (USDT), the simulator's model (UNCONFIRMED as Binance text; it
 * follows §4.5 with the fill price as the notional's price): opening or adding adds the fill's initial margin
 * `quantity × price / leverage`; reducing releases the closed share, `wallet × closedQty / |positionAmt|`;
 * closing releases everything (0); a flip releases everything and then adds the new side's initial margin.
 * Realized PnL, commission and funding are separate wallet movements the caller books.
 */
export function isolatedWalletAfterFill(
  isolatedWallet: string,
  positionAmt: string,
  fill: { readonly side: Side; readonly quantity: string; readonly price: string },
  leverage: number,
): string {
  const wallet = toDec(isolatedWallet, "isolatedWallet");
  const amt = toDec(positionAmt, "positionAmt");
  const q = toDec(fill.quantity, "fill.quantity");
  const price = toDec(fill.price, "fill.price");
  if (q.lte(0)) throw new Error(`fill.quantity must be > 0, got ${fill.quantity}`);
  const delta = fill.side === "BUY" ? q : q.neg();
  if (amt.isZero() || amt.isNegative() === delta.isNegative())
    return canonical(wallet.plus(imOf(q.times(price), leverage)));
  const closed = Dec.min(amt.abs(), q);
  const kept = wallet.times(amt.abs().minus(closed)).div(amt.abs()).toDecimalPlaces(MARGIN_DECIMALS);
  const opened = q.minus(closed);
  return canonical(opened.isZero() ? kept : imOf(opened.times(price), leverage));
}

/** Σ quantity × price of the orders of one side. */
function orderValue(orders: readonly RestingOrder[], side: Side): Dec {
  return orders
    .filter((o) => o.side === side)
    .reduce(
      (sum, o) => sum.plus(toDec(o.quantity, "order.quantity").times(toDec(o.price, "order.price"))),
      new Dec(0),
    );
}

/**
 * The worst-case notional (USDT) of one position with its resting orders: `max(|P + bids|, |P − asks|)` where P
 * is the signed position notional at the mark price and bids/asks the summed order values (quantity × limit
 * price) — Binance's one-way margin requirement times leverage ("How to Calculate the Margin Requirement on
 * Binance Futures Trading", 2022-12-06; §4.5 "open orders add openOrderInitialMargin"). An order that only
 * reduces the position adds nothing to it. For hedge mode, call it per positionSide (LONG: P ≥ 0, SHORT: P ≤ 0)
 * with that side's orders and add the two.
 */
export function worstCaseNotional(
  positionAmt: string,
  markPrice: string,
  orders: readonly RestingOrder[],
): string {
  const p = toDec(positionAmt, "positionAmt").times(toDec(markPrice, "markPrice"));
  const bids = orderValue(orders, "BUY");
  const asks = orderValue(orders, "SELL");
  return canonical(Dec.max(p.plus(bids).abs(), p.minus(asks).abs()));
}

/**
 * Margin requirement (USDT) of one position and its resting orders: `worstCaseNotional / leverage`, rounded up
 * to 12 decimals. Conditional orders (STOP, TAKE_PROFIT, TRAILING_STOP_MARKET) need no margin until they
 * trigger and rest on the book (same FAQ): leave them out until then.
 */
export function marginRequirement(
  positionAmt: string,
  markPrice: string,
  orders: readonly RestingOrder[],
  leverage: number,
): string {
  return canonical(imOf(new Dec(worstCaseNotional(positionAmt, markPrice, orders)), leverage));
}

/**
 * Open-order initial margin (USDT, ≥ 0; Binance's `openOrderInitialMargin`): the margin requirement with the
 * orders minus the position's own initial margin (|positionAmt| × markPrice / leverage). Zero for orders that
 * only reduce the position, or that flip it by no more than its size.
 */
export function openOrderInitialMargin(
  positionAmt: string,
  markPrice: string,
  orders: readonly RestingOrder[],
  leverage: number,
): string {
  const withOrders = new Dec(marginRequirement(positionAmt, markPrice, orders, leverage));
  const position = new Dec(marginRequirement(positionAmt, markPrice, [], leverage));
  return canonical(withOrders.minus(position));
}

/**
 * Open loss (USDT) of an order: `quantity × |min(0, direction × (markPrice − price))|`, direction +1 BUY, −1
 * SELL ("How to Calculate Cost Required to Open a Position in Perpetual Futures Contracts", Binance FAQ): a buy
 * above the mark or a sell below it starts at a loss.
 */
export function openLoss(order: RestingOrder, markPrice: string): string {
  const direction = order.side === "BUY" ? 1 : -1;
  const gap = toDec(markPrice, "markPrice").minus(toDec(order.price, "order.price")).times(direction);
  return canonical(gap.isNegative() ? gap.abs().times(toDec(order.quantity, "order.quantity")) : new Dec(0));
}

/**
 * Available balance (USDT, ≥ 0) for new orders: `max(0, crossWalletBalance + cross unrealized PnL − (cross
 * positions' initial margin + open-order initial margin of every position))`, the "Available for Order" of
 * Binance's account endpoints (UNCONFIRMED as a formula; quoted on Binance's developer forum). Isolated
 * positions' margin is already outside the cross wallet (their isolated wallets).
 */
export function availableBalance(
  crossWalletBalance: string,
  crossUnrealizedPnl: string,
  initialMarginInUse: string,
): string {
  const free = toDec(crossWalletBalance, "crossWalletBalance")
    .plus(toDec(crossUnrealizedPnl, "crossUnrealizedPnl"))
    .minus(toDec(initialMarginInUse, "initialMarginInUse"));
  return canonical(Dec.max(free, 0));
}

/** A margin check that failed, with Binance's code and message (§5.2) and the numbers behind it. */
export type MarginViolation =
  | {
      readonly code: -2027;
      readonly message: "Exceeded the maximum allowable position at current leverage.";
      /** Worst-case notional after the order (USDT). */
      readonly notional: string;
      /** The cap at this leverage (USDT). */
      readonly maxNotional: string;
      readonly leverage: number;
    }
  | {
      readonly code: -2019;
      readonly message: "Margin is insufficient.";
      /** Margin the order costs (USDT). */
      readonly cost: string;
      readonly availableBalance: string;
    };

/** One position with its resting orders and a new order, as the submit checks see them (one positionSide). */
export type OrderMarginInput = {
  readonly position: Pick<Position, "positionAmt">;
  readonly markPrice: string;
  /** The position's orders already on the book (not untriggered conditionals). */
  readonly restingOrders: readonly RestingOrder[];
  /** The new order; a MARKET order at the price the caller expects it to fill at. */
  readonly order: RestingOrder;
  readonly leverage: number;
};

/**
 * -2027 MAX_LEVERAGE_RATIO (§4.5, §5.2): refused when the worst-case notional with every resting order and the
 * new one (`worstCaseNotional`) exceeds `maxNotionalFor(brackets, leverage)` and is larger than it was before the
 * order (an order that does not grow the worst case — a reducing order — always passes). Null when it passes.
 */
export function checkMaxPosition(
  input: OrderMarginInput,
  brackets: readonly LeverageBracket[],
): MarginViolation | null {
  const { position, markPrice, restingOrders, order, leverage } = input;
  const before = new Dec(worstCaseNotional(position.positionAmt, markPrice, restingOrders));
  const after = new Dec(worstCaseNotional(position.positionAmt, markPrice, [...restingOrders, order]));
  const maxNotional = maxNotionalFor(brackets, leverage);
  if (after.lte(maxNotional) || after.lte(before)) return null;
  return {
    code: -2027,
    message: "Exceeded the maximum allowable position at current leverage.",
    notional: canonical(after),
    maxNotional,
    leverage,
  };
}

/**
 * The margin a new order costs (USDT), the simulator's rule for -2019: the rise of the position's margin
 * requirement (`marginRequirement` with the order minus without it) plus the open loss (`openLoss`) of the part
 * of the order that opens, the share `rise × leverage / (quantity × price)` of it (rounded up to 12 decimals) (the whole order when nothing offsets it,
 * none for a reducing order). Commission is not part of it (Binance's cost = initial margin + open loss, FAQ
 * above; the fee is charged at the fill). Binance's extra buffer on short MARKET orders (max(last × 1.0015,
 * mark, price)) is not modelled: the caller passes the price it expects.
 */
export function orderMarginCost(input: OrderMarginInput): string {
  const { position, markPrice, restingOrders, order, leverage } = input;
  const before = new Dec(marginRequirement(position.positionAmt, markPrice, restingOrders, leverage));
  const after = new Dec(
    marginRequirement(position.positionAmt, markPrice, [...restingOrders, order], leverage),
  );
  const rise = Dec.max(after.minus(before), 0);
  if (rise.isZero()) return "0";
  const value = toDec(order.quantity, "order.quantity").times(toDec(order.price, "order.price"));
  const openingShare = Dec.min(1, rise.times(leverage).div(value));
  const loss = new Dec(openLoss(order, markPrice)).times(openingShare);
  return canonical(rise.plus(loss.toDecimalPlaces(MARGIN_DECIMALS, Dec.ROUND_UP)));
}

/**
 * -2019 MARGIN_NOT_SUFFICIENT (§5.2): refused when `orderMarginCost(input)` > `availableBalance` (USDT, see
 * `availableBalance`). Null when it passes.
 */
export function checkMarginSufficient(input: OrderMarginInput, available: string): MarginViolation | null {
  const cost = orderMarginCost(input);
  if (new Dec(cost).lte(toDec(available, "availableBalance"))) return null;
  return {
    code: -2019,
    message: "Margin is insufficient.",
    cost,
    availableBalance: canonical(new Dec(available)),
  };
}
