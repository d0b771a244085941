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
import { positionKey } from "../../../actors/account.machine.ts";
import { canonical, Dec, roundToTick } from "../../../domain/decimal.ts";
import {
  accountRisk,
  crossHedgeLiquidation,
  crossWalletBalance,
  type MarginedPosition,
} from "../../../domain/margin/account-risk.ts";
import type { LeverageBracket } from "../../../domain/margin/brackets.ts";
import { liquidationFill } from "../../../domain/margin/clearance.ts";
import { liquidatedByFall } from "../../../domain/margin/liquidation.ts";
import { maintenanceMargin } from "../../../domain/margin/margin.ts";
import { closingOrder } from "../../../domain/orders/closing.ts";
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

/** Positions liquidated together at one price: one position, or a cross hedge pair (module comment). */
export interface LiquidationGroup {
  legs: MarginedPosition[];
  lp: string;
  /** Whether a fall of the mark to `lp` liquidates (a long; a pair by `liquidatedByFall`), else a rise. */
  byFall: boolean;
}

/**
 * Liquidates the positions of `bar.symbol` whose liquidation price the bar's mark crosses (module comment): in
 * one-way mode its BOTH position; in hedge mode each side in isolated margin on its own, both sides together
 * when they are cross (one shared price).
 * @returns the new state and the reports (per liquidated group: the expiries, then one liquidation per position),
 * or undefined when nothing happens.
 */
export function liquidationStep(
  state: MatchingState,
  bar: MatchBar,
  mark: MarkBar | undefined,
  options: MatchingOptions,
  inputs: MarginInputs,
  cache?: LiquidationPriceCache,
): StepResult | undefined {
  const { account } = inputs;
  const watched = mark ?? bar;
  const groups = liquidationGroups(state, bar.symbol, watched.open, inputs, cache);
  if (groups.length === 0) return undefined;
  let next = state;
  let wallet = new Dec(account.walletBalance);
  const reports: VenueReport[] = [];
  for (const group of groups) {
    const r = liquidateGroup(next, group, bar, watched, options, inputs, wallet);
    if (!r) continue;
    next = r.state;
    wallet = r.wallet;
    reports.push(...r.reports);
  }
  return reports.length === 0 ? undefined : { state: next, reports };
}

/**
 * The groups `liquidationStep` checks for `symbol` (its positions the venue holds, each with its liquidation
 * price, or its cross hedge pair with their shared one), with the symbol's mark at `markOpen`. The prices depend
 * on the booked account, the other cross positions' marks and, for a hedge pair, `markOpen`.
 */
export function liquidationGroups(
  state: MatchingState,
  symbol: string,
  markOpen: string,
  inputs: MarginInputs,
  cache?: LiquidationPriceCache,
): LiquidationGroup[] {
  const open = inputs.account.positions.filter((p) => {
    if (p.symbol !== symbol) return false;
    const venueAmt = state.positions[positionKey(symbol, p.positionSide)];
    return venueAmt !== undefined && !/^-?0(\.0+)?$/.test(venueAmt);
  });
  if (open.length === 0) return [];
  const pair = open.length === 2 ? crossPair(state, symbol, markOpen, inputs) : undefined;
  if (pair) return [pair];
  const groups: LiquidationGroup[] = [];
  for (const position of open) {
    const lp = liquidationPriceAt(state, position, markOpen, inputs, cache);
    if (lp !== null)
      groups.push({ legs: [position], lp, byFall: new Dec(position.positionAmt).isPositive() });
  }
  return groups;
}

/**
 * Whether the watched bar's adverse extreme stays clear of every group's price (the float pre-check of
 * `liquidateGroup`: prices have ≤ 17 significant digits, so far from the price no exact comparison is needed).
 * False means only that the exact check must run.
 */
export function clearOfLiquidation(
  groups: readonly LiquidationGroup[],
  watched: { low: string; high: string },
): boolean {
  for (const { lp, byFall } of groups) {
    const adverse = Number(byFall ? watched.low : watched.high);
    const price = Number(lp);
    if (
      !(Math.abs(adverse - price) > Math.abs(adverse) * 1e-9 && (byFall ? adverse > price : adverse < price))
    )
      return false;
  }
  return true;
}

/** The cross hedge pair of `symbol` with its shared liquidation price at its mark `markPrice`, if both sides are cross. */
function crossPair(
  state: MatchingState,
  symbol: string,
  markPrice: string,
  { account, brackets }: MarginInputs,
): LiquidationGroup | undefined {
  const markOf = (s: string) =>
    s === symbol ? markPrice : (state.markPrice[s] ?? state.lastPrice[s] ?? undefined);
  const pair = crossHedgeLiquidation(account.walletBalance, account.positions, symbol, markOf, brackets);
  if (!pair || pair.liquidation.price === null) return undefined;
  return {
    legs: [...pair.legs],
    lp: pair.liquidation.price,
    byFall: liquidatedByFall(pair.legs, pair.liquidation.rates),
  };
}

/** Liquidates `group` when the watched bar crosses its price and no protective stop comes first. */
function liquidateGroup(
  state: MatchingState,
  group: LiquidationGroup,
  bar: MatchBar,
  watched: MarkBar | MatchBar,
  options: MatchingOptions,
  inputs: MarginInputs,
  walletBefore: Dec,
): { state: MatchingState; reports: VenueReport[]; wallet: Dec } | undefined {
  const { lp, byFall } = group;
  const symbol = bar.symbol;
  if (clearOfLiquidation([group], watched)) return undefined;
  const crossed = byFall ? new Dec(watched.low).lte(lp) : new Dec(watched.high).gte(lp);
  if (!crossed) return undefined;
  // The legs that lose on the way to lp (a long on a fall, a short on a rise): a stop of each coming first pre-empts.
  const losing = group.legs.filter((p) => new Dec(p.positionAmt).isPositive() === byFall);
  if (losing.length > 0 && losing.every((p) => stopComesFirst(state, p, byFall, lp))) return undefined;

  const instrument = options.instrument(symbol);
  const gapped = byFall ? new Dec(watched.open).lte(lp) : new Dec(watched.open).gte(lp);
  const price = gapped
    ? canonical(new Dec(watched.open))
    : canonical(roundToTick(lp, instrument.tickSize, byFall ? "floor" : "ceil", instrument.minPrice));
  const sides = new Set(group.legs.map((p) => p.positionSide));
  const time = bar.closeTime;
  const reports: VenueReport[] = state.orders
    .filter((o) => o.request.symbol === symbol && sides.has(o.request.positionSide))
    .map((o) => ({
      kind: "expired" as const,
      time,
      symbol,
      clientOrderId: o.request.clientOrderId,
      reason: "account liquidated",
      expiryReason: 5,
    }));
  const { account } = inputs;
  let wallet = walletBefore;
  let crossWallet = new Dec(crossWalletBalance(account.walletBalance, account.positions)).plus(
    walletBefore.minus(account.walletBalance),
  );
  let tradeSeq = state.tradeSeq;
  const positions = { ...state.positions };
  for (const position of group.legs) {
    const isolated = position.marginType === "ISOLATED";
    const notional = canonical(new Dec(position.positionAmt).abs().times(price));
    const fill = liquidationFill({
      symbol,
      positionSide: position.positionSide,
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
    wallet = wallet.plus(fill.walletDelta);
    if (!isolated) crossWallet = crossWallet.plus(fill.walletDelta);
    tradeSeq += 1;
    positions[positionKey(symbol, position.positionSide)] = "0";
    reports.push({
      kind: "liquidation",
      time,
      liquidation: {
        symbol,
        clientOrderId: `autoclose-${tradeSeq}`,
        positionSide: position.positionSide,
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
        walletBalance: canonical(wallet),
      },
    });
  }
  return {
    state: {
      ...state,
      orders: state.orders.filter((o) => !(o.request.symbol === symbol && sides.has(o.request.positionSide))),
      positions,
      lastPrice: { ...state.lastPrice, [symbol]: price },
      tradeSeq,
    },
    reports,
    wallet,
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

/**
 * Whether a working protective stop of `position` (its exit side, its positionSide; reduce-only, closePosition or a
 * hedge-mode close) triggers before the adverse move reaches `lp`.
 */
function stopComesFirst(
  state: MatchingState,
  position: MarginedPosition,
  long: boolean,
  lp: string,
): boolean {
  const exitSide = long ? "SELL" : "BUY";
  return state.orders.some((o) => {
    const r = o.request;
    if (r.symbol !== position.symbol || r.positionSide !== position.positionSide) return false;
    if (o.stage !== "algo" || r.side !== exitSide || !STOPS.has(r.type)) return false;
    if (!closingOrder(r)) return false;
    if (r.triggerPrice === undefined) return false;
    return long ? new Dec(r.triggerPrice).gte(lp) : new Dec(r.triggerPrice).lte(lp);
  });
}
