import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyFill,
  commission,
  ENTRY_PRICE_DECIMALS,
  type Fill,
  fillPriceWithSlippage,
  flatPosition,
  fundingFee,
  notional,
  type Position,
  unrealizedPnl,
} from "../src/domain/accounting.ts";
import { Dec } from "../src/domain/decimal.ts";
import { fromScaledUnits } from "../src/domain/scaled-units.ts";

const sum = (xs: string[]) => xs.reduce((s, x) => s.plus(x), new Dec(0));

/** Open, then close a position; gross PnL, fees and net as in strategies.md §2.4 vector 8. */
function roundTrip(entryPrice: string, exitPrice: string, quantity: string, feeRate: string) {
  const open = applyFill(flatPosition, { side: "BUY", quantity, price: entryPrice });
  const close = applyFill(open.position, { side: "SELL", quantity, price: exitPrice });
  const fees = sum([commission(entryPrice, quantity, feeRate), commission(exitPrice, quantity, feeRate)]);
  return {
    position: close.position,
    gross: close.realizedPnl,
    fees: fees.toFixed(),
    net: new Dec(close.realizedPnl).minus(fees).toFixed(),
  };
}

describe("strategies.md §2.4 vector 8 (fee 0.04 %, slippage 0.01 %, qty 5.000)", () => {
  const entry = fillPriceWithSlippage("100", "BUY", "0.0001");

  it("entry at the next open 100 fills at 100.01", () => {
    expect(entry).toBe("100.01");
  });

  it("take-profit exit at 103.04", () => {
    const exit = fillPriceWithSlippage("103.04", "SELL", "0.0001");
    expect(exit).toBe("103.029696");
    expect(roundTrip(entry, exit, "5.000", "0.0004")).toEqual({
      position: flatPosition,
      gross: "15.09848",
      fees: "0.406079392",
      net: "14.692400608",
    });
  });

  it("stop exit at 99", () => {
    const exit = fillPriceWithSlippage("99", "SELL", "0.0001");
    expect(exit).toBe("98.9901");
    expect(roundTrip(entry, exit, "5.000", "0.0004")).toMatchObject({
      gross: "-5.0995",
      fees: "0.3980002",
      net: "-5.4975002",
    });
  });

  it("gap: the bar opens at 98.5, below the stop", () => {
    const exit = fillPriceWithSlippage("98.5", "SELL", "0.0001");
    expect(exit).toBe("98.49015");
    expect(roundTrip(entry, exit, "5.000", "0.0004").net).toBe("-7.9962503");
  });
});

describe("position rules (binance-usdm.md §4.2–4.4)", () => {
  it("adds with a quantity-weighted entry, reduces at constant entry, flips at the fill price", () => {
    let p: Position = flatPosition;
    const step = (fill: Fill) => {
      const out = applyFill(p, fill);
      p = out.position;
      return out.realizedPnl;
    };
    expect(step({ side: "BUY", quantity: "1", price: "100" })).toBe("0");
    expect(step({ side: "BUY", quantity: "3", price: "104" })).toBe("0");
    expect(p).toEqual({ positionAmt: "4", entryPrice: "103" });
    expect(step({ side: "SELL", quantity: "1.5", price: "110" })).toBe("10.5");
    expect(p).toEqual({ positionAmt: "2.5", entryPrice: "103" });
    expect(step({ side: "SELL", quantity: "4", price: "100" })).toBe("-7.5"); // closes 2.5, opens 1.5 short
    expect(p).toEqual({ positionAmt: "-1.5", entryPrice: "100" });
    expect(step({ side: "BUY", quantity: "0.5", price: "90" })).toBe("5");
    expect(step({ side: "BUY", quantity: "1", price: "95" })).toBe("5");
    expect(p).toEqual(flatPosition);
  });

  it("rounds a non-terminating average entry half-even to 12 decimals", () => {
    const a = applyFill(flatPosition, { side: "SELL", quantity: "1", price: "100" });
    const b = applyFill(a.position, { side: "SELL", quantity: "2", price: "100.01" });
    expect(ENTRY_PRICE_DECIMALS).toBe(12);
    expect(b.position).toEqual({ positionAmt: "-3", entryPrice: "100.006666666667" });
  });

  it("unrealized PnL, notional, commission and funding (official positionRisk example: 0.764277)", () => {
    expect(unrealizedPnl({ positionAmt: "30", entryPrice: "0.385" }, "0.41047590")).toBe("0.764277");
    expect(unrealizedPnl({ positionAmt: "-2", entryPrice: "100" }, "90")).toBe("20");
    expect(unrealizedPnl(flatPosition, "123.4")).toBe("0");
    expect(notional("-0.5", "60000.1")).toBe("30000.05");
    expect(commission("100.01", "5.000", "0.0004")).toBe("0.20002");
    expect(commission("100", "-2", "0.0005")).toBe("0.1");
    // Positive funding: longs pay, shorts receive.
    expect(fundingFee("2", "50000", "0.0001")).toBe("-10");
    expect(fundingFee("-2", "50000", "0.0001")).toBe("10");
    expect(fundingFee("2", "50000", "-0.0003")).toBe("30");
    expect(fundingFee("0", "50000", "0.0001")).toBe("0");
  });

  it("rejects non-positive or malformed fills with the field's name", () => {
    expect(() => applyFill(flatPosition, { side: "BUY", quantity: "0", price: "1" })).toThrow(
      /fill\.quantity must be > 0/,
    );
    expect(() => applyFill(flatPosition, { side: "BUY", quantity: "1", price: "1e3" })).toThrow(
      /fill\.price: expected a decimal string/,
    );
  });
});

describe("accounting properties", () => {
  /** Decimal strings with up to `scale` decimals in [1, max] units. */
  const amount = (scale: number, max: number) =>
    fc.integer({ min: 1, max }).map((units) => fromScaledUnits(units, scale));
  const fill = fc.record({
    side: fc.constantFrom<"BUY" | "SELL">("BUY", "SELL"),
    quantity: amount(3, 50_000),
    price: amount(2, 10_000_000),
  });
  const signed = (f: Fill) => (f.side === "BUY" ? new Dec(f.quantity) : new Dec(f.quantity).neg());

  it("a round trip realizes side × (exit − entry) × qty", () => {
    fc.assert(
      fc.property(fill, amount(2, 10_000_000), (open, exit) => {
        const opened = applyFill(flatPosition, open);
        const closing: Fill = {
          side: open.side === "BUY" ? "SELL" : "BUY",
          quantity: open.quantity,
          price: exit,
        };
        const closed = applyFill(opened.position, closing);
        const side = open.side === "BUY" ? 1 : -1;
        expect(closed.position).toEqual(flatPosition);
        expect(
          new Dec(closed.realizedPnl).eq(new Dec(exit).minus(open.price).times(open.quantity).times(side)),
        ).toBe(true);
      }),
    );
  });

  it("positionAmt is the signed sum of fills; a reduce never changes entryPrice, a flip opens at the fill", () => {
    fc.assert(
      fc.property(fc.array(fill, { maxLength: 40 }), (fills) => {
        let p: Position = flatPosition;
        let total = new Dec(0);
        for (const f of fills) {
          const before = p;
          p = applyFill(p, f).position;
          total = total.plus(signed(f));
          expect(new Dec(p.positionAmt).eq(total)).toBe(true);
          const a = new Dec(before.positionAmt);
          const n = new Dec(p.positionAmt);
          const against = !a.isZero() && a.isNegative() !== signed(f).isNegative();
          if (n.isZero()) expect(p.entryPrice).toBe("0");
          else if (against && n.isNegative() === a.isNegative()) expect(p.entryPrice).toBe(before.entryPrice);
          else if (against) expect(p.entryPrice).toBe(new Dec(f.price).toFixed()); // flip
        }
      }),
    );
  });

  it("realized + unrealized at price q equals Σ side·qty·(q − fillPrice), up to the entry rounding", () => {
    fc.assert(
      fc.property(fc.array(fill, { maxLength: 40 }), amount(2, 10_000_000), (fills, mark) => {
        let p: Position = flatPosition;
        let realized = new Dec(0);
        let bound = new Dec(0); // each averaging may move entryPrice by ≤ 0.5e-12
        for (const f of fills) {
          const out = applyFill(p, f);
          realized = realized.plus(out.realizedPnl);
          p = out.position;
          bound = bound.plus(new Dec(p.positionAmt).abs().times("0.5e-12"));
        }
        const expected = fills.reduce(
          (s, f) => s.plus(signed(f).times(new Dec(mark).minus(f.price))),
          new Dec(0),
        );
        const actual = realized.plus(unrealizedPnl(p, mark));
        expect(actual.minus(expected).abs().lte(bound)).toBe(true);
      }),
    );
  });

  it("the identity is exact when no fill averages (flat or reducing/flipping only)", () => {
    fc.assert(
      fc.property(fill, fc.array(fill, { maxLength: 10 }), amount(2, 10_000_000), (first, rest, mark) => {
        let p = applyFill(flatPosition, first).position;
        let realized = new Dec(0);
        const used: Fill[] = [first];
        for (const f of rest) {
          const adds =
            new Dec(p.positionAmt).isNegative() === signed(f).isNegative() && p.positionAmt !== "0";
          if (adds) continue;
          const out = applyFill(p, f);
          realized = realized.plus(out.realizedPnl);
          p = out.position;
          used.push(f);
        }
        const expected = used.reduce(
          (s, f) => s.plus(signed(f).times(new Dec(mark).minus(f.price))),
          new Dec(0),
        );
        expect(realized.plus(unrealizedPnl(p, mark)).eq(expected)).toBe(true);
      }),
    );
  });
});
