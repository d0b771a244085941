/**
 * PnL projection of the account: Σ realizedPnl and commission of FillBooked, Σ fundingFee of FundingFeeBooked,
 * Σ realizedPnl, clearance fee and insurance-fund cover of PositionLiquidated, the wallet balance they report, and
 * the equity curve (wallet + Σ unrealizedPnl, marked every bar).
 * One account per log (a run's `account-<id>` stream). Amounts are kept in fixed-point money units.
 */
import type { EventData } from "../events/catalog.ts";
import { type Drawdown, EquityCurve } from "./equity-curve.ts";
import { formatUnits, MONEY_SCALE, toUnits } from "./fixed-point.ts";

/** The account's PnL. Amounts are USDT decimal strings. */
export interface PnlView extends Drawdown {
  /** walletBalance of AccountOpened; null before it. */
  initialBalance: string | null;
  /** Wallet balance after the last booked fill or funding fee ("0" before AccountOpened). */
  walletBalance: string;
  /** Σ FillBooked.realizedPnl (before commission). */
  realizedPnl: string;
  /** Σ FillBooked.commission. */
  fees: string;
  /** Σ FundingFeeBooked.fundingFee, signed as received (negative = paid). */
  funding: string;
  /** Σ PositionLiquidated.clearanceFee (binance-usdm.md §4.8). */
  liquidationFees: string;
  /** Σ PositionLiquidated.insuranceFundCovered: losses beyond the margin the insurance fund took (not booked). */
  insuranceFundCovered: string;
  /** realizedPnl − fees − liquidationFees + funding (= walletBalance − initialBalance). */
  netPnl: string;
  /** Σ unrealizedPnl of open positions at mark. */
  unrealizedPnl: string;
  /** walletBalance + unrealizedPnl. */
  equity: string;
  /** Number of FillBooked events. */
  fills: number;
  /** Number of FundingFeeBooked events. */
  fundingPayments: number;
  /** Number of PositionLiquidated events. */
  liquidations: number;
}

const money = (value: string) => toUnits(value, MONEY_SCALE);
const usdt = (units: bigint) => formatUnits(units, MONEY_SCALE);

/** Fold of AccountOpened, FillBooked and FundingFeeBooked, plus the per-bar equity samples. */
export class PnlProjection {
  readonly curve: EquityCurve;
  /** @param keepCurve false: keep the running drawdown and the last equity, not every sample. */
  constructor(keepCurve = true) {
    this.curve = new EquityCurve(keepCurve);
  }

  private initialBalance: string | null = null;
  private wallet = 0n;
  private realizedPnl = 0n;
  private fees = 0n;
  private funding = 0n;
  private liquidationFees = 0n;
  private insuranceFundCovered = 0n;
  private fills = 0;
  private fundingPayments = 0;
  private liquidations = 0;

  /** The account's opening wallet balance. */
  open(account: EventData<"AccountOpened">): void {
    this.initialBalance = account.walletBalance;
    this.wallet = money(account.walletBalance);
  }

  /** Adds the fill's realizedPnl and commission; the wallet becomes the reported walletBalance. */
  bookFill(fill: EventData<"FillBooked">): void {
    this.realizedPnl += money(fill.realizedPnl);
    this.fees += money(fill.commission);
    this.wallet = money(fill.walletBalance);
    this.fills++;
  }

  /** Adds the signed fundingFee; the wallet becomes the reported walletBalance. */
  bookFunding(fee: EventData<"FundingFeeBooked">): void {
    this.funding += money(fee.fundingFee);
    this.wallet = money(fee.walletBalance);
    this.fundingPayments++;
  }

  /** Adds a liquidation's realized PnL, clearance fee and insurance cover; the wallet becomes the reported one. */
  bookLiquidation(liquidation: EventData<"PositionLiquidated">): void {
    this.realizedPnl += money(liquidation.realizedPnl);
    this.liquidationFees += money(liquidation.clearanceFee);
    this.insuranceFundCovered += money(liquidation.insuranceFundCovered);
    this.wallet = money(liquidation.walletBalance);
    this.liquidations++;
  }

  /** The wallet balance after the last booking, USDT. */
  walletBalance(): string {
    return usdt(this.wallet);
  }

  /** Samples the equity curve at bar closeTime `time` given the current Σ unrealized PnL (money units). */
  sample(time: number, unrealized: bigint): void {
    this.curve.sample(time, this.wallet + unrealized);
  }

  /** The PnL view given the current Σ unrealized PnL (money units). */
  view(unrealized: bigint): PnlView {
    return {
      initialBalance: this.initialBalance,
      walletBalance: usdt(this.wallet),
      realizedPnl: usdt(this.realizedPnl),
      fees: usdt(this.fees),
      funding: usdt(this.funding),
      liquidationFees: usdt(this.liquidationFees),
      insuranceFundCovered: usdt(this.insuranceFundCovered),
      netPnl: usdt(this.realizedPnl - this.fees - this.liquidationFees + this.funding),
      unrealizedPnl: usdt(unrealized),
      equity: usdt(this.wallet + unrealized),
      ...this.curve.drawdown(),
      fills: this.fills,
      fundingPayments: this.fundingPayments,
      liquidations: this.liquidations,
    };
  }
}
