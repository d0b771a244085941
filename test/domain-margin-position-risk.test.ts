import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { isLiquidated } from "../src/domain/margin/liquidation.ts";
import { positionRisk } from "../src/domain/margin/position-risk.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";

describe("positionRisk: one position's margin numbers at a mark price", () => {
  it("§4.7 vector A's position (isolated long 0.5 @ 60 000, wallet 3 000, 10×) at mark 58 000", () => {
    const risk = positionRisk(SPEC_BTC_BRACKETS, { positionAmt: "0.5", entryPrice: "60000" }, "58000", 10, {
      marginType: "ISOLATED",
      isolatedWallet: "3000",
    });
    expect(risk).toEqual({
      notional: "29000",
      unrealizedPnl: "-1000",
      initialMargin: "2900",
      maintMargin: "116",
      bracket: 1,
      isolatedMargin: "2000",
      marginRatio: "0.058",
      liquidationPrice: "54216.867469879518",
    });
  });

  it("§4.7 vector D's BTC position, cross with the ETH position as the other contract: LP 26 316.89", () => {
    // Brackets that give vector D's MMR 2.5 % and cum 16 300 at BTC's notional (cum = 815 000 × (0.025 − 0.005)).
    const brackets = [
      {
        bracket: 1,
        initialLeverage: 100,
        notionalFloor: "0",
        notionalCap: "815000",
        maintMarginRatio: "0.005",
        cum: "0",
      },
      {
        bracket: 2,
        initialLeverage: 20,
        notionalFloor: "815000",
        notionalCap: "1000000000",
        maintMarginRatio: "0.025",
        cum: "16300",
      },
    ];
    const ethMm = new Dec("3683.979").times("1335.18").times("0.1").minus(135365);
    const ethUpnl = new Dec("3683.979").times(new Dec("1335.18").minus("1456.84"));
    const risk = positionRisk(brackets, { positionAmt: "109.488", entryPrice: "32481.98" }, "31967.27", 20, {
      marginType: "CROSSED",
      crossWalletBalance: "1535443.01",
      otherMaintMargin: canonical(ethMm),
      otherUnrealizedPnl: canonical(ethUpnl),
    });
    expect(canonical(new Dec(risk.liquidationPrice!).toDecimalPlaces(2))).toBe("26316.89");
    expect(risk.bracket).toBe(2);
    expect(canonical(new Dec(risk.maintMargin).toDecimalPlaces(2))).toBe("71200.81");
    expect(risk.isolatedMargin).toBe("0");
    // The account's ratio: every cross position's maintenance margin over the cross margin balance.
    const expected = new Dec(risk.maintMargin)
      .plus(ethMm)
      .div(new Dec("1535443.01").plus(ethUpnl).plus(risk.unrealizedPnl))
      .toDecimalPlaces(12);
    expect(risk.marginRatio).toBe(canonical(expected));
    expect(canonical(new Dec(risk.marginRatio!).toDecimalPlaces(4))).toBe("0.4149"); // 427 713.32 / 1 030 895.55
  });

  it("flat: zeros, no liquidation price", () => {
    expect(
      positionRisk(SPEC_BTC_BRACKETS, { positionAmt: "0", entryPrice: "0" }, "60000", 10, {
        marginType: "ISOLATED",
        isolatedWallet: "0",
      }),
    ).toEqual({
      notional: "0",
      unrealizedPnl: "0",
      initialMargin: "0",
      maintMargin: "0",
      bracket: 1,
      isolatedMargin: "0",
      marginRatio: null,
      liquidationPrice: null,
    });
  });

  it("isolated: the mark crossing LP is a margin ratio ≥ 1, away from LP's rounding (fast-check, bundled symbols)", () => {
    const catalog = bundledLeverageBracketCatalog();
    const sets = catalog.symbols().map((s) => catalog.get(s).brackets);
    fc.assert(
      fc.property(
        fc.constantFrom(...sets),
        fc.integer({ min: -1_000_000, max: 1_000_000 }).filter((n) => n !== 0),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 0, max: 1_000_000_000 }),
        (brackets, thousandths, entryCents, markCents, walletCents) => {
          const position = {
            positionAmt: canonical(new Dec(thousandths).div(1000)),
            entryPrice: canonical(new Dec(entryCents).div(100)),
          };
          const mark = canonical(new Dec(markCents).div(100));
          const risk = positionRisk(brackets, position, mark, 1, {
            marginType: "ISOLATED",
            isolatedWallet: canonical(new Dec(walletCents).div(100)),
          });
          const lp = risk.liquidationPrice;
          if (lp !== null && new Dec(mark).minus(lp).abs().lt("0.000001")) return;
          const belowMaintenance = risk.marginRatio === null || new Dec(risk.marginRatio).gte(1);
          expect(isLiquidated(mark, position.positionAmt, lp)).toBe(belowMaintenance);
        },
      ),
      { numRuns: 500 },
    );
  });
});
