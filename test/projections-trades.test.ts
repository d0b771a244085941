/**
 * The trades projection (src/projections/trades.ts): round trips from flat to flat on hand-computed fills —
 * adds, a partial close, a flip with its commission split by quantity, funding, a liquidation, hedge mode — and
 * the property that the trades add up to the fills: Σ realizedPnl and Σ fees equal the fills' exactly.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dec } from "../src/domain/decimal.ts";
import type { EventData } from "../src/events/catalog.ts";
import { TradesProjection } from "../src/projections/trades.ts";

type Fill = EventData<"FillBooked">;

let tradeId = 0;
function fill(
  side: "BUY" | "SELL",
  quantity: string,
  price: string,
  positionAmt: string,
  commission: string,
  realizedPnl = "0",
  positionSide?: "LONG" | "SHORT",
): Fill {
  tradeId++;
  return {
    symbol: "BTCUSDT",
    ...(positionSide ? { positionSide } : {}),
    clientOrderId: `ps-BTCUSDT-${tradeId}-E`,
    tradeId: String(tradeId),
    side,
    price,
    quantity,
    commission,
    realizedPnl,
    positionAmt,
    entryPrice: "0",
    walletBalance: "10000",
  };
}

function funding(fundingFee: string, positionAmt: string): EventData<"FundingFeeBooked"> {
  return {
    symbol: "BTCUSDT",
    fundingTime: 0,
    fundingRate: "0.0001",
    markPrice: "100",
    positionAmt,
    fundingFee,
    walletBalance: "10000",
  };
}

describe("round trips from the fills", () => {
  it("adds, funding, a partial close, a flip and a liquidation", () => {
    const trades = new TradesProjection();
    trades.fill(fill("BUY", "1", "100", "1", "0.05"), 1); // opens LONG 1 @ 100
    trades.fill(fill("BUY", "1", "110", "2", "0.055"), 2); // adds: entry (100 + 110) / 2 = 105
    trades.fund(funding("-0.3", "2")); // paid 0.3 while LONG
    trades.fill(fill("SELL", "0.5", "120", "1.5", "0.03", "7.5"), 3); // partial close: 0.5 × (120 − 105)
    // flip: SELL 3.5 @ 100 from +1.5 to −2; rp = 1.5 × (100 − 105) = −7.5 closes trade 1; the commission 0.175
    // splits 0.175 × 1.5 / 3.5 = 0.075 to the closing trade, 0.1 to the new SHORT
    trades.fill(fill("SELL", "3.5", "100", "-2", "0.175", "-7.5"), 4);
    trades.liquidate(
      {
        symbol: "BTCUSDT",
        clientOrderId: "autoclose-1",
        positionSide: "BOTH",
        marginType: "ISOLATED",
        positionAmt: "-2",
        entryPrice: "100",
        markPrice: "150",
        liquidationPrice: "150",
        price: "150",
        maintMargin: "1.2",
        realizedPnl: "-100",
        clearanceFee: "1.5",
        insuranceFundCovered: "0",
        walletBalance: "9000",
      },
      5,
    );
    const [first, second] = trades.views();
    // trade 1: exit (0.5 × 120 + 1.5 × 100) / 2 = 105; realized 7.5 − 7.5 = 0; fees 0.05 + 0.055 + 0.03 +
    // 0.075 = 0.21; funding −0.3; net 0 − 0.21 − 0.3 = −0.51
    expect(first).toEqual({
      id: 1,
      symbol: "BTCUSDT",
      side: "LONG",
      entryTime: 1,
      exitTime: 4,
      entryPrice: "105",
      exitPrice: "105",
      quantity: "2",
      closedQuantity: "2",
      fills: 4,
      realizedPnl: "0",
      fees: "0.21",
      funding: "-0.3",
      liquidationFee: "0",
      netPnl: "-0.51",
      liquidated: false,
      open: false,
    });
    // trade 2: SHORT 2 @ 100 from the flip, liquidated at 150: −100 − 0.1 − 1.5 = −101.6
    expect(second).toEqual({
      id: 2,
      symbol: "BTCUSDT",
      side: "SHORT",
      entryTime: 4,
      exitTime: 5,
      entryPrice: "100",
      exitPrice: "150",
      quantity: "2",
      closedQuantity: "2",
      fills: 2,
      realizedPnl: "-100",
      fees: "0.1",
      funding: "0",
      liquidationFee: "1.5",
      netPnl: "-101.6",
      liquidated: true,
      open: false,
    });
  });

  it("a flip's commission that does not divide evenly: 8 decimals to the closing trade, the rest to the next", () => {
    const trades = new TradesProjection();
    trades.fill(fill("BUY", "3", "10", "3", "0.003"), 1);
    // SELL 7 from +3 to −4: 0.01 × 3/7 = 0.0042857142… → 0.00428571; the new trade 0.01 − 0.00428571 = 0.00571429
    trades.fill(fill("SELL", "7", "10", "-4", "0.01"), 2);
    const [closed, open] = trades.views();
    expect(closed!.fees).toBe("0.00728571"); // 0.003 + 0.00428571
    expect(open).toMatchObject({
      side: "SHORT",
      fees: "0.00571429",
      quantity: "4",
      open: true,
      exitTime: null,
    });
    expect(open!.exitPrice).toBeNull();
  });

  it("hedge mode: the LONG and the SHORT side are separate trades", () => {
    const trades = new TradesProjection();
    trades.fill(fill("BUY", "1", "100", "1", "0.1", "0", "LONG"), 1);
    trades.fill(fill("SELL", "2", "101", "-2", "0.2", "0", "SHORT"), 2);
    trades.fill(fill("SELL", "1", "105", "0", "0.1", "5", "LONG"), 3);
    const views = trades.views();
    expect(views.map((t) => [t.positionSide, t.side, t.open, t.netPnl])).toEqual([
      ["LONG", "LONG", false, "4.8"], // 5 − 0.1 − 0.1
      ["SHORT", "SHORT", true, "-0.2"],
    ]);
  });

  it("refuses a fill that does not follow from the position, and funding with nothing open", () => {
    const trades = new TradesProjection();
    expect(() => trades.fill(fill("SELL", "1", "100", "-2", "0"), 1)).toThrow(
      /BTCUSDT fill \d+ \(ps-BTCUSDT-\d+-E\) takes the position from 0 by -1 to -2/,
    );
    expect(() => trades.fund(funding("1", "1"))).toThrow(/funding of 1 at 0 without an open trade/);
    trades.fund(funding("0", "0")); // nothing paid on a flat position: no trade
    expect(() => trades.fill(fill("BUY", "1", "100", "1", "0", "3"), 1)).toThrow(
      /realizes 3 without reducing the position/,
    );
    expect(trades.views()).toEqual([]);
  });
});

describe("the trades add up to the fills", () => {
  it("Σ realizedPnl, Σ fees and Σ funding of the trades equal the fills' exactly; closed ones are flat to flat", () => {
    // a random walk of fills: each a signed step in lots of 0.001, with a commission and, when it reduces, an rp
    const step = fc.record({
      lots: fc.integer({ min: -5_000, max: 5_000 }).filter((n) => n !== 0),
      price: fc.integer({ min: 1, max: 100_000 }),
      commissionMicros: fc.integer({ min: 0, max: 1_000_000 }),
      rpCents: fc.integer({ min: -100_000, max: 100_000 }),
      fundingCents: fc.integer({ min: -1_000, max: 1_000 }),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const trades = new TradesProjection();
        let amount = new Dec(0);
        let realized = new Dec(0);
        let fees = new Dec(0);
        let paid = new Dec(0);
        steps.forEach((s, i) => {
          const delta = new Dec(s.lots).div(1000);
          const after = amount.plus(delta);
          const reduces =
            !amount.isZero() &&
            (after.isZero() || after.isNeg() !== amount.isNeg() || after.abs().lt(amount.abs()));
          const rp = reduces ? new Dec(s.rpCents).div(100) : new Dec(0);
          const commission = new Dec(s.commissionMicros).div(1_000_000);
          trades.fill(
            fill(
              delta.isNeg() ? "SELL" : "BUY",
              delta.abs().toFixed(),
              String(s.price),
              after.toFixed(),
              commission.toFixed(),
              rp.toFixed(),
            ),
            i,
          );
          realized = realized.plus(rp);
          fees = fees.plus(commission);
          amount = after;
          if (!amount.isZero()) {
            const fee = new Dec(s.fundingCents).div(100);
            trades.fund(funding(fee.toFixed(), amount.toFixed()));
            paid = paid.plus(fee);
          }
        });
        const views = trades.views();
        const sum = (pick: (t: (typeof views)[number]) => string) =>
          views.reduce((acc, t) => acc.plus(pick(t)), new Dec(0));
        expect(sum((t) => t.realizedPnl).eq(realized)).toBe(true);
        expect(sum((t) => t.fees).eq(fees)).toBe(true);
        expect(sum((t) => t.funding).eq(paid)).toBe(true);
        expect(views.filter((t) => t.open).length).toBe(amount.isZero() ? 0 : 1);
        for (const t of views) {
          if (!t.open) expect(t.closedQuantity).toBe(t.quantity);
          expect(t.exitTime === null || t.exitTime >= t.entryTime).toBe(true);
        }
      }),
    );
  });
});
