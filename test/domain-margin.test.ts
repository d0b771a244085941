import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dec } from "../src/domain/decimal.ts";
import { maxNotionalFor } from "../src/domain/margin/brackets.ts";
import {
  availableBalance,
  checkMarginSufficient,
  checkMaxPosition,
  initialMargin,
  isolatedWalletAfterFill,
  maintenanceMargin,
  maintenanceMarginAt,
  marginBalance,
  marginRatio,
  marginRequirement,
  type OrderMarginInput,
  openLoss,
  openOrderInitialMargin,
  orderMarginCost,
  type RestingOrder,
  worstCaseNotional,
} from "../src/domain/margin/margin.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";

describe("initial and maintenance margin (§4.5, §4.6: the official positionRisk v3 example)", () => {
  it("notional 12.314277 at 20× → initialMargin 0.61571385; MMR 0.0065, cum 0 → maintMargin 0.08004280", () => {
    expect(initialMargin("12.314277", 20)).toBe("0.61571385");
    const maintMargin = maintenanceMarginAt("12.314277", { maintMarginRatio: "0.0065", cum: "0" });
    expect(maintMargin).toBe("0.0800428005"); // exact; Binance shows 8 decimals
    expect(new Dec(maintMargin).toFixed(8)).toBe("0.08004280");
  });

  it("a quotient that does not terminate is rounded up at 12 decimals", () => {
    expect(initialMargin("100", 3)).toBe("33.333333333334");
    expect(initialMargin("0", 7)).toBe("0");
    expect(() => initialMargin("100", 0)).toThrow("leverage must be an integer ≥ 1, got 0");
    expect(() => initialMargin("-1", 5)).toThrow("notional must be ≥ 0, got -1");
  });

  it("maintenance margin takes the bracket of the notional: continuous across a cap (the cum rule)", () => {
    expect(maintenanceMargin(SPEC_BTC_BRACKETS, "50000")).toMatchObject({
      maintMargin: "200",
      bracket: { bracket: 1 },
    });
    expect(maintenanceMargin(SPEC_BTC_BRACKETS, "50000.01")).toMatchObject({
      maintMargin: "200.00005",
      bracket: { bracket: 2 },
    });
    expect(maintenanceMargin(SPEC_BTC_BRACKETS, "1000000").maintMargin).toBe("5550");
  });

  it("margin ratio = maintMargin / marginBalance, null when the balance is ≤ 0", () => {
    expect(marginBalance("3000", "-2891.566")).toBe("108.434");
    expect(marginRatio("108.434", "108.434")).toBe("1");
    expect(marginRatio("54.217", "108.434")).toBe("0.5");
    expect(marginRatio("1", "3")).toBe("0.333333333333");
    expect(marginRatio("1", "0")).toBeNull();
    expect(marginRatio("1", "-5")).toBeNull();
  });
});

describe("the isolated wallet through fills (the simulator's model)", () => {
  it("open and add add the fill's initial margin; a reduce releases its share; a flip restarts it", () => {
    const buy = (quantity: string, price: string) => ({ side: "BUY" as const, quantity, price });
    const sell = (quantity: string, price: string) => ({ side: "SELL" as const, quantity, price });
    expect(isolatedWalletAfterFill("0", "0", buy("1", "100"), 10)).toBe("10");
    expect(isolatedWalletAfterFill("10", "1", buy("1", "200"), 10)).toBe("30");
    expect(isolatedWalletAfterFill("30", "2", sell("1", "50"), 10)).toBe("15");
    expect(isolatedWalletAfterFill("15", "1", sell("1", "50"), 10)).toBe("0");
    expect(isolatedWalletAfterFill("15", "1", sell("3", "50"), 10)).toBe("10");
    expect(isolatedWalletAfterFill("10", "-2", buy("0.5", "70"), 10)).toBe("7.5");
  });
});

const buy = (quantity: string, price: string): RestingOrder => ({ side: "BUY", quantity, price });
const sell = (quantity: string, price: string): RestingOrder => ({ side: "SELL", quantity, price });

describe("open-order margin (Binance FAQ 'How to Calculate the Margin Requirement', one-way formula)", () => {
  it("max(|P + bids|, |P − asks|) / leverage: a short of −1 @ 10 000 with a buy of 1.5 @ 10 000 at 1×", () => {
    // The developer-forum case: the order flips the short into a smaller long, so it needs no more margin.
    expect(worstCaseNotional("-1", "10000", [buy("1.5", "10000")])).toBe("10000");
    expect(marginRequirement("-1", "10000", [buy("1.5", "10000")], 1)).toBe("10000");
    expect(openOrderInitialMargin("-1", "10000", [buy("1.5", "10000")], 1)).toBe("0");
    expect(openOrderInitialMargin("-1", "10000", [buy("2.5", "10000")], 1)).toBe("5000");
  });

  it("orders that only reduce the position add nothing; orders on both sides count the larger side", () => {
    expect(openOrderInitialMargin("2", "100", [sell("1", "110"), sell("1", "120")], 10)).toBe("0");
    expect(openOrderInitialMargin("0", "100", [buy("1", "100"), sell("2", "100")], 10)).toBe("20");
    expect(openOrderInitialMargin("1", "100", [buy("1", "90")], 10)).toBe("9");
  });

  it("a set of sell orders whose quantities sum to at most a long position adds no margin (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(
          fc.record({ part: fc.integer({ min: 1, max: 1000 }), price: fc.integer({ min: 1, max: 1e6 }) }),
        ),
        fc.integer({ min: 1, max: 125 }),
        (size, parts, leverage) => {
          const total = parts.reduce((s, p) => s + p.part, 0);
          const orders = parts.map((p) =>
            sell(
              new Dec(size)
                .times(p.part)
                .div(Math.max(total, 1))
                .toDecimalPlaces(3, Dec.ROUND_DOWN)
                .toFixed(),
              `${p.price}`,
            ),
          );
          // Each sell is valued at its own price: reduction only holds while the asks' value ≤ the position's.
          const asks = orders.reduce((s, o) => s.plus(new Dec(o.quantity).times(o.price)), new Dec(0));
          const mark = "1000000";
          fc.pre(asks.lte(new Dec(size).times(mark).times(2)));
          expect(openOrderInitialMargin(`${size}`, mark, orders, leverage)).toBe("0");
        },
      ),
    );
  });

  it("open loss: quantity × |min(0, direction × (mark − price))| (FAQ 'Cost Required to Open a Position')", () => {
    // FAQ: 1 BTC at 9 253.30, mark 9 259.84: a long has none, a short 6.54.
    expect(openLoss(buy("1", "9253.30"), "9259.84")).toBe("0");
    expect(openLoss(sell("1", "9253.30"), "9259.84")).toBe("6.54");
    expect(initialMargin("9253.30", 20)).toBe("462.665");
  });
});

describe("submit checks: -2027 and -2019", () => {
  const input = (
    positionAmt: string,
    order: RestingOrder,
    restingOrders: RestingOrder[] = [],
  ): OrderMarginInput => ({
    position: { positionAmt },
    markPrice: "100000",
    restingOrders,
    order,
    leverage: 100,
  });

  it("-2027 when the worst case after the order exceeds the cap at this leverage (600 000 at 100×)", () => {
    expect(maxNotionalFor(SPEC_BTC_BRACKETS, 100)).toBe("600000");
    expect(checkMaxPosition(input("5", buy("1", "100000")), SPEC_BTC_BRACKETS)).toBeNull(); // exactly the cap
    expect(checkMaxPosition(input("5", buy("1.1", "100000")), SPEC_BTC_BRACKETS)).toEqual({
      code: -2027,
      message: "Exceeded the maximum allowable position at current leverage.",
      notional: "610000",
      maxNotional: "600000",
      leverage: 100,
    });
    // Resting orders count: 0.5 already bid makes a 0.6 bid too much.
    expect(
      checkMaxPosition(input("5", buy("0.6", "100000"), [buy("0.5", "100000")]), SPEC_BTC_BRACKETS),
    ).toMatchObject({
      code: -2027,
      notional: "610000",
    });
  });

  it("a reducing order passes -2027 even when the position is already above the cap", () => {
    expect(checkMaxPosition(input("7", sell("1", "100000")), SPEC_BTC_BRACKETS)).toBeNull();
    expect(checkMaxPosition(input("7", buy("0.001", "100000")), SPEC_BTC_BRACKETS)).toMatchObject({
      code: -2027,
    });
  });

  it("-2019 when the order's margin cost (IM rise + open loss of the opening part) > available balance", () => {
    const order = buy("1", "101000"); // 1 000 above the mark: open loss 1 000; IM 1 010 at 100×
    expect(orderMarginCost(input("0", order))).toBe("2010");
    expect(checkMarginSufficient(input("0", order), "2010")).toBeNull();
    expect(checkMarginSufficient(input("0", order), "2009.99")).toEqual({
      code: -2019,
      message: "Margin is insufficient.",
      cost: "2010",
      availableBalance: "2009.99",
    });
  });

  it("a reducing order costs nothing; a flip costs only the part beyond the position", () => {
    expect(orderMarginCost(input("1", sell("1", "99000")))).toBe("0");
    // Short 1 @ mark 100 000, buy 3 @ 100 000: requirement 1 000 → 2 000, the opening half pays.
    expect(orderMarginCost(input("-1", buy("3", "100000")))).toBe("1000");
    // The same at 102 000: requirement 1 000 → max(|−100000 + 306000|, 100000) / 100 = 2 060, a rise of
    // 1 060; open loss 3 × 2 000 = 6 000 on the opening share 1 060 × 100 / 306 000 of the order.
    const cost = new Dec(orderMarginCost(input("-1", buy("3", "102000"))));
    const expected = new Dec(1060).plus(new Dec(6000).times(1060 * 100).div(306000));
    expect(cost.gte(expected) && cost.minus(expected).lte("0.000000000001")).toBe(true);
  });

  it("available balance = max(0, cross wallet + cross unrealized − initial margin in use)", () => {
    expect(availableBalance("1000", "-50", "300")).toBe("650");
    expect(availableBalance("1000", "-800", "300")).toBe("0");
  });
});
