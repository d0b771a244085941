import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import {
  bracketFor,
  type LeverageBracket,
  LeverageBracketError,
  maxLeverageFor,
  maxNotionalFor,
  verifyBrackets,
} from "../src/domain/margin/brackets.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";

const B = SPEC_BTC_BRACKETS;
const numberOf = (notional: string) => bracketFor(B, notional).bracket;

describe("bracketFor: floor < notional ≤ cap (§4.6, boundary convention UNCONFIRMED)", () => {
  it("0 is bracket 1; a cap belongs to its own bracket, one unit above it to the next", () => {
    expect(numberOf("0")).toBe(1);
    expect(numberOf("0.00000001")).toBe(1);
    expect(numberOf("50000")).toBe(1);
    expect(numberOf("50000.00000001")).toBe(2);
    expect(numberOf("600000")).toBe(2);
    expect(numberOf("600000.1")).toBe(3);
    expect(numberOf("1800000000")).toBe(12);
  });

  it("above the last cap: the last bracket (an open position's mark notional may grow past it)", () => {
    expect(numberOf("1800000000.01")).toBe(12);
    expect(numberOf("9000000000")).toBe(12);
  });

  it("a negative or malformed notional is an error", () => {
    expect(() => bracketFor(B, "-1")).toThrow("notional must be ≥ 0, got -1");
    expect(() => bracketFor(B, "1e5")).toThrow(
      'notional: expected a decimal string like "123.45", got "1e5"',
    );
  });

  it("every notional is in exactly the bracket whose (floor, cap] holds it (fast-check, bundled symbols)", () => {
    const catalog = bundledLeverageBracketCatalog();
    const sets = catalog.symbols().map((s) => catalog.get(s).brackets);
    fc.assert(
      fc.property(fc.constantFrom(...sets), fc.bigInt({ min: 1n, max: 10n ** 18n }), (brackets, cents) => {
        const n = new Dec(cents.toString()).div(100);
        const b = bracketFor(brackets, n);
        const last = brackets[brackets.length - 1]!;
        if (n.gt(last.notionalCap)) expect(b).toBe(last);
        else expect(n.gt(b.notionalFloor) && n.lte(b.notionalCap)).toBe(true);
      }),
    );
  });
});

describe("maxNotionalFor / maxLeverageFor (-2027 MAX_LEVERAGE_RATIO)", () => {
  it("the cap of the highest bracket whose initialLeverage ≥ leverage", () => {
    expect(maxNotionalFor(B, 125)).toBe("50000");
    expect(maxNotionalFor(B, 101)).toBe("50000");
    expect(maxNotionalFor(B, 100)).toBe("600000");
    expect(maxNotionalFor(B, 20)).toBe("100000000");
    expect(maxNotionalFor(B, 11)).toBe("100000000");
    expect(maxNotionalFor(B, 10)).toBe("230000000");
    expect(maxNotionalFor(B, 1)).toBe("1800000000");
  });

  it("a leverage above bracket 1's, or not an integer ≥ 1, is an error", () => {
    expect(() => maxNotionalFor(B, 126)).toThrow(
      "leverage 126 is above the highest the brackets allow (125)",
    );
    expect(() => maxNotionalFor(B, 0)).toThrow("leverage 0 is not an integer ≥ 1");
    expect(() => maxNotionalFor(B, 2.5)).toThrow(LeverageBracketError);
  });

  it("maxLeverageFor is the notional's bracket's initialLeverage; null above the last cap", () => {
    expect(maxLeverageFor(B, "0")).toBe(125);
    expect(maxLeverageFor(B, "50000")).toBe(125);
    expect(maxLeverageFor(B, "50001")).toBe(100);
    expect(maxLeverageFor(B, "1800000000")).toBe(1);
    expect(maxLeverageFor(B, "1800000001")).toBeNull();
  });

  it("N ≤ maxNotionalFor(L) exactly when L ≤ maxLeverageFor(N) (fast-check, bundled symbols)", () => {
    const catalog = bundledLeverageBracketCatalog();
    const sets = catalog.symbols().map((s) => catalog.get(s).brackets);
    fc.assert(
      fc.property(
        fc.constantFrom(...sets),
        fc.integer({ min: 1, max: 150 }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        (brackets, leverage, units) => {
          fc.pre(leverage <= brackets[0]!.initialLeverage);
          const n = canonical(new Dec(units.toString()).div(10));
          const maxLeverage = maxLeverageFor(brackets, n);
          expect(new Dec(n).lte(maxNotionalFor(brackets, leverage))).toBe(
            maxLeverage !== null && leverage <= maxLeverage,
          );
        },
      ),
    );
  });
});

describe("verifyBrackets (§4.6 rules, the cum rule exact)", () => {
  const edit = (n: number, change: Partial<LeverageBracket>) =>
    B.map((b) => (b.bracket === n ? { ...b, ...change } : b));

  it("accepts the spec's table: every cum = floor × (MMR − previous MMR) + previous cum", () => {
    expect(() => verifyBrackets("BTCUSDT", B)).not.toThrow();
  });

  it("a cum off by 1 fails naming the symbol, the bracket and the expected value", () => {
    expect(() => verifyBrackets("BTCUSDT", edit(3, { cum: "951" }))).toThrow(
      new LeverageBracketError(
        "BTCUSDT bracket 3: cum 951 ≠ notionalFloor × (MMR − previous MMR) + previous cum = 950",
      ),
    );
  });

  it("each structural rule names its bracket", () => {
    const cases: [LeverageBracket[], string][] = [
      [[], "BTCUSDT: no brackets"],
      [edit(1, { cum: "5" }), "BTCUSDT bracket 1: cum 5 ≠ 0"],
      [edit(1, { notionalFloor: "10" }), "BTCUSDT bracket 1: notionalFloor 10 ≠ 0"],
      [
        edit(2, { notionalFloor: "40000" }),
        "BTCUSDT bracket 2: notionalFloor 40000 ≠ the previous notionalCap 50000",
      ],
      [edit(2, { notionalCap: "50000" }), "BTCUSDT bracket 2: notionalCap 50000 ≤ notionalFloor 50000"],
      [edit(4, { initialLeverage: 80 }), "BTCUSDT bracket 4: initialLeverage 80 > the previous 75"],
      [edit(5, { initialLeverage: 0 }), "BTCUSDT bracket 5: initialLeverage 0 is not an integer ≥ 1"],
      [edit(6, { bracket: 7 }), "BTCUSDT bracket 7: expected bracket number 6 at position 6"],
      [edit(12, { maintMarginRatio: "1" }), "BTCUSDT bracket 12: maintMarginRatio 1 is not in [0, 1)"],
    ];
    for (const [brackets, message] of cases)
      expect(() => verifyBrackets("BTCUSDT", brackets)).toThrow(message);
  });
});
