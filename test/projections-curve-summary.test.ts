/**
 * An equity curve that keeps only its last sample (what a backtest's summary folds) gives exactly the
 * drawdown and the last equity of the full curve, on random sample sequences (same-time samples replace the
 * last one, as another symbol's bar closing at the same time does).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EquityCurve } from "../src/projections/equity-curve.ts";

describe("equity curve without its samples", () => {
  it("has the full curve's drawdown and last point", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 3 }), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n })),
        ),
        (steps) => {
          const full = new EquityCurve();
          const last = new EquityCurve(false);
          let time = 1_000;
          for (const [dt, equity] of steps) {
            time += dt * 60_000; // dt 0: a sample at the same time replaces the last one
            full.sample(time, equity);
            last.sample(time, equity);
            expect(last.drawdown()).toEqual(full.drawdown());
          }
          const points = full.points({ intervalMs: 60_000 });
          expect(last.points({ intervalMs: 60_000 })).toEqual(points.slice(-1));
        },
      ),
    );
  });
});
