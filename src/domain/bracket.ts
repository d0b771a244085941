/**
 * Bracket prices at an entry fill (strategies.md §2.3 "Entry"): a stop-loss at the planned stop and a
 * take-profit at a multiple of the risk the fill actually took, both on the tick grid, away from the entry for
 * the stop and toward it for the target.
 */
import { canonical, formatAtScale, roundToTick, toDec } from "./decimal.ts";

/** Position direction (catalog `PositionDirection`). */
export type Direction = "LONG" | "SHORT";

/** Bracket prices at the entry fill, or `invalidRisk` when the fill left no risk (risk ≤ 0). */
export type ProtectionPrices =
  | {
      readonly kind: "ok";
      readonly stopPrice: string;
      readonly takeProfitPrice: string;
      readonly risk: string;
    }
  | { readonly kind: "invalidRisk"; readonly risk: string };

/**
 * At fill price E with the structural stop SL: risk = E − SL (LONG) or SL − E (SHORT); risk ≤ 0 → invalidRisk
 * (the caller flattens at once). TP = E ± risk × tpSlRatio. Both SL and TP are rounded to tickSize, LONG down,
 * SHORT up (stop away from the entry, target toward it), and serialised at the tick scale; `risk` (USDT per unit
 * of base asset) is canonical. A SHORT target at or below 0 is returned as computed: the order filters reject it.
 */
export function protectionPrices(
  direction: Direction,
  entryPrice: string,
  stopPrice: string,
  tpSlRatio: string,
  tickSize: string,
): ProtectionPrices {
  const entry = toDec(entryPrice, "entryPrice");
  const stop = toDec(stopPrice, "stopPrice");
  const risk = direction === "LONG" ? entry.minus(stop) : stop.minus(entry);
  if (risk.lte(0)) return { kind: "invalidRisk", risk: canonical(risk) };
  const reward = risk.times(toDec(tpSlRatio, "tpSlRatio"));
  const takeProfit = direction === "LONG" ? entry.plus(reward) : entry.minus(reward);
  const mode = direction === "LONG" ? "floor" : "ceil";
  return {
    kind: "ok",
    stopPrice: formatAtScale(roundToTick(stop, tickSize, mode), tickSize),
    takeProfitPrice: formatAtScale(roundToTick(takeProfit, tickSize, mode), tickSize),
    risk: canonical(risk),
  };
}
