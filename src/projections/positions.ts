/**
 * Positions projection: one one-way (`BOTH`) position per symbol, as booked by `FillBooked` (positionAmt and
 * entryPrice after each fill), marked to the symbol's latest `BarClosed` close (the backtest mark price).
 * Unrealized PnL = positionAmt × (markPrice − entryPrice) (binance-usdm.md §4.2); notional = |positionAmt| ×
 * markPrice (§4.5). Per bar only fixed-point BigInt work is done (fixed-point.ts).
 */
import { notional, unrealizedPnl } from "../domain/accounting.ts";
import type { EventData } from "../events/catalog.ts";
import { MONEY_SCALE, significantDecimals, toUnits } from "./fixed-point.ts";

/** A position as the API shows it. Amounts are decimal strings. */
export interface PositionView {
  symbol: string;
  /** LONG when positionAmt > 0, SHORT when < 0, FLAT when 0. */
  side: "LONG" | "SHORT" | "FLAT";
  /** Signed size, base asset (one-way mode). */
  positionAmt: string;
  /** Quote asset; as booked by the last fill ("0" before any fill). */
  entryPrice: string;
  /** Latest 1m close of the symbol, quote asset; null before its first bar. */
  markPrice: string | null;
  /** USDT, at markPrice (at entryPrice, i.e. 0, before the first bar). */
  unrealizedPnl: string;
  /** |positionAmt| × markPrice (entryPrice before the first bar), USDT. */
  notional: string;
  /** eventTime (ms) of the last fill that changed the position; 0 when never traded (Binance's convention). */
  updateTime: number;
}

interface PositionState {
  symbol: string;
  positionAmt: string;
  entryPrice: string;
  markPrice: string | null;
  updateTime: number;
  /** Prices are read at this scale (MONEY_SCALE − decimals of positionAmt), so amount × price is in money units. */
  priceScale: number;
  /** positionAmt in units of 10^-(MONEY_SCALE − priceScale). */
  amount: bigint;
  /** positionAmt × entryPrice in money units, so that unrealized = amount × mark − cost (one product a bar). */
  cost: bigint;
  /** Unrealized PnL at the current mark, money units (0 when flat). */
  unrealized: bigint;
}

/** Fold of FillBooked and BarClosed into per-symbol positions; also sums unrealized PnL for the equity. */
export class PositionsProjection {
  private readonly bySymbol = new Map<string, PositionState>();
  private readonly open = new Set<PositionState>();

  /** Makes `symbol` known (a FLAT position) without changing anything else. */
  track(symbol: string): void {
    this.state(symbol);
  }

  /** Marks `symbol` at `close` (a BarClosed close, quote asset). */
  mark(symbol: string, close: string): void {
    const s = this.state(symbol);
    s.markPrice = close;
    if (this.open.has(s)) s.unrealized = s.amount * toUnits(close, s.priceScale) - s.cost;
  }

  /** Books the position after a fill (ms `time` = the event's eventTime). */
  book(fill: EventData<"FillBooked">, time: number): void {
    const s = this.state(fill.symbol);
    s.positionAmt = fill.positionAmt;
    s.entryPrice = fill.entryPrice;
    s.updateTime = time;
    const amountScale = significantDecimals(fill.positionAmt);
    s.priceScale = MONEY_SCALE - amountScale;
    s.amount = toUnits(fill.positionAmt, amountScale);
    if (s.amount === 0n) {
      s.cost = 0n;
      s.unrealized = 0n;
      this.open.delete(s);
    } else {
      s.cost = s.amount * toUnits(fill.entryPrice, s.priceScale);
      s.unrealized = s.markPrice === null ? 0n : s.amount * toUnits(s.markPrice, s.priceScale) - s.cost;
      this.open.add(s);
    }
  }

  /** Closes the position a liquidation took (ms `time` = the event's eventTime). */
  liquidate(liquidation: EventData<"PositionLiquidated">, time: number): void {
    const s = this.state(liquidation.symbol);
    s.positionAmt = "0";
    s.entryPrice = "0";
    s.updateTime = time;
    s.amount = 0n;
    s.cost = 0n;
    s.unrealized = 0n;
    this.open.delete(s);
  }

  /** Σ unrealized PnL of the open positions, in 10^-MONEY_SCALE USDT units. */
  totalUnrealizedPnl(): bigint {
    let sum = 0n;
    for (const s of this.open) sum += s.unrealized;
    return sum;
  }

  /** Every known symbol's position, in the order the symbols were first seen. */
  views(): PositionView[] {
    return [...this.bySymbol.values()].map(toView);
  }

  /** The position of `symbol`, or undefined for a symbol never seen. */
  view(symbol: string): PositionView | undefined {
    const s = this.bySymbol.get(symbol);
    return s && toView(s);
  }

  private state(symbol: string): PositionState {
    let s = this.bySymbol.get(symbol);
    if (!s) {
      s = {
        symbol,
        positionAmt: "0",
        entryPrice: "0",
        markPrice: null,
        updateTime: 0,
        priceScale: MONEY_SCALE,
        amount: 0n,
        cost: 0n,
        unrealized: 0n,
      };
      this.bySymbol.set(symbol, s);
    }
    return s;
  }
}

function toView(s: PositionState): PositionView {
  const flat = s.amount === 0n;
  const mark = s.markPrice ?? s.entryPrice;
  const position = { positionAmt: s.positionAmt, entryPrice: s.entryPrice };
  return {
    symbol: s.symbol,
    side: flat ? "FLAT" : s.amount > 0n ? "LONG" : "SHORT",
    positionAmt: s.positionAmt,
    entryPrice: s.entryPrice,
    markPrice: s.markPrice,
    unrealizedPnl: flat ? "0" : unrealizedPnl(position, mark),
    notional: flat ? "0" : notional(s.positionAmt, mark),
    updateTime: s.updateTime,
  };
}
