import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonical,
  Dec,
  decimalsOf,
  floorToStep,
  formatAtScale,
  roundToTick,
  toDec,
} from "../src/domain/decimal.ts";
import { fromScaledUnits, toScaledUnits } from "../src/domain/scaled-units.ts";

/** A non-negative decimal string with up to `maxScale` decimals, built from an exact integer mantissa. */
const decimalString = (maxScale = 10, maxMantissa = 10n ** 16n) =>
  fc
    .tuple(fc.bigInt({ min: 0n, max: maxMantissa }), fc.integer({ min: 0, max: maxScale }))
    .map(([mantissa, scale]) => {
      const digits = mantissa.toString().padStart(scale + 1, "0");
      return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    });
const increments = fc.constantFrom(
  "0.001",
  "0.01",
  "0.1",
  "1",
  "10",
  "0.05",
  "0.5",
  "0.0025",
  "0.00001",
  "0.10",
);

describe("decimal: strategies.md §2.4 vector 7 (the seed's float results in brackets)", () => {
  it.each([
    ["0.3", "0.1", "0.3"], // [0.2]
    ["0.7", "0.1", "0.7"], // [0.6000000000000001]
    ["0.29", "0.01", "0.29"], // [0.28]
    ["4.35", "0.01", "4.35"], // [4.34]
    ["0.58", "0.01", "0.58"], // [0.5700000000000001]
    ["0.123", "0.0001", "0.1230"], // [0.12300000000000001]
  ])("floor_step(%s, %s) = %s", (q, step, expected) => {
    expect(formatAtScale(floorToStep(q, step), step)).toBe(expected);
  });

  it.each([
    ["0.12345", "0.00001", "0.12345", "0.12345"], // [seed: 0]
    ["124.5", "1", "124", "125"],
    ["123.456", "0.01", "123.45", "123.46"],
    ["50000.557", "0.01", "50000.55", "50000.56"],
  ])("price %s at tick %s → floor %s / ceil %s", (price, tick, floor, ceil) => {
    expect(formatAtScale(roundToTick(price, tick, "floor"), tick)).toBe(floor);
    expect(formatAtScale(roundToTick(price, tick, "ceil"), tick)).toBe(ceil);
  });
});

describe("decimal: binance-usdm.md §1.3 float traps", () => {
  it("counts the steps that float division loses", () => {
    expect(Math.floor(0.3 / 0.1)).toBe(2);
    expect(floorToStep("0.3", "0.1").toFixed()).toBe("0.3");
    expect(Math.floor(4.35 / 0.05)).toBe(86);
    expect(floorToStep("4.35", "0.05").toFixed()).toBe("4.35");
    expect(Math.floor(0.57 / 0.01)).toBe(56);
    expect(floorToStep("0.57", "0.01").toFixed()).toBe("0.57");
  });

  it("does not reproduce the SDK rounding helpers' errors", () => {
    expect(roundToTick("4.35", "0.05", "floor").toFixed()).toBe("4.35"); // SDK: 4
    expect(roundToTick("123.45", "10", "floor").toFixed()).toBe("120"); // SDK: 123, not a multiple of 10
    expect(roundToTick("123.45", "10", "ceil").toFixed()).toBe("130");
  });

  it("uses minQty / minPrice as the grid origin (step 3 and 4)", () => {
    expect(floorToStep("1.27", "0.1", "0.05").toFixed()).toBe("1.25");
    expect(floorToStep("0.04", "0.1", "0.05").toFixed()).toBe("0");
    expect(floorToStep("0.0002", "0.001", "0.001").toFixed()).toBe("0");
    expect(roundToTick("100.08", "0.05", "floor", "0.02").toFixed()).toBe("100.07");
    expect(roundToTick("100.08", "0.05", "ceil", "0.02").toFixed()).toBe("100.12");
    expect(roundToTick("100.07", "0.05", "ceil", "0.02").toFixed()).toBe("100.07");
  });

  it("rejects non-positive increments and malformed strings", () => {
    expect(() => floorToStep("1", "0")).toThrow(/stepSize must be > 0/);
    expect(() => roundToTick("1", "0", "floor")).toThrow(/tickSize must be > 0/);
    expect(() => floorToStep("1e-3", "0.001")).toThrow(/quantity: expected a decimal string/);
    expect(() => roundToTick("1", "-0.1", "floor")).toThrow(/increment: expected an unsigned decimal/);
  });
});

describe("decimal: scales and strings", () => {
  it("decimalsOf is the increment's own scale, trailing zeros included", () => {
    expect(decimalsOf("0.10")).toBe(2);
    expect(decimalsOf("0.001")).toBe(3);
    expect(decimalsOf("0.0100")).toBe(4);
    expect(decimalsOf("1")).toBe(0);
    expect(decimalsOf("10")).toBe(0);
    for (const bad of ["", "1e-3", "-0.1", ".1", "1."]) expect(() => decimalsOf(bad)).toThrow(/increment/);
  });

  it("formatAtScale keeps exactly the increment's decimals and refuses values needing rounding", () => {
    expect(formatAtScale(new Dec("1.02"), "0.001")).toBe("1.020");
    expect(formatAtScale(new Dec("89"), "0.01")).toBe("89.00");
    expect(formatAtScale(new Dec("5"), "1")).toBe("5");
    expect(formatAtScale(new Dec("-0"), "0.1")).toBe("0.0");
    expect(() => formatAtScale(new Dec("0.123"), "0.01")).toThrow(/more decimals than the increment "0.01"/);
  });

  it("canonical strings have no exponent, no trailing zeros and no negative zero", () => {
    expect(canonical(new Dec("1.500"))).toBe("1.5");
    expect(canonical(new Dec("-0"))).toBe("0");
    expect(canonical(new Dec("1e-20"))).toBe("0.00000000000000000001");
    expect(canonical(new Dec("1e25"))).toBe("10000000000000000000000000");
    expect(canonical(new Dec("-3.10"))).toBe("-3.1");
  });

  it("toDec accepts plain decimals only and names the field", () => {
    expect(toDec("-12.50").toFixed()).toBe("-12.5");
    for (const bad of ["", "1e5", "+1", "abc", "1.", ".5", "0x10"]) {
      expect(() => toDec(bad, "fill.price")).toThrow(/^fill\.price: expected a decimal string/);
    }
  });

  it("keeps its own configuration whatever the global decimal.js settings", () => {
    expect(Dec.precision).toBe(50);
    expect(new Dec(1).div(3).toFixed()).toBe(`0.${"3".repeat(50)}`);
  });
});

describe("decimal: properties", () => {
  it("floorToStep(q) ≤ q < floorToStep(q) + step, on the step grid", () => {
    fc.assert(
      fc.property(decimalString(), increments, (q, step) => {
        const f = floorToStep(q, step);
        const s = new Dec(step);
        expect(f.lte(q)).toBe(true);
        expect(new Dec(q).lt(f.plus(s))).toBe(true);
        expect(f.mod(s).isZero()).toBe(true);
      }),
    );
  });

  it("with minQty: 0 below it, else minQty + k·step within one step of q", () => {
    fc.assert(
      fc.property(decimalString(), increments, decimalString(4), (q, step, minQty) => {
        const f = floorToStep(q, step, minQty);
        if (new Dec(q).lt(minQty)) {
          expect(f.isZero()).toBe(true);
          return;
        }
        expect(f.gte(minQty) && f.lte(q)).toBe(true);
        expect(new Dec(q).minus(f).lt(step)).toBe(true);
        expect(f.minus(minQty).mod(step).isZero()).toBe(true);
      }),
    );
  });

  it("roundToTick brackets the price with grid points at most one tick apart", () => {
    fc.assert(
      fc.property(decimalString(), increments, (p, tick) => {
        const lo = roundToTick(p, tick, "floor");
        const hi = roundToTick(p, tick, "ceil");
        expect(lo.lte(p) && hi.gte(p)).toBe(true);
        expect(lo.mod(tick).isZero() && hi.mod(tick).isZero()).toBe(true);
        expect(hi.minus(lo).eq(new Dec(p).mod(tick).isZero() ? 0 : tick)).toBe(true);
      }),
    );
  });
});

describe("scaled units (integer prices on the hot path)", () => {
  it("parses prices into 10^-scale units exactly", () => {
    expect(toScaledUnits("95505.4", 2)).toBe(9_550_540);
    expect(toScaledUnits("30002", 1)).toBe(300_020);
    expect(toScaledUnits("9.1230", 3)).toBe(9_123);
    expect(toScaledUnits("0.0143", 4)).toBe(143);
    expect(toScaledUnits("7", 0)).toBe(7);
  });

  it("rejects malformed prices and digits beyond the tick scale, naming the field", () => {
    expect(() => toScaledUnits("9.1234", 3, "close")).toThrow('close "9.1234" has more than 3 decimals');
    for (const bad of ["", "-1", "1e5", ".", "1.", ".5", "1.2.3", "1,5", " 1"]) {
      expect(() => toScaledUnits(bad, 2, "low")).toThrow(/^low: expected an unsigned decimal string/);
    }
    expect(() => toScaledUnits("90071992547409.93", 2)).toThrow(/exact integer range/);
  });

  it("formats units back with exactly `scale` decimals", () => {
    expect(fromScaledUnits(9_123, 3)).toBe("9.123");
    expect(fromScaledUnits(5, 3)).toBe("0.005");
    expect(fromScaledUnits(-5, 2)).toBe("-0.05");
    expect(fromScaledUnits(123, 0)).toBe("123");
    expect(fromScaledUnits(0, 2)).toBe("0.00");
  });

  it("agrees with decimal arithmetic and round-trips", () => {
    fc.assert(
      fc.property(decimalString(6, 10n ** 7n), fc.integer({ min: 6, max: 8 }), (price, scale) => {
        const units = toScaledUnits(price, scale);
        expect(new Dec(units).eq(new Dec(price).times(new Dec(10).pow(scale)))).toBe(true);
        expect(new Dec(fromScaledUnits(units, scale)).eq(price)).toBe(true);
      }),
    );
  });
});
