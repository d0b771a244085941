/**
 * Trades projection: the account's round trips, folded from the booked fills (`FillBooked`), liquidations
 * (`PositionLiquidated`) and funding payments (`FundingFeeBooked`). Every amount is the log's own booking
 * (Binance's `rp`, commission, funding fee, clearance fee): nothing is re-priced here.
 *
 * **A trade** is one position of one symbol (and position side in hedge mode) from flat to flat:
 * - it opens with the fill that takes the position from 0 to non-zero, and closes with the fill (or the
 *   liquidation) that brings it back to 0;
 * - fills that add to the position or reduce it without reaching 0 (partial closes) stay in the trade;
 * - a **flip** (one-way mode: one fill taking the position across 0, e.g. +1 → −2) closes the trade and opens
 *   the next one, of the other side, with the fill's remainder: the fill's realizedPnl (`rp` covers the closed
 *   quantity only, binance-usdm.md §4.3) goes to the closing trade; its commission is split by quantity, the
 *   closing trade taking commission × |position before| / fill quantity rounded half-even to 8 decimals and
 *   the new trade the rest, so the trades' fees always sum to the fills' exactly;
 * - a funding payment belongs to the trade open on its symbol and side at the settlement (a payment of 0 on a
 *   flat position to none);
 * - a liquidation closes the trade at its price, its clearance fee counted apart from the commissions.
 *
 * Prices: `entryPrice` is the quantity-weighted average price of the fills that opened or added to the
 * position, `exitPrice` that of the fills that reduced it (8 decimals, half-even); `quantity` is the base
 * quantity opened (Σ of the opening and adding fills). Times are the events' market time (ms).
 */
import { positionKey } from "../actors/account.machine.ts";
import { canonical, Dec } from "../domain/decimal.ts";
import type { EventData } from "../events/catalog.ts";
import { quotient, ZERO } from "./amounts.ts";

/** One round trip. Money in USDT decimal strings. */
export interface TradeView {
  /** 1-based, in the order the trades opened. */
  id: number;
  symbol: string;
  /** Hedge mode only: the position side the trade is on. */
  positionSide?: "LONG" | "SHORT";
  /** LONG for a position > 0, SHORT for < 0. */
  side: "LONG" | "SHORT";
  /** Market time (ms) of the opening fill. */
  entryTime: number;
  /** Market time (ms) of the closing fill or liquidation; null while open. */
  exitTime: number | null;
  /** Quantity-weighted average price of the opening and adding fills (quote asset). */
  entryPrice: string;
  /** Quantity-weighted average price of the reducing fills and the liquidation; null before any. */
  exitPrice: string | null;
  /** Base quantity opened (Σ of the opening and adding fills' quantities, a flip's remainder included). */
  quantity: string;
  /** Base quantity closed so far (equals `quantity` once closed). */
  closedQuantity: string;
  /** Fills of the trade (a flip fill counts in both trades), the liquidation included. */
  fills: number;
  /** Σ FillBooked.realizedPnl (+ the liquidation's), before costs. */
  realizedPnl: string;
  /** Σ commission (a flip fill's split by quantity). */
  fees: string;
  /** Σ FundingFeeBooked.fundingFee while open, signed as received (negative = paid). */
  funding: string;
  /** The liquidation's clearance fee (binance-usdm.md §4.8), "0" when not liquidated. */
  liquidationFee: string;
  /** realizedPnl − fees + funding − liquidationFee. */
  netPnl: string;
  /** Whether a liquidation closed it. */
  liquidated: boolean;
  /** Whether the position is still open (exitTime null). */
  open: boolean;
}

const CLOSING_FEE_DECIMALS = 8;

interface TradeState {
  id: number;
  symbol: string;
  positionSide: "BOTH" | "LONG" | "SHORT";
  side: "LONG" | "SHORT";
  entryTime: number;
  exitTime: number | null;
  openedQty: Dec;
  openedQuote: Dec;
  closedQty: Dec;
  closedQuote: Dec;
  fills: number;
  realizedPnl: Dec;
  fees: Dec;
  funding: Dec;
  liquidationFee: Dec;
  liquidated: boolean;
}

/** Fold of the fills, liquidations and funding payments into round trips. */
export class TradesProjection {
  private readonly trades: TradeState[] = [];
  /** The open trade of each position (`positionKey`) and the position's size before the next fill. */
  private readonly open = new Map<string, { trade: TradeState; amount: Dec }>();

  /**
   * Books a fill at market time `time` (ms).
   * @throws Error when the fill's position before it does not match the open trade's (a log that skips a fill).
   */
  fill(fill: EventData<"FillBooked">, time: number): void {
    const side = fill.positionSide ?? "BOTH";
    const key = positionKey(fill.symbol, side);
    const current = this.open.get(key);
    const before = current?.amount ?? ZERO;
    const after = new Dec(fill.positionAmt);
    const quantity = new Dec(fill.quantity);
    const signed = fill.side === "BUY" ? quantity : quantity.neg();
    if (!before.plus(signed).eq(after)) {
      throw new Error(
        `trades: ${fill.symbol} fill ${fill.tradeId} (${fill.clientOrderId}) takes the position from ${canonical(before)} by ${canonical(signed)} to ${fill.positionAmt}`,
      );
    }
    const flips = !before.isZero() && !after.isZero() && before.isNeg() !== after.isNeg();
    const closes = !before.isZero() && (after.isZero() || flips || after.abs().lt(before.abs()));
    if (current && closes) {
      const closedQty = flips ? before.abs() : before.abs().minus(after.abs());
      const closingFee = flips
        ? new Dec(fill.commission).times(closedQty).div(quantity).toDecimalPlaces(CLOSING_FEE_DECIMALS)
        : new Dec(fill.commission);
      const t = current.trade;
      t.fills++;
      t.closedQty = t.closedQty.plus(closedQty);
      t.closedQuote = t.closedQuote.plus(closedQty.times(fill.price));
      t.realizedPnl = t.realizedPnl.plus(fill.realizedPnl);
      t.fees = t.fees.plus(closingFee);
      if (after.isZero() || flips) {
        t.exitTime = time;
        this.open.delete(key);
      } else {
        current.amount = after;
      }
      if (flips) {
        const opened = this.openTrade(fill, side, key, after, time);
        opened.fees = new Dec(fill.commission).minus(closingFee);
      }
      return;
    }
    // opens or adds
    if (!new Dec(fill.realizedPnl).isZero()) {
      throw new Error(
        `trades: ${fill.symbol} fill ${fill.tradeId} (${fill.clientOrderId}) realizes ${fill.realizedPnl} without reducing the position`,
      );
    }
    const t = current ? current.trade : this.openTrade(fill, side, key, after, time);
    if (current) {
      t.fills++;
      t.openedQty = t.openedQty.plus(quantity);
      t.openedQuote = t.openedQuote.plus(quantity.times(fill.price));
      current.amount = after;
    }
    t.fees = t.fees.plus(fill.commission);
  }

  /**
   * Closes the liquidated position's trade at market time `time` (ms).
   * @throws Error when no trade is open on that position.
   */
  liquidate(liquidation: EventData<"PositionLiquidated">, time: number): void {
    const key = positionKey(liquidation.symbol, liquidation.positionSide);
    const current = this.open.get(key);
    if (!current) throw new Error(`trades: ${liquidation.symbol} liquidated (${key}) without an open trade`);
    const t = current.trade;
    const qty = new Dec(liquidation.positionAmt).abs();
    t.fills++;
    t.closedQty = t.closedQty.plus(qty);
    t.closedQuote = t.closedQuote.plus(qty.times(liquidation.price));
    t.realizedPnl = t.realizedPnl.plus(liquidation.realizedPnl);
    t.liquidationFee = t.liquidationFee.plus(liquidation.clearanceFee);
    t.liquidated = true;
    t.exitTime = time;
    this.open.delete(key);
  }

  /**
   * Adds a funding payment to the trade open on its position; a payment of 0 on a flat position belongs to no
   * trade.
   * @throws Error for a non-zero payment while no trade is open there.
   */
  fund(fee: EventData<"FundingFeeBooked">): void {
    const key = positionKey(fee.symbol, fee.positionSide);
    const current = this.open.get(key);
    if (!current && new Dec(fee.fundingFee).isZero()) return;
    if (!current)
      throw new Error(
        `trades: ${fee.symbol} funding of ${fee.fundingFee} at ${fee.fundingTime} without an open trade (${key})`,
      );
    current.trade.funding = current.trade.funding.plus(fee.fundingFee);
  }

  /** Every trade, closed and open, in the order they opened (copies). */
  views(): TradeView[] {
    return this.trades.map(toView);
  }

  private openTrade(
    fill: EventData<"FillBooked">,
    side: "BOTH" | "LONG" | "SHORT",
    key: string,
    amount: Dec,
    time: number,
  ): TradeState {
    const qty = amount.abs();
    const trade: TradeState = {
      id: this.trades.length + 1,
      symbol: fill.symbol,
      positionSide: side,
      side: amount.isNeg() ? "SHORT" : "LONG",
      entryTime: time,
      exitTime: null,
      openedQty: qty,
      openedQuote: qty.times(fill.price),
      closedQty: ZERO,
      closedQuote: ZERO,
      fills: 1,
      realizedPnl: ZERO,
      fees: ZERO,
      funding: ZERO,
      liquidationFee: ZERO,
      liquidated: false,
    };
    this.trades.push(trade);
    this.open.set(key, { trade, amount });
    return trade;
  }
}

function toView(t: TradeState): TradeView {
  return {
    id: t.id,
    symbol: t.symbol,
    ...(t.positionSide === "BOTH" ? {} : { positionSide: t.positionSide }),
    side: t.side,
    entryTime: t.entryTime,
    exitTime: t.exitTime,
    entryPrice: quotient(t.openedQuote, t.openedQty),
    exitPrice: t.closedQty.isZero() ? null : quotient(t.closedQuote, t.closedQty),
    quantity: canonical(t.openedQty),
    closedQuantity: canonical(t.closedQty),
    fills: t.fills,
    realizedPnl: canonical(t.realizedPnl),
    fees: canonical(t.fees),
    funding: canonical(t.funding),
    liquidationFee: canonical(t.liquidationFee),
    netPnl: canonical(t.realizedPnl.minus(t.fees).plus(t.funding).minus(t.liquidationFee)),
    liquidated: t.liquidated,
    open: t.exitTime === null,
  };
}
