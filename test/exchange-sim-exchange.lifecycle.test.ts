/**
 * Order lifecycles of the double on hand-made BTCUSDT bars. Reactions inside the user-event listener (what a
 * lockstep client does before it acks a message): a REST call made while the double awaits the listener is
 * answered at once (no deadlock), its own events follow the message being handled, and the venue matches it
 * before it goes on in the same bar (SimulatedVenue.matchBar: "reactions take effect before the venue matches
 * on"). A triggered STOP's LIMIT child rests and is cancelled with the regular endpoint; a GTD order expires.
 */
import { afterEach, describe, expect, it } from "vitest";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { type Harness, simHarness, type Wire } from "./support/sim-exchange.ts";

const T0 = Date.UTC(2025, 4, 5);
function bar(i: number, open: string, high: string, low: string, close: string) {
  return {
    symbol: "BTCUSDT",
    openTime: T0 + i * 60_000,
    closeTime: T0 + i * 60_000 + 59_999,
    open,
    high,
    low,
    close,
  };
}

describe("SimExchange order lifecycles", () => {
  let h: Harness;
  afterEach(() => h.close());

  it("a take-profit placed on the entry's TRADE message triggers and fills in the same bar", async () => {
    h = await simHarness();
    const seen: Wire[] = [];
    h.exchange.onUserEvent(async (m: Wire) => {
      seen.push(m);
      if (m.e === "ORDER_TRADE_UPDATE" && m.o.x === "TRADE" && m.o.c === "entry") {
        const r = await h.app.inject({
          method: "POST",
          url: "/fapi/v1/algoOrder",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          payload: new URLSearchParams({
            algoType: "CONDITIONAL",
            symbol: "BTCUSDT",
            side: "SELL",
            type: "TAKE_PROFIT_MARKET",
            triggerPrice: "94300",
            closePosition: "true",
            clientAlgoId: "tp",
          }).toString(),
        });
        expect(r.statusCode).toBe(200);
      }
    });
    h.exchange.now = bar(0, "94000", "94050", "93950", "94000").closeTime;
    await h.exchange.onBar(bar(0, "94000", "94050", "93950", "94000"));
    await h.call("POST", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "MARKET",
      quantity: "0.01",
      newClientOrderId: "entry",
    });
    h.exchange.now = bar(1, "94000", "94500", "93900", "94400").closeTime;
    await h.exchange.onBar(bar(1, "94000", "94500", "93900", "94400"));
    expect(seen.map((m) => `${m.e}:${m.o?.X ?? m.a?.m}:${m.o?.c ?? m.o?.caid ?? ""}`)).toEqual([
      "ORDER_TRADE_UPDATE:NEW:entry",
      "ACCOUNT_UPDATE:ORDER:",
      "ORDER_TRADE_UPDATE:FILLED:entry",
      "ALGO_UPDATE:NEW:tp",
      "ALGO_UPDATE:TRIGGERING:tp",
      "ALGO_UPDATE:TRIGGERED:tp",
      "ORDER_TRADE_UPDATE:NEW:tp",
      "ACCOUNT_UPDATE:ORDER:",
      "ORDER_TRADE_UPDATE:FILLED:tp",
      "ALGO_UPDATE:FINISHED:tp",
    ]);
    const trades: Wire[] = (await h.call("GET", "/fapi/v1/userTrades", { symbol: "BTCUSDT" })).body;
    expect(trades.map((t) => t.price)).toEqual([
      canonical(new Dec("94000").times("1.0001")),
      canonical(new Dec("94300").times("0.9999")),
    ]);
    expect((await h.call("GET", "/fapi/v3/positionRisk")).body).toEqual([]);
  });

  it("a triggered STOP rests as its LIMIT child; the regular cancel ends it and FINISHES the algo order", async () => {
    h = await simHarness();
    h.exchange.now = bar(0, "94000", "94050", "93950", "94000").closeTime;
    await h.exchange.onBar(bar(0, "94000", "94050", "93950", "94000"));
    const algo = await h.call("POST", "/fapi/v1/algoOrder", {
      algoType: "CONDITIONAL",
      symbol: "BTCUSDT",
      side: "BUY",
      type: "STOP",
      quantity: "0.01",
      price: "94050",
      triggerPrice: "94100",
      clientAlgoId: "stop-limit",
    });
    expect(algo.status).toBe(200);
    // triggers at 94100 on the way up; its BUY at 94050 does not cross there and rests in the book
    h.exchange.now = bar(1, "94000", "94200", "93990", "94150").closeTime;
    await h.exchange.onBar(bar(1, "94000", "94200", "93990", "94150"));
    const [child]: Wire[] = (await h.call("GET", "/fapi/v1/openOrders", { symbol: "BTCUSDT" })).body;
    expect(child).toMatchObject({
      clientOrderId: "stop-limit",
      type: "LIMIT",
      origType: "STOP",
      price: "94050",
      stopPrice: "94100",
      status: "NEW",
    });
    expect((await h.call("GET", "/fapi/v1/algoOrder", { clientAlgoId: "stop-limit" })).body).toMatchObject({
      algoStatus: "TRIGGERED",
      actualOrderId: String(child.orderId),
    });
    const canceled = await h.call("DELETE", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      origClientOrderId: "stop-limit",
    });
    expect(canceled.body).toMatchObject({ status: "CANCELED", orderId: child.orderId });
    expect((h.events as Wire[]).slice(-2).map((m) => `${m.e}:${m.o.X}`)).toEqual([
      "ORDER_TRADE_UPDATE:CANCELED",
      "ALGO_UPDATE:FINISHED",
    ]);
    expect(
      (await h.call("GET", "/fapi/v1/algoOrder", { algoId: String(algo.body.algoId) })).body.algoStatus,
    ).toBe("FINISHED");
  });

  it("a GTD order expires at its date with ORDER_TRADE_UPDATE EXPIRED", async () => {
    h = await simHarness();
    h.exchange.now = bar(0, "94000", "94050", "93950", "94000").closeTime;
    await h.exchange.onBar(bar(0, "94000", "94050", "93950", "94000"));
    const goodTillDate = String(bar(12, "0", "0", "0", "0").openTime); // > now + 600 s, whole seconds
    const placed = await h.call("POST", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTD",
      goodTillDate,
      quantity: "0.01",
      price: "90000",
    });
    expect(placed.body).toMatchObject({ status: "NEW", goodTillDate: Number(goodTillDate) });
    for (let i = 1; i <= 12; i++) {
      h.exchange.now = bar(i, "94000", "94050", "93950", "94000").closeTime;
      await h.exchange.onBar(bar(i, "94000", "94050", "93950", "94000"));
    }
    expect(h.events.at(-1)).toMatchObject({
      e: "ORDER_TRADE_UPDATE",
      o: { x: "EXPIRED", X: "EXPIRED", er: "0", f: "GTD" },
    });
    expect((await h.call("GET", "/fapi/v1/openOrders")).body).toEqual([]);
  });

  it("a listener failure reaches onBar's caller", async () => {
    h = await simHarness();
    h.exchange.now = bar(0, "94000", "94050", "93950", "94000").closeTime;
    await h.exchange.onBar(bar(0, "94000", "94050", "93950", "94000"));
    await h.call("POST", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "MARKET",
      quantity: "0.01",
    });
    h.exchange.onUserEvent(async () => {
      throw new Error("connection lost");
    });
    await expect(h.exchange.onBar(bar(1, "94000", "94500", "93900", "94400"))).rejects.toThrow(
      "connection lost",
    );
  });
});
