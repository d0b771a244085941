/**
 * Parameters of `multifactor-v2` (strategies.md §1.2, §1.6), validated and defaulted with zod; errors name the
 * field. paramsVersion 1 = these fields plus the §1.4 constants as the spec states them (windows, thresholds,
 * spans: fixed in stream.ts and formulas.ts). N, the number of symbols, is not a parameter: it is the number of
 * symbols the run's configuration enables (§1.6).
 */
import { z } from "zod";

/** The version recorded with every decision (`paramsVersion`). */
export const MULTIFACTOR_PARAMS_VERSION = 1;

const decimal = (example: string, what: string) => {
  const error = `expected a positive ${what} such as "${example}"`;
  return z
    .string({ error })
    .regex(/^\d+(\.\d+)?$/, { error })
    .regex(/[1-9]/, { error });
};

/** Parameters of the multifactor-v2 strategy; defaults are §1.6's. */
export const multifactorParamsSchema = z.strictObject({
  /** Target-volatility scale: target ∝ clip(final · tvs, −1, 1). */
  tvs: decimal("0.2", "decimal").default("0.2"),
  /** L_max: the leverage setting (ISOLATED margin) and the target's leverage factor, an integer 1–125. */
  maxLeverage: z
    .number({ error: "expected an integer leverage 1–125" })
    .int({ error: "expected an integer leverage 1–125" })
    .min(1, { error: "expected an integer leverage 1–125" })
    .max(125, { error: "expected an integer leverage 1–125" })
    .default(5),
  /** Optional cap on |target| per symbol, USDT. */
  maxSymbolNotional: decimal("20000", "USDT amount").optional(),
});

/** Validated multifactor-v2 parameters. */
export type MultifactorParams = z.infer<typeof multifactorParamsSchema>;
