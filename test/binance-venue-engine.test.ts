/**
 * BinanceVenue behind the engine's OrderExecution (order and account actors in memory), against the local fake:
 * every report the venue hands over must be a legal transition of the order machine — a LIMIT order filled in
 * two parts, and a STOP_MARKET through the Algo Order lifecycle (TRIGGERING → TRIGGERED → FILLED by its
 * matching-engine order), with duplicated and reordered stream messages — and the fills are booked with
 * Binance's exact prices and commissions.
 */
import { pino } from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { orderMachine } from "../src/actors/order.machine.ts";
import { BinanceVenue } from "../src/adapters/binance/venue.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { OrderExecution } from "../src/engine/order-execution.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import { streams } from "../src/events/streams.ts";
import { BinanceFake } from "./support/binance-fake.ts";

const apiKey = "engineTestKeyCCCCCCCCCCCCCCCCCCCC";
const apiSecret = "engineTestSecretDDDDDDDDDDDDDDDDDD";
const T0 = 1765431097000;

let fake: BinanceFake;
let venue: BinanceVenue;

beforeEach(async () => {
  fake = new BinanceFake({ apiKey, apiSecret });
});

afterEach(async () => {
  await venue?.close().catch(() => {});
  await fake.close();
});

async function engine() {
  const urls = await fake.start();
  const store = new InMemoryEventStore();
  const runId = "binance-engine-test";
  venue = new BinanceVenue({
    ...urls,
    apiKey,
    apiSecret,
    symbols: ["BTCUSDT"],
    logger: pino({ level: "silent" }),
    clock: Date.now,
    lockstep: true,
    gapTimeoutMs: 200,
  });
  const account = EventSourcedActor.create("account-main", accountMachine, { store, correlationId: runId });
  await account.commit(
    [{ type: "AccountOpened", data: { accountId: "main", asset: "USDT", walletBalance: "10000" } }],
    { causationId: "t", eventTime: T0 },
  );
  const execution = new OrderExecution({ store, runId, venue, account });
  const handled: VenueReport[] = [];
  await venue.start({ leverage: 5, marginType: "ISOLATED", dualSidePosition: false }, async (r) => {
    handled.push(r);
    if (r.kind === "fill") await execution.onFill(r.fill, r.time);
    else if (r.kind === "triggering") await execution.onTriggering(r);
    else if (r.kind === "triggered") await execution.onTriggered(r);
    else if (r.kind === "expired")
      await execution.onExpired(r.clientOrderId, r.reason, r.time, r.expiryReason);
    else if (r.kind === "rejected") await execution.onRejected(r);
    else throw new Error(`unexpected ${r.kind}`);
  });
  await fake.connected();
  const status = async (id: string) =>
    (await EventSourcedActor.rehydrate(streams.order(id), orderMachine, { store, correlationId: runId }))
      .snapshot;
  const submit = (request: OrderRequest) =>
    execution.submit(request, { causationId: `test:${request.clientOrderId}`, eventTime: T0 });
  return { execution, account, handled, status, submit };
}

async function acked(n: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (fake.acks < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} acks (${fake.acks})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function otu(c: string, i: number, extra: Record<string, unknown>) {
  return {
    e: "ORDER_TRADE_UPDATE",
    E: T0 + 31,
    T: T0 + 31,
    o: {
      s: "BTCUSDT",
      c,
      S: "BUY",
      o: "MARKET",
      q: "0.002",
      p: "0",
      ap: "0",
      sp: "0",
      x: "NEW",
      X: "NEW",
      i,
      l: "0",
      z: "0",
      L: "0",
      N: "USDT",
      T: T0 + 31,
      t: 0,
      m: false,
      R: false,
      ps: "BOTH",
      rp: "0",
      ...extra,
    },
  };
}

function algoUpdate(caid: string, aid: string, X: string, T: number, extra: Record<string, unknown> = {}) {
  return {
    e: "ALGO_UPDATE",
    E: T,
    T,
    o: {
      caid,
      aid: Number(aid),
      at: "CONDITIONAL",
      o: "STOP_MARKET",
      s: "BTCUSDT",
      S: "SELL",
      ps: "BOTH",
      f: "GTC",
      q: "0.002",
      X,
      ai: "",
      tp: "90100.10",
      p: "0",
      wt: "MARK_PRICE",
      ...extra,
    },
  };
}

it("a LIMIT order filled in two parts (duplicated, reordered on the stream) ends FILLED with exact bookings", async () => {
  const { status, submit, account } = await engine();
  const request: OrderRequest = {
    clientOrderId: "ps-BTCUSDT-1-E",
    symbol: "BTCUSDT",
    side: "BUY",
    type: "LIMIT",
    purpose: "ENTRY",
    positionSide: "BOTH",
    quantity: "0.002",
    reduceOnly: false,
    price: "91739.90",
    timeInForce: "GTC",
  };
  expect(await submit(request)).toEqual({ accepted: true });
  const i = fake.orders.get("ps-BTCUSDT-1-E")!.orderId;
  const part = (t: number, l: string, z: string, X: string, L: string, n: string) =>
    otu("ps-BTCUSDT-1-E", i, { o: "LIMIT", x: "TRADE", X, l, z, L, n, t });
  const first = part(5612428004, "0.0015", "0.0015", "PARTIALLY_FILLED", "91739.90", "0.06880493");
  const second = part(5612428005, "0.0005", "0.002", "FILLED", "91739.80", "0.02293495");
  const messages = [second, otu("ps-BTCUSDT-1-E", i, { o: "LIMIT" }), first, second, first];
  for (const m of messages) fake.push(m);
  await acked(messages.length);
  expect((await status("ps-BTCUSDT-1-E")).value).toBe("FILLED");
  expect(account.snapshot.context.positions["BTCUSDT"]).toMatchObject({ positionAmt: "0.002" });
  expect(account.snapshot.context.walletBalance).toBe("9999.90826012");
});

it("a STOP_MARKET goes TRIGGERING → TRIGGERED → FILLED through ALGO_UPDATE and its matching-engine order", async () => {
  const { status, submit, handled } = await engine();
  const stop: OrderRequest = {
    clientOrderId: "ps-BTCUSDT-1-SL",
    symbol: "BTCUSDT",
    side: "SELL",
    type: "STOP_MARKET",
    purpose: "STOP_LOSS",
    positionSide: "BOTH",
    quantity: "0.002",
    reduceOnly: false,
    triggerPrice: "90100.10",
    workingType: "MARK_PRICE",
  };
  expect(await submit(stop)).toEqual({ accepted: true });
  const aid = String(fake.algoOrders.get("ps-BTCUSDT-1-SL")!.orderId);
  const fill = otu("x-child-order", 88937381063, {
    S: "SELL",
    x: "TRADE",
    X: "FILLED",
    l: "0.002",
    z: "0.002",
    L: "90099.00",
    n: "0.09009900",
    t: 777,
  });
  const triggered = { ai: "88937381063", act: "MARKET", ap: "0", aq: "0", tt: T0 + 19 };
  const messages = [
    algoUpdate("ps-BTCUSDT-1-SL", aid, "NEW", T0),
    fill, // before its link: waits for TRIGGERED
    algoUpdate("ps-BTCUSDT-1-SL", aid, "TRIGGERED", T0 + 30, triggered), // before TRIGGERING: waits
    algoUpdate("ps-BTCUSDT-1-SL", aid, "TRIGGERING", T0 + 19, { tt: T0 + 19 }),
    algoUpdate("ps-BTCUSDT-1-SL", aid, "FINISHED", T0 + 31, { ...triggered, ap: "90099.00", aq: "0.002" }),
    fill,
  ];
  for (const m of messages) fake.push(m);
  await acked(messages.length);
  const snapshot = await status("ps-BTCUSDT-1-SL");
  expect(snapshot.value).toBe("FILLED");
  expect(snapshot.context.triggeredOrderId).toBe("88937381063");
  expect(handled.map((r) => r.kind)).toEqual(["triggering", "triggered", "fill"]);
  expect(handled[0]).toMatchObject({ workingType: "MARK_PRICE", triggeredAt: "90100.10", time: T0 + 19 });
});

it("recovers a lost partial fill from userTrades after the gap timeout", async () => {
  const { status, submit, account, handled } = await engine();
  const request: OrderRequest = {
    clientOrderId: "ps-BTCUSDT-2-E",
    symbol: "BTCUSDT",
    side: "BUY",
    type: "LIMIT",
    purpose: "ENTRY",
    positionSide: "BOTH",
    quantity: "0.002",
    reduceOnly: false,
    price: "91739.90",
    timeInForce: "GTC",
  };
  await submit(request);
  const i = fake.orders.get("ps-BTCUSDT-2-E")!.orderId;
  const trade = (id: number, qty: string, price: string, commission: string) => ({
    symbol: "BTCUSDT",
    id,
    orderId: i,
    side: "BUY",
    price,
    qty,
    realizedPnl: "0",
    quoteQty: "0",
    commission,
    commissionAsset: "USDT",
    time: T0 + 40,
    positionSide: "BOTH",
    buyer: true,
    maker: true,
  });
  // Another order's trade of the same symbol is in the list too.
  fake.trades.push(
    { ...trade(5612428003, "0.001", "91700.00", "0.0458500"), orderId: i + 99 },
    trade(5612428004, "0.0015", "91739.90", "0.02752197"),
    trade(5612428005, "0.0005", "91739.80", "0.00917398"),
  );
  // The first fill's message is lost: the second waits for it.
  fake.push(
    otu("ps-BTCUSDT-2-E", i, {
      o: "LIMIT",
      x: "TRADE",
      X: "FILLED",
      l: "0.0005",
      z: "0.002",
      L: "91739.80",
      n: "0.00917398",
      m: true,
      t: 5612428005,
    }),
  );
  await acked(1);
  const deadline = Date.now() + 5_000;
  while (handled.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(
    handled.map(
      (r) => r.kind === "fill" && [r.fill.tradeId, r.fill.quantity, r.fill.cumulativeQuantity, r.fill.status],
    ),
  ).toEqual([
    ["5612428004", "0.0015", "0.0015", "PARTIALLY_FILLED"],
    ["5612428005", "0.0005", "0.002", "FILLED"],
  ]);
  expect((await status("ps-BTCUSDT-2-E")).value).toBe("FILLED");
  expect(account.snapshot.context.walletBalance).toBe("9999.96330405");
  expect(fake.sent("GET /fapi/v1/userTrades")).toHaveLength(1);
});

it("recovers a lost TRIGGERING from the algo order's status: the held TRIGGERED and fill follow", async () => {
  const { status, submit, handled } = await engine();
  const stop: OrderRequest = {
    clientOrderId: "ps-BTCUSDT-2-SL",
    symbol: "BTCUSDT",
    side: "SELL",
    type: "STOP_MARKET",
    purpose: "STOP_LOSS",
    positionSide: "BOTH",
    quantity: "0.002",
    reduceOnly: false,
    triggerPrice: "90100.10",
    workingType: "MARK_PRICE",
  };
  await submit(stop);
  const algo = fake.algoOrders.get("ps-BTCUSDT-2-SL")!;
  algo.status = "TRIGGERED";
  const triggered = { ai: "88937381070", act: "MARKET", ap: "0", aq: "0", tt: T0 + 19 };
  fake.push(algoUpdate("ps-BTCUSDT-2-SL", String(algo.orderId), "TRIGGERED", T0 + 30, triggered));
  fake.push(
    otu("x-child", 88937381070, {
      S: "SELL",
      x: "TRADE",
      X: "FILLED",
      l: "0.002",
      z: "0.002",
      L: "90099.00",
      n: "0.09009900",
      t: 778,
    }),
  );
  await acked(2);
  const deadline = Date.now() + 5_000;
  while (handled.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(handled.map((r) => r.kind)).toEqual(["triggering", "triggered", "fill"]);
  expect(handled[0]).toMatchObject({ triggeredAt: "90100.10", time: T0 + 30 });
  expect((await status("ps-BTCUSDT-2-SL")).value).toBe("FILLED");
});
