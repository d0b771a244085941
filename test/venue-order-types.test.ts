/**
 * The simulated venue, per order type, on hand-made 1m bars (ETHUSDT: tick 0.01, step 0.001, min notional 20).
 * Every report goes through OrderExecution, so the order machine accepts each transition. Each case cites the
 * rule it checks: binance-usdm.md (§) or strategies.md §0 "Backtest fills", or the venue's own documented
 * assumption (src/adapters/venue/simulated/matching.ts, "A:" + its number there).
 */
import { describe, expect, it } from "vitest";
import { SimulatedVenue } from "../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { markBar, order, T0, venueBar, venueHarness } from "./support/venue-harness.ts";

const flat = (i: number, p: string, volume?: string) => venueBar("ETHUSDT", i, [p, p, p, p], volume);
const bar = (i: number, ohlc: [string, string, string, string], volume?: string) =>
  venueBar("ETHUSDT", i, ohlc, volume);
const openTime = (i: number) => T0 + i * 60_000;
const closeTime = (i: number) => openTime(i) + 59_999;

describe("MARKET", () => {
  it("fills at the next bar's open × (1 + slippage) as a taker (strategies.md §0 Backtest fills, §4.3)", async () => {
    const h = await venueHarness({ slippage: "0.001" });
    await h.bar(flat(0, "100"));
    await h.submit(order("m1", { side: "BUY", type: "MARKET" }));
    await h.bar(bar(1, ["101", "103", "99", "102"]));
    expect(h.fills("m1")).toEqual([
      expect.objectContaining({
        price: "101.101",
        quantity: "1",
        cumulativeQuantity: "1",
        status: "FILLED",
        maker: false,
        commission: "0.0505505",
      }),
    ]);
    expect(h.reports.at(-1)!.time).toBe(openTime(1));
    expect(await h.status("m1")).toBe("FILLED");
  });

  it("is rejected -4131 when the last price is outside PERCENT_PRICE around the mark (§1.2)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "106"), markBar(0, ["100", "100", "100", "100"]));
    // BUY: 106 > 100 × multiplierUp 1.05
    expect(await h.submit(order("m1", { side: "BUY", type: "MARKET" }))).toMatchObject({ accepted: false });
    expect(await h.status("m1")).toBe("REJECTED");
    // SELL: 106 ≥ 100 × multiplierDown 0.95
    expect(await h.submit(order("m2", { side: "SELL", type: "MARKET" }))).toEqual({ accepted: true });
  });
});

describe("LIMIT", () => {
  it("rests and fills as a maker at its price once the market trades through it (§2.3, §4.3 maker rate)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(order("l1", { side: "BUY", type: "LIMIT", price: "99", timeInForce: "GTC" }));
    expect(await h.bar(bar(1, ["100", "101", "99", "100"]))).toEqual([]); // low = 99: touched, not through
    expect(await h.status("l1")).toBe("NEW");
    await h.bar(bar(2, ["100", "100", "98.5", "99"]));
    expect(h.fills("l1")).toEqual([
      expect.objectContaining({ price: "99", status: "FILLED", maker: true, commission: "0.0198" }),
    ]);
    expect(h.reports.at(-1)!.time).toBe(closeTime(2));
  });

  it("with limitFillRule touch, reaching the price is enough (A:4)", async () => {
    const h = await venueHarness({ limitFillRule: "touch" });
    await h.bar(flat(0, "100"));
    await h.submit(order("l1", { side: "BUY", type: "LIMIT", price: "99", timeInForce: "GTC" }));
    await h.bar(bar(1, ["100", "101", "99", "100"]));
    expect(h.fills("l1")).toEqual([expect.objectContaining({ price: "99", maker: true })]);
  });

  it("crossing on arrival is a taker at the open ± slippage, capped at its price (A:3)", async () => {
    const h = await venueHarness({ slippage: "0.01" });
    await h.bar(flat(0, "100"));
    await h.submit(order("l1", { side: "BUY", type: "LIMIT", price: "102", timeInForce: "GTC" }));
    await h.bar(bar(1, ["101", "101", "101", "101"]));
    // 101 × 1.01 = 102.01, capped at the limit 102
    expect(h.fills("l1")).toEqual([
      expect.objectContaining({ price: "102", maker: false, commission: "0.051" }),
    ]);
  });

  it("a bar that gaps through a resting BUY fills it at min(price, high), inside the bar (A:4)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(order("l1", { side: "BUY", type: "LIMIT", price: "99", timeInForce: "GTC" }));
    await h.bar(bar(1, ["100", "100.5", "99.5", "100"]));
    await h.bar(bar(2, ["97", "98", "96", "97"]));
    expect(h.fills("l1")).toEqual([expect.objectContaining({ price: "98", maker: true })]);
  });

  it("IOC that does not cross expires with er 2 (§3.1)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(order("i1", { side: "BUY", type: "LIMIT", price: "99", timeInForce: "IOC" }));
    const rs = await h.bar(bar(1, ["100", "100", "98", "99"]));
    expect(rs).toEqual([expect.objectContaining({ kind: "expired", clientOrderId: "i1", expiryReason: 2 })]);
    expect(await h.status("i1")).toBe("EXPIRED");
  });

  it("IOC fills what the participation cap allows and expires the rest (er 2) (A:8, §3.1)", async () => {
    const h = await venueHarness({ participationRate: "0.5" });
    await h.bar(flat(0, "100"));
    await h.submit(
      order("i1", { side: "BUY", type: "LIMIT", price: "101", timeInForce: "IOC", quantity: "3" }),
    );
    await h.bar(bar(1, ["100", "100", "100", "100"], "2"));
    expect(h.kinds()).toEqual(["fill:i1", "expired:i1"]);
    expect(h.fills("i1")[0]).toMatchObject({
      quantity: "1",
      cumulativeQuantity: "1",
      status: "PARTIALLY_FILLED",
    });
    expect(h.reports[1]).toMatchObject({ expiryReason: 2 });
    expect(await h.status("i1")).toBe("EXPIRED");
  });

  it("FOK that would not take at the last price is rejected -5021 (§5.2)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    const r = await h.submit(order("f0", { side: "BUY", type: "LIMIT", price: "99.9", timeInForce: "FOK" }));
    expect(r).toMatchObject({
      accepted: false,
      reason: expect.stringContaining("FOK order has been rejected"),
    });
    expect(await h.status("f0")).toBe("REJECTED");
  });

  it("FOK fills completely or expires without a fill (§2.2, A:8)", async () => {
    const h = await venueHarness({ participationRate: "0.5" });
    await h.bar(flat(0, "100"));
    await h.submit(
      order("f1", { side: "BUY", type: "LIMIT", price: "101", timeInForce: "FOK", quantity: "3" }),
    );
    await h.submit(
      order("f2", { side: "BUY", type: "LIMIT", price: "101", timeInForce: "FOK", quantity: "1" }),
    );
    await h.bar(bar(1, ["100", "100", "100", "100"], "2"));
    expect(h.kinds()).toEqual(["expired:f1", "fill:f2"]);
    expect(await h.status("f1")).toBe("EXPIRED");
    expect(await h.status("f2")).toBe("FILLED");
  });

  it("GTX: -5022 at submit when it would take; expires when it would take on arrival; else a maker (§2.2)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    expect(
      await h.submit(order("g1", { side: "BUY", type: "LIMIT", price: "100.5", timeInForce: "GTX" })),
    ).toMatchObject({ accepted: false, reason: expect.stringContaining("Post Only") });
    expect(await h.status("g1")).toBe("REJECTED");
    await h.submit(order("g2", { side: "BUY", type: "LIMIT", price: "99", timeInForce: "GTX" }));
    await h.bar(bar(1, ["98.5", "99", "98", "98.5"])); // opens below 99: the post-only BUY would take
    expect(await h.status("g2")).toBe("EXPIRED");
    await h.submit(order("g3", { side: "BUY", type: "LIMIT", price: "98", timeInForce: "GTX" }));
    await h.bar(bar(2, ["98.5", "99", "98.2", "98.5"]));
    await h.bar(bar(3, ["98.5", "98.6", "97.5", "98"]));
    expect(h.fills("g3")).toEqual([expect.objectContaining({ price: "98", maker: true })]);
  });

  it("GTD expires at the open of the bar its goodTillDate falls in (§2.2, A:2)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    // goodTillDate must lie more than 600 s ahead (§2.2)
    await h.submit(
      order("d1", {
        side: "BUY",
        type: "LIMIT",
        price: "90",
        timeInForce: "GTD",
        goodTillDate: openTime(12) + 30_000,
      }),
    );
    for (let i = 1; i < 12; i++) expect(await h.bar(bar(i, ["100", "100", "99", "100"]))).toEqual([]);
    const rs = await h.bar(bar(12, ["100", "100", "85", "100"]));
    expect(rs).toEqual([
      expect.objectContaining({ kind: "expired", clientOrderId: "d1", time: openTime(12) }),
    ]);
    expect(await h.status("d1")).toBe("EXPIRED");
  });
});

describe("STOP_MARKET and TAKE_PROFIT_MARKET", () => {
  it("-2021 when the trigger is already satisfied at placement (§2.3)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    const r = await h.submit(order("s1", { side: "SELL", type: "STOP_MARKET", triggerPrice: "101" }));
    expect(r).toMatchObject({ accepted: false, reason: "Order would immediately trigger." });
  });

  it("triggers on the low: triggering → triggered (MARKET) → a taker fill at the trigger (§2.3, §2.4)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(order("s1", { side: "SELL", type: "STOP_MARKET", triggerPrice: "95" }));
    const rs = await h.bar(bar(1, ["100", "100.5", "94", "96"]));
    expect(rs).toEqual([
      {
        kind: "triggering",
        time: closeTime(1),
        symbol: "ETHUSDT",
        clientOrderId: "s1",
        workingType: "CONTRACT_PRICE",
        triggeredAt: "95",
      },
      {
        kind: "triggered",
        time: closeTime(1),
        symbol: "ETHUSDT",
        clientOrderId: "s1",
        orderId: "2",
        actualType: "MARKET",
      },
      expect.objectContaining({ kind: "fill" }),
    ]);
    expect(h.fills("s1")).toEqual([
      expect.objectContaining({ price: "95", maker: false, commission: "0.0475" }),
    ]);
    expect(await h.status("s1")).toBe("FILLED");
  });

  it("a bar opening beyond the trigger fills at the open (strategies.md §0: gap)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(order("s1", { side: "SELL", type: "STOP_MARKET", triggerPrice: "95" }));
    await h.bar(bar(1, ["93", "94", "92", "93"]));
    expect(h.reports[0]).toMatchObject({ kind: "triggering", triggeredAt: "93" });
    expect(h.fills("s1")).toEqual([expect.objectContaining({ price: "93" })]);
  });

  it("stop first when a bar touches both legs; the later reduce-only leg expires er 4, never flipping (§0, §4.2)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(order("e", { side: "BUY", type: "MARKET" }));
    await h.bar(bar(1, ["100", "100", "100", "100"]));
    await h.submit(order("sl", { side: "SELL", type: "STOP_MARKET", triggerPrice: "95", reduceOnly: true }));
    await h.submit(
      order("tp", { side: "SELL", type: "TAKE_PROFIT_MARKET", triggerPrice: "105", reduceOnly: true }),
    );
    const rs = await h.bar(bar(2, ["100", "106", "94", "96"])); // a down bar
    expect(h.kinds(rs)).toEqual([
      "triggering:sl",
      "triggered:sl",
      "fill:sl",
      "triggering:tp",
      "triggered:tp",
      "expired:tp",
    ]);
    expect(rs.at(-1)).toMatchObject({ expiryReason: 4 });
    expect(h.venue.positionAmt("ETHUSDT")).toBe("0");
    expect(await h.status("tp")).toBe("EXPIRED");
  });

  it("with intrabarPath barDirection a down bar visits the high first, so the take-profit fills (intrabar-path.ts)", async () => {
    const h = await venueHarness({ intrabarPath: "barDirection" });
    await h.bar(flat(0, "100"));
    await h.submit(order("e", { side: "BUY", type: "MARKET" }));
    await h.bar(bar(1, ["100", "100", "100", "100"]));
    await h.submit(order("sl", { side: "SELL", type: "STOP_MARKET", triggerPrice: "95", reduceOnly: true }));
    await h.submit(
      order("tp", { side: "SELL", type: "TAKE_PROFIT_MARKET", triggerPrice: "105", reduceOnly: true }),
    );
    await h.bar(bar(2, ["100", "106", "94", "96"]));
    expect(h.fills().map((f) => [f.clientOrderId, f.price])).toEqual([
      ["e", "100"],
      ["tp", "105"],
    ]);
    expect(await h.status("sl")).toBe("EXPIRED");
    // an up bar visits the low first: the stop
    const u = await venueHarness({ intrabarPath: "barDirection" });
    await u.bar(flat(0, "100"));
    await u.submit(order("e", { side: "BUY", type: "MARKET" }));
    await u.bar(bar(1, ["100", "100", "100", "100"]));
    await u.submit(order("sl", { side: "SELL", type: "STOP_MARKET", triggerPrice: "95", reduceOnly: true }));
    await u.submit(
      order("tp", { side: "SELL", type: "TAKE_PROFIT_MARKET", triggerPrice: "105", reduceOnly: true }),
    );
    await u.bar(bar(2, ["100", "106", "94", "104"]));
    expect(u.fills("sl")).toEqual([expect.objectContaining({ price: "95" })]);
  });

  it("closePosition closes the whole position at trigger; with none it expires er 4 (§2.3, §3.1)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(
      order("c0", {
        side: "SELL",
        type: "STOP_MARKET",
        triggerPrice: "95",
        closePosition: true,
        quantity: undefined,
      }),
    );
    await h.submit(order("e", { side: "BUY", type: "MARKET", quantity: "2" }));
    await h.bar(bar(1, ["100", "100", "100", "100"]));
    await h.bar(bar(2, ["100", "100", "94", "96"]));
    expect(h.fills("c0")).toEqual([
      expect.objectContaining({ quantity: "2", cumulativeQuantity: "2", status: "FILLED" }),
    ]);
    await h.submit(
      order("c1", {
        side: "SELL",
        type: "STOP_MARKET",
        triggerPrice: "90",
        closePosition: true,
        quantity: undefined,
      }),
    );
    const rs = await h.bar(bar(3, ["96", "96", "89", "90"]));
    expect(rs.at(-1)).toMatchObject({ kind: "expired", clientOrderId: "c1", expiryReason: 4 });
  });

  it("triggers on the mark-price bar when given; the fill is clamped to the trade bar (§2.3 workingType, A:4)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"), markBar(0, ["100", "100", "100", "100"]));
    await h.submit(
      order("mk", { side: "SELL", type: "STOP_MARKET", triggerPrice: "95", workingType: "MARK_PRICE" }),
    );
    await h.submit(
      order("ct", { side: "SELL", type: "STOP_MARKET", triggerPrice: "95", workingType: "CONTRACT_PRICE" }),
    );
    const rs = await h.bar(bar(1, ["100", "100", "96", "97"]), markBar(1, ["100", "100", "94.5", "96"]));
    expect(rs[0]).toMatchObject({
      kind: "triggering",
      clientOrderId: "mk",
      workingType: "MARK_PRICE",
      triggeredAt: "95",
    });
    expect(h.fills()).toEqual([expect.objectContaining({ clientOrderId: "mk", price: "96" })]);
    expect(await h.status("ct")).toBe("NEW");
  });

  it("priceProtect rejects at trigger when |mark − last| / mark > triggerProtect (§2.3, A:6)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"), markBar(0, ["100", "100", "100", "100"]));
    await h.submit(
      order("pp", {
        side: "SELL",
        type: "STOP_MARKET",
        triggerPrice: "95",
        workingType: "MARK_PRICE",
        priceProtect: true,
      }),
    );
    // mark falls to 95 while trades stay ≥ 99.9: |95 − 99.9| / 95 = 0.0516 > 0.05
    const rs = await h.bar(bar(1, ["100", "100", "99.9", "100"]), markBar(1, ["100", "100", "94", "96"]));
    expect(h.kinds(rs)).toEqual(["triggering:pp", "rejected:pp"]);
    expect(rs[1]).toMatchObject({ code: -2010 });
    expect(await h.status("pp")).toBe("REJECTED");
  });

  it("with triggerLatencyMs the triggered order fills at the next bar's open (A:1)", async () => {
    const h = await venueHarness({ triggerLatencyMs: 1000 });
    await h.bar(flat(0, "100"));
    await h.submit(order("s1", { side: "SELL", type: "STOP_MARKET", triggerPrice: "95" }));
    expect(h.kinds(await h.bar(bar(1, ["100", "100", "94", "96"])))).toEqual([
      "triggering:s1",
      "triggered:s1",
    ]);
    expect(await h.status("s1")).toBe("TRIGGERED");
    await h.bar(bar(2, ["96.5", "97", "96", "96.2"]));
    expect(h.fills("s1")).toEqual([expect.objectContaining({ price: "96.5" })]);
    expect(h.reports.at(-1)!.time).toBe(openTime(2));
  });
});

describe("the intrabar path (intrabar-path.ts)", () => {
  async function limitAndStop(intrabarPath: "stopFirst" | "barDirection") {
    const h = await venueHarness({ intrabarPath });
    await h.bar(flat(0, "100"));
    await h.submit(order("buy", { side: "BUY", type: "LIMIT", price: "98", timeInForce: "GTC" }));
    await h.submit(order("stop", { side: "SELL", type: "STOP_MARKET", triggerPrice: "97" }));
    await h.bar(bar(1, ["100", "101", "96", "100.5"])); // an up bar: open → low → high → close
    return h.fills().map((f) => [f.clientOrderId, f.price, f.maker]);
  }

  it("barDirection executes in the order the path reaches the prices: the LIMIT at 98, then the stop at 97", async () => {
    expect(await limitAndStop("barDirection")).toEqual([
      ["buy", "98", true],
      ["stop", "97", false],
    ]);
  });

  it("stopFirst executes the stop before the LIMIT, whatever the path", async () => {
    expect(await limitAndStop("stopFirst")).toEqual([
      ["stop", "97", false],
      ["buy", "98", true],
    ]);
  });

  it("a trailing stop watching MARK_PRICE tracks the mark bar (§2.3 workingType)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"), markBar(0, ["100", "100", "100", "100"]));
    await h.submit(
      order("tr", {
        side: "SELL",
        type: "TRAILING_STOP_MARKET",
        callbackRate: "1",
        workingType: "MARK_PRICE",
      }),
    );
    // trades stay in [99.5, 100.5]; the mark (a down bar) rises to 102 then falls to 100: 102 × 0.99 = 100.98
    await h.bar(bar(1, ["100", "100.5", "99.5", "100"]), markBar(1, ["101", "102", "100", "100.5"]));
    expect(h.reports[0]).toMatchObject({
      kind: "triggering",
      workingType: "MARK_PRICE",
      triggeredAt: "100.98",
    });
    expect(h.fills("tr")).toEqual([expect.objectContaining({ price: "100.5" })]); // clamped to the trade high
  });
});

describe("STOP and TAKE_PROFIT (limit after trigger)", () => {
  it("a triggered STOP whose limit crosses is a taker at the trigger (§2.3: STOP places a LIMIT)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(
      order("s1", { side: "SELL", type: "STOP", triggerPrice: "95", price: "94.5", timeInForce: "GTC" }),
    );
    const rs = await h.bar(bar(1, ["100", "100", "94", "95"]));
    expect(rs[1]).toMatchObject({ kind: "triggered", actualType: "LIMIT" });
    expect(h.fills("s1")).toEqual([expect.objectContaining({ price: "95", maker: false })]);
  });

  it("a triggered STOP whose limit does not cross rests and fills as a maker later (§2.3, A:4)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(
      order("s1", { side: "SELL", type: "STOP", triggerPrice: "95", price: "94.5", timeInForce: "GTC" }),
    );
    await h.bar(bar(1, ["93", "94", "92", "93"])); // gap below 94.5: rests
    expect(await h.status("s1")).toBe("TRIGGERED");
    await h.bar(bar(2, ["93", "95", "92", "94"]));
    expect(h.fills("s1")).toEqual([
      expect.objectContaining({ price: "94.5", maker: true, commission: "0.0189" }),
    ]);
    expect(await h.status("s1")).toBe("FILLED");
  });

  it("a triggered GTX that would take expires (§2.2)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(
      order("s1", { side: "SELL", type: "STOP", triggerPrice: "95", price: "94.5", timeInForce: "GTX" }),
    );
    const rs = await h.bar(bar(1, ["100", "100", "94", "95"]));
    expect(h.kinds(rs)).toEqual(["triggering:s1", "triggered:s1", "expired:s1"]);
  });

  it("a BUY TAKE_PROFIT triggers on a fall and takes at the trigger, capped at its limit (§2.3)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(
      order("t1", {
        side: "BUY",
        type: "TAKE_PROFIT",
        triggerPrice: "95",
        price: "95.5",
        timeInForce: "GTC",
      }),
    );
    await h.bar(bar(1, ["100", "100", "94", "96"]));
    expect(h.fills("t1")).toEqual([expect.objectContaining({ price: "95", maker: false })]);
  });
});

describe("TRAILING_STOP_MARKET", () => {
  it("activates on the high and triggers callbackRate below it on the way down (§2.3)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(
      order("tr", { side: "SELL", type: "TRAILING_STOP_MARKET", activatePrice: "105", callbackRate: "1" }),
    );
    // a down bar: open → high → low → close; highest 106 ≥ 105, then 106 × 0.99 = 104.94
    await h.bar(bar(1, ["104", "106", "100", "101"]));
    expect(h.reports[0]).toMatchObject({ kind: "triggering", triggeredAt: "104.94" });
    expect(h.fills("tr")).toEqual([expect.objectContaining({ price: "104.94" })]);
  });

  it("keeps its extreme across bars and fills at the open when the next bar gaps below the level (§2.3)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(
      order("tr", { side: "SELL", type: "TRAILING_STOP_MARKET", activatePrice: "105", callbackRate: "1" }),
    );
    // an up bar: open → low → high → close; the high 106 comes after the low, the close 105.5 > 104.94
    expect(await h.bar(bar(1, ["101", "106", "100", "105.5"]))).toEqual([]);
    await h.bar(bar(2, ["104", "104.5", "103", "104"]));
    expect(h.reports[0]).toMatchObject({ kind: "triggering", triggeredAt: "104" });
    expect(h.fills("tr")).toEqual([expect.objectContaining({ price: "104" })]);
  });

  it("defaults activatePrice to the last price; a BUY triggers callbackRate above the lowest (§2.3)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(order("tr", { side: "BUY", type: "TRAILING_STOP_MARKET", callbackRate: "2" }));
    await h.bar(bar(1, ["100", "101", "99", "100.5"])); // up bar: low 99 first, then 99 × 1.02 = 100.98
    expect(h.fills("tr")).toEqual([expect.objectContaining({ price: "100.98", side: "BUY" })]);
  });

  it("-2021 when activatePrice is on the wrong side of the last price (§2.3)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    const r = await h.submit(
      order("tr", { side: "SELL", type: "TRAILING_STOP_MARKET", activatePrice: "99", callbackRate: "1" }),
    );
    expect(r).toMatchObject({ accepted: false, reason: "Order would immediately trigger." });
  });
});

describe("reduce-only, participation, latency", () => {
  it("a reduce-only MARKET with nothing to reduce is rejected -2022; one larger than the position is capped (§4.2, §5.2)", async () => {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    expect(await h.submit(order("r0", { side: "SELL", type: "MARKET", reduceOnly: true }))).toMatchObject({
      accepted: false,
      reason: "ReduceOnly Order is rejected.",
    });
    await h.submit(order("e", { side: "BUY", type: "MARKET", quantity: "2" }));
    await h.bar(bar(1, ["100", "100", "100", "100"]));
    await h.submit(order("r1", { side: "SELL", type: "MARKET", reduceOnly: true, quantity: "3" }));
    await h.bar(bar(2, ["101", "101", "101", "101"]));
    expect(h.fills("r1")).toEqual([expect.objectContaining({ quantity: "2", status: "FILLED" })]);
    expect(h.venue.positionAmt("ETHUSDT")).toBe("0");
  });

  it("a participation cap splits a MARKET order over bars: PARTIALLY_FILLED, then FILLED (A:8)", async () => {
    const h = await venueHarness({ participationRate: "0.5" });
    await h.bar(flat(0, "100"));
    await h.submit(order("m", { side: "BUY", type: "MARKET", quantity: "5" }));
    await h.bar(bar(1, ["100", "100", "100", "100"], "4"));
    expect(await h.status("m")).toBe("PARTIALLY_FILLED");
    await h.bar(bar(2, ["101", "101", "101", "101"], "4"));
    await h.bar(bar(3, ["102", "102", "102", "102"], "4"));
    expect(h.fills("m").map((f) => [f.price, f.quantity, f.cumulativeQuantity, f.status])).toEqual([
      ["100", "2", "2", "PARTIALLY_FILLED"],
      ["101", "2", "4", "PARTIALLY_FILLED"],
      ["102", "1", "5", "FILLED"],
    ]);
  });

  it("a participation cap splits a resting LIMIT over the bars that trade through it (A:8)", async () => {
    const h = await venueHarness({ participationRate: "0.5" });
    await h.bar(flat(0, "100"));
    await h.submit(
      order("l", { side: "BUY", type: "LIMIT", price: "99", timeInForce: "GTC", quantity: "3" }),
    );
    for (let i = 1; i <= 3; i++) await h.bar(bar(i, ["100", "100", "98", "99"], "2"));
    expect(h.fills("l").map((f) => [f.quantity, f.cumulativeQuantity, f.maker])).toEqual([
      ["1", "1", true],
      ["1", "2", true],
      ["1", "3", true],
    ]);
    expect(await h.status("l")).toBe("FILLED");
  });

  it("submitLatencyMs: an order submitted at a close that arrives after the next open waits a bar (A:1)", async () => {
    const h = await venueHarness({ submitLatencyMs: 5000 });
    await h.bar(flat(0, "100"));
    await h.submit(order("m", { side: "BUY", type: "MARKET" }));
    expect(await h.bar(bar(1, ["101", "101", "101", "101"]))).toEqual([]);
    await h.bar(bar(2, ["102", "102", "102", "102"]));
    expect(h.fills("m")).toEqual([expect.objectContaining({ price: "102" })]);
  });
});

describe("self-trade prevention (§2.2, §3.1 er 1 / 3 → EXPIRED_IN_MATCH)", () => {
  async function withRestingSell(
    mode: "EXPIRE_TAKER" | "EXPIRE_MAKER" | "EXPIRE_BOTH" | "NONE",
    ioc = false,
  ) {
    const h = await venueHarness();
    await h.bar(flat(0, "100"));
    await h.submit(order("mk", { side: "SELL", type: "LIMIT", price: "101", timeInForce: "GTC" }));
    await h.bar(bar(1, ["100", "100.5", "99.5", "100"]));
    const taker = ioc
      ? order("tk", {
          side: "BUY",
          type: "LIMIT",
          price: "102",
          timeInForce: "IOC",
          selfTradePreventionMode: mode,
        })
      : order("tk", { side: "BUY", type: "MARKET", selfTradePreventionMode: mode });
    await h.submit(taker);
    const rs = await h.bar(bar(2, ["101.5", "102", "101.2", "101.8"]));
    return { h, rs };
  }

  it("EXPIRE_TAKER expires our taker (er 1); the resting order trades on", async () => {
    const { h, rs } = await withRestingSell("EXPIRE_TAKER");
    expect(rs[0]).toMatchObject({ kind: "expired", clientOrderId: "tk", expiryReason: 1 });
    expect(await h.status("tk")).toBe("EXPIRED_IN_MATCH");
    expect(h.fills("mk")).toEqual([expect.objectContaining({ price: "101.2", maker: true })]);
  });

  it("EXPIRE_MAKER expires our resting order; the taker fills", async () => {
    const { h } = await withRestingSell("EXPIRE_MAKER");
    expect(await h.status("mk")).toBe("EXPIRED_IN_MATCH");
    expect(h.fills("tk")).toEqual([expect.objectContaining({ price: "101.5" })]);
  });

  it("EXPIRE_BOTH expires both; an IOC taker gets er 3", async () => {
    const { h } = await withRestingSell("EXPIRE_BOTH");
    expect([await h.status("mk"), await h.status("tk")]).toEqual(["EXPIRED_IN_MATCH", "EXPIRED_IN_MATCH"]);
    const ioc = await withRestingSell("EXPIRE_TAKER", true);
    expect(ioc.rs[0]).toMatchObject({ clientOrderId: "tk", expiryReason: 3 });
  });

  it("NONE: no prevention, both fill", async () => {
    const { h } = await withRestingSell("NONE");
    expect(
      h
        .fills()
        .map((f) => f.clientOrderId)
        .sort(),
    ).toEqual(["mk", "tk"]);
  });
});

describe("venue-side submit checks", () => {
  const venue = (opts: { maxNumOrders?: number; maxOpenConditionalOrders?: number } = {}) =>
    new SimulatedVenue({
      takerRate: "0.0005",
      slippage: "0",
      instrument: (s) => ({
        ...getInstrument(s),
        maxNumOrders: opts.maxNumOrders ?? getInstrument(s).maxNumOrders,
      }),
      maxOpenConditionalOrders: opts.maxOpenConditionalOrders,
    });
  const none = async () => {};

  it("-4116 for a clientOrderId already working (§2.2)", async () => {
    const v = venue();
    await v.matchBar(flat(0, "100"), none);
    const o = order("x", { side: "BUY", type: "LIMIT", price: "90", timeInForce: "GTC" });
    expect(await v.submit(o)).toMatchObject({ accepted: true });
    expect(await v.submit(o)).toMatchObject({ accepted: false, code: -4116 });
  });

  it("-2025 at the symbol's MAX_NUM_ORDERS, algo orders counted (§1.2)", async () => {
    const v = venue({ maxNumOrders: 2 });
    await v.matchBar(flat(0, "100"), none);
    expect(
      await v.submit(order("a", { side: "BUY", type: "LIMIT", price: "90", timeInForce: "GTC" })),
    ).toMatchObject({ accepted: true });
    expect(
      await v.submit(order("b", { side: "SELL", type: "STOP_MARKET", triggerPrice: "90" })),
    ).toMatchObject({ accepted: true });
    expect(
      await v.submit(order("c", { side: "BUY", type: "LIMIT", price: "91", timeInForce: "GTC" })),
    ).toMatchObject({ accepted: false, code: -2025 });
  });

  it("-4045 past the open conditional orders across all symbols (§1.2: 200 by default)", async () => {
    const v = venue({ maxOpenConditionalOrders: 1 });
    await v.matchBar(flat(0, "100"), none);
    await v.matchBar(venueBar("BTCUSDT", 0, ["60000", "60000", "60000", "60000"]), none);
    expect(
      await v.submit(order("a", { side: "SELL", type: "STOP_MARKET", triggerPrice: "90" })),
    ).toMatchObject({ accepted: true });
    const btc = order("b", {
      symbol: "BTCUSDT",
      side: "SELL",
      type: "STOP_MARKET",
      triggerPrice: "50000",
      quantity: "0.01",
    });
    expect(await v.submit(btc)).toMatchObject({ accepted: false, code: -4045 });
  });

  it("validateOrder answers first: -1102 for a missing parameter, -2007 for callbackRate outside 0.1–10", async () => {
    const v = venue();
    await v.matchBar(flat(0, "100"), none);
    expect(await v.submit(order("a", { side: "BUY", type: "LIMIT", timeInForce: "GTC" }))).toMatchObject({
      code: -1102,
    });
    expect(
      await v.submit(order("b", { side: "SELL", type: "TRAILING_STOP_MARKET", callbackRate: "12" })),
    ).toMatchObject({ code: -2007 });
  });

  it("rejects bad options naming them", () => {
    expect(() => venue({ maxOpenConditionalOrders: -1 })).toThrow(/maxOpenConditionalOrders/);
    expect(
      () =>
        new SimulatedVenue({
          takerRate: "0",
          slippage: "0",
          instrument: getInstrument,
          participationRate: "2",
        }),
    ).toThrow(/participationRate/);
  });
});
