/** Binance's parameter reading in the double (src/exchange-sim/exchange/params.ts) and its options' checks. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { BinanceError, Params, SimExchange } from "../src/exchange-sim/exchange/index.ts";

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof BinanceError) return e.code;
    throw e;
  }
  return undefined;
};

describe("Params", () => {
  it("merges the query with an urlencoded body (string or Buffer), the body winning; '' is not sent", () => {
    const p = new Params({ symbol: "BTCUSDT", side: "SELL", price: "" }, "side=BUY&quantity=0.010");
    expect([p.raw("symbol"), p.raw("side"), p.decimal("quantity"), p.raw("price")]).toEqual([
      "BTCUSDT",
      "BUY",
      "0.010",
      undefined,
    ]);
    expect(new Params(undefined, Buffer.from("reduceOnly=TRUE")).boolean("reduceOnly")).toBe(true);
    expect(new Params({ a: ["1", "2"] }).raw("a")).toBe("2");
  });

  it("decimals are kept as written; anything else is -1100", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,20}(\.[0-9]{1,20})?$/), (d) => {
        expect(new Params({ q: d }).decimal("q")).toBe(d);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .double({ noNaN: true })
            .map(String)
            .filter((s) => /[eE-]|Infinity/.test(s)),
          fc.constantFrom("1,5", ".5", "5.", "0x10", " 1", "1 ", "+1"),
        ),
        (d) => {
          expect(codeOf(() => new Params({ q: d }).decimal("q"))).toBe(-1100);
        },
      ),
    );
  });

  it("booleans, integers, enums and mandatory parameters answer Binance's codes", () => {
    const p = new Params({ b: "yes", i: "12a", e: "X", n: "42", t: "false" });
    expect(codeOf(() => p.boolean("b"))).toBe(-1130);
    expect(p.boolean("t")).toBe(false);
    expect(codeOf(() => p.integer("i"))).toBe(-1100);
    expect(p.integer("n")).toBe(42);
    expect(codeOf(() => p.oneOf("e", ["A", "B"], -1116, "Invalid orderType."))).toBe(-1116);
    expect(codeOf(() => p.required("symbol"))).toBe(-1102);
  });
});

describe("SimExchange options", () => {
  it("names a bad option or symbol", () => {
    const base = {
      instruments: bundledInstrumentCatalog(),
      brackets: bundledLeverageBracketCatalog(),
      symbols: ["BTCUSDT"],
      walletBalance: "10000",
    };
    expect(() => new SimExchange({ ...base, walletBalance: "1e4" })).toThrow(
      'SimExchangeOptions.walletBalance: expected a decimal string like "123.45", got "1e4"',
    );
    expect(() => new SimExchange({ ...base, takerRate: "-0.1" })).toThrow("SimExchangeOptions.takerRate");
    expect(() => new SimExchange({ ...base, symbols: ["NOPEUSDT"] })).toThrow(/unknown symbol NOPEUSDT/);
  });
});
