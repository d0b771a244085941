/**
 * The double's account ledger: the account actor's context (wallet, positions, isolated wallets), booked with
 * the account's own pure decisions (`decideFillBooking`, `decideFundingBooking`; a liquidation is the venue's
 * `PositionLiquidated`) and applied by the account machine; beside it the symbols' leverage and margin type, the
 * trades of `userTrades`, the entries of `income` and each position's accumulated realized PnL (`cr`). Every
 * formula is the domain's (src/domain/accounting.ts, src/domain/margin/); only breakEvenPrice is the double's own
 * (module comment of exchange.ts).
 */
import { createActor } from "xstate";
import {
  DEFAULT_SYMBOL_SETTINGS,
  decideFillBooking,
  decideFundingBooking,
  type FillReport,
  type FundingReport,
  marginedPositions,
} from "../../actors/account.decide.ts";
import {
  type AccountContext,
  accountMachine,
  type BookedPosition,
  positionKey,
  type SymbolSettings,
} from "../../actors/account.machine.ts";
import type { VenueAccountView } from "../../adapters/venue/simulated/liquidation.ts";
import { unrealizedPnl } from "../../domain/accounting.ts";
import { canonical, Dec } from "../../domain/decimal.ts";
import { crossWalletBalance } from "../../domain/margin/account-risk.ts";
import type { EventData } from "../../events/catalog.ts";
import type { IncomeRecord, IncomeType, OrderRecord, PositionSide, TradeRecord } from "./records.ts";
import type { WireFill, WirePosition } from "./wire.ts";

/** The fill of one order as the ledger books it (USDT amounts, base-asset quantity). */
export interface LedgerFill {
  price: string;
  quantity: string;
  commission: string;
  maker: boolean;
}

/** One account: USDT wallet, positions, settings, trades and income. */
export class Ledger {
  private readonly actor = createActor(accountMachine);
  private readonly settings: Record<string, SymbolSettings> = {};
  private settingsVersion = 0;
  private readonly accumulated = new Map<string, string>();
  /** Every fill, in trade-id order (`GET /fapi/v1/userTrades`). */
  readonly trades: TradeRecord[] = [];
  /** Every income entry, in tranId order (`GET /fapi/v1/income`). */
  readonly incomes: IncomeRecord[] = [];
  private tradeSeq = 0;
  private tranSeq = 0;
  /** Market time (ms) of the last booking. */
  updateTime = 0;
  private memo?: { context: AccountContext; settings: number; view: VenueAccountView };

  /**
   * An account with `walletBalance` USDT and no position; each of `symbols` at Binance's default settings (20×
   * cross, capped at `maxLeverage(symbol)`). `takerRate` prices breakEvenPrice.
   */
  constructor(
    walletBalance: string,
    symbols: readonly string[],
    maxLeverage: (symbol: string) => number,
    private readonly takerRate: string,
  ) {
    for (const symbol of symbols)
      this.settings[symbol] = {
        leverage: Math.min(DEFAULT_SYMBOL_SETTINGS.leverage, maxLeverage(symbol)),
        marginType: DEFAULT_SYMBOL_SETTINGS.marginType,
      };
    this.actor.start();
    this.actor.send({
      type: "AccountOpened",
      data: { accountId: "sim", asset: "USDT", walletBalance: canonical(new Dec(walletBalance)) },
    });
  }

  /** The account as the actor books it, with the double's settings. */
  context(): AccountContext {
    return { ...this.actor.getSnapshot().context, settings: { ...this.settings } };
  }

  /** A symbol's leverage and margin type. */
  settingsOf(symbol: string): SymbolSettings {
    return this.settings[symbol]!;
  }

  /** Sets a symbol's leverage and margin type (the caller checked Binance's rules). */
  configure(symbol: string, settings: SymbolSettings): void {
    this.settings[symbol] = settings;
    this.settingsVersion++;
  }

  /** The symbol's open positions (one-way: at most one; hedge mode: LONG and SHORT). */
  positionsOf(symbol: string): BookedPosition[] {
    return Object.entries(this.actor.getSnapshot().context.positions)
      .filter(([k]) => k === symbol || k.startsWith(`${symbol}:`))
      .map(([, p]) => p);
  }

  /** Whether any position is open. */
  hasPositions(): boolean {
    return Object.keys(this.actor.getSnapshot().context.positions).length > 0;
  }

  /** The venue's view of the account (margin checks, liquidation), rebuilt only after a change. */
  view(): VenueAccountView {
    const context = this.actor.getSnapshot().context;
    if (this.memo?.context !== context || this.memo.settings !== this.settingsVersion) {
      const account = this.context();
      const view = {
        walletBalance: account.walletBalance,
        positions: marginedPositions(account),
        settings: account.settings,
      };
      this.memo = { context, settings: this.settingsVersion, view };
    }
    return this.memo.view;
  }

  /** Books a fill of `order` (`decideFillBooking`), records the trade and its income; the fill in wire form. */
  bookFill(order: OrderRecord, report: FillReport, maker: boolean, time: number): WireFill {
    const booking = decideFillBooking(this.context(), report, order.positionSide);
    this.actor.send({ type: "FillBooked", data: booking });
    const fill = { price: report.price, quantity: report.quantity, commission: report.commission, maker };
    return this.recordTrade(order, time, fill, booking.realizedPnl);
  }

  /** Books a funding payment (`decideFundingBooking`) and its FUNDING_FEE income. */
  bookFunding(report: FundingReport, time: number): void {
    this.actor.send({ type: "FundingFeeBooked", data: decideFundingBooking(this.context(), report) });
    this.addIncome(report.symbol, "FUNDING_FEE", report.fundingFee, time, "");
    this.updateTime = time;
  }

  /**
   * Books the venue's liquidation of a position through `order` (the `autoclose-…` order): the trade (no
   * commission) with the booked PnL, and the clearance fee as INSURANCE_CLEAR income.
   */
  bookLiquidation(order: OrderRecord, l: EventData<"PositionLiquidated">, time: number): WireFill {
    this.actor.send({ type: "PositionLiquidated", data: l });
    const fill = { price: l.price, quantity: order.origQty, commission: "0", maker: false };
    const wire = this.recordTrade(order, time, fill, l.realizedPnl);
    if (!new Dec(l.clearanceFee).isZero())
      this.addIncome(l.symbol, "INSURANCE_CLEAR", canonical(new Dec(l.clearanceFee).neg()), time, "");
    return wire;
  }

  /** ACCOUNT_UPDATE's balance row: wallet, cross wallet and the balance change `bc`. */
  balance(balanceChange: string): {
    walletBalance: string;
    crossWalletBalance: string;
    balanceChange: string;
  } {
    const account = this.context();
    return {
      walletBalance: account.walletBalance,
      crossWalletBalance: crossWalletBalance(account.walletBalance, marginedPositions(account)),
      balanceChange,
    };
  }

  /** ACCOUNT_UPDATE's row of a position (flat: zeros) at `mark` (undefined: no price yet, upnl 0). */
  position(symbol: string, side: PositionSide, mark: string | undefined): WirePosition {
    const key = positionKey(symbol, side);
    const p = this.actor.getSnapshot().context.positions[key];
    const amt = p?.positionAmt ?? "0";
    const entry = p?.entryPrice ?? "0";
    return {
      symbol,
      positionSide: side,
      positionAmt: amt,
      entryPrice: entry,
      breakEvenPrice: this.breakEven(amt, entry),
      accumulatedRealized: this.accumulated.get(key) ?? "0",
      unrealizedPnl: p && mark ? unrealizedPnl(p, mark) : "0",
      marginType: this.settings[symbol]!.marginType,
      isolatedWallet: p?.isolatedWallet ?? "0",
    };
  }

  /** breakEvenPrice: entry × (1 + takerRate) long, × (1 − takerRate) short, "0" flat (UNCONFIRMED, §4.2). */
  breakEven(positionAmt: string, entryPrice: string): string {
    const amt = new Dec(positionAmt);
    if (amt.isZero()) return "0";
    const factor = amt.isPositive() ? new Dec(1).plus(this.takerRate) : new Dec(1).minus(this.takerRate);
    return canonical(new Dec(entryPrice).times(factor));
  }

  private recordTrade(order: OrderRecord, time: number, f: LedgerFill, realizedPnl: string): WireFill {
    const id = ++this.tradeSeq;
    this.trades.push({
      symbol: order.symbol,
      id,
      orderId: order.orderId,
      side: order.side,
      price: f.price,
      qty: f.quantity,
      quoteQty: canonical(new Dec(f.price).times(f.quantity)),
      realizedPnl,
      commission: f.commission,
      commissionAsset: "USDT",
      time,
      positionSide: order.positionSide,
      buyer: order.side === "BUY",
      maker: f.maker,
    });
    const key = positionKey(order.symbol, order.positionSide);
    this.accumulated.set(key, canonical(new Dec(this.accumulated.get(key) ?? "0").plus(realizedPnl)));
    if (!new Dec(realizedPnl).isZero())
      this.addIncome(order.symbol, "REALIZED_PNL", realizedPnl, time, String(id));
    if (!new Dec(f.commission).isZero())
      this.addIncome(order.symbol, "COMMISSION", canonical(new Dec(f.commission).neg()), time, String(id));
    this.updateTime = time;
    return { tradeId: id, time, realizedPnl, ...f };
  }

  private addIncome(symbol: string, incomeType: IncomeType, income: string, time: number, tradeId: string) {
    const tranId = ++this.tranSeq;
    this.incomes.push({ symbol, incomeType, income, asset: "USDT", info: incomeType, time, tranId, tradeId });
  }
}
