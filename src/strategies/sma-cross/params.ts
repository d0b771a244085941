/**
 * Parameters of `sma-cross` (strategies.md §2.2), validated and defaulted with zod. Errors name the field.
 */
import { z } from "zod";
import { smaCrossDefaults } from "./rules.ts";

/** An integer in [min, max]. */
const Int = (min: number, max: number, what: string) => {
  const error = `expected ${what}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

/** A positive decimal string such as "3". */
const PositiveDecimal = (example: string, what = "decimal") => {
  const error = `expected a positive ${what} such as "${example}"`;
  return z
    .string({ error })
    .regex(/^\d+(\.\d+)?$/, { error })
    .regex(/[1-9]/, { error });
};

/** Parameters of the `sma-cross` strategy (strategies.md §2.2); defaults are the strategy's own. */
export const smaCrossParamsSchema = z
  .strictObject({
    /** Bars in the short SMA of 1m closes. */
    smaShort: Int(1, 100_000, "an integer number of bars ≥ 1").default(smaCrossDefaults.smaShort),
    /** Bars in the long SMA; must exceed smaShort. */
    smaLong: Int(2, 100_000, "an integer number of bars ≥ 2").default(smaCrossDefaults.smaLong),
    /** Closed bars before the signal bar whose extreme sets the stop (fewer than 3 → no signal). */
    pivotLookback: Int(3, 100_000, "an integer number of bars ≥ 3").default(smaCrossDefaults.pivotLookback),
    /** Reward:risk of the take-profit, a positive decimal. */
    tpSlRatio: PositiveDecimal("3").default(smaCrossDefaults.tpSlRatio),
    /** Bars after an accepted signal during which new signals are suppressed (0 = none). */
    cooldownBars: Int(0, 100_000, "an integer number of bars ≥ 0").default(smaCrossDefaults.cooldownBars),
    /** Margin committed per entry, USDT; notional = marginUsdt × leverage. */
    marginUsdt: PositiveDecimal("1000", "USDT amount").default("1000"),
    /** Initial leverage, an integer 1–125. */
    leverage: Int(1, 125, "an integer leverage 1–125").default(smaCrossDefaults.leverage),
    marginType: z
      .enum(["ISOLATED", "CROSSED"], { error: 'expected "ISOLATED" or "CROSSED"' })
      .default("ISOLATED"),
  })
  .check((ctx) => {
    if (ctx.value.smaShort >= ctx.value.smaLong) {
      ctx.issues.push({
        code: "custom",
        path: ["smaShort"],
        message: `must be less than smaLong (${ctx.value.smaLong})`,
        input: ctx.value.smaShort,
      });
    }
  });

/** Validated sma-cross parameters. */
export type SmaCrossConfig = z.infer<typeof smaCrossParamsSchema>;
