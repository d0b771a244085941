/**
 * The margin numbers of one position at a mark price, as Binance's `positionRisk` reports them and the
 * projections show them (binance-usdm.md §4.5–4.7): notional, unrealized PnL, initial and maintenance margin,
 * isolated margin, margin ratio and liquidation price. USDT amounts; strings canonical.
 */
import { type Position, unrealizedPnl } from "../accounting.ts";
import { canonical, Dec, toDec } from "../decimal.ts";
import type { LeverageBracket } from "./brackets.ts";
import { liquidationPrice } from "./liquidation.ts";
import { initialMargin, maintenanceMargin, marginRatio } from "./margin.ts";

/** How the position is margined. */
export type PositionMargin =
  | {
      readonly marginType: "ISOLATED";
      /** The position's isolated wallet (`isolatedWalletAfterFill`, minus its funding), USDT. */
      readonly isolatedWallet: string;
    }
  | {
      readonly marginType: "CROSSED";
      readonly crossWalletBalance: string;
      /** Maintenance margin and unrealized PnL of every other cross position (TMM1, UPNL1 of §4.7), USDT. */
      readonly otherMaintMargin: string;
      readonly otherUnrealizedPnl: string;
    };

/** One position's margin numbers. */
export type PositionRisk = {
  /** |positionAmt| × markPrice. */
  readonly notional: string;
  readonly unrealizedPnl: string;
  /** notional / leverage (§4.5). */
  readonly initialMargin: string;
  /** notional × MMR − cum in the bracket of the notional (§4.6). */
  readonly maintMargin: string;
  /** The bracket of the notional. */
  readonly bracket: number;
  /** ISOLATED: isolated wallet + unrealized PnL (Binance's `isolatedMargin`); CROSSED: "0". */
  readonly isolatedMargin: string;
  /**
   * maintMargin / margin balance: ISOLATED, the position's over its isolated margin; CROSSED, every cross
   * position's over the cross margin balance (an account figure). Null when the balance is ≤ 0.
   */
  readonly marginRatio: string | null;
  /** §4.7 with the bracket loop; null when there is none ("--"). */
  readonly liquidationPrice: string | null;
};

/**
 * The margin numbers of a one-way position (or one hedge-mode side) at `markPrice`. A flat position gives zeros
 * and no liquidation price.
 * @throws Error when leverage is not an integer ≥ 1 or a number is malformed.
 */
export function positionRisk(
  brackets: readonly LeverageBracket[],
  position: Position,
  markPrice: string,
  leverage: number,
  margin: PositionMargin,
): PositionRisk {
  const amt = toDec(position.positionAmt, "positionAmt");
  const notional = canonical(amt.abs().times(toDec(markPrice, "markPrice")));
  const upnl = unrealizedPnl(position, markPrice);
  const { maintMargin, bracket } = maintenanceMargin(brackets, notional);
  const isolated = margin.marginType === "ISOLATED";
  const account = isolated
    ? { walletBalance: margin.isolatedWallet, otherMaintMargin: "0", otherUnrealizedPnl: "0" }
    : {
        walletBalance: margin.crossWalletBalance,
        otherMaintMargin: margin.otherMaintMargin,
        otherUnrealizedPnl: margin.otherUnrealizedPnl,
      };
  const balance = new Dec(account.walletBalance).plus(account.otherUnrealizedPnl).plus(upnl);
  const maint = new Dec(maintMargin).plus(account.otherMaintMargin);
  return {
    notional,
    unrealizedPnl: upnl,
    initialMargin: initialMargin(notional, leverage),
    maintMargin,
    bracket: bracket.bracket,
    isolatedMargin: isolated ? canonical(balance) : "0",
    marginRatio: marginRatio(canonical(maint), canonical(balance)),
    liquidationPrice: amt.isZero() ? null : liquidationPrice(account, [position], [brackets]).price,
  };
}
