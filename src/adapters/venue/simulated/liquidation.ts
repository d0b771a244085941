/**
 * The simulated venue's liquidation (binance-usdm.md §4.7–4.8), pure. Once per bar, when the bar's path starts
 * (after the orders arriving at the open, e.g. an entry and its protective orders), each position of the symbol
 * is checked against its liquidation price of §4.7, computed from the booked account (the wallet, isolated
 * wallets, the other positions at their last marks) and the symbol's leverage brackets:
 *
 * - The watched price is the mark (the 1m mark-price bar when given, else the trade bar, the backtest's mark):
 *   a long is liquidated when the bar's mark low ≤ its liquidation price, a short when the mark high ≥ it.
 * - A working reduce-only (or closePosition) STOP / STOP_MARKET on the other side whose trigger the adverse move
 *   reaches first (a long's at or above the liquidation price, a short's at or below) pre-empts it: the bar is
 *   matched as usual and the stop closes the position. Trailing stops and take-profits do not pre-empt (their
 *   trigger is not known in advance, or lies the other way: the conservative choice, like "stop first").
 * - Otherwise the venue expires every working order of the symbol (er 5, "account liquidated", §3.1) and closes
 *   the whole position in one fill at the liquidation price rounded to the tick against the position (a long
 *   down, a short up), or at the bar's mark open when the bar opens beyond it (a gap). The clearance fee and the
 *   loss cap follow `liquidationFill` (src/domain/margin/clearance.ts, the §4.8 model).
 *
 * Not modelled: partial liquidation tiers, ADL, a cross liquidation's effect on the other cross positions within
 * the same bar (each symbol is checked at its own bar).
 */
import { canonical, Dec, roundToTick } from "../../../domain/decimal.ts";
import {
  accountRisk,
  crossWalletBalance,
  type MarginedPosition,
} from "../../../domain/margin/account-risk.ts";
import type { LeverageBracket } from "../../../domain/margin/brackets.ts";
import { liquidationFill } from "../../../domain/margin/clearance.ts";
import { maintenanceMargin } from "../../../domain/margin/margin.ts";
import type { VenueReport } from "../../../engine/venue.ts";
import type { MarkBar, MatchBar, MatchingOptions, MatchingState, StepResult } from "./matching.ts";

/**
 * The booked account the venue margins and liquidates against: total wallet balance (USDT), open positions and
 * each configured symbol's leverage and margin type.
 */
export interface VenueAccountView {
  walletBalance: string;
  positions: MarginedPosition[];
  settings: Record<string, { leverage: number; marginType: "ISOLATED" | "CROSSED" }>;
}

/** What the margin checks and the liquidation need beyond the matching state. */
export interface MarginInputs {
  account: VenueAccountView;
  brackets: (symbol: string) => readonly LeverageBracket[];
}

const STOPS: ReadonlySet<string> = new Set(["STOP", "STOP_MARKET"]);

/**
 * Liquidates the position of `bar.symbol` when the bar's mark crosses its liquidation price (module comment).
 * @returns the new state and the reports (the expiries, then the liquidation), or undefined when nothing happens.
 */
export function liquidationStep(
  state: MatchingState,
  bar: MatchBar,
  mark: MarkBar | undefined,
  options: MatchingOptions,
  inputs: MarginInputs,
  cache?: LiquidationPriceCache,
): StepResult | undefined {
  const symbol = bar.symbol;
  const venueAmt = state.positions[symbol];
  if (venueAmt === undefined || /^-?0(\.0+)?$/.test(venueAmt)) return undefined;
  const amt = new Dec(venueAmt);
  const { account } = inputs;
  const position = account.positions.find((p) => p.symbol === symbol && p.positionSide === "BOTH");
  if (!position) return undefined;
  const watched = mark ?? bar;
  const lp = liquidationPriceAt(state, position, watched.open, inputs, cache);
  if (lp === null) return undefined;
  const long = amt.isPositive();
  // A float pre-check (prices have ≤ 17 significant digits): far from the price, no exact comparison is needed.
  const adverse = Number(long ? watched.low : watched.high);
  if (
    Math.abs(adverse - Number(lp)) > Math.abs(adverse) * 1e-9 &&
    (long ? adverse > Number(lp) : adverse < Number(lp))
  )
    return undefined;
  const crossed = long ? new Dec(watched.low).lte(lp) : new Dec(watched.high).gte(lp);
  if (!crossed || stopComesFirst(state, symbol, long, lp)) return undefined;

  const instrument = options.instrument(symbol);
  const gapped = long ? new Dec(watched.open).lte(lp) : new Dec(watched.open).gte(lp);
  const price = gapped
    ? canonical(new Dec(watched.open))
    : canonical(roundToTick(lp, instrument.tickSize, long ? "floor" : "ceil", instrument.minPrice));
  const notional = canonical(amt.abs().times(price));
  const isolated = position.marginType === "ISOLATED";
  const crossWallet = crossWalletBalance(account.walletBalance, account.positions);
  const fill = liquidationFill({
    symbol,
    positionSide: "BOTH",
    marginType: position.marginType,
    positionAmt: position.positionAmt,
    entryPrice: position.entryPrice,
    markPrice: gapped ? canonical(new Dec(watched.open)) : lp, // where the mark crossed the liquidation price
    liquidationPrice: lp,
    price,
    liquidationFee: instrument.liquidationFee,
    // A wallet already below 0 (commissions after the margin ran out) has nothing left to lose: the fund covers all.
    walletBalance: canonical(Dec.max(isolated ? (position.isolatedWallet ?? "0") : crossWallet, 0)),
    maintMargin: maintenanceMargin(inputs.brackets(symbol), notional).maintMargin,
  });

  const time = bar.closeTime;
  const reports: VenueReport[] = state.orders
    .filter((o) => o.request.symbol === symbol)
    .map((o) => ({
      kind: "expired" as const,
      time,
      symbol,
      clientOrderId: o.request.clientOrderId,
      reason: "account liquidated",
      expiryReason: 5,
    }));
  const tradeSeq = state.tradeSeq + 1;
  reports.push({
    kind: "liquidation",
    time,
    liquidation: {
      symbol,
      clientOrderId: `autoclose-${tradeSeq}`,
      positionSide: "BOTH",
      marginType: position.marginType,
      positionAmt: position.positionAmt,
      entryPrice: position.entryPrice,
      markPrice: fill.markPrice,
      liquidationPrice: fill.liquidationPrice,
      price: fill.price,
      maintMargin: fill.maintMargin,
      realizedPnl: fill.realizedPnl,
      clearanceFee: fill.clearanceFee,
      insuranceFundCovered: fill.insuranceFundCover,
      walletBalance: canonical(new Dec(account.walletBalance).plus(fill.walletDelta)),
    },
  });
  return {
    state: {
      ...state,
      orders: state.orders.filter((o) => o.request.symbol !== symbol),
      positions: { ...state.positions, [symbol]: "0" },
      lastPrice: { ...state.lastPrice, [symbol]: price },
      tradeSeq,
    },
    reports,
  };
}

/**
 * Liquidation prices already computed, by what they depend on: an isolated position's own numbers; a cross
 * position's, the wallet, every position and the other cross positions' marks. Not part of the venue's state (a
 * cache: the same inputs give the same price).
 */
export type LiquidationPriceCache = Map<string, string | null>;

/** The liquidation price of `position` with its own mark at `markPrice` (§4.7), via the cache when given. */
function liquidationPriceAt(
  state: MatchingState,
  position: MarginedPosition,
  markPrice: string,
  { account, brackets }: MarginInputs,
  cache: LiquidationPriceCache | undefined,
): string | null {
  const markOf = (s: string) =>
    s === position.symbol ? markPrice : (state.markPrice[s] ?? state.lastPrice[s] ?? undefined);
  const isolated = position.marginType === "ISOLATED";
  const key = isolated
    ? `I|${position.symbol}|${position.positionAmt}|${position.entryPrice}|${position.isolatedWallet}|${position.leverage}`
    : `C|${account.walletBalance}|${account.positions
        .map((p) => `${p.symbol}:${p.positionAmt}:${p.entryPrice}:${p.isolatedWallet ?? ""}:${p.marginType}`)
        .join(",")}|${account.positions
        .filter((p) => p.symbol !== position.symbol && p.marginType === "CROSSED")
        .map((p) => markOf(p.symbol))
        .join(",")}`;
  const known = cache?.get(key);
  if (known !== undefined) return known;
  const view = accountRisk(
    account.walletBalance,
    account.positions,
    markOf,
    brackets,
    (p) => p === position,
  )[0];
  const lp = view?.risk.liquidationPrice ?? null;
  if (cache) {
    if (cache.size > 10_000) cache.clear();
    cache.set(key, lp);
  }
  return lp;
}

/** Whether a working protective stop of the position triggers before the adverse move reaches `lp`. */
function stopComesFirst(state: MatchingState, symbol: string, long: boolean, lp: string): boolean {
  const exitSide = long ? "SELL" : "BUY";
  return state.orders.some((o) => {
    const r = o.request;
    if (r.symbol !== symbol || o.stage !== "algo" || r.side !== exitSide || !STOPS.has(r.type)) return false;
    if (!r.reduceOnly && !r.closePosition) return false;
    if (r.triggerPrice === undefined) return false;
    return long ? new Dec(r.triggerPrice).gte(lp) : new Dec(r.triggerPrice).lte(lp);
  });
}
