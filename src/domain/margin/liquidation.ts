/**
 * Liquidation price (binance-usdm.md §4.7) and the liquidation trigger. USDT amounts, prices in USDT, sizes in
 * base asset.
 *
 * Every position ("leg") in the formula has a sign (+1 long / BOTH long, −1 short / BOTH short), a size, an entry
 * price and a maintenance rate (MMR, cum). With WB the wallet balance, TMM1 and UPNL1 the maintenance margin and
 * unrealized PnL of every other contract (0 in isolated mode):
 *
 *   LP = (WB − TMM1 + UPNL1 + Σ cum − Σ sign × size × EP) / (Σ size × MMR − Σ sign × size)
 *
 * One BOTH leg is the one-way formula; BOTH + LONG + SHORT legs the hedge-mode form reconstructed by symmetry
 * (UNCONFIRMED, §4.7). It solves the derivation line `WB − TMM1 + UPNL1 + Σ sign × size × (LP − EP) = Σ (size ×
 * LP × MMR − cum)`: margin balance = maintenance margin. `numerator` and `denominator` are exact (sums and
 * products), so a caller can check that line exactly; only `price` (their quotient) is rounded.
 */
import { canonical, Dec, toDec } from "../decimal.ts";
import type { LeverageBracket } from "./brackets.ts";
import type { MaintenanceRate } from "./margin.ts";

/** Decimals of a liquidation price (half-even), as the entry price keeps (accounting.ts). */
export const LIQUIDATION_PRICE_DECIMALS = 12;

/** The wallet side of the formula. Isolated: the position's isolated wallet and "0", "0". */
export type LiquidationAccount = {
  /** WB: crossWalletBalance (cross) or the position's isolated wallet (isolated), USDT. */
  readonly walletBalance: string;
  /** TMM1: maintenance margin of every other contract (cross; "0" isolated), USDT. */
  readonly otherMaintMargin: string;
  /** UPNL1: unrealized PnL of every other contract (cross; "0" isolated), USDT. */
  readonly otherUnrealizedPnl: string;
};

/** One position of the formula: `positionAmt` signed (> 0 long, < 0 short; LONG ≥ 0 and SHORT ≤ 0 in hedge mode). */
export type LiquidationLeg = {
  readonly positionAmt: string;
  readonly entryPrice: string;
};

/** A liquidation price and the numbers behind it. */
export type LiquidationPrice = {
  /** LP rounded to 12 decimals, or null when LP ≤ 0 or the formula has no solution (Binance shows "--"). */
  readonly price: string | null;
  /** The exact numerator and denominator of LP (before rounding); the denominator is never 0 when price ≠ null. */
  readonly numerator: string;
  readonly denominator: string;
  /** The maintenance rate used per leg (the bracket's, when brackets chose it), in the legs' order. */
  readonly rates: readonly MaintenanceRate[];
};

type Leg = { amt: Dec; size: Dec; entry: Dec };

function legsOf(legs: readonly LiquidationLeg[]): Leg[] {
  return legs.map((l) => {
    const amt = toDec(l.positionAmt, "positionAmt");
    return { amt, size: amt.abs(), entry: toDec(l.entryPrice, "entryPrice") };
  });
}

/** numerator and denominator, normalised so that the denominator is ≥ 0. */
function fraction(account: LiquidationAccount, legs: Leg[], rates: readonly MaintenanceRate[]): [Dec, Dec] {
  let n = toDec(account.walletBalance, "walletBalance")
    .minus(toDec(account.otherMaintMargin, "otherMaintMargin"))
    .plus(toDec(account.otherUnrealizedPnl, "otherUnrealizedPnl"));
  let d = new Dec(0);
  legs.forEach((leg, i) => {
    const rate = rates[i]!;
    // sign × size = positionAmt.
    n = n.plus(toDec(rate.cum, "cum")).minus(leg.amt.times(leg.entry));
    d = d.plus(leg.size.times(toDec(rate.maintMarginRatio, "maintMarginRatio"))).minus(leg.amt);
  });
  return d.isNegative() ? [n.neg(), d.neg()] : [n, d];
}

function result(n: Dec, d: Dec, rates: readonly MaintenanceRate[]): LiquidationPrice {
  const price =
    d.isZero() || n.lte(0) ? null : canonical(n.div(d).toDecimalPlaces(LIQUIDATION_PRICE_DECIMALS));
  return { price, numerator: canonical(n), denominator: canonical(d), rates };
}

/**
 * §4.7 with given maintenance rates, one per leg (no bracket choice): §4.7 vector D gives MMR and cum this way.
 * An empty or all-flat set of legs has no liquidation price (null).
 */
export function liquidationPriceWith(
  account: LiquidationAccount,
  legs: readonly LiquidationLeg[],
  rates: readonly MaintenanceRate[],
): LiquidationPrice {
  if (rates.length !== legs.length) throw new Error(`${legs.length} legs but ${rates.length} rates`);
  const parsed = legsOf(legs);
  const [n, d] = fraction(account, parsed, rates);
  return result(n, d, rates);
}

/**
 * The bracket (index) of the notional `size × n / d` at a price n/d (d > 0), exactly: the first bracket with
 * `size × n ≤ cap × d` (the floor < notional ≤ cap convention); bracket 1 for a price ≤ 0.
 */
function bracketAt(brackets: readonly LeverageBracket[], size: Dec, n: Dec, d: Dec): number {
  if (n.lte(0) || d.lte(0)) return 0;
  const scaled = size.times(n);
  const i = brackets.findIndex((b) => scaled.lte(new Dec(b.notionalCap).times(d)));
  return i < 0 ? brackets.length - 1 : i;
}

/**
 * §4.7 with the brackets of each leg chosen at the liquidation price: start with each leg's bracket at its entry
 * notional, compute LP, take each leg's bracket of `size × LP`, and recompute until no bracket changes (vector C).
 *
 * One leg (one-way mode, or an isolated position): there is exactly one self-consistent bracket, since
 * maintenance margin is continuous in the notional (the cum rule) and rises slower than the position's PnL, so
 * margin balance − maintenance margin is monotonic in the price and has a single root; the loop ends there (or,
 * should it ever cycle, the guard below finds it).
 *
 * Several legs (cross hedge mode: a LONG and a SHORT sharing one price; UNCONFIRMED): margin balance − maintenance
 * margin is concave in the price and may have 0, 1 or 2 roots, and the loop may cycle. Oscillation guard: when a
 * set of brackets comes back, every combination of brackets is tried and the self-consistent ones are kept; of
 * their prices, the lowest is taken when the legs are net long or flat, the highest when net short (the price the
 * mark meets first from the side it moves against); none → price null, which there means margin balance and
 * maintenance margin never meet: check `marginRatio` (≥ 1: below maintenance at every price) rather than trust
 * `isLiquidated` alone. Only legs far beyond the last bracket cap were seen to get there.
 */
export function liquidationPrice(
  account: LiquidationAccount,
  legs: readonly LiquidationLeg[],
  brackets: readonly (readonly LeverageBracket[])[],
): LiquidationPrice {
  if (brackets.length !== legs.length)
    throw new Error(`${legs.length} legs but ${brackets.length} bracket sets`);
  const parsed = legsOf(legs);
  const ratesOf = (choice: readonly number[]) => choice.map((k, i) => brackets[i]![k]!);
  const at = (choice: readonly number[]) => {
    const [n, d] = fraction(account, parsed, ratesOf(choice));
    return { n, d, next: parsed.map((leg, i) => bracketAt(brackets[i]!, leg.size, n, d)) };
  };
  let choice = parsed.map((leg, i) => bracketAt(brackets[i]!, leg.size, leg.entry, new Dec(1)));
  const seen = new Set<string>();
  while (!seen.has(choice.join())) {
    seen.add(choice.join());
    const { n, d, next } = at(choice);
    if (next.every((k, i) => k === choice[i])) return result(n, d, ratesOf(choice));
    choice = next;
  }
  const netShort = parsed.reduce((sum, leg) => sum.plus(leg.amt), new Dec(0)).isNegative();
  let best: LiquidationPrice | undefined;
  for (const combination of combinations(brackets.map((b) => b.length))) {
    const { n, d, next } = at(combination);
    if (d.isZero() || n.lte(0) || !next.every((k, i) => k === combination[i])) continue;
    const found = result(n, d, ratesOf(combination));
    const better =
      best === undefined ||
      (netShort ? new Dec(found.price!).gt(best.price!) : new Dec(found.price!).lt(best.price!));
    if (better) best = found;
  }
  return best ?? result(new Dec(0), new Dec(0), ratesOf(choice));
}

/** Every tuple of indexes below `sizes[i]`, the first position varying slowest. */
function* combinations(sizes: readonly number[]): Generator<number[]> {
  if (sizes.length === 0) {
    yield [];
    return;
  }
  const [first, ...rest] = sizes;
  for (let i = 0; i < first!; i++) for (const tail of combinations(rest)) yield [i, ...tail];
}

/**
 * Whether the legs are liquidated by a fall of the price to LP (true) or by a rise (false): the sign of the
 * derivative of margin balance − maintenance margin in the price at the rates LP was computed with,
 * Σ positionAmt − Σ size × MMR (> 0: the balance falls faster than the maintenance margin as the price falls).
 * One long leg: true; one short leg: false; a cross hedge pair (§4.7, LONG and SHORT sharing one price): by its
 * net size, a fully hedged pair rising (its maintenance margin grows with the price).
 */
export function liquidatedByFall(
  legs: readonly LiquidationLeg[],
  rates: readonly MaintenanceRate[],
): boolean {
  let slope = new Dec(0);
  legs.forEach((leg, i) => {
    const amt = toDec(leg.positionAmt, "positionAmt");
    slope = slope.plus(amt).minus(amt.abs().times(toDec(rates[i]!.maintMarginRatio, "maintMarginRatio")));
  });
  return slope.isPositive() && !slope.isZero();
}

/**
 * Whether the mark price has crossed a position's liquidation price (§4.7 last rule, §4.9: liquidation is
 * triggered by the mark price): a long at mark ≤ LP, a short at mark ≥ LP. False when flat or LP is null.
 */
export function isLiquidated(
  markPrice: string,
  positionAmt: string,
  liquidationPrice: string | null,
): boolean {
  if (liquidationPrice === null) return false;
  const amt = toDec(positionAmt, "positionAmt");
  if (amt.isZero()) return false;
  const mark = toDec(markPrice, "markPrice");
  const lp = toDec(liquidationPrice, "liquidationPrice");
  return amt.isPositive() ? mark.lte(lp) : mark.gte(lp);
}
