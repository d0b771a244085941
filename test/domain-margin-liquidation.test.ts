import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unrealizedPnl } from "../src/domain/accounting.ts";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { bracketFor, type LeverageBracket, maxLeverageFor } from "../src/domain/margin/brackets.ts";
import {
  isLiquidated,
  type LiquidationAccount,
  type LiquidationPrice,
  liquidatedByFall,
  liquidationPrice,
  liquidationPriceWith,
} from "../src/domain/margin/liquidation.ts";
import { initialMargin, maintenanceMarginAt } from "../src/domain/margin/margin.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";

const isolated = (walletBalance: string): LiquidationAccount => ({
  walletBalance,
  otherMaintMargin: "0",
  otherUnrealizedPnl: "0",
});
const at = (lp: LiquidationPrice, decimals: number) =>
  canonical(new Dec(lp.price!).toDecimalPlaces(decimals));
const rate = (b: LeverageBracket) => ({ maintMarginRatio: b.maintMarginRatio, cum: b.cum });

describe("binance-usdm.md §4.7 worked examples (BTCUSDT brackets of §4.6)", () => {
  it("A. isolated long 0.5 @ 60 000, WB 3 000, 10×: LP 54 216.8675 in bracket 1", () => {
    const lp = liquidationPrice(
      isolated("3000"),
      [{ positionAmt: "0.5", entryPrice: "60000" }],
      [SPEC_BTC_BRACKETS],
    );
    expect(at(lp, 4)).toBe("54216.8675");
    expect(lp.rates).toEqual([SPEC_BTC_BRACKETS[0]]);
    // (3 000 + 0 − 30 000) / (0.002 − 0.5), normalised to a positive denominator.
    expect([lp.numerator, lp.denominator]).toEqual(["27000", "0.498"]);
    // Check at LP: notional 27 108.43, equity 108.434 = MM.
    const notional = new Dec(lp.price!).times("0.5");
    expect(canonical(notional.toDecimalPlaces(2))).toBe("27108.43");
    expect(canonical(notional.times("0.004").toDecimalPlaces(3))).toBe("108.434");
  });

  it("B. isolated short −0.5 @ 60 000, WB 3 000: LP 65 737.0518", () => {
    const lp = liquidationPrice(
      isolated("3000"),
      [{ positionAmt: "-0.5", entryPrice: "60000" }],
      [SPEC_BTC_BRACKETS],
    );
    expect(at(lp, 4)).toBe("65737.0518");
    expect([lp.numerator, lp.denominator]).toEqual(["33000", "0.502"]);
    const notional = new Dec(lp.price!).times("0.5");
    expect(canonical(notional.toDecimalPlaces(2))).toBe("32868.53");
    expect(canonical(notional.times("0.004").toDecimalPlaces(3))).toBe("131.474");
  });

  it("C. bracket change: 0.85 long @ 60 000 (bracket 2 at entry), WB 5 100 → recomputed in bracket 1: 54 216.8675", () => {
    const leg = { positionAmt: "0.85", entryPrice: "60000" };
    const inBracket2 = liquidationPriceWith(isolated("5100"), [leg], [rate(SPEC_BTC_BRACKETS[1]!)]);
    expect(at(inBracket2, 2)).toBe("54212.24");
    expect(bracketFor(SPEC_BTC_BRACKETS, new Dec(inBracket2.price!).times("0.85")).bracket).toBe(1);
    const lp = liquidationPrice(isolated("5100"), [leg], [SPEC_BTC_BRACKETS]);
    expect(at(lp, 4)).toBe("54216.8675");
    expect(lp.rates).toEqual([SPEC_BTC_BRACKETS[0]]);
    const notional = new Dec(lp.price!).times("0.85");
    expect(canonical(notional.toDecimalPlaces(2))).toBe("46084.34");
    expect(canonical(notional.times("0.004").toDecimalPlaces(3))).toBe("184.337");
  });

  it("D. cross, two positions with the given MMR and cum: LP_ETH 1 153.26, LP_BTC 26 316.89", () => {
    const wb = "1535443.01";
    const btc = { positionAmt: "109.488", entryPrice: "32481.98" };
    const eth = { positionAmt: "3683.979", entryPrice: "1456.84" };
    const btcRate = { maintMarginRatio: "0.025", cum: "16300" };
    const ethRate = { maintMarginRatio: "0.1", cum: "135365" };
    const btcNotional = new Dec(btc.positionAmt).times("31967.27").toFixed();
    const ethNotional = new Dec(eth.positionAmt).times("1335.18").toFixed();
    const btcMm = maintenanceMarginAt(btcNotional, btcRate);
    const ethMm = maintenanceMarginAt(ethNotional, ethRate);
    const btcUpnl = unrealizedPnl(btc, "31967.27");
    const ethUpnl = unrealizedPnl(eth, "1335.18");
    const d2 = (s: string) => canonical(new Dec(s).toDecimalPlaces(2));
    expect([d2(btcMm), d2(btcUpnl)]).toEqual(["71200.81", "-56354.57"]);
    expect([d2(ethMm), d2(ethUpnl)]).toEqual(["356512.51", "-448192.89"]);

    const ethLp = liquidationPriceWith(
      { walletBalance: wb, otherMaintMargin: btcMm, otherUnrealizedPnl: btcUpnl },
      [eth],
      [ethRate],
    );
    const btcLp = liquidationPriceWith(
      { walletBalance: wb, otherMaintMargin: ethMm, otherUnrealizedPnl: ethUpnl },
      [btc],
      [btcRate],
    );
    expect(at(ethLp, 2)).toBe("1153.26");
    expect(at(btcLp, 2)).toBe("26316.89");
    // The isolated variants: the same wallet as each position's own, no other contracts.
    expect(at(liquidationPriceWith(isolated(wb), [eth], [ethRate]), 2)).toBe("1114.78");
    expect(at(liquidationPriceWith(isolated(wb), [btc], [btcRate]), 2)).toBe("18778.73");
  });

  it("LP ≤ 0 is null (Binance shows --): a long with more wallet than its notional", () => {
    const lp = liquidationPrice(
      isolated("70000"),
      [{ positionAmt: "1", entryPrice: "60000" }],
      [SPEC_BTC_BRACKETS],
    );
    expect(lp.price).toBeNull();
    expect(new Dec(lp.numerator).lte(0)).toBe(true);
    expect(lp.rates).toEqual([SPEC_BTC_BRACKETS[0]]);
  });

  it("hedge form (reconstructed, UNCONFIRMED): a LONG and a SHORT of equal size and entry cancel their PnL", () => {
    // Margin balance is WB whatever the price; MM = 2 × size × P × MMR − 2 cum → LP = (WB + 2 cum) / (2 size MMR).
    const lp = liquidationPriceWith(
      isolated("100"),
      [
        { positionAmt: "1", entryPrice: "50000" },
        { positionAmt: "-1", entryPrice: "50000" },
      ],
      [rate(SPEC_BTC_BRACKETS[0]!), rate(SPEC_BTC_BRACKETS[0]!)],
    );
    expect(lp.price).toBe("12500");
    expect([lp.numerator, lp.denominator]).toEqual(["100", "0.008"]);
  });
});

describe("the bracket loop's oscillation guard (cross hedge legs, far beyond realistic sizes)", () => {
  // Found by a search: from its entry brackets (11, 12) the loop goes to (1, 1), then (12, 12), then (1, 1) again.
  const legs = [
    { positionAmt: "9596.22", entryPrice: "1014" },
    { positionAmt: "-13442.28", entryPrice: "113147" },
  ];

  it("a cycle falls back to every combination and takes the self-consistent one (the highest, for net-short legs)", () => {
    const lp = liquidationPrice(isolated("26"), legs, [SPEC_BTC_BRACKETS, SPEC_BTC_BRACKETS]);
    expect(lp.price).toBe("153214.351944737854");
    expect(lp.rates).toEqual([SPEC_BTC_BRACKETS[11], SPEC_BTC_BRACKETS[11]]);
    const n = new Dec(lp.numerator);
    const d = new Dec(lp.denominator);
    // Exactly margin balance = maintenance margin (× d), with both legs' rates.
    let balance = d.times(26);
    let maint = new Dec(0);
    legs.forEach((leg, i) => {
      const amt = new Dec(leg.positionAmt);
      balance = balance.plus(amt.times(n.minus(d.times(leg.entryPrice))));
      maint = maint.plus(
        amt.abs().times(n).times(lp.rates[i]!.maintMarginRatio).minus(d.times(lp.rates[i]!.cum)),
      );
    });
    expect(balance.eq(maint)).toBe(true);
    // Self-consistent: each notional at LP is in the last bracket (above its floor; the last has no upper bound).
    for (const leg of legs)
      expect(new Dec(leg.positionAmt).abs().times(n).gt(d.times("1200000000"))).toBe(true);
    // The only self-consistent pair of brackets of the 144.
    const inBracket = (leg: (typeof legs)[number], k: LeverageBracket, price: string) => {
      const notional = new Dec(leg.positionAmt).abs().times(price);
      return notional.gt(k.notionalFloor) && (notional.lte(k.notionalCap) || k.bracket === 12);
    };
    const consistent: Dec[] = [];
    for (const a of SPEC_BTC_BRACKETS)
      for (const b of SPEC_BTC_BRACKETS) {
        const p = liquidationPriceWith(isolated("26"), legs, [a, b]).price;
        if (p !== null && inBracket(legs[0]!, a, p) && inBracket(legs[1]!, b, p)) consistent.push(new Dec(p));
      }
    expect(consistent).toHaveLength(1);
    expect(consistent[0]!.eq(lp.price!)).toBe(true);
  });

  it("no self-consistent combination: no price (the account is below maintenance at every price)", () => {
    const reversed = [
      { positionAmt: "13442.28", entryPrice: "113147" },
      { positionAmt: "-9596.22", entryPrice: "1014" },
    ];
    expect(
      liquidationPrice(isolated("26"), reversed, [SPEC_BTC_BRACKETS, SPEC_BTC_BRACKETS]).price,
    ).toBeNull();
  });
});

/** Bracket sets of real symbols (the bundled snapshot), for properties over realistic brackets. */
const catalog = bundledLeverageBracketCatalog();
const bracketSets = [SPEC_BTC_BRACKETS, ...catalog.symbols().map((s) => catalog.get(s).brackets)];

/** A position of a bundled symbol: size 0.001…1000 base, entry 0.0001…200 000 USDT, a leverage its bracket allows. */
const isolatedPosition = fc
  .record({
    brackets: fc.constantFrom(...bracketSets),
    thousandths: fc.integer({ min: 1, max: 1_000_000 }),
    entryUnits: fc.integer({ min: 1, max: 2_000_000_000 }),
    long: fc.boolean(),
    leverageShare: fc.double({ min: 0, max: 1, noNaN: true }),
    extraCents: fc.integer({ min: 0, max: 100_000_000 }),
  })
  .map(({ brackets, thousandths, entryUnits, long, leverageShare, extraCents }) => {
    const size = new Dec(thousandths).div(1000);
    const entryPrice = canonical(new Dec(entryUnits).div(10_000));
    const notional = canonical(size.times(entryPrice));
    const maxLeverage = maxLeverageFor(brackets, notional) ?? 1;
    const leverage = Math.max(1, Math.floor(leverageShare * maxLeverage));
    const wallet = new Dec(initialMargin(notional, leverage)).plus(new Dec(extraCents).div(100));
    return {
      brackets,
      leg: { positionAmt: canonical(long ? size : size.neg()), entryPrice },
      walletBalance: canonical(wallet),
      leverage,
    };
  });

describe("liquidation price properties (fast-check, isolated, real brackets)", () => {
  it("at LP, margin balance = maintenance margin exactly (§4.7 derivation), in the bracket of the notional at LP", () => {
    fc.assert(
      fc.property(isolatedPosition, ({ brackets, leg, walletBalance }) => {
        const lp = liquidationPrice(isolated(walletBalance), [leg], [brackets]);
        if (lp.price === null) return;
        const n = new Dec(lp.numerator);
        const d = new Dec(lp.denominator);
        const amt = new Dec(leg.positionAmt);
        const { maintMarginRatio, cum } = lp.rates[0]!;
        // × d: WB + amt × (n/d − EP) = |amt| × n/d × MMR − cum.
        const marginBalance = d.times(walletBalance).plus(amt.times(n.minus(d.times(leg.entryPrice))));
        const maintMargin = amt.abs().times(n).times(maintMarginRatio).minus(d.times(cum));
        expect(marginBalance.eq(maintMargin)).toBe(true);
        // The bracket used is the one of |amt| × LP (floor < notional ≤ cap, exactly), the last one above its cap.
        const used = brackets.find((b) => b.maintMarginRatio === maintMarginRatio && b.cum === cum)!;
        const scaled = amt.abs().times(n);
        expect(scaled.gt(d.times(used.notionalFloor)) || used.bracket === 1).toBe(true);
        expect(scaled.lte(d.times(used.notionalCap)) || used.bracket === brackets.length).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("with WB ≥ the initial margin of a leverage the bracket allows, LP is below entry for a long, above for a short", () => {
    fc.assert(
      fc.property(isolatedPosition, ({ brackets, leg, walletBalance }) => {
        const lp = liquidationPrice(isolated(walletBalance), [leg], [brackets]);
        const long = new Dec(leg.positionAmt).isPositive();
        if (lp.price === null) {
          expect(long).toBe(true); // a short always has one
          return;
        }
        if (long) expect(new Dec(lp.price).lt(leg.entryPrice)).toBe(true);
        else expect(new Dec(lp.price).gt(leg.entryPrice)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("is monotonic in WB: more wallet moves a long's LP down (or to none) and a short's up", () => {
    fc.assert(
      fc.property(isolatedPosition, fc.integer({ min: 1, max: 10_000_000 }), (p, moreCents) => {
        const richer = canonical(new Dec(p.walletBalance).plus(new Dec(moreCents).div(100)));
        const a = liquidationPrice(isolated(p.walletBalance), [p.leg], [p.brackets]).price;
        const b = liquidationPrice(isolated(richer), [p.leg], [p.brackets]).price;
        if (new Dec(p.leg.positionAmt).isPositive()) {
          if (a === null) expect(b).toBeNull();
          else if (b !== null) expect(new Dec(b).lt(a)).toBe(true);
        } else {
          expect(new Dec(b!).gt(a!)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("isLiquidated: the mark price crossing LP triggers (§4.7 last rule)", () => {
  it("a long at mark ≤ LP, a short at mark ≥ LP; never without an LP or a position", () => {
    expect(isLiquidated("54216.87", "0.5", "54216.8675")).toBe(false);
    expect(isLiquidated("54216.8675", "0.5", "54216.8675")).toBe(true);
    expect(isLiquidated("54000", "0.5", "54216.8675")).toBe(true);
    expect(isLiquidated("65737.05", "-0.5", "65737.0518")).toBe(false);
    expect(isLiquidated("65737.0518", "-0.5", "65737.0518")).toBe(true);
    expect(isLiquidated("70000", "-0.5", "65737.0518")).toBe(true);
    expect(isLiquidated("1", "2", null)).toBe(false);
    expect(isLiquidated("1", "0", "54216.8675")).toBe(false);
  });

  it("agrees with margin balance ≤ maintenance margin at the mark (fast-check)", () => {
    fc.assert(
      fc.property(isolatedPosition, fc.double({ min: 0.5, max: 1.5, noNaN: true }), (p, move) => {
        const lp = liquidationPrice(isolated(p.walletBalance), [p.leg], [p.brackets]);
        const mark = canonical(new Dec(p.leg.entryPrice).times(move.toFixed(6)).toDecimalPlaces(4));
        if (new Dec(mark).lte(0)) return;
        const notional = new Dec(p.leg.positionAmt).abs().times(mark).toFixed();
        const mm = maintenanceMarginAt(notional, bracketFor(p.brackets, notional));
        const equity = new Dec(p.walletBalance).plus(unrealizedPnl(p.leg, mark));
        const exact = lp.price === null ? false : new Dec(mark).sub(lp.price).abs().gt("0.000000001");
        // Away from the rounding of LP (12 decimals), crossing LP is exactly margin balance ≤ MM.
        if (lp.price === null || exact)
          expect(isLiquidated(mark, p.leg.positionAmt, lp.price)).toBe(equity.lte(mm));
      }),
      { numRuns: 500 },
    );
  });
});

describe("which way a set of legs is liquidated (liquidatedByFall)", () => {
  const rate = { maintMarginRatio: "0.004", cum: "0" };
  it("a long by a fall, a short by a rise, a cross hedge pair by its net size (a fully hedged one by a rise)", () => {
    const leg = (positionAmt: string) => ({ positionAmt, entryPrice: "60000" });
    expect(liquidatedByFall([leg("0.5")], [rate])).toBe(true);
    expect(liquidatedByFall([leg("-0.5")], [rate])).toBe(false);
    expect(liquidatedByFall([leg("0.5"), leg("-0.1")], [rate, rate])).toBe(true);
    expect(liquidatedByFall([leg("0.1"), leg("-0.5")], [rate, rate])).toBe(false);
    // Equal sides: the PnL cancels, the maintenance margin grows with the price.
    expect(liquidatedByFall([leg("0.5"), leg("-0.5")], [rate, rate])).toBe(false);
    // Net long by less than Σ size × MMR (0.004 × 1.0 = 0.004 > 0.003): the maintenance margin still wins.
    expect(liquidatedByFall([leg("0.5015"), leg("-0.4985")], [rate, rate])).toBe(false);
  });

  it("at the two-leg price, margin balance = maintenance margin, and a step the liquidating way goes below it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 500, max: 20_000 }),
        (long, short, wallet) => {
          const legs = [
            { positionAmt: (long / 100).toFixed(2), entryPrice: "60000" },
            { positionAmt: (-short / 100).toFixed(2), entryPrice: "61000" },
          ];
          const account = { walletBalance: String(wallet), otherMaintMargin: "0", otherUnrealizedPnl: "0" };
          const lp = liquidationPrice(account, legs, [SPEC_BTC_BRACKETS, SPEC_BTC_BRACKETS]);
          if (lp.price === null) return;
          const excess = (price: Dec) =>
            legs.reduce(
              (sum, l) =>
                sum
                  .plus(new Dec(l.positionAmt).times(price.minus(l.entryPrice)))
                  .minus(
                    new Dec(l.positionAmt)
                      .abs()
                      .times(price)
                      .times(
                        bracketFor(SPEC_BTC_BRACKETS, canonical(new Dec(l.positionAmt).abs().times(price)))
                          .maintMarginRatio,
                      ),
                  )
                  .plus(
                    bracketFor(SPEC_BTC_BRACKETS, canonical(new Dec(l.positionAmt).abs().times(price))).cum,
                  ),
              new Dec(wallet),
            );
          const at = new Dec(lp.price);
          expect(excess(at).abs().lt("0.000001")).toBe(true);
          const step = at.times("0.001");
          const beyond = liquidatedByFall(legs, lp.rates) ? at.minus(step) : at.plus(step);
          expect(excess(beyond).lt(0)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
