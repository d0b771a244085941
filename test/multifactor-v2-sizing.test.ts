import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dec } from "../src/domain/decimal.ts";
import { multifactorParamsSchema } from "../src/strategies/multifactor-v2/params.ts";
import { type SizingInput, sizeOrder, targetNotional } from "../src/strategies/multifactor-v2/sizing.ts";

const base: SizingInput = {
  equity: "10000",
  final: 1.5,
  tvs: "0.2",
  maxLeverage: 5,
  symbols: 2,
  bracketCap: "1000000",
  positionAmt: "0",
  price: "100",
  minNotional: "5",
  marketStepSize: "0.001",
  marketMinQty: "0.001",
};

describe("strategies.md §1.7 vector 14: sizing (decimal)", () => {
  it("target notional, caps and sign", () => {
    expect(targetNotional(base).toFixed()).toBe("7500");
    expect(targetNotional({ ...base, final: 6 }).toFixed()).toBe("25000");
    expect(targetNotional({ ...base, final: 6, maxSymbolNotional: "20000" }).toFixed()).toBe("20000");
    expect(targetNotional({ ...base, final: -2.5, symbols: 4 }).toFixed()).toBe("-6250");
    expect(targetNotional({ ...base, final: -6, bracketCap: "3000" }).toFixed()).toBe("-3000");
  });

  it("orders only beyond the band max(10, minNotional)", () => {
    // current 400 (4 at 100) → BUY 7,100 notional = 71 at 100.
    expect(sizeOrder({ ...base, positionAmt: "4" })).toEqual({
      kind: "order",
      side: "BUY",
      quantity: "71.000",
      reduceOnly: false,
      target: "7500",
      current: "400",
      delta: "7100",
      band: "10",
    });
    // current 7,495 → Δ 5 ≤ 10: no order.
    expect(sizeOrder({ ...base, positionAmt: "74.95" })).toMatchObject({
      kind: "none",
      reason: "band",
      delta: "5",
    });
    // minNotional 100, Δ = 60 → no order.
    expect(sizeOrder({ ...base, positionAmt: "74.4", minNotional: "100" })).toMatchObject({
      kind: "none",
      reason: "band",
      delta: "60",
      band: "100",
    });
    // Δ = 10.5 clears a band of 10.
    expect(sizeOrder({ ...base, positionAmt: "74.895" })).toMatchObject({ kind: "order", quantity: "0.105" });
  });

  it("reduce-only when it reduces without flipping; a zero target closes the whole position", () => {
    expect(sizeOrder({ ...base, final: 0.5, positionAmt: "75" })).toMatchObject({
      kind: "order",
      side: "SELL",
      quantity: "50.000",
      reduceOnly: true,
    });
    expect(sizeOrder({ ...base, final: -1.5, positionAmt: "75" })).toMatchObject({
      kind: "order",
      side: "SELL",
      quantity: "150.000",
      reduceOnly: false,
    });
    expect(sizeOrder({ ...base, final: 0, positionAmt: "-12.345", price: "97.3" })).toMatchObject({
      kind: "order",
      side: "BUY",
      quantity: "12.345",
      reduceOnly: true,
    });
  });

  it("skips a quantity that floors to 0 and a non-reducing order below MIN_NOTIONAL", () => {
    // target 10000 · 0.002 · 5 / 2 = 50 USDT > band 10, but 50 / 30000 floors to 0 at step 1.
    const coarse = { ...base, marketStepSize: "1", marketMinQty: "1", price: "30000", final: 0.01 };
    expect(sizeOrder(coarse)).toMatchObject({ kind: "none", reason: "zeroQuantity", target: "50" });
    // Step 100 at price 0.1 trades in 10 USDT lots; band max(10, 12) = 12; target = 100 · 0.2·f · 5 / 2 = 50·f.
    const lots = {
      ...base,
      equity: "100",
      price: "0.1",
      marketStepSize: "100",
      marketMinQty: "100",
      minNotional: "12",
    };
    // Δ 15 → 150 → 100 (10 USDT < 12): skipped; Δ 25 → 250 → 200 (20 USDT): sent.
    expect(sizeOrder({ ...lots, final: 0.3 })).toMatchObject({
      kind: "none",
      reason: "minNotional",
      delta: "15",
    });
    expect(sizeOrder({ ...lots, final: 0.5 })).toMatchObject({ kind: "order", quantity: "200", delta: "25" });
    // A reduce-only order is exempt from MIN_NOTIONAL: short 300 (−30 USDT), target −15 → BUY 100 (10 USDT).
    expect(sizeOrder({ ...lots, final: -0.3, positionAmt: "-300" })).toMatchObject({
      kind: "order",
      side: "BUY",
      quantity: "100",
      reduceOnly: true,
    });
  });

  it("names the bad field", () => {
    expect(() => targetNotional({ ...base, final: Number.NaN })).toThrow("final: expected a finite number");
    expect(() => targetNotional({ ...base, symbols: 0 })).toThrow("symbols: expected a positive integer");
    expect(() => sizeOrder({ ...base, price: "0" })).toThrow('price: must be > 0, got "0"');
    expect(() => sizeOrder({ ...base, equity: "1e4" })).toThrow(/equity: expected a decimal string/);
  });
});

describe("sizing properties", () => {
  const input = fc.record({
    equity: fc.integer({ min: 0, max: 10_000_000 }).map((c) => (c / 100).toFixed(2)),
    final: fc.double({ min: -10, max: 10, noNaN: true }),
    symbols: fc.integer({ min: 1, max: 20 }),
    maxSymbolNotional: fc.option(fc.integer({ min: 1, max: 100_000 }).map(String), { nil: undefined }),
    positionAmt: fc.integer({ min: -1_000_000, max: 1_000_000 }).map((u) => (u / 1000).toFixed(3)),
    price: fc.integer({ min: 1, max: 10_000_000 }).map((u) => (u / 1000).toFixed(3)),
    minNotional: fc.constantFrom("5", "20", "100"),
  });

  it("|target| ≤ caps; orders clear the band, sit on the step, move towards the target, reduce-only never flips", () => {
    fc.assert(
      fc.property(input, (p) => {
        const i: SizingInput = { ...base, ...p };
        const target = targetNotional(i);
        const cap = Dec.min(i.bracketCap, i.maxSymbolNotional ?? i.bracketCap);
        expect(target.abs().lte(cap)).toBe(true);
        expect(target.abs().lte(new Dec(i.equity).times(5).div(i.symbols))).toBe(true);
        const d = sizeOrder(i);
        const delta = new Dec(d.delta);
        if (d.kind === "none") {
          if (d.reason === "band") expect(delta.abs().lte(d.band)).toBe(true);
          return;
        }
        expect(delta.abs().gt(d.band)).toBe(true);
        expect(d.side).toBe(delta.gt(0) ? "BUY" : "SELL");
        const q = new Dec(d.quantity);
        const pos = new Dec(i.positionAmt);
        if (!target.isZero()) {
          expect(q.mod("0.001").isZero()).toBe(true);
          expect(q.times(i.price).lte(delta.abs())).toBe(true);
        }
        const after = d.side === "BUY" ? pos.plus(q) : pos.minus(q);
        if (d.reduceOnly) expect(after.abs().lte(pos.abs()) && after.times(pos).gte(0)).toBe(true);
        else expect(q.times(i.price).gte(i.minNotional)).toBe(true);
      }),
    );
  });
});

describe("multifactor-v2 parameters", () => {
  it("defaults to §1.6 and names a bad field", () => {
    expect(multifactorParamsSchema.parse({})).toEqual({ tvs: "0.2", maxLeverage: 5 });
    const bad = multifactorParamsSchema.safeParse({ maxLeverage: 0, maxSymbolNotional: "-1" });
    expect(bad.success).toBe(false);
    const issues = bad.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issues).toContain("maxLeverage: expected an integer leverage 1–125");
    expect(issues).toContain('maxSymbolNotional: expected a positive USDT amount such as "20000"');
    expect(multifactorParamsSchema.safeParse({ tvs: "0.2", extra: 1 }).success).toBe(false);
  });
});
