/**
 * Properties of the double's ledger (src/exchange-sim/exchange/) under random trading on real BTCUSDT bars of
 * 2025-05-05 07:00–09:00 (the 08:00 funding settlement included): MARKET, LIMIT, STOP_MARKET, TAKE_PROFIT_MARKET
 * and TRAILING_STOP_MARKET orders, cancels, leverage and margin-type changes, with wallets small enough for
 * rejections (-2019) and liquidations. After every run:
 * - wallet = initial + Σ realizedPnl − Σ commission (userTrades) + Σ FUNDING_FEE + Σ INSURANCE_CLEAR (income);
 * - the account endpoint, the ledger and the last ACCOUNT_UPDATE show that wallet;
 * - positionRisk's positions are the sums of the userTrades' signed quantities;
 * - the stream's TRADE / CALCULATED executions are the userTrades, in order.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { MarketEvent } from "../src/adapters/market/types.ts";
import { canonical, Dec, roundToTick } from "../src/domain/decimal.ts";
import { requireRealData } from "./support/real-data.ts";
import { marketEvents, simHarness, type Wire } from "./support/sim-exchange.ts";

const root = requireRealData("exchange-sim ledger properties on BTCUSDT 2025-05-05 07:00–09:00");
const FROM = Date.UTC(2025, 4, 5, 7);
const TO = Date.UTC(2025, 4, 5, 9);

type Action =
  | { kind: "market"; buy: boolean; qty: number }
  | { kind: "limit"; buy: boolean; qty: number; offset: number }
  | { kind: "stop"; buy: boolean; qty: number; offset: number; close: boolean; take: boolean }
  | { kind: "trailing"; buy: boolean; qty: number; rate: number }
  | { kind: "cancel"; pick: number; algo: boolean }
  | { kind: "leverage"; leverage: number }
  | { kind: "marginType"; isolated: boolean };

const side = fc.boolean();
const qty = fc.integer({ min: 2, max: 200 }); // thousandths of a BTC
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("market" as const), buy: side, qty }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("limit" as const),
      buy: side,
      qty,
      offset: fc.integer({ min: -30, max: 30 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("stop" as const),
      buy: side,
      qty,
      offset: fc.integer({ min: 1, max: 30 }),
      close: fc.boolean(),
      take: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("trailing" as const),
      buy: side,
      qty,
      rate: fc.integer({ min: 1, max: 20 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat(), algo: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("leverage" as const),
      leverage: fc.integer({ min: 1, max: 150 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("marginType" as const), isolated: fc.boolean() }) },
);

/** `price` × (1 + per10k / 10 000) on BTCUSDT's 0.10 tick. */
function offsetPrice(price: string, per10k: number): string {
  return canonical(roundToTick(new Dec(price).times(new Dec(per10k).div(10_000).plus(1)), "0.10", "floor"));
}

function paramsOf(a: Action, close: string, n: number): [string, Record<string, string>] | undefined {
  const s = { symbol: "BTCUSDT" };
  const quantity = (q: number) => canonical(new Dec(q).div(1000));
  switch (a.kind) {
    case "market":
      return [
        "/fapi/v1/order",
        { ...s, side: a.buy ? "BUY" : "SELL", type: "MARKET", quantity: quantity(a.qty) },
      ];
    case "limit":
      return [
        "/fapi/v1/order",
        {
          ...s,
          side: a.buy ? "BUY" : "SELL",
          type: "LIMIT",
          timeInForce: "GTC",
          quantity: quantity(a.qty),
          price: offsetPrice(close, a.offset),
        },
      ];
    case "stop": {
      // a stop fires on a rise for a BUY (above the price), a take-profit on a fall
      const up = a.take ? !a.buy : a.buy;
      const trigger = offsetPrice(close, up ? a.offset : -a.offset);
      return [
        "/fapi/v1/algoOrder",
        {
          ...s,
          algoType: "CONDITIONAL",
          side: a.buy ? "BUY" : "SELL",
          type: a.take ? "TAKE_PROFIT_MARKET" : "STOP_MARKET",
          triggerPrice: trigger,
          clientAlgoId: `p-${n}`,
          ...(a.close ? { closePosition: "true" } : { quantity: quantity(a.qty), reduceOnly: "true" }),
        },
      ];
    }
    case "trailing":
      return [
        "/fapi/v1/algoOrder",
        {
          ...s,
          algoType: "CONDITIONAL",
          side: a.buy ? "BUY" : "SELL",
          type: "TRAILING_STOP_MARKET",
          quantity: quantity(a.qty),
          callbackRate: canonical(new Dec(a.rate).div(10)),
        },
      ];
    default:
      return undefined;
  }
}

describe.skipIf(!root)("SimExchange ledger properties", () => {
  let events: MarketEvent[];
  beforeAll(async () => {
    events = await marketEvents(root!, ["BTCUSDT"], FROM, TO);
  });

  it("an isolated long at 150× with 100 USDT is liquidated: autoclose- NEW then CALCULATED, clearance fee as income", async () => {
    const h = await simHarness({ walletBalance: "100" });
    try {
      await h.call("POST", "/fapi/v1/leverage", { symbol: "BTCUSDT", leverage: "150" });
      await h.call("POST", "/fapi/v1/marginType", { symbol: "BTCUSDT", marginType: "ISOLATED" });
      let placed = false;
      for (const e of events) {
        await h.feed(e);
        if (placed || e.kind !== "bar") continue;
        placed = true;
        await h.call("POST", "/fapi/v1/order", {
          symbol: "BTCUSDT",
          side: "BUY",
          type: "MARKET",
          quantity: "0.1",
        });
        const trigger = offsetPrice(e.bar.close, 200);
        await h.call("POST", "/fapi/v1/algoOrder", {
          algoType: "CONDITIONAL",
          symbol: "BTCUSDT",
          side: "SELL",
          type: "TAKE_PROFIT_MARKET",
          triggerPrice: trigger,
          closePosition: "true",
          clientAlgoId: "tp",
        });
      }
      const calculated = (h.events as Wire[]).findIndex(
        (m) => m.e === "ORDER_TRADE_UPDATE" && m.o.x === "CALCULATED",
      );
      expect(calculated, "the position is liquidated in the window").toBeGreaterThan(0);
      const [expired, created, update, fill] = (h.events as Wire[]).slice(calculated - 3, calculated + 1);
      expect(expired).toMatchObject({ e: "ALGO_UPDATE", o: { caid: "tp", X: "EXPIRED" } });
      expect(created.o).toMatchObject({
        x: "NEW",
        X: "NEW",
        o: "LIQUIDATION",
        S: "SELL",
        q: "0.1",
        c: expect.stringMatching(/^autoclose-/),
      });
      expect(update.a).toMatchObject({ m: "ORDER", P: [{ s: "BTCUSDT", pa: "0", iw: "0", mt: "isolated" }] });
      expect(fill.o).toMatchObject({
        x: "CALCULATED",
        X: "FILLED",
        c: created.o.c,
        i: created.o.i,
        l: "0.1",
        z: "0.1",
        n: "0",
      });
      const trades: Wire[] = (await h.call("GET", "/fapi/v1/userTrades", { symbol: "BTCUSDT" })).body;
      const last = trades.at(-1);
      expect(last).toMatchObject({
        orderId: created.o.i,
        side: "SELL",
        qty: "0.1",
        commission: "0",
        price: fill.o.L,
      });
      expect(Number(last.realizedPnl)).toBeLessThan(0);
      const income: Wire[] = (await h.call("GET", "/fapi/v1/income", { incomeType: "INSURANCE_CLEAR" })).body;
      expect(income).toHaveLength(1);
      expect(Number(income[0].income)).toBeLessThan(0);
      expect(update.a.B[0].wb).toBe(h.exchange.context().walletBalance);
      expect((await h.call("GET", "/fapi/v3/positionRisk")).body).toEqual([]);
      const order = (
        await h.call("GET", "/fapi/v1/order", { symbol: "BTCUSDT", orderId: String(created.o.i) })
      ).body;
      expect(order).toMatchObject({ type: "LIQUIDATION", status: "FILLED", executedQty: "0.1" });
    } finally {
      await h.close();
    }
  });

  it("wallet = initial + Σ rp − Σ commission + Σ funding (+ clearance); positions, account and stream agree", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("100", "1000", "10000"),
        fc.constantFrom(1, 10, 50, 125, 150),
        fc.boolean(),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 59 }), action), { minLength: 1, maxLength: 40 }),
        async (initial, leverage, isolated, plan) => {
          const h = await simHarness({ walletBalance: initial });
          try {
            const set = await h.call("POST", "/fapi/v1/leverage", {
              symbol: "BTCUSDT",
              leverage: String(leverage),
            });
            expect(set.body).toMatchObject({ leverage });
            if (isolated)
              await h.call("POST", "/fapi/v1/marginType", { symbol: "BTCUSDT", marginType: "ISOLATED" });
            const byBar = new Map<number, Action[]>();
            for (const [i, a] of plan) byBar.set(i, [...(byBar.get(i) ?? []), a]);
            let barIndex = 0;
            let n = 0;
            for (const e of events) {
              await h.feed(e);
              if (e.kind !== "bar") continue;
              for (const a of byBar.get(barIndex++) ?? []) {
                n++;
                if (a.kind === "cancel") {
                  const open = (
                    await h.call("GET", a.algo ? "/fapi/v1/openAlgoOrders" : "/fapi/v1/openOrders")
                  ).body;
                  if (open.length === 0) continue;
                  const o = open[a.pick % open.length];
                  const r = a.algo
                    ? await h.call("DELETE", "/fapi/v1/algoOrder", { algoId: String(o.algoId) })
                    : await h.call("DELETE", "/fapi/v1/order", {
                        symbol: "BTCUSDT",
                        orderId: String(o.orderId),
                      });
                  expect(r.status).toBe(200);
                  continue;
                }
                const r =
                  a.kind === "leverage"
                    ? await h.call("POST", "/fapi/v1/leverage", {
                        symbol: "BTCUSDT",
                        leverage: String(a.leverage),
                      })
                    : a.kind === "marginType"
                      ? await h.call("POST", "/fapi/v1/marginType", {
                          symbol: "BTCUSDT",
                          marginType: a.isolated ? "ISOLATED" : "CROSSED",
                        })
                      : await h.call("POST", ...paramsOf(a, e.bar.close, n)!);
                // every answer is an order / setting, or a Binance error: never a crash
                if (r.status !== 200)
                  expect(r.body).toEqual({ code: expect.any(Number), msg: expect.any(String) });
              }
            }
            const trades: Wire[] = (
              await h.call("GET", "/fapi/v1/userTrades", { symbol: "BTCUSDT", limit: "1000" })
            ).body;
            const income: Wire[] = (await h.call("GET", "/fapi/v1/income", { limit: "1000" })).body;
            const sum = (xs: string[]) => xs.reduce((s, x) => s.plus(x), new Dec(0));
            const incomeOf = (type: string) =>
              sum(income.filter((i) => i.incomeType === type).map((i) => i.income));
            const wallet = canonical(
              new Dec(initial)
                .plus(sum(trades.map((t) => t.realizedPnl)))
                .minus(sum(trades.map((t) => t.commission)))
                .plus(incomeOf("FUNDING_FEE"))
                .plus(incomeOf("INSURANCE_CLEAR")),
            );
            expect(h.exchange.context().walletBalance).toBe(wallet);
            expect((await h.call("GET", "/fapi/v3/account")).body.totalWalletBalance).toBe(wallet);
            const lastUpdate = (h.events as Wire[])
              .filter((m) => m.e === "ACCOUNT_UPDATE" && m.a.m !== "MARGIN_TYPE_CHANGE")
              .at(-1);
            if (lastUpdate) expect(lastUpdate.a.B[0].wb).toBe(wallet);
            // positions: the userTrades' signed quantities per position side
            const amounts = new Map<string, Dec>();
            for (const t of trades)
              amounts.set(
                t.positionSide,
                (amounts.get(t.positionSide) ?? new Dec(0)).plus(t.buyer ? t.qty : new Dec(t.qty).neg()),
              );
            const open = [...amounts]
              .filter(([, amt]) => !amt.isZero())
              .map(([ps, amt]) => [ps, canonical(amt)]);
            const risk: Wire[] = (await h.call("GET", "/fapi/v3/positionRisk")).body;
            expect(
              risk.filter((p) => p.positionAmt !== "0").map((p) => [p.positionSide, p.positionAmt]),
            ).toEqual(open);
            // the stream's executions are the trades
            const executions = (h.events as Wire[]).filter(
              (m) => m.e === "ORDER_TRADE_UPDATE" && (m.o.x === "TRADE" || m.o.x === "CALCULATED"),
            );
            expect(executions.map((m) => [m.o.t, m.o.i, m.o.L, m.o.l, m.o.n, m.o.rp])).toEqual(
              trades.map((t) => [t.id, t.orderId, t.price, t.qty, t.commission, t.realizedPnl]),
            );
            // commission is the fee rate of the fill's side (taker 0.0005, maker 0.0002), liquidations 0
            for (const t of trades) {
              const rate = t.maker ? "0.0002" : "0.0005";
              const liquidation = executions.find((m) => m.o.t === t.id).o.x === "CALCULATED";
              expect(t.commission).toBe(
                liquidation ? "0" : canonical(new Dec(t.price).times(t.qty).times(rate)),
              );
            }
          } finally {
            await h.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 300_000);
});
