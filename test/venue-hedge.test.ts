/**
 * Hedge mode in the simulated venue (binance-usdm.md §4.1 `dualSidePosition`, §2.2 positionSide, §4.4 funding,
 * §4.7 liquidation), on hand-made bars, with the venue's reports booked by the engine's OrderExecution on an
 * account actor opened in hedge mode (as a backtest wires them): LONG and SHORT positions of one symbol at once,
 * closes capped at their side, -2022 / -4061 / reduceOnly refusals, funding on each side, an isolated liquidation
 * of one side that leaves the other, and a cross pair liquidated together at its shared price.
 */
import { describe, expect, it } from "vitest";
import { marginedPositions } from "../src/actors/account.decide.ts";
import { SimulatedVenue } from "../src/adapters/venue/simulated/venue.ts";
import { Dec } from "../src/domain/decimal.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { crossHedgeLiquidation } from "../src/domain/margin/account-risk.ts";
import { liquidationPrice } from "../src/domain/margin/liquidation.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import type { EventData } from "../src/events/catalog.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";
import { hedgeVenue, type Ohlc, S } from "./support/hedge-venue.ts";
import { venueBar } from "./support/venue-harness.ts";

/** An order on `positionSide` (hedge mode: never reduceOnly). */
const hedgeOrder = (
  id: string,
  side: "BUY" | "SELL",
  positionSide: "LONG" | "SHORT",
  quantity: string,
  extra: Partial<OrderRequest> = {},
): OrderRequest => ({
  clientOrderId: id,
  symbol: S,
  side,
  type: "MARKET",
  purpose: "ENTRY",
  positionSide,
  quantity,
  reduceOnly: false,
  ...extra,
});

const flatBar = (p: string): Ohlc => [p, p, p, p];

const fills = (rs: VenueReport[]) => rs.flatMap((r) => (r.kind === "fill" ? [r.fill] : []));

describe("hedge mode: positions per (symbol, positionSide)", () => {
  it("holds a LONG and a SHORT of one symbol at once and closes each on its own", async () => {
    const h = await hedgeVenue("CROSSED");
    await h.bar(flatBar("60000"));
    expect(await h.submit(hedgeOrder("long", "BUY", "LONG", "0.5"))).toMatchObject({ accepted: true });
    expect(await h.submit(hedgeOrder("short", "SELL", "SHORT", "0.2"))).toMatchObject({ accepted: true });
    await h.bar(flatBar("60000"));
    expect(h.venue.positionAmt(S, "LONG")).toBe("0.5");
    expect(h.venue.positionAmt(S, "SHORT")).toBe("-0.2");
    expect(h.venue.positionAmt(S)).toBe("0"); // no BOTH position in hedge mode
    expect(h.booked("LONG")).toMatchObject({ positionAmt: "0.5", entryPrice: "60000" });
    expect(h.booked("SHORT")).toMatchObject({ positionAmt: "-0.2", entryPrice: "60000" });

    // Close the LONG at 61 000: +500 realized on the LONG side only; the SHORT is untouched.
    await h.submit(hedgeOrder("close-long", "SELL", "LONG", "0.5", { purpose: "FLATTEN" }));
    await h.bar(flatBar("61000"));
    expect(h.booked("LONG")).toBeUndefined();
    expect(h.booked("SHORT")).toMatchObject({ positionAmt: "-0.2", entryPrice: "60000" });
    expect(h.account.snapshot.context.walletBalance).toBe("100500");

    // Close the SHORT at 61 000: −200 realized.
    await h.submit(hedgeOrder("close-short", "BUY", "SHORT", "0.2", { purpose: "FLATTEN" }));
    await h.bar(flatBar("61000"));
    expect(h.booked("SHORT")).toBeUndefined();
    expect(h.venue.positionAmt(S, "SHORT")).toBe("0");
    expect(h.account.snapshot.context.walletBalance).toBe("100300");
  });

  it("a close larger than its side fills only the side's size and never opens the other way", async () => {
    const h = await hedgeVenue("CROSSED");
    await h.bar(flatBar("60000"));
    await h.submit(hedgeOrder("long", "BUY", "LONG", "0.3"));
    await h.submit(hedgeOrder("short", "SELL", "SHORT", "0.1"));
    await h.bar(flatBar("60000"));
    await h.submit(hedgeOrder("big-close", "SELL", "LONG", "1", { purpose: "FLATTEN" }));
    const rs = await h.bar(flatBar("59000"));
    expect(fills(rs)).toEqual([
      expect.objectContaining({ clientOrderId: "big-close", quantity: "0.3", status: "FILLED" }),
    ]);
    expect(h.venue.positionAmt(S, "LONG")).toBe("0");
    expect(h.venue.positionAmt(S, "SHORT")).toBe("-0.1");
    // With the LONG flat, a close of it is refused at submit (-2022) and a BUY on SHORT closes at most 0.1.
    expect(await h.venue.submit(hedgeOrder("nothing", "SELL", "LONG", "0.1"))).toMatchObject({
      accepted: false,
      code: -2022,
    });
    await h.submit(hedgeOrder("short-close", "BUY", "SHORT", "0.5", { purpose: "FLATTEN" }));
    await h.bar(flatBar("59000"));
    expect(h.venue.positionAmt(S, "SHORT")).toBe("0");
    expect(h.venue.positionAmt(S, "LONG")).toBe("0");
  });

  it("refuses BOTH (-4061) and reduceOnly in hedge mode, as Binance does", async () => {
    const h = await hedgeVenue("CROSSED");
    await h.bar(flatBar("60000"));
    const both = await h.venue.submit(hedgeOrder("both", "BUY", "LONG", "0.1", { positionSide: "BOTH" }));
    expect(both).toMatchObject({ accepted: false, code: -4061 });
    const reduce = await h.venue.submit(hedgeOrder("ro", "SELL", "LONG", "0.1", { reduceOnly: true }));
    expect(reduce).toMatchObject({ accepted: false, code: -1106 });
    expect(h.reports).toEqual([]);
  });

  it("charges funding on each side on its own amount (§4.4: −positionAmt × mark × rate)", async () => {
    const h = await hedgeVenue("ISOLATED");
    await h.bar(flatBar("60000"));
    await h.submit(hedgeOrder("long", "BUY", "LONG", "0.5"));
    await h.submit(hedgeOrder("short", "SELL", "SHORT", "0.2"));
    await h.bar(flatBar("60000"));
    const walletBefore = new Dec(h.account.snapshot.context.walletBalance);
    const longWallet = new Dec(h.booked("LONG")!.isolatedWallet!);
    const shortWallet = new Dec(h.booked("SHORT")!.isolatedWallet!);
    const rs = await h.funding("0.0001", "60000");
    const payments = rs.flatMap((r) => (r.kind === "funding" ? [r.funding] : []));
    expect(payments).toEqual([
      expect.objectContaining({ positionSide: "LONG", positionAmt: "0.5", fundingFee: "-3" }),
      expect.objectContaining({ positionSide: "SHORT", positionAmt: "-0.2", fundingFee: "1.2" }),
    ]);
    expect(h.account.snapshot.context.walletBalance).toBe(walletBefore.minus(3).plus("1.2").toFixed());
    // Each side's isolated wallet pays or receives its own payment.
    expect(h.booked("LONG")!.isolatedWallet).toBe(longWallet.minus(3).toFixed());
    expect(h.booked("SHORT")!.isolatedWallet).toBe(shortWallet.plus("1.2").toFixed());
  });

  it("isolated: the LONG is liquidated at its own §4.7 price (vector A) and the SHORT and its orders stay", async () => {
    const h = await hedgeVenue("ISOLATED");
    await h.bar(flatBar("60000"));
    await h.submit(hedgeOrder("long", "BUY", "LONG", "0.5"));
    await h.submit(hedgeOrder("short", "SELL", "SHORT", "0.1"));
    await h.bar(flatBar("60000"));
    // §4.7 vector A: 0.5 BTC long at 60 000, 10× isolated, WB 3 000 → LP 54 216.8675.
    expect(h.booked("LONG")!.isolatedWallet).toBe("3000");
    const shortStop = hedgeOrder("short-sl", "BUY", "SHORT", "0.1", {
      type: "STOP_MARKET",
      triggerPrice: "65000", // below the SHORT's own liquidation price (§4.7 vector B's: 65 737.05)
      purpose: "STOP_LOSS",
    });
    const longStop = hedgeOrder("long-sl", "SELL", "LONG", "0.5", {
      type: "STOP_MARKET",
      triggerPrice: "50000",
      purpose: "STOP_LOSS",
    });
    expect((await h.submit(shortStop)).accepted).toBe(true);
    expect((await h.submit(longStop)).accepted).toBe(true);
    const rs = await h.bar(["60000", "60000", "54000", "55000"]);
    const liquidations = rs.flatMap((r) => (r.kind === "liquidation" ? [r.liquidation] : []));
    expect(liquidations).toHaveLength(1);
    expect(liquidations[0]).toMatchObject({
      positionSide: "LONG",
      marginType: "ISOLATED",
      positionAmt: "0.5",
      price: "54216.8", // rounded down to BTCUSDT's 0.1 tick, against the long
    });
    expect(new Dec(liquidations[0]!.liquidationPrice).toDecimalPlaces(4).toFixed()).toBe("54216.8675");
    // Only the LONG side's order expired (er 5); the SHORT and its stop are still there.
    const expired = rs.flatMap((r) => (r.kind === "expired" ? [[r.clientOrderId, r.expiryReason]] : []));
    expect(expired).toEqual([["long-sl", 5]]);
    expect(h.venue.positionAmt(S, "LONG")).toBe("0");
    expect(h.venue.positionAmt(S, "SHORT")).toBe("-0.1");
    expect(h.booked("LONG")).toBeUndefined();
    expect(h.booked("SHORT")).toMatchObject({ positionAmt: "-0.1" });
    // The SHORT's stop comes before its liquidation price on the way up, so it closes the SHORT.
    const rising = await h.bar(["55000", "66000", "55000", "66000"]);
    expect(fills(rising)).toEqual([expect.objectContaining({ clientOrderId: "short-sl", quantity: "0.1" })]);
    expect(rising.some((r) => r.kind === "liquidation")).toBe(false);
  });

  it("cross: LONG and SHORT share one liquidation price (§4.7 two-leg form) and are liquidated together", async () => {
    // A thin cross wallet: 0.5 long and 0.1 short at 60 000, 10×, 4 000 USDT (3 600 of initial margin).
    const h = await hedgeVenue("CROSSED", "4000");
    await h.bar(flatBar("60000"));
    await h.submit(hedgeOrder("long", "BUY", "LONG", "0.5"));
    await h.submit(hedgeOrder("short", "SELL", "SHORT", "0.1"));
    await h.bar(flatBar("60000"));
    const account = h.account.snapshot.context;
    const positions = marginedPositions(account);
    const pair = crossHedgeLiquidation(
      account.walletBalance,
      positions,
      S,
      () => "60000",
      () => SPEC_BTC_BRACKETS,
    );
    // The shared price solves margin balance = maintenance margin for both legs (§4.7 derivation): 4000 +
    // 0.5 (P − 60000) − 0.1 (P − 60000) = 0.6 P × 0.004 (bracket 1) → P = (24000 − 4000) / (0.4 − 0.0024).
    const shared = new Dec(20000).div(new Dec("0.3976")).toDecimalPlaces(12).toFixed();
    expect(pair?.liquidation.price).toBe(shared);
    // Each leg on its own would be liquidated elsewhere.
    const alone = liquidationPrice(
      { walletBalance: "4000", otherMaintMargin: "0", otherUnrealizedPnl: "0" },
      [{ positionAmt: "0.5", entryPrice: "60000" }],
      [SPEC_BTC_BRACKETS],
    ).price;
    expect(alone).not.toBe(shared);
    expect(new Dec(alone!).gt(shared)).toBe(true); // the short's profit holds the pair up
    const rs = await h.bar(["60000", "60000", "50000", "51000"]);
    const liquidations = rs.flatMap((r) => (r.kind === "liquidation" ? [r.liquidation] : []));
    expect(liquidations.map((l) => [l.positionSide, l.positionAmt, l.liquidationPrice])).toEqual([
      ["LONG", "0.5", shared],
      ["SHORT", "-0.1", shared],
    ]);
    expect(liquidations[0]!.price).toBe(liquidations[1]!.price);
    expect(h.venue.positionAmt(S, "LONG")).toBe("0");
    expect(h.venue.positionAmt(S, "SHORT")).toBe("0");
    expect(account.positions).not.toEqual(h.account.snapshot.context.positions);
    expect(h.account.snapshot.context.positions).toEqual({});
    const last = liquidations[1] as EventData<"PositionLiquidated">;
    expect(last.walletBalance).toBe(h.account.snapshot.context.walletBalance);
    expect(new Dec(last.walletBalance).gte(0)).toBe(true);
  });

  it("restore refuses a state of the other position mode, naming the position or the order", async () => {
    const hedge = await hedgeVenue("CROSSED");
    await hedge.bar(flatBar("60000"));
    await hedge.submit(hedgeOrder("long", "BUY", "LONG", "0.1"));
    await hedge.bar(flatBar("60000"));
    const oneWay = new SimulatedVenue({ takerRate: "0", slippage: "0", instrument: getInstrument });
    const state = JSON.parse(JSON.stringify(hedge.venue.snapshot()));
    expect(() => oneWay.restore(state)).toThrow(
      'SimulatedVenue.restore: position "BTCUSDT:LONG" cannot be restored into a one-way venue',
    );
    // A one-way state with a working order (BOTH) is refused by a hedge-mode venue.
    await oneWay.matchBar(venueBar(S, 0, flatBar("60000")), async () => {});
    const limit = hedgeOrder("one-way-limit", "BUY", "LONG", "0.1", {
      positionSide: "BOTH",
      type: "LIMIT",
      price: "50000",
      timeInForce: "GTC",
    });
    expect((await oneWay.submit(limit)).accepted).toBe(true);
    expect(() => hedge.venue.restore(JSON.parse(JSON.stringify(oneWay.snapshot())))).toThrow(
      "SimulatedVenue.restore: order one-way-limit (positionSide BOTH) cannot be restored into a hedge-mode (dualSidePosition) venue",
    );
    const hedgeAgain = new SimulatedVenue({
      takerRate: "0",
      slippage: "0",
      instrument: getInstrument,
      dualSidePosition: true,
    });
    hedgeAgain.restore(state);
    expect(hedgeAgain.positionAmt(S, "LONG")).toBe("0.1");
  });
});
