/**
 * The double's exchange core (src/exchange-sim/exchange/) on real BTCUSDT bars of 2025-05-05: a MARKET entry
 * fills at the next bar's open with the taker fee, a STOP_MARKET algo order triggers and closes the position,
 * funding is charged at 08:00; userTrades, income, positionRisk and account agree with the ledger and with the
 * user-event stream, whose messages have the keys of the real captures in futures/um/user-data/.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPriced, type MarketEvent } from "../src/adapters/market/types.ts";
import { canonical, Dec, roundToTick } from "../src/domain/decimal.ts";
import { requireRealData } from "./support/real-data.ts";
import { type Harness, marketEvents, simHarness, type Wire } from "./support/sim-exchange.ts";

const root = requireRealData("exchange-sim exchange core on BTCUSDT 2025-05-05");
const FROM = Date.UTC(2025, 4, 5);
const TO = Date.UTC(2025, 4, 6);
const EIGHT = Date.UTC(2025, 4, 5, 8);
const QTY = "0.01";
const TAKER = "0.0005";
const SLIPPAGE = "0.0001";

type Bar = Extract<MarketEvent, { kind: "bar" }>["bar"];

describe.skipIf(!root)("SimExchange round trip on real BTCUSDT bars", () => {
  let h: Harness;
  let events: MarketEvent[];
  let bars: Bar[];
  let next = 0;
  /** The entry's side and its stop, chosen from the data (see beforeAll). */
  let plan: { long: boolean; trigger: string; fireIndex: number };
  const ENTRY = 10;
  /** Feeds market events up to and including the bar whose closeTime is `until`. */
  const feedUntil = async (until: number) => {
    while (next < events.length && events[next]!.time <= until) await h.feed(events[next++]!);
  };
  const trades = async () => (await h.call("GET", "/fapi/v1/userTrades", { symbol: "BTCUSDT" })).body;

  beforeAll(async () => {
    events = await marketEvents(root!, ["BTCUSDT"], FROM, TO);
    bars = events.flatMap((e) => (e.kind === "bar" ? [e.bar] : []));
    h = await simHarness();
    // A stop one tick beyond every price from the entry to 08:00 and reached later in the day: a long's below
    // the lowest low (if the day goes lower after 08:00), else a short's above the highest high.
    const eightIndex = bars.findIndex((b) => b.openTime >= EIGHT);
    const before = bars.slice(ENTRY, eightIndex);
    const low = before.reduce((m, b) => Dec.min(m, b.low), new Dec(bars[ENTRY]!.low));
    const high = before.reduce((m, b) => Dec.max(m, b.high), new Dec(bars[ENTRY]!.high));
    const longStop = canonical(roundToTick(low.minus("0.1"), "0.10", "floor"));
    const shortStop = canonical(roundToTick(high.plus("0.1"), "0.10", "ceil"));
    const longFire = bars.findIndex((b, i) => i > ENTRY && Number(b.low) <= Number(longStop));
    const shortFire = bars.findIndex((b, i) => i > ENTRY && Number(b.high) >= Number(shortStop));
    plan =
      longFire > 0
        ? { long: true, trigger: longStop, fireIndex: longFire }
        : { long: false, trigger: shortStop, fireIndex: shortFire };
    expect(plan.fireIndex, "the day's bars reach a stop beyond the prices before 08:00").toBeGreaterThan(
      eightIndex,
    );
  });
  afterAll(() => h.close());

  it("sets leverage (ACCOUNT_CONFIG_UPDATE) and answers a MARKET order NEW, filled at the next open", async () => {
    const side = plan.long ? "BUY" : "SELL";
    const amt = plan.long ? QTY : `-${QTY}`;
    await feedUntil(bars[9]!.closeTime);
    const lev = await h.call("POST", "/fapi/v1/leverage", { symbol: "BTCUSDT", leverage: "10" });
    expect(lev).toEqual({
      status: 200,
      body: { leverage: 10, maxNotionalValue: expect.any(String), symbol: "BTCUSDT" },
    });
    expect(h.events.at(-1)).toEqual({
      e: "ACCOUNT_CONFIG_UPDATE",
      E: bars[9]!.closeTime,
      T: bars[9]!.closeTime,
      ac: { s: "BTCUSDT", l: 10 },
    });
    const placed = await h.call("POST", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      side,
      type: "MARKET",
      quantity: QTY,
      newClientOrderId: "entry-1",
      newOrderRespType: "RESULT",
    });
    expect(placed.status).toBe(200);
    expect(placed.body).toMatchObject({
      status: "NEW",
      executedQty: "0",
      clientOrderId: "entry-1",
      type: "MARKET",
    });
    expect(h.events.at(-1)).toMatchObject({
      e: "ORDER_TRADE_UPDATE",
      o: { x: "NEW", X: "NEW", c: "entry-1" },
    });
    expect(await trades()).toEqual([]);

    await feedUntil(bars[10]!.closeTime);
    const slip = plan.long ? new Dec(1).plus(SLIPPAGE) : new Dec(1).minus(SLIPPAGE);
    const price = canonical(new Dec(bars[10]!.open).times(slip));
    const commission = canonical(new Dec(price).times(QTY).times(TAKER));
    const [t] = await trades();
    expect(t).toMatchObject({
      symbol: "BTCUSDT",
      orderId: placed.body.orderId,
      side,
      price,
      qty: QTY,
      realizedPnl: "0",
      commission,
      commissionAsset: "USDT",
      maker: false,
      buyer: plan.long,
      positionSide: "BOTH",
      time: bars[10]!.openTime,
    });
    const order = await h.call("GET", "/fapi/v1/order", { symbol: "BTCUSDT", origClientOrderId: "entry-1" });
    expect(order.body).toMatchObject({ status: "FILLED", executedQty: QTY, avgPrice: price });
    const [update, trade] = h.events.slice(-2) as Wire[];
    expect(update.e).toBe("ACCOUNT_UPDATE");
    expect(update.a.m).toBe("ORDER");
    expect(update.a.P).toEqual([
      expect.objectContaining({ s: "BTCUSDT", pa: amt, ep: price, mt: "cross", ps: "BOTH" }),
    ]);
    expect(update.a.B[0].wb).toBe(canonical(new Dec(10000).minus(commission)));
    expect(trade.o).toMatchObject({
      x: "TRADE",
      X: "FILLED",
      l: QTY,
      z: QTY,
      L: price,
      n: commission,
      t: t.id,
      m: false,
      rp: "0",
    });
  });

  it("positionRisk and account show the ledger's position at the mark", async () => {
    const [t] = await trades();
    const amt = plan.long ? QTY : `-${QTY}`;
    const mark = bars[10]!.close; // no 1m mark files for BTCUSDT here: the venue's mark is the trade bar
    const [p] = (await h.call("GET", "/fapi/v3/positionRisk", { symbol: "BTCUSDT" })).body;
    const upnl = canonical(new Dec(amt).times(new Dec(mark).minus(t.price)));
    expect(p).toMatchObject({
      symbol: "BTCUSDT",
      positionSide: "BOTH",
      positionAmt: amt,
      entryPrice: t.price,
      markPrice: mark,
      unRealizedProfit: upnl,
      notional: canonical(new Dec(amt).times(mark)),
      marginAsset: "USDT",
    });
    expect(new Dec(p.positionInitialMargin).eq(new Dec(QTY).times(mark).div(10))).toBe(true);
    expect(Number(p.liquidationPrice)).toBeGreaterThan(0);
    const account = (await h.call("GET", "/fapi/v3/account")).body;
    const wallet = canonical(new Dec(10000).minus(t.commission));
    expect(account).toMatchObject({ totalWalletBalance: wallet, totalUnrealizedProfit: upnl });
    expect(account.totalMarginBalance).toBe(canonical(new Dec(wallet).plus(upnl)));
    expect(account.positions).toEqual([
      expect.objectContaining({ positionAmt: amt, unrealizedProfit: upnl }),
    ]);
    expect(h.exchange.context().walletBalance).toBe(wallet);
  });

  it("charges funding at 08:00, then a STOP_MARKET closePosition algo order triggers and closes the position", async () => {
    const { trigger, fireIndex, long } = plan;
    const amt = long ? QTY : `-${QTY}`;

    const algo = await h.call("POST", "/fapi/v1/algoOrder", {
      algoType: "CONDITIONAL",
      symbol: "BTCUSDT",
      side: long ? "SELL" : "BUY",
      type: "STOP_MARKET",
      triggerPrice: trigger,
      closePosition: "true",
      workingType: "CONTRACT_PRICE",
      clientAlgoId: "stop-1",
    });
    expect(algo.status).toBe(200);
    expect(algo.body).toMatchObject({
      algoStatus: "NEW",
      clientAlgoId: "stop-1",
      triggerPrice: trigger,
      closePosition: true,
    });
    expect(h.events.at(-1)).toMatchObject({
      e: "ALGO_UPDATE",
      o: { X: "NEW", caid: "stop-1", aid: algo.body.algoId },
    });
    const open = (await h.call("GET", "/fapi/v1/openAlgoOrders", { symbol: "BTCUSDT" })).body;
    expect(open.map((a: Wire) => a.algoId)).toEqual([algo.body.algoId]);

    await feedUntil(bars[fireIndex - 1]!.closeTime);
    // every settlement while the position was open (08:00, and 16:00 when the stop fires later)
    const settlements = events.flatMap((e) =>
      e.kind === "funding" &&
      isPriced(e.funding) &&
      e.time > bars[ENTRY]!.openTime &&
      e.time < bars[fireIndex]!.openTime
        ? [e.funding]
        : [],
    );
    expect(settlements.length).toBeGreaterThan(0);
    const fees = settlements.map((f) =>
      canonical(new Dec(amt).times(f.markPrice).times(f.fundingRate).neg()),
    );
    const income = (await h.call("GET", "/fapi/v1/income", { incomeType: "FUNDING_FEE" })).body;
    expect(income.map((i: Wire) => [i.symbol, i.incomeType, i.income, i.asset, i.time])).toEqual(
      settlements.map((f, i) => ["BTCUSDT", "FUNDING_FEE", fees[i], "USDT", f.fundingTime]),
    );
    const fundingUpdates = h.events.filter(
      (m: Wire) => m.e === "ACCOUNT_UPDATE" && m.a.m === "FUNDING_FEE",
    ) as Wire[];
    expect(fundingUpdates.map((m) => [m.a.P, m.a.B[0].bc])).toEqual(fees.map((fee) => [[], fee])); // cross: B only
    expect(
      (await h.call("GET", "/fapi/v1/algoOrder", { algoId: String(algo.body.algoId) })).body.algoStatus,
    ).toBe("NEW");

    const before = h.events.length;
    await feedUntil(bars[fireIndex]!.closeTime);
    const b = bars[fireIndex]!;
    const gapped = long ? Number(b.open) <= Number(trigger) : Number(b.open) >= Number(trigger);
    const slip = long ? new Dec(1).minus(SLIPPAGE) : new Dec(1).plus(SLIPPAGE);
    const exit = canonical(new Dec(gapped ? b.open : trigger).times(slip));
    const [entry, close] = await trades();
    expect(close).toMatchObject({
      side: long ? "SELL" : "BUY",
      price: exit,
      qty: QTY,
      maker: false,
      buyer: !long,
    });
    expect(close.realizedPnl).toBe(canonical(new Dec(amt).times(new Dec(exit).minus(entry.price))));
    expect(close.commission).toBe(canonical(new Dec(exit).times(QTY).times(TAKER)));

    const stream = h.events.slice(before) as Wire[];
    expect(stream.map((m) => `${m.e}:${m.o?.X ?? m.a?.m}`)).toEqual([
      "ALGO_UPDATE:TRIGGERING",
      "ALGO_UPDATE:TRIGGERED",
      "ORDER_TRADE_UPDATE:NEW",
      "ACCOUNT_UPDATE:ORDER",
      "ORDER_TRADE_UPDATE:FILLED",
      "ALGO_UPDATE:FINISHED",
    ]);
    const child = stream[2].o;
    expect(child).toMatchObject({
      c: "stop-1",
      o: "MARKET",
      ot: "STOP_MARKET",
      sp: trigger,
      cp: true,
      q: QTY,
    });
    expect(stream[1].o.ai).toBe(String(child.i));
    expect(stream[4].o).toMatchObject({
      i: child.i,
      t: close.id,
      L: exit,
      rp: close.realizedPnl,
      n: close.commission,
    });
    expect(stream[5].o).toMatchObject({ X: "FINISHED", ap: exit, aq: QTY, ai: String(child.i) });
    expect(stream[3].a.P[0]).toMatchObject({ pa: "0", ep: "0", cr: close.realizedPnl });

    expect((await h.call("GET", "/fapi/v3/positionRisk")).body).toEqual([]);
    const algoNow = (await h.call("GET", "/fapi/v1/algoOrder", { clientAlgoId: "stop-1" })).body;
    expect(algoNow).toMatchObject({
      algoStatus: "FINISHED",
      actualOrderId: String(child.i),
      actualPrice: exit,
    });
    const orders = (await h.call("GET", "/fapi/v1/allOrders", { symbol: "BTCUSDT" })).body;
    expect(orders.map((o: Wire) => [o.clientOrderId, o.type, o.origType, o.status])).toEqual([
      ["entry-1", "MARKET", "MARKET", "FILLED"],
      ["stop-1", "MARKET", "STOP_MARKET", "FILLED"],
    ]);
  });

  it("the wallet, userTrades, income and the event stream agree", async () => {
    const all = await trades();
    const income = (await h.call("GET", "/fapi/v1/income", { limit: "1000" })).body;
    const sum = (xs: string[]) => xs.reduce((s, x) => s.plus(x), new Dec(0));
    const funding = sum(
      income.filter((i: Wire) => i.incomeType === "FUNDING_FEE").map((i: Wire) => i.income),
    );
    const wallet = new Dec(10000)
      .plus(sum(all.map((t: Wire) => t.realizedPnl)))
      .minus(sum(all.map((t: Wire) => t.commission)))
      .plus(funding);
    const account = (await h.call("GET", "/fapi/v3/account")).body;
    expect(account.totalWalletBalance).toBe(canonical(wallet));
    const [balance] = (await h.call("GET", "/fapi/v3/balance")).body;
    expect(balance).toMatchObject({
      asset: "USDT",
      balance: canonical(wallet),
      availableBalance: canonical(wallet),
    });
    const lastUpdate = h.events.filter((m: Wire) => m.e === "ACCOUNT_UPDATE").at(-1) as Wire;
    expect(lastUpdate.a.B[0].wb).toBe(canonical(wallet));
    const streamed = h.events.filter(
      (m: Wire) => m.e === "ORDER_TRADE_UPDATE" && m.o.x === "TRADE",
    ) as Wire[];
    expect(streamed.map((m) => [m.o.t, m.o.L, m.o.l, m.o.n, m.o.rp])).toEqual(
      all.map((t: Wire) => [t.id, t.price, t.qty, t.commission, t.realizedPnl]),
    );
    const sumIncome = (type: string) =>
      sum(income.filter((i: Wire) => i.incomeType === type).map((i: Wire) => i.income));
    expect(canonical(sumIncome("COMMISSION"))).toBe(canonical(sum(all.map((t: Wire) => t.commission)).neg()));
    expect(canonical(sumIncome("REALIZED_PNL"))).toBe(canonical(sum(all.map((t: Wire) => t.realizedPnl))));
  });

  it("every message has the keys of the real user-data captures (per event type and status)", async () => {
    // a LIMIT order far below the market and an algo order, both canceled, give NEW and CANCELED messages
    const lastClose = Number(bars[next - 1]!.close);
    const price = canonical(roundToTick(new Dec(lastClose).times("0.97"), "0.10", "floor"));
    await h.call("POST", "/fapi/v1/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: QTY,
      price,
      newClientOrderId: "lim-1",
    });
    await h.call("DELETE", "/fapi/v1/order", { symbol: "BTCUSDT", origClientOrderId: "lim-1" }, "query");
    const trigger = canonical(roundToTick(new Dec(lastClose).times("1.05"), "0.10", "ceil"));
    await h.call("POST", "/fapi/v1/algoOrder", {
      algoType: "CONDITIONAL",
      symbol: "BTCUSDT",
      side: "BUY",
      type: "STOP_MARKET",
      triggerPrice: trigger,
      quantity: QTY,
      clientAlgoId: "stop-2",
    });
    await h.call("DELETE", "/fapi/v1/algoOrder", { clientAlgoId: "stop-2" });

    const dir = join(root!, "futures/um/user-data");
    const real = readdirSync(dir).flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Wire),
    );
    const kind = (m: Wire) =>
      m.e === "ORDER_TRADE_UPDATE"
        ? `${m.e}:${m.o.x}`
        : m.e === "ALGO_UPDATE"
          ? `${m.e}:${m.o.X}`
          : `${m.e}:${m.a?.m}`;
    const keys = (m: Wire) => {
      const inner = m.o ?? m.a;
      const rows = m.a
        ? { B: Object.keys(m.a.B[0] ?? {}).sort(), P: Object.keys(m.a.P[0] ?? {}).sort() }
        : {};
      return { top: Object.keys(m).sort(), inner: Object.keys(inner).sort(), ...rows };
    };
    // every message of ours of a kind the captures have, against each captured message of that kind
    const ours = new Map<string, Wire[]>();
    for (const m of h.events as Wire[]) ours.set(kind(m), [...(ours.get(kind(m)) ?? []), m]);
    const compared: string[] = [];
    for (const m of real) {
      const k = kind(m);
      if (m.e === "TRADE_LITE" || (m.e === "ACCOUNT_UPDATE" && m.a.P.length === 0)) continue; // not emitted / BNFCR
      expect(ours.has(k), `the double emitted ${k}`).toBe(true);
      for (const mine of ours.get(k)!) expect(keys(mine), k).toEqual(keys(m));
      compared.push(k);
    }
    expect(new Set(compared)).toEqual(
      new Set([
        "ORDER_TRADE_UPDATE:NEW",
        "ORDER_TRADE_UPDATE:TRADE",
        "ACCOUNT_UPDATE:ORDER",
        "ALGO_UPDATE:NEW",
        "ALGO_UPDATE:CANCELED",
        "ALGO_UPDATE:TRIGGERING",
        "ALGO_UPDATE:TRIGGERED",
        "ALGO_UPDATE:FINISHED",
      ]),
    );
    // the canceled LIMIT: x CANCELED with the NEW keys
    const canceled = (h.events as Wire[]).find((m) => m.e === "ORDER_TRADE_UPDATE" && m.o.x === "CANCELED");
    expect(Object.keys(canceled.o).sort()).toEqual(keys(ours.get("ORDER_TRADE_UPDATE:NEW")![0]).inner);
    expect(canceled.o).toMatchObject({ c: "lim-1", X: "CANCELED", p: price });
  });
});
