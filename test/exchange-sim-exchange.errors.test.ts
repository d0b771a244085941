/**
 * The double's answers to bad requests (src/exchange-sim/exchange/): Binance's codes and messages as HTTP 400
 * `{ code, msg }`, from the parameter parser, `validateOrder`, the simulated venue and the account's settings
 * (binance-usdm.md §2.1, §2.4, §4.1, §5.2).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { type Harness, simHarness, type Wire } from "./support/sim-exchange.ts";

const T0 = Date.UTC(2025, 4, 5);
/** A hand-made BTCUSDT minute `i` around 94 000 (prices on the 0.10 tick). */
function bar(i: number, open = "94000", high = "94050", low = "93950", close = "94000") {
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

describe("SimExchange error answers", () => {
  let h: Harness;
  const order = (params: Record<string, string>) =>
    h.call("POST", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "90000",
      ...params,
    });
  const expectError = (r: { status: number; body: unknown }, code: number, msg?: string | RegExp) => {
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      code,
      msg: msg instanceof RegExp ? expect.stringMatching(msg) : (msg ?? expect.any(String)),
    });
  };

  beforeEach(async () => {
    h = await simHarness();
    h.exchange.now = bar(0).closeTime;
    await h.exchange.onBar(bar(0));
  });
  afterEach(() => h.close());

  it("parameters: -1102 missing, -1100 malformed decimals, -1130 bad booleans, -1117/-1116/-1115 enums, -1121 symbol", async () => {
    expectError(
      await order({ side: "" }),
      -1102,
      "Mandatory parameter 'side' was not sent, was empty/null, or malformed.",
    );
    expectError(
      await h.call("POST", "/fapi/v1/order", { side: "BUY", type: "MARKET", quantity: "0.01" }),
      -1102,
      /'symbol'/,
    );
    expectError(await order({ quantity: "1e-2" }), -1100, /parameter 'quantity'/);
    expectError(await order({ price: "-1" }), -1100, /parameter 'price'/);
    expectError(
      await order({ reduceOnly: "yes" }),
      -1130,
      "Data sent for parameter 'reduceOnly' is not valid.",
    );
    expectError(await order({ side: "LONG" }), -1117, "Invalid side.");
    expectError(await order({ type: "ICEBERG" }), -1116, "Invalid orderType.");
    expectError(await order({ timeInForce: "DAY" }), -1115, "Invalid timeInForce.");
    expectError(await order({ symbol: "ETHUSDT" }), -1121, "Invalid symbol.");
    expectError(await h.call("GET", "/fapi/v1/openOrders", { symbol: "FOOUSDT" }), -1121);
  });

  it("validateOrder's and the venue's codes: -1102 per type, -1106, -1111, -4164, -2021, -4120, -2022", async () => {
    expectError(await order({ timeInForce: "" }), -1102, /'timeInForce'/);
    expectError(await order({ type: "MARKET", price: "" }), -1106, /'timeInForce'/);
    expectError(await order({ quantity: "0.0101" }), -1111);
    expectError(await order({ quantity: "0.001" }), -4164);
    for (const type of ["STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"])
      expectError(
        await order({ type, triggerPrice: "95000" }),
        -4120,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
      );
    const algo = (params: Record<string, string>) =>
      h.call("POST", "/fapi/v1/algoOrder", {
        algoType: "CONDITIONAL",
        symbol: "BTCUSDT",
        side: "BUY",
        type: "STOP_MARKET",
        quantity: "0.01",
        triggerPrice: "95000",
        ...params,
      });
    expectError(await algo({ triggerPrice: "93000" }), -2021, "Order would immediately trigger.");
    expectError(await algo({ type: "LIMIT" }), -1116, "Invalid orderType.");
    expectError(await algo({ algoType: "" }), -1102, /'algoType'/);
    expectError(await algo({ algoType: "TWAP" }), -1130, /'algoType'/);
    expectError(
      await order({ type: "MARKET", timeInForce: "", price: "", reduceOnly: "true", side: "SELL" }),
      -2022,
      "ReduceOnly Order is rejected.",
    );
  });

  it("-4116 for a clientOrderId among open orders; free again once the order is final", async () => {
    expect((await order({ newClientOrderId: "dup" })).status).toBe(200);
    expectError(await order({ newClientOrderId: "dup" }), -4116, "ClientOrderId is duplicated.");
    expectError(
      await h.call("POST", "/fapi/v1/algoOrder", {
        algoType: "CONDITIONAL",
        symbol: "BTCUSDT",
        side: "BUY",
        type: "STOP_MARKET",
        quantity: "0.01",
        triggerPrice: "95000",
        clientAlgoId: "dup",
      }),
      -4116,
    );
    expect(
      (await h.call("DELETE", "/fapi/v1/order", { symbol: "BTCUSDT", origClientOrderId: "dup" })).body.status,
    ).toBe("CANCELED");
    expect((await order({ newClientOrderId: "dup" })).status).toBe(200);
  });

  it("cancel and query: -2011 not open or unknown, -2013 unknown, by id or client id", async () => {
    const placed = (await order({ newClientOrderId: "c1" })).body;
    expectError(
      await h.call("DELETE", "/fapi/v1/order", { symbol: "BTCUSDT", orderId: "999" }),
      -2011,
      "Unknown order sent.",
    );
    expectError(
      await h.call("GET", "/fapi/v1/order", { symbol: "BTCUSDT", orderId: "999" }),
      -2013,
      "Order does not exist.",
    );
    expectError(await h.call("GET", "/fapi/v1/order", { symbol: "BTCUSDT" }), -1102, /'orderId'/);
    const canceled = await h.call(
      "DELETE",
      "/fapi/v1/order",
      { symbol: "BTCUSDT", orderId: String(placed.orderId) },
      "query",
    );
    expect(canceled.body).toMatchObject({ status: "CANCELED", orderId: placed.orderId, clientOrderId: "c1" });
    expect(h.events.at(-1)).toMatchObject({
      e: "ORDER_TRADE_UPDATE",
      o: { x: "CANCELED", X: "CANCELED", i: placed.orderId },
    });
    expectError(
      await h.call("DELETE", "/fapi/v1/order", { symbol: "BTCUSDT", orderId: String(placed.orderId) }),
      -2011,
    );
    expect(
      (await h.call("GET", "/fapi/v1/order", { symbol: "BTCUSDT", origClientOrderId: "c1" })).body.status,
    ).toBe("CANCELED");
    // a MARKET order fills at the next open: cancelling it after that is -2011
    const market = (await order({ type: "MARKET", timeInForce: "", price: "" })).body;
    h.exchange.now = bar(1).closeTime;
    await h.exchange.onBar(bar(1));
    expectError(
      await h.call("DELETE", "/fapi/v1/order", { symbol: "BTCUSDT", orderId: String(market.orderId) }),
      -2011,
    );
    expectError(await h.call("DELETE", "/fapi/v1/algoOrder", { algoId: "5" }), -2011, "Unknown order sent.");
    expectError(
      await h.call("GET", "/fapi/v1/algoOrder", { clientAlgoId: "nope" }),
      -2013,
      "Order does not exist.",
    );
  });

  it("algo cancel: ALGO_UPDATE CANCELED, then -2011; algoOpenOrders and allOpenOrders cancel everything", async () => {
    const algo = (id: string) =>
      h.call("POST", "/fapi/v1/algoOrder", {
        algoType: "CONDITIONAL",
        symbol: "BTCUSDT",
        side: "BUY",
        type: "STOP_MARKET",
        quantity: "0.01",
        triggerPrice: "95000",
        clientAlgoId: id,
      });
    const a = (await algo("a1")).body;
    const r = await h.call("DELETE", "/fapi/v1/algoOrder", { algoId: String(a.algoId) });
    expect(r.body).toEqual({ algoId: a.algoId, clientAlgoId: "a1", code: "200", msg: "success" });
    expect(h.events.at(-1)).toMatchObject({ e: "ALGO_UPDATE", o: { X: "CANCELED", caid: "a1" } });
    expectError(await h.call("DELETE", "/fapi/v1/algoOrder", { algoId: String(a.algoId) }), -2011);
    await algo("a2");
    await algo("a3");
    await order({});
    await order({});
    expect((await h.call("DELETE", "/fapi/v1/algoOpenOrders", { symbol: "BTCUSDT" })).body.code).toBe(200);
    expect((await h.call("GET", "/fapi/v1/openAlgoOrders")).body).toEqual([]);
    expect((await h.call("GET", "/fapi/v1/openOrders", { symbol: "BTCUSDT" })).body).toHaveLength(2);
    await h.call("DELETE", "/fapi/v1/allOpenOrders", { symbol: "BTCUSDT" });
    expect((await h.call("GET", "/fapi/v1/openOrders")).body).toEqual([]);
    const all = (await h.call("GET", "/fapi/v1/allAlgoOrders", { symbol: "BTCUSDT" })).body;
    expect(all.map((x: Wire) => [x.clientAlgoId, x.algoStatus])).toEqual([
      ["a1", "CANCELED"],
      ["a2", "CANCELED"],
      ["a3", "CANCELED"],
    ]);
  });

  it("leverage: -4028 above the bracket max; marginType -4046 / -4047 / -4048; positionSide/dual -4059 / -4067 / -4068", async () => {
    expectError(
      await h.call("POST", "/fapi/v1/leverage", { symbol: "BTCUSDT", leverage: "151" }),
      -4028,
      "Leverage 151 is not valid",
    );
    expectError(await h.call("POST", "/fapi/v1/leverage", { symbol: "BTCUSDT", leverage: "0" }), -4028);
    expect(
      (await h.call("POST", "/fapi/v1/leverage", { symbol: "BTCUSDT", leverage: "150" })).body,
    ).toMatchObject({ leverage: 150 });
    expectError(
      await h.call("POST", "/fapi/v1/marginType", { symbol: "BTCUSDT", marginType: "CROSSED" }),
      -4046,
      "No need to change margin type.",
    );
    expectError(
      await h.call("POST", "/fapi/v1/positionSide/dual", { dualSidePosition: "false" }),
      -4059,
      "No need to change position side.",
    );
    const resting = (await order({})).body;
    expectError(
      await h.call("POST", "/fapi/v1/marginType", { symbol: "BTCUSDT", marginType: "ISOLATED" }),
      -4047,
    );
    expectError(await h.call("POST", "/fapi/v1/positionSide/dual", { dualSidePosition: "true" }), -4067);
    await h.call("DELETE", "/fapi/v1/order", { symbol: "BTCUSDT", orderId: String(resting.orderId) });
    await order({ type: "MARKET", timeInForce: "", price: "" });
    h.exchange.now = bar(1).closeTime;
    await h.exchange.onBar(bar(1));
    expectError(
      await h.call("POST", "/fapi/v1/marginType", { symbol: "BTCUSDT", marginType: "ISOLATED" }),
      -4048,
      "Margin type cannot be changed if there exists position.",
    );
    expectError(
      await h.call("POST", "/fapi/v1/positionSide/dual", { dualSidePosition: "true" }),
      -4068,
      "Position side cannot be changed if there exists position.",
    );
  });

  it("hedge mode after POST positionSide/dual: LONG/SHORT orders, BOTH -4061, reduceOnly -1106", async () => {
    expect((await h.call("POST", "/fapi/v1/positionSide/dual", { dualSidePosition: "true" })).body).toEqual({
      code: 200,
      msg: "success",
    });
    expect((await h.call("GET", "/fapi/v1/positionSide/dual")).body).toEqual({ dualSidePosition: true });
    expectError(await order({}), -4061);
    expectError(await order({ positionSide: "LONG", reduceOnly: "true" }), -1106, /reduceonly/);
    expect((await order({ positionSide: "LONG", type: "MARKET", timeInForce: "", price: "" })).status).toBe(
      200,
    );
    h.exchange.now = bar(1).closeTime;
    await h.exchange.onBar(bar(1));
    const [p] = (await h.call("GET", "/fapi/v3/positionRisk")).body;
    expect(p).toMatchObject({ positionSide: "LONG", positionAmt: "0.01" });
  });

  it("positionRisk v3 lists a side with open orders and no position as a flat row", async () => {
    await order({ quantity: "0.01", price: "90000" });
    const rows: Wire[] = (await h.call("GET", "/fapi/v3/positionRisk", { symbol: "BTCUSDT" })).body;
    // 20× (the default): the resting BUY's margin is its notional / 20
    const im = canonical(new Dec("0.01").times("90000").div(20));
    expect(rows).toEqual([
      expect.objectContaining({
        positionAmt: "0",
        openOrderInitialMargin: im,
        initialMargin: im,
        bidNotional: "900",
      }),
    ]);
    expect((await h.call("GET", "/fapi/v3/account")).body.totalOpenOrderInitialMargin).toBe(im);
  });

  it("margin type ISOLATED: ACCOUNT_UPDATE MARGIN_TYPE_CHANGE, isolated funding sends B and P", async () => {
    expect(
      (await h.call("POST", "/fapi/v1/marginType", { symbol: "BTCUSDT", marginType: "ISOLATED" })).body,
    ).toEqual({ code: 200, msg: "success" });
    expect(h.events.at(-1)).toMatchObject({
      e: "ACCOUNT_UPDATE",
      a: { m: "MARGIN_TYPE_CHANGE", P: [{ s: "BTCUSDT", mt: "isolated", pa: "0" }] },
    });
    await order({ type: "MARKET", timeInForce: "", price: "" });
    h.exchange.now = bar(1).closeTime;
    await h.exchange.onBar(bar(1));
    const iw = (h.events.at(-2) as Wire).a.P[0].iw;
    expect(Number(iw)).toBeGreaterThan(0);
    await h.exchange.onFunding({
      symbol: "BTCUSDT",
      fundingTime: T0 + 2 * 60_000,
      fundingRate: "0.0001",
      markPrice: "94000",
    });
    const funding = h.events.at(-1) as Wire;
    expect(funding.a.m).toBe("FUNDING_FEE");
    expect(funding.a.B[0].bc).toBe("-0.094");
    expect(funding.a.P).toEqual([
      expect.objectContaining({ s: "BTCUSDT", mt: "isolated", iw: canonical(new Dec(iw).minus("0.094")) }),
    ]);
  });
});
