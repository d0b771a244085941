/**
 * The `binance` SDK's USDMClient (the client the live venue uses) against the double's `tradingRoutes` on a
 * loopback port: the SDK's signed requests (every parameter in the query string, signature included; no auth
 * hook here) reach the routes, and its typed calls read the answers. Hand-made BTCUSDT bars drive the matching.
 */
import { USDMClient } from "binance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { type Harness, simHarness } from "./support/sim-exchange.ts";

/** The venue's taker price: the open × (1 ± slippage 0.0001), BUY +, SELL −. */
const taker = (open: string, buy: boolean) => canonical(new Dec(open).times(buy ? "1.0001" : "0.9999"));

const T0 = Date.UTC(2025, 4, 5);
function bar(i: number, open: string) {
  const [o, hi, lo] = [open, String(Number(open) + 50), String(Number(open) - 50)];
  return {
    symbol: "BTCUSDT",
    openTime: T0 + i * 60_000,
    closeTime: T0 + i * 60_000 + 59_999,
    open: o,
    high: hi,
    low: lo,
    close: o,
  };
}

describe("the binance SDK against tradingRoutes", () => {
  let h: Harness;
  let client: USDMClient;
  beforeAll(async () => {
    h = await simHarness();
    const address = await h.app.listen({ host: "127.0.0.1", port: 0 });
    client = new USDMClient({ api_key: "key", api_secret: "secret", baseUrl: address });
    h.exchange.now = bar(0, "94000").closeTime;
    await h.exchange.onBar(bar(0, "94000"));
  });
  afterAll(() => h.close());

  it("places, fills and audits a MARKET order and a STOP_MARKET algo order", async () => {
    expect(await client.setLeverage({ symbol: "BTCUSDT", leverage: 5 })).toMatchObject({
      leverage: 5,
      symbol: "BTCUSDT",
    });
    expect(await client.getCurrentPositionMode()).toEqual({ dualSidePosition: false });
    expect(await client.getAccountCommissionRate({ symbol: "BTCUSDT" })).toEqual({
      symbol: "BTCUSDT",
      makerCommissionRate: "0.0002",
      takerCommissionRate: "0.0005",
    });
    const placed = await client.submitNewOrder({
      symbol: "BTCUSDT",
      side: "BUY",
      type: "MARKET",
      quantity: 0.01,
    });
    expect(placed).toMatchObject({ status: "NEW", origQty: "0.01", symbol: "BTCUSDT" });
    expect(placed.clientOrderId).toMatch(/^x-/); // the SDK's generated id, kept
    h.exchange.now = bar(1, "94100").closeTime;
    await h.exchange.onBar(bar(1, "94100"));
    const [trade] = await client.getAccountTrades({ symbol: "BTCUSDT" });
    expect(trade).toMatchObject({
      orderId: placed.orderId,
      side: "BUY",
      qty: "0.01",
      price: taker("94100", true),
    });
    const algo = await client.submitNewAlgoOrder({
      algoType: "CONDITIONAL",
      symbol: "BTCUSDT",
      side: "SELL",
      type: "STOP_MARKET",
      triggerPrice: "93000",
      closePosition: "true",
    });
    expect(algo).toMatchObject({ algoStatus: "NEW", orderType: "STOP_MARKET", closePosition: true });
    expect(await client.getOpenAlgoOrders({ symbol: "BTCUSDT" })).toHaveLength(1);
    const [position] = await client.getPositionsV3({ symbol: "BTCUSDT" });
    expect(position).toMatchObject({
      positionAmt: "0.01",
      entryPrice: taker("94100", true),
      markPrice: "94100",
    });
    const account = await client.getAccountInformationV3();
    expect(account.positions).toHaveLength(1);
    const [balance] = await client.getBalanceV3();
    expect(balance).toMatchObject({ asset: "USDT", balance: account.totalWalletBalance });
    h.exchange.now = bar(2, "92900").closeTime;
    await h.exchange.onBar(bar(2, "92900")); // opens below the trigger: the stop fills at that open
    const trades = await client.getAccountTrades({ symbol: "BTCUSDT" });
    expect(trades.map((t) => [t.side, t.price])).toEqual([
      ["BUY", taker("94100", true)],
      ["SELL", taker("92900", false)],
    ]);
    expect(await client.getAlgoOrder({ algoId: algo.algoId })).toMatchObject({ algoStatus: "FINISHED" });
    expect(await client.getPositionsV3({ symbol: "BTCUSDT" })).toEqual([]);
    const income = await client.getIncomeHistory({ symbol: "BTCUSDT" });
    expect(income.map((i) => i.incomeType).sort()).toEqual(["COMMISSION", "COMMISSION", "REALIZED_PNL"]);
    const brackets = await client.getNotionalAndLeverageBrackets({ symbol: "BTCUSDT" });
    expect(JSON.stringify(brackets)).toContain('"initialLeverage":150');
  });

  it("a rejection reaches the SDK with Binance's code and message", async () => {
    const error = await client
      .submitNewOrder({
        symbol: "BTCUSDT",
        side: "BUY",
        type: "STOP_MARKET",
        quantity: 0.01,
        stopPrice: 95000,
      })
      .then(
        () => undefined,
        (e: unknown) => e as { code: number; message: string },
      );
    expect(error).toMatchObject({ code: -4120 });
    expect(JSON.stringify(error)).toContain("Algo Order API");
  });
});
