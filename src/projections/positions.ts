/**
 * Positions projection: one one-way (`BOTH`) position per symbol, or in hedge mode (AccountOpened
 * `dualSidePosition`) a LONG and a SHORT position per symbol (rows in that order, each with its `positionSide`),
 * as booked by `FillBooked` (positionAmt and
 * entryPrice after each fill) or closed by `PositionLiquidated`, marked to the symbol's latest `BarClosed`:
 * its markPrice (the 1m mark-price kline's close) when the run has mark data, else its close, with the leverage and margin type of `SymbolConfigured`.
 * Unrealized PnL = positionAmt × (markPrice − entryPrice) (binance-usdm.md §4.2); notional = |positionAmt| ×
 * markPrice (§4.5); margins, margin ratio and liquidation price by the margin module (§4.5–4.7, `accountRisk`)
 * with the bundled leverage brackets, computed when a view is asked for. Per bar only fixed-point BigInt work is
 * done (fixed-point.ts).
 */
import { DEFAULT_SYMBOL_SETTINGS } from "../actors/account.decide.ts";
import { positionKey } from "../actors/account.machine.ts";
import { notional, unrealizedPnl } from "../domain/accounting.ts";
import {
  accountRisk,
  type MarginedPosition,
  type PositionMarginView,
} from "../domain/margin/account-risk.ts";
import { bundledLeverageBracketCatalog } from "../domain/margin/brackets.catalog.ts";
import type { EventData } from "../events/catalog.ts";
import { MONEY_SCALE, significantDecimals, toUnits } from "./fixed-point.ts";

/** A position as the API shows it. Amounts are decimal strings. */
export interface PositionView {
  symbol: string;
  /** Hedge mode only: the position's side (absent in one-way mode, where the position is BOTH). */
  positionSide?: "LONG" | "SHORT";
  /** LONG when positionAmt > 0, SHORT when < 0, FLAT when 0. */
  side: "LONG" | "SHORT" | "FLAT";
  /** Signed size, base asset (hedge mode: LONG ≥ 0, SHORT ≤ 0). */
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
  /** Initial leverage and margin type (SymbolConfigured; Binance's 20× CROSSED when never configured). */
  leverage: number;
  marginType: "ISOLATED" | "CROSSED";
  /** ISOLATED: the position's isolated wallet (USDT); null for cross or flat. */
  isolatedWallet: string | null;
  /** notional / leverage, USDT (§4.5); null when flat or without brackets for the symbol. */
  initialMargin: string | null;
  /** notional × MMR − cum of the notional's bracket, USDT (§4.6); null when flat or without brackets. */
  maintMargin: string | null;
  /** maintMargin / margin balance (isolated: the position's; cross: the account's), a ratio; null when n/a. */
  marginRatio: string | null;
  /** §4.7 at the current marks; null when flat, without brackets, or when there is none ("--"). */
  liquidationPrice: string | null;
}

type Side = "BOTH" | "LONG" | "SHORT";

interface PositionState {
  symbol: string;
  positionSide: Side;
  positionAmt: string;
  entryPrice: string;
  markPrice: string | null;
  updateTime: number;
  leverage: number;
  marginType: "ISOLATED" | "CROSSED";
  isolatedWallet: string | null;
  /** Prices are read at this scale (MONEY_SCALE − decimals of positionAmt), so amount × price is in money units. */
  priceScale: number;
  /** positionAmt in units of 10^-(MONEY_SCALE − priceScale). */
  amount: bigint;
  /** positionAmt × entryPrice in money units, so that unrealized = amount × mark − cost (one product a bar). */
  cost: bigint;
  /** Unrealized PnL at the current mark, money units (0 when flat). */
  unrealized: bigint;
}

/** Fold of FillBooked and BarClosed into per-position states; also sums unrealized PnL for the equity. */
export class PositionsProjection {
  /** Every position by `positionKey`, in the order first seen. */
  private readonly byKey = new Map<string, PositionState>();
  /** The positions of each symbol (one BOTH, or LONG and SHORT). */
  private readonly bySymbol = new Map<string, PositionState[]>();
  private readonly open = new Set<PositionState>();
  private dualSidePosition = false;

  /**
   * The account's position mode (AccountOpened): in hedge mode each symbol has a LONG and a SHORT position;
   * symbols already tracked (RunStarted comes first) get theirs in place of their FLAT BOTH one.
   * @throws Error when a BOTH position was already traded (a log mixing the modes).
   */
  openAccount(opened: EventData<"AccountOpened">): void {
    if (opened.dualSidePosition !== true || this.dualSidePosition) return;
    this.dualSidePosition = true;
    const symbols = [...this.bySymbol.keys()];
    for (const s of this.byKey.values()) {
      if (s.updateTime !== 0 || s.amount !== 0n)
        throw new Error(`positions: hedge mode opened after ${s.symbol} traded in one-way mode`);
    }
    this.byKey.clear();
    this.bySymbol.clear();
    for (const symbol of symbols) this.states(symbol);
  }

  /** Records a symbol's leverage and margin type (every side of it). */
  configure(settings: EventData<"SymbolConfigured">): void {
    for (const s of this.states(settings.symbol)) {
      s.leverage = settings.leverage;
      s.marginType = settings.marginType;
    }
  }

  /** An isolated position's wallet after a funding payment. */
  fund(fee: EventData<"FundingFeeBooked">): void {
    if (fee.isolatedWallet !== undefined)
      this.state(fee.symbol, fee.positionSide).isolatedWallet = fee.isolatedWallet;
  }

  /** Makes `symbol` known (FLAT positions) without changing anything else. */
  track(symbol: string): void {
    this.states(symbol);
  }

  /** Marks `symbol` at `price` (a BarClosed's markPrice, else its close; quote asset). */
  mark(symbol: string, price: string): void {
    for (const s of this.states(symbol)) {
      s.markPrice = price;
      if (this.open.has(s)) s.unrealized = s.amount * toUnits(price, s.priceScale) - s.cost;
    }
  }

  /** Books the position after a fill (ms `time` = the event's eventTime). */
  book(fill: EventData<"FillBooked">, time: number): void {
    const s = this.state(fill.symbol, fill.positionSide);
    s.positionAmt = fill.positionAmt;
    s.entryPrice = fill.entryPrice;
    s.updateTime = time;
    s.isolatedWallet = fill.isolatedWallet ?? null;
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
    const s = this.state(liquidation.symbol, liquidation.positionSide);
    s.positionAmt = "0";
    s.entryPrice = "0";
    s.updateTime = time;
    s.isolatedWallet = null;
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

  /**
   * Every known position, in the order the symbols were first seen (hedge mode: LONG, then SHORT);
   * `walletBalance` in USDT.
   */
  views(walletBalance: string): PositionView[] {
    const margins = this.margins(walletBalance);
    return [...this.byKey.values()].map((s) => toView(s, margins.get(positionKey(s.symbol, s.positionSide))));
  }

  /**
   * The position of `symbol` on `positionSide` (BOTH in one-way mode), or undefined for one never seen;
   * `walletBalance` in USDT.
   */
  view(symbol: string, walletBalance: string, positionSide: Side = "BOTH"): PositionView | undefined {
    const key = positionKey(symbol, positionSide);
    const s = this.byKey.get(key);
    return s && toView(s, this.margins(walletBalance).get(key));
  }

  /** The open positions' margin numbers by `positionKey` (positions of symbols without brackets are left out). */
  private margins(walletBalance: string): Map<string, PositionMarginView> {
    const catalog = bundledLeverageBracketCatalog();
    const open: MarginedPosition[] = [...this.open]
      .filter((s) => catalog.has(s.symbol))
      .map((s) => ({
        symbol: s.symbol,
        positionSide: s.positionSide,
        positionAmt: s.positionAmt,
        entryPrice: s.entryPrice,
        leverage: s.leverage,
        marginType: s.marginType,
        ...(s.isolatedWallet === null ? {} : { isolatedWallet: s.isolatedWallet }),
      }));
    const views = accountRisk(
      walletBalance,
      open,
      (symbol) => {
        // before the symbol's first bar: an open position's entry price (0 unrealized PnL)
        const list = this.bySymbol.get(symbol);
        return list?.[0]?.markPrice ?? (list?.find((x) => this.open.has(x)) ?? list?.[0])?.entryPrice;
      },
      (symbol) => catalog.get(symbol).brackets,
    );
    return new Map(views.map((v) => [positionKey(v.symbol, v.positionSide), v]));
  }

  /** The positions of `symbol` (created FLAT on first sight, with the symbol's settings when it has any). */
  private states(symbol: string): PositionState[] {
    let list = this.bySymbol.get(symbol);
    if (!list) {
      const sides: Side[] = this.dualSidePosition ? ["LONG", "SHORT"] : ["BOTH"];
      list = sides.map((side) => this.create(symbol, side));
      this.bySymbol.set(symbol, list);
    }
    return list;
  }

  /**
   * The position of `symbol` on `positionSide` (absent = BOTH).
   * @throws Error when the side is not one of the account's mode (a hedge-mode event in a one-way log or the reverse).
   */
  private state(symbol: string, positionSide: Side = "BOTH"): PositionState {
    const s =
      this.byKey.get(positionKey(symbol, positionSide)) ??
      this.states(symbol).find((x) => x.positionSide === positionSide);
    if (!s)
      throw new Error(
        `positions: a ${positionSide} position of ${symbol} in a ${this.dualSidePosition ? "hedge-mode" : "one-way"} account`,
      );
    return s;
  }

  private create(symbol: string, positionSide: Side): PositionState {
    const s: PositionState = {
      symbol,
      positionSide,
      positionAmt: "0",
      entryPrice: "0",
      markPrice: null,
      updateTime: 0,
      ...DEFAULT_SYMBOL_SETTINGS,
      isolatedWallet: null,
      priceScale: MONEY_SCALE,
      amount: 0n,
      cost: 0n,
      unrealized: 0n,
    };
    this.byKey.set(positionKey(symbol, positionSide), s);
    return s;
  }
}

function toView(s: PositionState, margin: PositionMarginView | undefined): PositionView {
  const flat = s.amount === 0n;
  const mark = s.markPrice ?? s.entryPrice;
  const position = { positionAmt: s.positionAmt, entryPrice: s.entryPrice };
  return {
    symbol: s.symbol,
    ...(s.positionSide === "BOTH" ? {} : { positionSide: s.positionSide }),
    side: flat ? "FLAT" : s.amount > 0n ? "LONG" : "SHORT",
    positionAmt: s.positionAmt,
    entryPrice: s.entryPrice,
    markPrice: s.markPrice,
    unrealizedPnl: flat ? "0" : unrealizedPnl(position, mark),
    notional: flat ? "0" : notional(s.positionAmt, mark),
    updateTime: s.updateTime,
    leverage: s.leverage,
    marginType: s.marginType,
    isolatedWallet: s.isolatedWallet,
    initialMargin: margin?.risk.initialMargin ?? null,
    maintMargin: margin?.risk.maintMargin ?? null,
    marginRatio: margin?.risk.marginRatio ?? null,
    liquidationPrice: margin?.risk.liquidationPrice ?? null,
  };
}
