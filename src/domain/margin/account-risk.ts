/**
 * The margin numbers of every position of an account at the current marks (binance-usdm.md §4.5–4.7): what the
 * simulated venue liquidates on and what the projections show. A cross position's liquidation price counts the
 * other cross positions' maintenance margin and unrealized PnL (TMM1, UPNL1 of §4.7) and the cross wallet
 * (the wallet balance less every isolated wallet); an isolated position counts only its own isolated wallet.
 * Hedge mode, cross margin, both sides open (§4.7: "in cross mode long and short of the same symbol share one
 * price"): the LONG and SHORT legs of the symbol share one liquidation price, the two-leg form of §4.7
 * (`crossHedgeLiquidation`; TMM1 and UPNL1 are the other symbols' cross positions'). Each side in isolated
 * margin has its own price.
 * Pure; USDT amounts as canonical decimal strings.
 */
import { unrealizedPnl } from "../accounting.ts";
import { canonical, Dec } from "../decimal.ts";
import type { LeverageBracket } from "./brackets.ts";
import { type LiquidationPrice, liquidationPrice } from "./liquidation.ts";
import { maintenanceMargin } from "./margin.ts";
import { type PositionRisk, positionRisk } from "./position-risk.ts";

/** One open position as the account books it. */
export interface MarginedPosition {
  readonly symbol: string;
  readonly positionSide: "BOTH" | "LONG" | "SHORT";
  /** Signed size, base asset. */
  readonly positionAmt: string;
  readonly entryPrice: string;
  readonly leverage: number;
  readonly marginType: "ISOLATED" | "CROSSED";
  /** ISOLATED only: the position's isolated wallet. */
  readonly isolatedWallet?: string;
}

/** A position and its margin numbers. */
export interface PositionMarginView extends MarginedPosition {
  readonly markPrice: string;
  readonly risk: PositionRisk;
}

/**
 * The margin numbers of each position at `mark(symbol)` (positions without a mark are left out), or only of the
 * positions `only` selects (the cross legs still count every cross position).
 * `walletBalance` is the account's total wallet (cross wallet + isolated wallets).
 * @throws Error when a symbol has no brackets (from `brackets`) or a number is malformed.
 */
export function accountRisk(
  walletBalance: string,
  positions: readonly MarginedPosition[],
  mark: (symbol: string) => string | undefined,
  brackets: (symbol: string) => readonly LeverageBracket[],
  only: (p: MarginedPosition) => boolean = () => true,
): PositionMarginView[] {
  const marked = positions
    .map((p) => ({ p, markPrice: mark(p.symbol) }))
    .filter((x): x is { p: MarginedPosition; markPrice: string } => x.markPrice !== undefined);
  const crossWallet = crossWalletBalance(walletBalance, positions);
  const cross = marked
    .filter(({ p }) => p.marginType === "CROSSED")
    .map(({ p, markPrice }) => {
      const notional = new Dec(p.positionAmt).abs().times(markPrice).toFixed();
      return {
        p,
        maint: new Dec(maintenanceMargin(brackets(p.symbol), notional).maintMargin),
        upnl: new Dec(unrealizedPnl(p, markPrice)),
      };
    });
  const totalMaint = cross.reduce((sum, c) => sum.plus(c.maint), new Dec(0));
  const totalUpnl = cross.reduce((sum, c) => sum.plus(c.upnl), new Dec(0));
  return marked
    .filter(({ p }) => only(p))
    .map(({ p, markPrice }) => {
      const own = cross.find((c) => c.p === p);
      const pair = own && p.positionSide !== "BOTH" ? cross.filter((c) => c.p.symbol === p.symbol) : [];
      if (pair.length === 2) {
        const risk = positionRisk(brackets(p.symbol), p, markPrice, p.leverage, {
          marginType: "CROSSED",
          crossWalletBalance: crossWallet,
          otherMaintMargin: canonical(totalMaint.minus(own!.maint)),
          otherUnrealizedPnl: canonical(totalUpnl.minus(own!.upnl)),
        });
        const shared = pairLiquidation(
          crossWallet,
          pair.map((c) => c.p),
          totalMaint.minus(pair[0]!.maint).minus(pair[1]!.maint),
          totalUpnl.minus(pair[0]!.upnl).minus(pair[1]!.upnl),
          brackets(p.symbol),
        );
        return { ...p, markPrice, risk: { ...risk, liquidationPrice: shared.price } };
      }
      const risk = positionRisk(
        brackets(p.symbol),
        p,
        markPrice,
        p.leverage,
        p.marginType === "ISOLATED"
          ? { marginType: "ISOLATED", isolatedWallet: p.isolatedWallet ?? "0" }
          : {
              marginType: "CROSSED",
              crossWalletBalance: crossWallet,
              otherMaintMargin: canonical(totalMaint.minus(own!.maint)),
              otherUnrealizedPnl: canonical(totalUpnl.minus(own!.upnl)),
            },
      );
      return { ...p, markPrice, risk };
    });
}

/**
 * The cross wallet balance (USDT): the account's total wallet balance less every isolated position's wallet
 * (Binance's `crossWalletBalance`, binance-usdm.md §4.7 WB of a cross position). Canonical decimal string.
 */
export function crossWalletBalance(walletBalance: string, positions: readonly MarginedPosition[]): string {
  let wallet = new Dec(walletBalance);
  for (const p of positions) if (p.marginType === "ISOLATED") wallet = wallet.minus(p.isolatedWallet ?? "0");
  return canonical(wallet);
}

/** A cross hedge pair's legs, LONG first, and their shared liquidation price (see `crossHedgeLiquidation`). */
export interface CrossHedgeLiquidation {
  readonly legs: readonly [MarginedPosition, MarginedPosition];
  readonly liquidation: LiquidationPrice;
}

/**
 * The shared liquidation price of `symbol`'s LONG and SHORT cross positions (hedge mode, both open; §4.7 two-leg
 * form, UNCONFIRMED): WB the cross wallet, TMM1 and UPNL1 the other symbols' cross positions' at `mark`, each
 * leg's bracket chosen at the price (`liquidationPrice`). Undefined unless both sides are open in cross margin.
 */
export function crossHedgeLiquidation(
  walletBalance: string,
  positions: readonly MarginedPosition[],
  symbol: string,
  mark: (symbol: string) => string | undefined,
  brackets: (symbol: string) => readonly LeverageBracket[],
): CrossHedgeLiquidation | undefined {
  const long = positions.find((p) => p.symbol === symbol && p.positionSide === "LONG");
  const short = positions.find((p) => p.symbol === symbol && p.positionSide === "SHORT");
  if (long?.marginType !== "CROSSED" || short?.marginType !== "CROSSED") return undefined;
  let maint = new Dec(0);
  let upnl = new Dec(0);
  for (const v of accountRisk(walletBalance, positions, mark, brackets, (p) => p.symbol !== symbol)) {
    if (v.marginType !== "CROSSED") continue;
    maint = maint.plus(v.risk.maintMargin);
    upnl = upnl.plus(v.risk.unrealizedPnl);
  }
  const cross = crossWalletBalance(walletBalance, positions);
  const liquidation = pairLiquidation(cross, [long, short], maint, upnl, brackets(symbol));
  return { legs: [long, short], liquidation };
}

function pairLiquidation(
  crossWallet: string,
  pair: readonly MarginedPosition[],
  otherMaint: Dec,
  otherUpnl: Dec,
  brackets: readonly LeverageBracket[],
): LiquidationPrice {
  const legs = [...pair].sort((a, b) => (a.positionSide === "LONG" ? -1 : b.positionSide === "LONG" ? 1 : 0));
  return liquidationPrice(
    {
      walletBalance: crossWallet,
      otherMaintMargin: canonical(otherMaint),
      otherUnrealizedPnl: canonical(otherUpnl),
    },
    legs,
    legs.map(() => brackets),
  );
}
