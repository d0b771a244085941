/**
 * Reactions inside the user-event listener (what a lockstep client does before it acks a message): a REST call
 * made while the double awaits the listener is answered at once (no deadlock), its own events follow the
 * message being handled, and the venue matches it before it goes on in the same bar (SimulatedVenue.matchBar:
 * "reactions take effect before the venue matches on").
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

describe("SimExchange: REST reactions from the listener", () => {
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
