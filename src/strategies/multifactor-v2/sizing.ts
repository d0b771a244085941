/**
 * multifactor-v2 position rules (strategies.md §1.6, §1.3 correction 6), exact decimal: the factor (float64) sets
 * a target notional per symbol, capped, and a MARKET order moves the position there when the change clears the
 * trade band. Money in USDT, quantities in base asset, all as decimal strings.
 */
import { canonical, Dec, floorToStep, formatAtScale, toDec } from "../../domain/decimal.ts";

/** The account, the symbol's filters and the parameters one sizing decision needs. */
export interface SizingInput {
  /** Wallet balance + unrealised PnL at mark, USDT: one value per bar for all symbols. */
  readonly equity: string;
  /** The factor's final value (§1.4 I), float64. */
  readonly final: number;
  /** Target-volatility scale `tvs` (decimal string, default "0.2"). */
  readonly tvs: string;
  /** L_max: the leverage setting (integer). */
  readonly maxLeverage: number;
  /** N: symbols enabled in the config version (not the number that warmed up). */
  readonly symbols: number;
  /** Optional per-symbol cap on |target|, USDT. */
  readonly maxSymbolNotional?: string;
  /** Notional cap of the leverage bracket for L_max (`maxNotionalFor(brackets, L_max)`), USDT. */
  readonly bracketCap: string;
  /** Signed position size, base asset ("0" when flat). */
  readonly positionAmt: string;
  /** Valuation and order-sizing price: mark (backtest: close_t), quote asset. */
  readonly price: string;
  /** MIN_NOTIONAL.notional, USDT. */
  readonly minNotional: string;
  /** MARKET_LOT_SIZE step and minimum, base asset. */
  readonly marketStepSize: string;
  readonly marketMinQty: string;
}

/** The numbers every sizing decision records (USDT, canonical decimal strings). */
export interface SizingNumbers {
  readonly target: string;
  readonly current: string;
  readonly delta: string;
  /** max(10 USDT, minNotional): |delta| must exceed it. */
  readonly band: string;
}

/** A MARKET order to send, or why none is. */
export type SizingDecision =
  | (SizingNumbers & {
      readonly kind: "order";
      readonly side: "BUY" | "SELL";
      /** At the MARKET_LOT_SIZE step, with its decimals. */
      readonly quantity: string;
      /** True when the order only reduces the position (it never flips it). */
      readonly reduceOnly: boolean;
    })
  | (SizingNumbers & {
      readonly kind: "none";
      /** band: |Δ| ≤ band; zeroQuantity: Δ/price floors to 0; minNotional: the floored order is below MIN_NOTIONAL. */
      readonly reason: "band" | "zeroQuantity" | "minNotional";
    });

/** Trade band floor of §1.6, USDT. */
const MIN_BAND = new Dec(10);

/**
 * target = max(equity, 0) · clip(final · tvs, −1, 1) · L_max / N, then |target| ≤ min(maxSymbolNotional, bracket
 * cap) (§1.6). final · tvs is taken in decimal from final's shortest float64 representation.
 * @throws Error naming the field when final is not finite, L_max or N is not a positive integer, or a decimal
 *   is malformed.
 */
export function targetNotional(input: SizingInput): Dec {
  if (!Number.isFinite(input.final)) throw new Error(`final: expected a finite number, got ${input.final}`);
  for (const k of ["maxLeverage", "symbols"] as const)
    if (!Number.isSafeInteger(input[k]) || input[k] < 1)
      throw new Error(`${k}: expected a positive integer, got ${input[k]}`);
  const equity = Dec.max(toDec(input.equity, "equity"), 0);
  const scaled = Dec.min(Dec.max(new Dec(input.final).times(toDec(input.tvs, "tvs")), -1), 1);
  const raw = equity.times(scaled).times(input.maxLeverage).div(input.symbols);
  let cap = toDec(input.bracketCap, "bracketCap");
  if (input.maxSymbolNotional !== undefined)
    cap = Dec.min(cap, toDec(input.maxSymbolNotional, "maxSymbolNotional"));
  return Dec.min(Dec.max(raw, cap.neg()), cap);
}

/**
 * The order of §1.6 for one symbol at one decision: Δ = target − positionAmt·price; an order only when
 * |Δ| > max(10, minNotional); MARKET, quantity = floor_step(|Δ| / price) (the whole position when the target is
 * 0 and the order closes it), reduce-only when it reduces without flipping; none when the quantity floors to 0,
 * or when a non-reduce-only order is below MIN_NOTIONAL after rounding.
 * @throws Error naming the field for malformed inputs (see `targetNotional`) or a price ≤ 0.
 */
export function sizeOrder(input: SizingInput): SizingDecision {
  const price = toDec(input.price, "price");
  if (price.lte(0)) throw new Error(`price: must be > 0, got "${input.price}"`);
  const position = toDec(input.positionAmt, "positionAmt");
  const target = targetNotional(input);
  const current = position.times(price);
  const delta = target.minus(current);
  const minNotional = toDec(input.minNotional, "minNotional");
  const band = Dec.max(MIN_BAND, minNotional);
  const numbers: SizingNumbers = {
    target: canonical(target),
    current: canonical(current),
    delta: canonical(delta),
    band: canonical(band),
  };
  if (delta.abs().lte(band)) return { ...numbers, kind: "none", reason: "band" };
  const closing = target.isZero() && !position.isZero();
  const quantity = closing
    ? position.abs()
    : floorToStep(delta.abs().div(price), input.marketStepSize, input.marketMinQty);
  if (quantity.isZero()) return { ...numbers, kind: "none", reason: "zeroQuantity" };
  const side = delta.gt(0) ? "BUY" : "SELL";
  const against = side === "BUY" ? position.lt(0) : position.gt(0);
  const reduceOnly = against && quantity.lte(position.abs());
  if (!reduceOnly && quantity.times(price).lt(minNotional))
    return { ...numbers, kind: "none", reason: "minNotional" };
  const formatted = closing ? canonical(quantity) : formatAtScale(quantity, input.marketStepSize);
  return { ...numbers, kind: "order", side, quantity: formatted, reduceOnly };
}
