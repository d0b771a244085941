/** Decimal helpers shared by the projections (on the project's `Dec`, src/domain/decimal.ts). */
import { canonical, Dec } from "../domain/decimal.ts";

/** Zero, shared (decimal values are immutable). */
export const ZERO: Dec = new Dec(0);

/** Decimal places kept by inexact quotients (ratios, average prices, initial margin). */
const QUOTIENT_DECIMALS = 8;

/** `numerator / denominator` as a canonical decimal string rounded half-even to `QUOTIENT_DECIMALS` places. */
export function quotient(numerator: Dec, denominator: Dec): string {
  return canonical(numerator.div(denominator).toDecimalPlaces(QUOTIENT_DECIMALS));
}
