import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { type LiquidationFillInput, liquidationFill } from "../src/domain/margin/clearance.ts";
import { liquidationPrice } from "../src/domain/margin/liquidation.ts";
import { maintenanceMargin } from "../src/domain/margin/margin.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";

/** §4.7 vector A's position: isolated long 0.5 BTC @ 60 000 with a 3 000 isolated wallet. */
const vectorA = (price: string): LiquidationFillInput => {
  const lp = liquidationPrice(
    { walletBalance: "3000", otherMaintMargin: "0", otherUnrealizedPnl: "0" },
    [{ positionAmt: "0.5", entryPrice: "60000" }],
    [SPEC_BTC_BRACKETS],
  ).price!;
  return {
    symbol: "BTCUSDT",
    positionSide: "BOTH",
    marginType: "ISOLATED",
    positionAmt: "0.5",
    entryPrice: "60000",
    markPrice: price,
    liquidationPrice: lp,
    price,
    liquidationFee: getInstrument("BTCUSDT").liquidationFee, // "0.020000" in the bundled exchangeInfo
    walletBalance: "3000",
    maintMargin: maintenanceMargin(SPEC_BTC_BRACKETS, canonical(new Dec(price).times("0.5"))).maintMargin,
  };
};

describe("liquidationFill (§4.8 simulator model, UNCONFIRMED)", () => {
  it("vector A filled at 54 216.87: the fee (2 % of 27 108.435) is capped at the 108.435 margin left; wallet 0", () => {
    const fill = liquidationFill(vectorA("54216.87"));
    expect(fill).toEqual({
      symbol: "BTCUSDT",
      positionSide: "BOTH",
      marginType: "ISOLATED",
      positionAmt: "0.5",
      entryPrice: "60000",
      markPrice: "54216.87",
      liquidationPrice: vectorA("54216.87").liquidationPrice,
      price: "54216.87",
      realizedPnl: "-2891.565",
      clearanceFee: "108.435",
      insuranceFundCover: "0",
      walletBalance: "0",
      walletDelta: "-3000",
      maintMargin: "108.43374",
    });
  });

  it("a fill past the bankruptcy price: the loss booked stops at the wallet, the insurance fund takes the rest", () => {
    const fill = liquidationFill(vectorA("50000"));
    expect(fill).toMatchObject({
      realizedPnl: "-3000",
      clearanceFee: "0",
      insuranceFundCover: "2000",
      walletBalance: "0",
      walletDelta: "-3000",
    });
  });

  it("a small fee is charged in full: a cross short with plenty of wallet", () => {
    const fill = liquidationFill({
      ...vectorA("100"),
      marginType: "CROSSED",
      positionAmt: "-2",
      entryPrice: "90",
      walletBalance: "1000",
      liquidationFee: "0.0125",
    });
    expect(fill).toMatchObject({
      realizedPnl: "-20",
      clearanceFee: "2.5",
      walletBalance: "977.5",
      walletDelta: "-22.5",
    });
  });

  it("a flat position or a negative wallet is an error", () => {
    expect(() => liquidationFill({ ...vectorA("50000"), positionAmt: "0" })).toThrow(
      "cannot liquidate a flat BTCUSDT BOTH position",
    );
    expect(() => liquidationFill({ ...vectorA("50000"), walletBalance: "-1" })).toThrow(
      "walletBalance must be ≥ 0, got -1",
    );
  });

  it("wallet after = wallet + realizedPnl − fee ≥ 0; fee ≤ notional × rate; cover ≥ 0 (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1_000_000, max: 1_000_000 }).filter((n) => n !== 0),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 0, max: 100_000_000 }),
        fc.constantFrom("0.0125", "0.015", "0.02", "0.04"),
        (thousandths, entryCents, priceCents, walletCents, rate) => {
          const amt = new Dec(thousandths).div(1000);
          const price = new Dec(priceCents).div(100);
          const f = liquidationFill({
            ...vectorA("1"),
            positionAmt: canonical(amt),
            entryPrice: canonical(new Dec(entryCents).div(100)),
            price: canonical(price),
            walletBalance: canonical(new Dec(walletCents).div(100)),
            liquidationFee: rate,
          });
          const wallet = new Dec(walletCents).div(100);
          expect(new Dec(f.walletBalance).gte(0)).toBe(true);
          expect(new Dec(f.walletBalance).eq(wallet.plus(f.realizedPnl).minus(f.clearanceFee))).toBe(true);
          expect(new Dec(f.walletDelta).eq(new Dec(f.realizedPnl).minus(f.clearanceFee))).toBe(true);
          expect(new Dec(f.clearanceFee).gte(0)).toBe(true);
          expect(new Dec(f.clearanceFee).lte(amt.abs().times(price).times(rate))).toBe(true);
          expect(new Dec(f.insuranceFundCover).gte(0)).toBe(true);
          const uncapped = amt.times(price.minus(f.entryPrice));
          expect(new Dec(f.realizedPnl).minus(f.insuranceFundCover).eq(uncapped)).toBe(true);
        },
      ),
    );
  });
});
