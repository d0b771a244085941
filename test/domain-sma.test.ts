import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compareSma,
  initialSma,
  type SmaState,
  smaFromJson,
  smaReady,
  smaToJson,
  smaValue,
  stepSma,
} from "../src/domain/indicators/sma.ts";

const run = (period: number, values: readonly number[]): SmaState =>
  values.reduce(stepSma, initialSma(period));
const series = (period: number, values: readonly number[]) => {
  const out: (number | undefined)[] = [];
  let state = initialSma(period);
  for (const v of values) {
    state = stepSma(state, v);
    out.push(smaValue(state));
  }
  return out;
};

describe("SMA golden vectors", () => {
  it("strategies.md §2.4 vector 4", () => {
    expect(smaValue(run(3, [100, 110, 120, 130]))).toBe(120);
    expect(smaValue(run(5, [100, 110, 120, 130]))).toBeUndefined();
    expect(smaValue(run(3, [100, 110, 120, 130, 140, 150]))).toBe(140);
    expect(smaValue(run(5, [100, 110, 120, 130, 140, 150]))).toBe(130);
    // Duplicate open times keep the last bar: the de-duplicated closes are [100, 110, 125, 130, 145].
    expect(smaValue(run(3, [100, 110, 125, 130, 145]))).toBeCloseTo(133.3333333333, 9);
    expect(smaValue(run(5, [100, 110, 125, 130, 145]))).toBe(122);
  });

  it("strategies.md §1.7 vector 1: SMA_3([5,5,5,6]) and a constant window", () => {
    expect(series(3, [5, 5, 5, 6])).toEqual([undefined, undefined, 5, 5.333333333333333]);
  });

  it("validates its inputs", () => {
    expect(() => initialSma(0)).toThrow(/positive integer/);
    expect(() => initialSma(2.5)).toThrow(/positive integer/);
    expect(() => stepSma(initialSma(3), 1.5)).toThrow(/safe integer/);
    expect(() => stepSma(run(2, [2 ** 52]), 2 ** 52)).toThrow(/exact integer range/);
    expect(() => compareSma(run(2, [1]), run(1, [1]))).toThrow(/full windows/);
  });

  it("compares exactly beyond the float range of the cross products", () => {
    const a = run(2, [3e15 + 1, 3e15]); // mean 3e15 + 0.5
    const b = run(3, [3e15, 3e15, 3e15]); // sums ×periods reach 1.8e16 > 2^53
    expect(compareSma(a, b)).toBe(1);
    expect(compareSma(b, a)).toBe(-1);
    expect(compareSma(run(2, [3e15 + 1, 3e15 - 1]), b)).toBe(0);
  });
});

describe("SMA properties", () => {
  const values = fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 400 });

  it("streaming equals the batch formula at every bar (exact sums)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), values, (period, xs) => {
        let state = initialSma(period);
        xs.forEach((x, t) => {
          state = stepSma(state, x);
          const expected =
            t + 1 >= period ? xs.slice(t + 1 - period, t + 1).reduce((s, v) => s + v, 0) : undefined;
          expect(smaReady(state)).toBe(expected !== undefined);
          if (expected !== undefined) {
            expect(state.sum).toBe(expected);
            expect(smaValue(state)).toBe(expected / period);
          }
        });
      }),
    );
  });

  it("compareSma is the exact sign of the difference of the batch means", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), values, (n, m, xs) => {
        fc.pre(xs.length >= Math.max(n, m));
        const tail = (k: number) => BigInt(xs.slice(-k).reduce((s, v) => s + v, 0));
        const diff = tail(n) * BigInt(m) - tail(m) * BigInt(n);
        expect(compareSma(run(n, xs), run(m, xs))).toBe(diff > 0n ? 1 : diff < 0n ? -1 : 0);
      }),
    );
  });

  it("updates never change the previous state: stepping an old state again (a branch) is a fresh run", () => {
    const model = (period: number, xs: readonly number[]) => {
      const window = xs.slice(Math.max(0, xs.length - period));
      return { period, window, sum: window.reduce((a, v) => a + v, 0) };
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), values, values, fc.nat(), (period, xs, ys, at) => {
        const k = at % (xs.length + 1);
        const branch = run(period, xs.slice(0, k));
        const before = JSON.stringify(branch);
        // Both continuations share the branch's buffer; long series also compact it.
        const a = xs.slice(k).reduce(stepSma, branch);
        const b = ys.reduce(stepSma, branch);
        expect(JSON.stringify(branch)).toBe(before);
        expect(smaToJson(a)).toEqual(model(period, xs));
        expect(smaToJson(b)).toEqual(model(period, [...xs.slice(0, k), ...ys]));
        expect(JSON.parse(JSON.stringify(a))).toEqual(smaToJson(a));
      }),
    );
  });

  it("the JSON form round-trips, and a malformed one is an error naming the field", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), values, values, (period, xs, ys) => {
        const restored = smaFromJson(JSON.parse(JSON.stringify(smaToJson(run(period, xs)))), "s");
        expect(smaToJson(ys.reduce(stepSma, restored))).toEqual(smaToJson(run(period, [...xs, ...ys])));
      }),
    );
    expect(() => smaFromJson(null, "short")).toThrow(/short: expected/);
    expect(() => smaFromJson({ period: 0, window: [], sum: 0 }, "short")).toThrow(/short\.period/);
    expect(() => smaFromJson({ period: 2, window: [1, 2, 3], sum: 6 }, "short")).toThrow(/short\.window/);
    expect(() => smaFromJson({ period: 2, window: [1, 2], sum: 4 }, "short")).toThrow(/short\.sum/);
  });
});
