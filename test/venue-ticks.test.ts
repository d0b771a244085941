/**
 * The simulated venue on hand-made tick sequences (trades, bookTicker updates, mark prices), per order type.
 * ETHUSDT: tick 0.01, step 0.001, min notional 20. Every report goes through OrderExecution, so the order
 * machine accepts each transition. Each case cites the rule of src/adapters/venue/simulated/tick-matching.ts
 * ("T:" + its number) or binance-usdm.md (§).
 */
import { describe, expect, it } from "vitest";
import type { TickFeed } from "../src/adapters/market/tick-feed.ts";
import type { BookTick, MarkTick, TradeTick } from "../src/adapters/market/ticks.ts";
import {
  initialMatchingState,
  type MatchingOptions,
  submitOrder,
} from "../src/adapters/venue/simulated/matching.ts";
import { endTick, matchTick, startTick, tickStep } from "../src/adapters/venue/simulated/tick-matching.ts";
import { SimulatedVenue, type VenueBar } from "../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { matchTickMinute } from "../src/engine/tick-minutes.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";
import { order, T0, venueHarness } from "./support/venue-harness.ts";

const SYMBOL = "ETHUSDT";

const OPTIONS: MatchingOptions = {
  instrument: getInstrument,
  takerRate: "0.0005",
  makerRate: "0.0002",
  slippage: "0",
  intrabarPath: "stopFirst",
  limitFillRule: "through",
  participationRate: undefined,
  submitLatencyMs: 0,
  triggerLatencyMs: 0,
  maxOpenConditionalOrders: 200,
  dualSidePosition: false,
};
let ids = 1;

/** A trade `ms` after T0; `buyerMaker` true = a seller took liquidity. */
function trade(ms: number, price: string, qty = "10", buyerMaker = true): TradeTick {
  return { kind: "trade", symbol: SYMBOL, time: T0 + ms, id: ids++, price, qty, buyerMaker };
}

function book(ms: number, bid: string, bidQty: string, ask: string, askQty: string): BookTick {
  return {
    kind: "book",
    symbol: SYMBOL,
    time: T0 + ms,
    updateId: ids++,
    bidPrice: bid,
    bidQty,
    askPrice: ask,
    askQty,
  };
}

function mark(ms: number, price: string): MarkTick {
  return { kind: "mark", symbol: SYMBOL, time: T0 + ms, markPrice: price };
}

type Harness = Awaited<ReturnType<typeof venueHarness>>;

async function ticks(h: Harness, ...ts: (TradeTick | BookTick | MarkTick)[]) {
  const out = [];
  for (const t of ts) out.push(...(await h.tick(t)));
  return out;
}

describe("resting LIMIT: maker fills on trades (T:4)", () => {
  it("fills as a maker at its price on the first trade through it, not on a touch (through)", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100"), book(1, "99.99", "5", "100.01", "5"));
    await h.submit(order("l1", { side: "BUY", type: "LIMIT", price: "99.5", timeInForce: "GTC" }));
    expect(
      await ticks(h, trade(10, "99.6"), trade(20, "99.5", "10", true), book(21, "99.4", "1", "99.5", "1")),
    ).toEqual([]);
    expect(await h.status("l1")).toBe("NEW");
    await ticks(h, trade(30, "99.49"));
    expect(h.fills("l1")).toEqual([
      expect.objectContaining({
        price: "99.5",
        quantity: "1",
        status: "FILLED",
        maker: true,
        commission: "0.0199",
      }),
    ]);
    expect(h.reports.at(-1)!.time).toBe(T0 + 30);
  });

  it("with touch, a trade at its price fills it only when the aggressor hit its side", async () => {
    const h = await venueHarness({ limitFillRule: "touch" });
    await ticks(h, trade(0, "100"));
    await h.submit(order("b", { side: "BUY", type: "LIMIT", price: "99.5", timeInForce: "GTC" }));
    await h.submit(order("s", { side: "SELL", type: "LIMIT", price: "100.5", timeInForce: "GTC" }));
    // a buyer lifting asks at 99.5 does not trade bids at 99.5; a seller hitting bids at 100.5 neither asks
    await ticks(h, trade(10, "99.5", "10", false), trade(11, "100.5", "10", true));
    expect(h.fills()).toEqual([]);
    await ticks(h, trade(20, "99.5", "10", true), trade(21, "100.5", "10", false));
    expect(h.fills().map((f) => [f.clientOrderId, f.price, f.maker])).toEqual([
      ["b", "99.5", true],
      ["s", "100.5", true],
    ]);
  });

  it("partial fills capped by participationRate × each trade's qty, the rest working (T:4)", async () => {
    const h = await venueHarness({ participationRate: "0.5" });
    await ticks(h, trade(0, "100"));
    await h.submit(
      order("l1", { side: "BUY", type: "LIMIT", price: "99", quantity: "1", timeInForce: "GTC" }),
    );
    await h.submit(
      order("l2", { side: "BUY", type: "LIMIT", price: "98.9", quantity: "1", timeInForce: "GTC" }),
    );
    await ticks(h, trade(10, "98.5", "0.6")); // budget 0.3: l1 takes it all (submission order)
    expect(await h.status("l1")).toBe("PARTIALLY_FILLED");
    expect(await h.status("l2")).toBe("NEW");
    await ticks(h, trade(20, "98.5", "0.001")); // 0.0005 floored to the step 0.001: 0
    await ticks(h, trade(30, "98.8", "1.0")); // 0.5, all to l1 (first submitted); l2 gets nothing
    await ticks(h, trade(40, "98.8", "2")); // 1: l1 its last 0.2, l2 0.8
    expect(h.fills().map((f) => [f.clientOrderId, f.quantity, f.cumulativeQuantity, f.status])).toEqual([
      ["l1", "0.3", "0.3", "PARTIALLY_FILLED"],
      ["l1", "0.5", "0.8", "PARTIALLY_FILLED"],
      ["l1", "0.2", "1", "FILLED"],
      ["l2", "0.8", "0.8", "PARTIALLY_FILLED"],
    ]);
    expect(h.fills().every((f) => f.maker)).toBe(true);
    expect(await h.status("l2")).toBe("PARTIALLY_FILLED");
  });

  it("an order entering the book after a trade is not filled by that trade (T:1, T:4)", () => {
    let s = matchTick(initialMatchingState(), trade(0, "100"), OPTIONS).state;
    s = matchTick(s, book(1, "99.9", "5", "100.1", "5"), OPTIONS).state;
    const before = order("a", { side: "BUY", type: "LIMIT", price: "99.5", timeInForce: "GTC" });
    s = submitOrder(s, before, OPTIONS).state;
    const t = trade(10, "99");
    s = startTick(s, t);
    s = tickStep(s, t, OPTIONS)!.state; // "before": a arrives and rests
    s = tickStep(s, t, OPTIONS)!.state; // the trade is applied
    // a reaction submitted now, after the trade: does not cross the ask, rests; the 99 print came before it
    const after = order("b", { side: "BUY", type: "LIMIT", price: "99.5", timeInForce: "GTC" });
    s = submitOrder(s, after, OPTIONS).state;
    const reports = [];
    for (let r = tickStep(s, t, OPTIONS); r; r = tickStep(s, t, OPTIONS)) {
      s = r.state;
      reports.push(...r.reports);
    }
    s = endTick(s, t);
    expect(reports.map((r) => (r.kind === "fill" ? r.fill.clientOrderId : r.kind))).toEqual(["a"]);
    expect(s.orders.map((o) => [o.request.clientOrderId, o.stage])).toEqual([["b", "book"]]);
    const next = matchTick(s, trade(20, "99.4"), OPTIONS);
    expect(next.reports).toEqual([
      expect.objectContaining({
        kind: "fill",
        fill: expect.objectContaining({ clientOrderId: "b", maker: true }),
      }),
    ]);
  });
});

describe("takers against the book (T:3)", () => {
  it("MARKET fills at the best ask of the latest bookTicker, without slippage, up to the displayed qty; the rest at the next quote", async () => {
    const h = await venueHarness({ slippage: "0.01" });
    await ticks(h, trade(0, "100"), book(1, "99.99", "3", "100.02", "0.4"));
    await h.submit(order("m", { side: "BUY", type: "MARKET", quantity: "1" }));
    await ticks(h, book(5, "99.98", "3", "100.05", "0.5"), book(6, "99.98", "3", "100.03", "2"));
    expect(h.fills("m").map((f) => [f.price, f.quantity, f.status, f.maker])).toEqual([
      ["100.02", "0.4", "PARTIALLY_FILLED", false],
      ["100.05", "0.5", "PARTIALLY_FILLED", false],
      ["100.03", "0.1", "FILLED", false],
    ]);
    expect(h.reports.map((r) => r.time)).toEqual([T0 + 5, T0 + 5, T0 + 6]);
  });

  it("a SELL MARKET takes the best bid; without any bookTicker it takes the last trade × (1 − slippage)", async () => {
    const h = await venueHarness({ slippage: "0.001" });
    await ticks(h, trade(0, "100"));
    await h.submit(order("m1", { side: "SELL", type: "MARKET" }));
    await ticks(h, trade(5, "101"));
    expect(h.fills("m1")).toEqual([expect.objectContaining({ price: "99.9", maker: false })]);
    await ticks(h, book(6, "100.5", "9", "100.6", "9"));
    await h.submit(order("m2", { side: "SELL", type: "MARKET" }));
    await ticks(h, trade(7, "100.6", "1", false));
    expect(h.fills("m2")).toEqual([expect.objectContaining({ price: "100.5" })]);
  });

  it("IOC takes the displayed best quantity and expires the rest (er 2); FOK expires when the quote cannot fill it all", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100"), book(1, "99.99", "5", "100.2", "0.5"));
    await h.submit(
      order("i", { side: "BUY", type: "LIMIT", price: "100.5", quantity: "2", timeInForce: "IOC" }),
    );
    await h.submit(
      order("f", { side: "BUY", type: "LIMIT", price: "100.5", quantity: "2", timeInForce: "FOK" }),
    );
    await ticks(h, trade(2, "100.2", "0.1", false));
    expect(h.kinds()).toEqual(["fill:i", "expired:i", "expired:f"]);
    expect(h.fills("i")).toEqual([
      expect.objectContaining({ price: "100.2", quantity: "0.5", maker: false }),
    ]);
    expect(h.reports[1]).toMatchObject({ expiryReason: 2 });
    expect(await h.status("f")).toBe("EXPIRED");
    // FOK that does not cross the book is rejected at submit (-5021), checked against the ask, not the last price
    await ticks(h, trade(3, "100.3", "1", false));
    const r = await h.submit(
      order("f2", { side: "BUY", type: "LIMIT", price: "100.25", timeInForce: "FOK" }),
    );
    expect(r).toMatchObject({ accepted: true });
    const r2 = await h.submit(
      order("f3", { side: "BUY", type: "LIMIT", price: "100.1", timeInForce: "FOK" }),
    );
    expect(r2).toMatchObject({ accepted: false, reason: expect.stringContaining("FOK") });
  });

  it("a crossing GTC LIMIT takes each quote while it crosses, then rests at its price as a maker", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100"), book(1, "99.99", "5", "100.01", "0.3"));
    await h.submit(
      order("l", { side: "BUY", type: "LIMIT", price: "100.05", quantity: "1", timeInForce: "GTC" }),
    );
    // 0.3 at 100.01 (before the update at 2), 0.2 at 100.03, then the ask is above the limit: it rests
    await ticks(h, book(2, "99.99", "5", "100.03", "0.2"), book(3, "100", "5", "100.08", "5"));
    expect(await h.status("l")).toBe("PARTIALLY_FILLED");
    await ticks(h, trade(4, "100.06", "5", false)); // not through 100.05
    await ticks(h, trade(5, "100.04", "5", true));
    expect(h.fills("l").map((f) => [f.price, f.quantity, f.maker])).toEqual([
      ["100.01", "0.3", false],
      ["100.03", "0.2", false],
      ["100.05", "0.5", true],
    ]);
  });
});

describe("GTX (post-only) against the book (T:3, §2.2)", () => {
  it("is rejected -5022 at submit when it would take the current ask", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100.5"), book(1, "99.98", "5", "100", "5"));
    // the last trade (100.5) is above the price, the ask is not: the book decides
    const r = await h.submit(order("g", { side: "BUY", type: "LIMIT", price: "100", timeInForce: "GTX" }));
    expect(r).toMatchObject({ accepted: false, reason: expect.stringContaining("Post Only") });
    const ok = await h.submit(
      order("g2", { side: "BUY", type: "LIMIT", price: "99.99", timeInForce: "GTX" }),
    );
    expect(ok).toMatchObject({ accepted: true });
  });

  it("expires on arrival (after latency) when the book has moved onto it", async () => {
    const h = await venueHarness({ submitLatencyMs: 100 });
    await ticks(h, trade(0, "100"), book(1, "99.98", "5", "100", "5"));
    await h.submit(order("g", { side: "BUY", type: "LIMIT", price: "99.99", timeInForce: "GTX" }));
    await ticks(h, book(50, "99.9", "5", "99.95", "5"), trade(200, "99.95", "1", false));
    expect(h.kinds()).toEqual(["expired:g"]);
    expect(h.reports[0]).toMatchObject({ time: T0 + 200, reason: expect.stringContaining("post-only") });
  });
});

describe("conditional orders on ticks (T:6, T:7, §2.3)", () => {
  it("a MARK_PRICE STOP_MARKET triggers on the mark, not on a trade beyond it, and fills at the best bid", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100"), mark(1, "100"), book(2, "99.99", "5", "100.01", "5"));
    await h.submit(
      order("s", { side: "SELL", type: "STOP_MARKET", triggerPrice: "99", workingType: "MARK_PRICE" }),
    );
    await h.submit(order("c", { side: "SELL", type: "STOP_MARKET", triggerPrice: "99" }));
    await ticks(h, book(9, "98.9", "5", "98.91", "5"), trade(10, "98.9", "1"));
    expect(h.kinds()).toEqual(["triggering:c", "triggered:c", "fill:c"]);
    expect(h.reports[0]).toMatchObject({ workingType: "CONTRACT_PRICE", triggeredAt: "98.9", time: T0 + 10 });
    expect(h.fills("c")).toEqual([expect.objectContaining({ price: "98.9", maker: false })]);
    await ticks(h, mark(20, "99.01"), book(21, "98.7", "5", "98.72", "5"), mark(30, "98.99"));
    expect(h.kinds().slice(3)).toEqual(["triggering:s", "triggered:s", "fill:s"]);
    expect(h.reports[3]).toMatchObject({ workingType: "MARK_PRICE", triggeredAt: "98.99", time: T0 + 30 });
    expect(h.fills("s")).toEqual([expect.objectContaining({ price: "98.7" })]);
  });

  it("a MARK_PRICE stop watches the last trade while the symbol has no mark", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100"));
    await h.submit(
      order("s", { side: "SELL", type: "STOP_MARKET", triggerPrice: "99", workingType: "MARK_PRICE" }),
    );
    await ticks(h, trade(10, "98.9"));
    expect(h.reports[0]).toMatchObject({
      kind: "triggering",
      workingType: "CONTRACT_PRICE",
      triggeredAt: "98.9",
    });
  });

  it("a trailing stop tracks the highest trade since placement and triggers on the retrace", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100"));
    await h.submit(order("t", { side: "SELL", type: "TRAILING_STOP_MARKET", callbackRate: "1" }));
    // highest 102 → level 100.98; 101 does not reach it
    await ticks(h, trade(1, "101"), trade(2, "102"), trade(3, "101"), trade(4, "100.99"));
    expect(h.reports).toEqual([]);
    await ticks(h, book(5, "100.9", "5", "100.92", "5"), trade(6, "100.98"));
    expect(h.kinds()).toEqual(["triggering:t", "triggered:t", "fill:t"]);
    expect(h.reports[0]).toMatchObject({ triggeredAt: "100.98", time: T0 + 6 });
    expect(h.fills("t")).toEqual([expect.objectContaining({ price: "100.9" })]);
  });

  it("trigger latency: the triggered order meets the book as of trigger time + latency", async () => {
    const h = await venueHarness({ triggerLatencyMs: 100 });
    await ticks(h, trade(0, "100"), book(1, "99.99", "5", "100.01", "5"));
    await h.submit(order("s", { side: "SELL", type: "STOP_MARKET", triggerPrice: "99" }));
    await ticks(h, book(9, "98.9", "5", "98.91", "5"), trade(10, "98.9", "1"));
    expect(h.kinds()).toEqual(["triggering:s", "triggered:s"]);
    await ticks(h, book(60, "98.5", "5", "98.51", "5"), book(110, "98.6", "5", "98.61", "5"));
    // arrived at 110: the update at 110 comes first (same ms)
    expect(h.fills("s")).toEqual([expect.objectContaining({ price: "98.6" })]);
    expect(h.reports.at(-1)!.time).toBe(T0 + 110);
  });
});

describe("submit latency in tick time (T:1)", () => {
  it("an order arriving between two ticks meets the book before the later one", async () => {
    const h = await venueHarness({ submitLatencyMs: 50 });
    await ticks(h, trade(0, "100"), book(1, "99.99", "5", "100.01", "5"));
    await h.submit(order("m", { side: "BUY", type: "MARKET" }));
    await ticks(h, book(30, "99.99", "5", "100.03", "5"));
    expect(h.fills("m")).toEqual([]); // not arrived (1 + 50 = 51)
    await ticks(h, book(60, "99.99", "5", "100.07", "5"));
    expect(h.fills("m")).toEqual([expect.objectContaining({ price: "100.03" })]);
    expect(h.reports.at(-1)!.time).toBe(T0 + 60);
  });

  it("ticks must not go back in time", async () => {
    const h = await venueHarness();
    await ticks(h, trade(10, "100"));
    await expect(h.tick(trade(5, "100"))).rejects.toThrow(/before the symbol's clock/);
  });
});

describe("GTD and self-trade prevention on ticks (T:1, §2.2)", () => {
  it("a GTD order expires at the first tick at or after its goodTillDate, before that tick can fill it", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100"));
    const goodTillDate = T0 + 700_000;
    await h.submit(order("g", { side: "BUY", type: "LIMIT", price: "99", timeInForce: "GTD", goodTillDate }));
    await ticks(h, trade(699_999, "99.5"));
    expect(await h.status("g")).toBe("NEW");
    expect(await ticks(h, trade(700_000, "98"))).toEqual([
      expect.objectContaining({ kind: "expired", clientOrderId: "g", time: goodTillDate }),
    ]);
  });

  it("a MARKET taker that would trade with our resting SELL at or below the ask expires it (EXPIRE_MAKER)", async () => {
    const h = await venueHarness();
    await ticks(h, trade(0, "100"), book(1, "99.9", "5", "100.1", "5"));
    await h.submit(order("s", { side: "SELL", type: "LIMIT", price: "100.05", timeInForce: "GTC" }));
    await ticks(h, trade(2, "100", "1", false));
    await h.submit(order("m", { side: "BUY", type: "MARKET", selfTradePreventionMode: "EXPIRE_MAKER" }));
    await ticks(h, trade(3, "100", "1", false));
    expect(h.kinds()).toEqual(["expired:s", "fill:m"]);
    expect(h.reports[0]).toMatchObject({ expiryReason: 1 });
    expect(h.fills("m")).toEqual([expect.objectContaining({ price: "100.1" })]);
  });
});

describe("liquidation on ticks (T:8, binance-usdm.md §4.7 case A)", () => {
  it("liquidates an isolated long when the mark moves through its liquidation price, at that price", async () => {
    // §4.7 case A: 0.5 BTC long at 60 000, isolated wallet 3 000, 10×, bracket 1 → LP 54 216.8675
    const position = {
      symbol: "BTCUSDT",
      positionSide: "BOTH" as const,
      positionAmt: "0.5",
      entryPrice: "60000",
      leverage: 10,
      marginType: "ISOLATED" as const,
      isolatedWallet: "3000",
    };
    let positions: (typeof position)[] = [];
    const venue = new SimulatedVenue({
      takerRate: "0.0005",
      slippage: "0",
      instrument: getInstrument,
      margin: {
        account: () => ({
          walletBalance: "100000",
          positions,
          settings: { BTCUSDT: { leverage: 10, marginType: "ISOLATED" } },
        }),
        brackets: () => SPEC_BTC_BRACKETS,
      },
    });
    const reports: VenueReport[] = [];
    const handle = async (r: VenueReport) => {
      reports.push(r);
    };
    const btc = (t: TradeTick | BookTick | MarkTick) => ({ ...t, symbol: "BTCUSDT" });
    for (const t of [trade(0, "60000"), mark(1, "60000"), book(2, "59999.9", "9", "60000", "9")])
      await venue.matchTick(btc(t), handle);
    const entry: OrderRequest = {
      ...order("e", { side: "BUY", type: "MARKET" }),
      symbol: "BTCUSDT",
      quantity: "0.5",
    };
    expect(await venue.submit(entry)).toMatchObject({ accepted: true });
    await venue.matchTick(btc(trade(3, "60000", "1", false)), handle);
    expect(reports.map((r) => r.kind)).toEqual(["fill"]);
    positions = [position];
    // a trade far below does not liquidate: the mark does
    for (const t of [trade(4, "50000"), mark(5, "56000"), mark(6, "54300")])
      await venue.matchTick(btc(t), handle);
    expect(reports.map((r) => r.kind)).toEqual(["fill"]);
    await venue.matchTick(btc(mark(7, "54100")), handle);
    expect(reports.at(-1)).toMatchObject({
      kind: "liquidation",
      time: T0 + 7,
      liquidation: { symbol: "BTCUSDT", price: "54216.8" },
    });
    const { liquidation } = reports.at(-1) as Extract<VenueReport, { kind: "liquidation" }>;
    // where the mark crossed it: the liquidation price itself (the previous mark 54 300 was above it)
    expect(liquidation.markPrice).toBe(liquidation.liquidationPrice);
    expect(Number(liquidation.liquidationPrice)).toBeCloseTo(54216.8675, 4);
    expect(venue.positionAmt("BTCUSDT")).toBe("0");
  });
});

describe("matchTickMinute (src/engine/tick-minutes.ts)", () => {
  it("feeds the ticks of the bar's minute, then puts the clock at its close: a MARKET sent then works from there", async () => {
    const venue = new SimulatedVenue({ takerRate: "0.0005", slippage: "0", instrument: getInstrument });
    const handle = async () => {};
    const minute = [trade(60_000, "100"), book(60_001, "99.9", "5", "100.1", "5")];
    const feed = {
      between: async function* (_: string, from: number, to: number) {
        for (const t of minute) if (t.time >= from && t.time <= to) yield t;
      },
    } as unknown as TickFeed;
    const bar: Pick<VenueBar, "symbol" | "openTime" | "closeTime"> = {
      symbol: SYMBOL,
      openTime: T0 + 60_000,
      closeTime: T0 + 119_999,
    };
    await matchTickMinute(venue, feed, bar, handle);
    const state = venue.snapshot();
    expect(state.lastPrice.ETHUSDT).toBe("100");
    expect(state.ticks?.ETHUSDT).toMatchObject({ bid: "99.9", ask: "100.1" });
    expect(state.clock.ETHUSDT).toBe(T0 + 119_999);
    expect(await venue.submit(order("e", { side: "BUY", type: "MARKET" }))).toMatchObject({ accepted: true });
    expect(venue.snapshot().orders.find((o) => o.request.clientOrderId === "e")!.workingFrom).toBe(
      T0 + 119_999,
    );
  });
});
