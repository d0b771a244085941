/**
 * Validation of a saved `BarAggregatorState` (from a snapshot's JSON): every field's shape and the invariants
 * `stepBarAggregator` relies on, so a corrupt snapshot fails here, named, instead of aggregating wrong bars.
 */
import { z } from "zod";
import type { BarAggregatorState } from "./aggregate.ts";
import { BAR_INTERVALS, type BarInterval, MINUTE_MS } from "./intervals.ts";

const minuteTime = z
  .number()
  .int()
  .nonnegative()
  .refine((t) => Number.isSafeInteger(t) && t % MINUTE_MS === 0, "not a whole minute (ms epoch)");
const decimal = z.string().regex(/^\d+(\.\d+)?$/, "not an unsigned decimal string");
const sum = z.strictObject({
  units: z.union([
    z.number().int().nonnegative().refine(Number.isSafeInteger, "not a safe integer"),
    z.string().regex(/^\d+$/),
  ]),
  scale: z.number().int().nonnegative(),
});
const bucket = z.strictObject({
  openTime: minuteTime,
  open: decimal,
  high: decimal,
  low: decimal,
  close: decimal,
  minutes: z.number().int().positive(),
  volume: sum,
  quoteVolume: sum.optional(),
  trades: z.number().int().nonnegative().optional(),
  takerBuyVolume: sum.optional(),
  takerBuyQuoteVolume: sum.optional(),
});
const schema = z
  .strictObject({
    interval: z.enum(Object.keys(BAR_INTERVALS) as [BarInterval, ...BarInterval[]]),
    symbols: z.record(z.string().min(1), z.strictObject({ cursor: minuteTime, bucket: bucket.nullable() })),
  })
  .superRefine((state, ctx) => {
    const intervalMs = BAR_INTERVALS[state.interval];
    for (const [symbol, { cursor, bucket }] of Object.entries(state.symbols)) {
      if (bucket === null) continue;
      const path = ["symbols", symbol, "bucket"];
      if (bucket.openTime % intervalMs !== 0) {
        ctx.addIssue({
          code: "custom",
          path: [...path, "openTime"],
          message: `not a ${state.interval} boundary`,
        });
      }
      if (cursor <= bucket.openTime || cursor >= bucket.openTime + intervalMs) {
        ctx.addIssue({
          code: "custom",
          path: ["symbols", symbol, "cursor"],
          message: "not inside the open bucket",
        });
      } else if (bucket.minutes > (cursor - bucket.openTime) / MINUTE_MS) {
        ctx.addIssue({
          code: "custom",
          path: [...path, "minutes"],
          message: "more minutes than the bucket has seen",
        });
      }
    }
  });

/** Thrown by `parseBarAggregatorState`: names the first invalid field's path and what is wrong. */
export class BarStateError extends Error {
  override readonly name = "BarStateError";
}

/**
 * A `BarAggregatorState` from untrusted JSON (e.g. `JSON.parse` of a snapshot). Throws `BarStateError`
 * naming the field (e.g. `symbols.BTCUSDT.bucket.volume.units: …`) when it is not a valid state.
 */
export function parseBarAggregatorState(json: unknown): BarAggregatorState {
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new BarStateError(
      `invalid bar aggregator state: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  return result.data as BarAggregatorState;
}
