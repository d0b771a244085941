/**
 * The double's REST answers against the `binance` SDK's response types (node_modules/binance/lib/types/
 * futures.d.ts, read with the TypeScript compiler API): every key the double sends is declared by the type the
 * SDK returns for that endpoint, and every key the type requires is sent, except where the SDK's type is not the
 * endpoint's (listed with the reason: the SDK types `/fapi/v3/account` with its v2 interface).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, simHarness, type Wire } from "./support/sim-exchange.ts";

/** Each interface of futures.d.ts: its keys and which are required (parents' keys included). */
function sdkInterfaces(): Map<string, { keys: Set<string>; required: Set<string> }> {
  const file = join(dirname(createRequire(import.meta.url).resolve("binance")), "types", "futures.d.ts");
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
  const raw = new Map<string, { keys: Set<string>; required: Set<string>; parents: string[] }>();
  for (const node of source.statements) {
    if (!ts.isInterfaceDeclaration(node)) continue;
    const keys = new Set<string>();
    const required = new Set<string>();
    for (const m of node.members) {
      if (!ts.isPropertySignature(m) || !m.name) continue;
      const name = m.name.getText(source);
      keys.add(name);
      if (!m.questionToken) required.add(name);
    }
    const parents = (node.heritageClauses ?? []).flatMap((h) =>
      h.types.map((t) => t.expression.getText(source)),
    );
    raw.set(node.name.text, { keys, required, parents });
  }
  const resolve = (name: string): { keys: Set<string>; required: Set<string> } => {
    const r = raw.get(name);
    if (!r) throw new Error(`futures.d.ts has no interface ${name}`);
    const keys = new Set(r.keys);
    const required = new Set(r.required);
    for (const p of r.parents) {
      const parent = resolve(p);
      for (const k of parent.keys) keys.add(k);
      for (const k of parent.required) required.add(k);
    }
    return { keys, required };
  };
  return new Map([...raw.keys()].map((name) => [name, resolve(name)]));
}

const T0 = Date.UTC(2025, 4, 5);
function bar(i: number, open: string) {
  const [hi, lo] = [String(Number(open) + 50), String(Number(open) - 50)];
  return {
    symbol: "BTCUSDT",
    openTime: T0 + i * 60_000,
    closeTime: T0 + i * 60_000 + 59_999,
    open,
    high: hi,
    low: lo,
    close: open,
  };
}

describe("REST answers against the SDK's response types", () => {
  const types = sdkInterfaces();
  let h: Harness;
  beforeAll(async () => {
    h = await simHarness();
    for (const [i, open] of ["94000", "94100"].entries()) {
      if (i === 1) {
        await h.call("POST", "/fapi/v1/order", {
          symbol: "BTCUSDT",
          side: "BUY",
          type: "MARKET",
          quantity: "0.01",
        });
        await h.call("POST", "/fapi/v1/order", {
          symbol: "BTCUSDT",
          side: "BUY",
          type: "LIMIT",
          timeInForce: "GTC",
          quantity: "0.01",
          price: "90000",
          newClientOrderId: "rest",
        });
        await h.call("POST", "/fapi/v1/algoOrder", {
          algoType: "CONDITIONAL",
          symbol: "BTCUSDT",
          side: "SELL",
          type: "STOP_MARKET",
          triggerPrice: "93000",
          closePosition: "true",
          clientAlgoId: "sl",
        });
      }
      h.exchange.now = bar(i, open).closeTime;
      await h.exchange.onBar(bar(i, open));
    }
    await h.exchange.onFunding({
      symbol: "BTCUSDT",
      fundingTime: T0 + 2 * 60_000,
      fundingRate: "0.0001",
      markPrice: "94100",
    });
  });
  afterAll(() => h.close());

  /**
   * Checks `body` against interface `name`, but for the `absent` required keys and the `extra` keys of an
   * endpoint whose SDK type is not its own. `activatePrice` and `priceRate` (typed required by the SDK) come
   * only with trailing stops, as Binance documents.
   */
  const conforms = (body: Wire, name: string, absent: string[] = [], extra: string[] = []) => {
    const t = types.get(name)!;
    const keys = Object.keys(body);
    const trailing = body.origType === "TRAILING_STOP_MARKET" || body.orderType === "TRAILING_STOP_MARKET";
    const onlyTrailing = trailing ? [] : ["activatePrice", "priceRate"];
    expect(
      keys.filter((k) => !t.keys.has(k) && !extra.includes(k)),
      `${name}: keys the SDK does not declare`,
    ).toEqual([]);
    expect(
      [...t.required].filter((k) => !(k in body) && !absent.includes(k) && !onlyTrailing.includes(k)),
      `${name}: required keys not sent`,
    ).toEqual([]);
  };
  const get = async (url: string, params: Record<string, string> = {}) =>
    (await h.call("GET", url, params)).body;

  it("orders: POST, GET, openOrders, allOrders, DELETE", async () => {
    const placed = await h.call("POST", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      side: "SELL",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "99000",
    });
    conforms(placed.body, "NewOrderResult");
    conforms(await get("/fapi/v1/order", { symbol: "BTCUSDT", origClientOrderId: "rest" }), "OrderResult");
    for (const o of await get("/fapi/v1/allOrders", { symbol: "BTCUSDT" })) conforms(o, "OrderResult");
    for (const o of await get("/fapi/v1/openOrders")) conforms(o, "OrderResult");
    const canceled = await h.call("DELETE", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      orderId: String(placed.body.orderId),
    });
    conforms(canceled.body, "CancelFuturesOrderResult");
    conforms(
      (await h.call("DELETE", "/fapi/v1/allOpenOrders", { symbol: "BTCUSDT" })).body,
      "CancelAllOpenOrdersResult",
    );
  });

  it("algo orders: POST, GET, openAlgoOrders, allAlgoOrders, DELETE", async () => {
    const placed = await h.call("POST", "/fapi/v1/algoOrder", {
      algoType: "CONDITIONAL",
      symbol: "BTCUSDT",
      side: "BUY",
      type: "STOP_MARKET",
      triggerPrice: "99000",
      quantity: "0.01",
      clientAlgoId: "up",
    });
    conforms(placed.body, "FuturesAlgoOrderResponse");
    conforms(await get("/fapi/v1/algoOrder", { clientAlgoId: "up" }), "FuturesQueryAlgoOrderResponse");
    for (const a of await get("/fapi/v1/allAlgoOrders", { symbol: "BTCUSDT" }))
      conforms(a, "FuturesQueryAlgoOrderResponse");
    // the double answers openAlgoOrders in the query shape (actualOrderId, actualPrice, …), which the SDK types
    // as FuturesAlgoOrderResponse: its keys are the query type's
    for (const a of await get("/fapi/v1/openAlgoOrders")) conforms(a, "FuturesQueryAlgoOrderResponse");
    // a trailing stop without activatePrice: the latest price at placement (bar 1's close), as Binance answers
    const trailing = await h.call("POST", "/fapi/v1/algoOrder", {
      algoType: "CONDITIONAL",
      symbol: "BTCUSDT",
      side: "SELL",
      type: "TRAILING_STOP_MARKET",
      quantity: "0.01",
      callbackRate: "1",
      clientAlgoId: "trail",
    });
    expect(trailing.body).toMatchObject({ activatePrice: bar(1, "94100").close, callbackRate: "1" });
    conforms(trailing.body, "FuturesAlgoOrderResponse");
    expect(h.events.at(-1)).toMatchObject({ e: "ALGO_UPDATE", o: { caid: "trail", cr: "1" } });
    conforms(
      (await h.call("DELETE", "/fapi/v1/algoOrder", { clientAlgoId: "up" })).body,
      "FuturesCancelAlgoOrderResponse",
    );
    conforms(
      (await h.call("DELETE", "/fapi/v1/algoOpenOrders", { symbol: "BTCUSDT" })).body,
      "FuturesCancelAllAlgoOpenOrdersResponse",
    );
  });

  it("account: positionRisk v3, balance v3, account v3, userTrades, income, settings", async () => {
    const [position] = await get("/fapi/v3/positionRisk");
    conforms(position, "FuturesPositionV3");
    for (const b of await get("/fapi/v3/balance")) conforms(b, "FuturesAccountBalance");
    // /fapi/v3/account drops v2's account flags and most position fields; the SDK types it with v2's interface
    const account = await get("/fapi/v3/account");
    conforms(account, "FuturesAccountInformation", [
      "feeTier",
      "canTrade",
      "canDeposit",
      "canWithdraw",
      "updateTime",
      "multiAssetsMargin",
    ]);
    conforms(account.assets[0], "FuturesAccountAsset", ["marginAvailable"]);
    conforms(
      account.positions[0],
      "FuturesAccountPosition",
      [
        "positionInitialMargin",
        "openOrderInitialMargin",
        "leverage",
        "isolated",
        "entryPrice",
        "maxNotional",
        "bidNotional",
        "askNotional",
      ],
      ["isolatedMargin"],
    );
    for (const t of await get("/fapi/v1/userTrades", { symbol: "BTCUSDT" }))
      conforms(t, "FuturesPositionTrade");
    const income = await get("/fapi/v1/income");
    expect(new Set(income.map((i: Wire) => i.incomeType))).toEqual(new Set(["COMMISSION", "FUNDING_FEE"]));
    for (const i of income) conforms(i, "IncomeHistory");
    conforms(
      (await h.call("POST", "/fapi/v1/leverage", { symbol: "BTCUSDT", leverage: "7" })).body,
      "SetLeverageResult",
    );
    conforms(await get("/fapi/v1/commissionRate", { symbol: "BTCUSDT" }), "UserCommissionRate");
    conforms(await get("/fapi/v1/positionSide/dual"), "PositionModeResponse");
    const brackets = await get("/fapi/v1/leverageBracket", { symbol: "BTCUSDT" });
    conforms(brackets, "SymbolLeverageBracketsResult");
    for (const b of brackets.brackets) conforms(b, "SymbolLeverageBracket");
    for (const b of await get("/fapi/v1/leverageBracket")) conforms(b, "SymbolLeverageBracketsResult");
  });
});
