/**
 * The Binance venue's reconciliation (src/adapters/binance/reconcile.ts, `BinanceVenue.reconcile`) against the
 * local fake: what the user data stream lost entirely (no later message shows the gap) is recovered over REST as
 * the very reports the stream would have given — the same tradeId, price, quantity, commission and time, so the
 * engine writes the same events — and the stream's late copy is then dropped; an order the venue ended, and a
 * funding payment, likewise. The snapshot lists what is open, the positions and the wallet.
 */
import { pino } from "pino";
import { afterEach, beforeEach, expect, it } from "vitest";
import { parseUserDataMessage } from "../src/adapters/binance/user-data.ts";
import { UserDataFold } from "../src/adapters/binance/user-data-fold.ts";
import { BinanceVenue } from "../src/adapters/binance/venue.ts";
import type { EngineView } from "../src/engine/reconciliation.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import { BinanceFake } from "./support/binance-fake.ts";

const apiKey = "reconcileTestKeyEEEEEEEEEEEEEEEEEE";
const apiSecret = "reconcileTestSecretFFFFFFFFFFFFFFF";
const T0 = 1765431097000;

let fake: BinanceFake;
let venue: BinanceVenue;

beforeEach(() => {
  fake = new BinanceFake({ apiKey, apiSecret });
});

afterEach(async () => {
  await venue?.close().catch(() => {});
  await fake.close();
});

/** A started venue whose stream reports are kept in `streamed`. */
async function started() {
  const urls = await fake.start();
  venue = new BinanceVenue({
    ...urls,
    apiKey,
    apiSecret,
    symbols: ["BTCUSDT"],
    logger: pino({ level: "silent" }),
    clock: Date.now,
    lockstep: true,
  });
  const streamed: VenueReport[] = [];
  await venue.start({ leverage: 5, marginType: "ISOLATED", dualSidePosition: false }, async (r) => {
    streamed.push(r);
  });
  await fake.connected();
  return streamed;
}

const limit: OrderRequest = {
  clientOrderId: "ps-BTCUSDT-7-E",
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

function view(over: Partial<EngineView> = {}): EngineView {
  return {
    orders: [{ clientOrderId: limit.clientOrderId, symbol: "BTCUSDT", algo: false, executedQty: "0" }],
    positions: [],
    walletBalance: "10000",
    fundingSince: { BTCUSDT: T0 },
    lastSettlement: {},
    ...over,
  };
}

/** The ORDER_TRADE_UPDATE Binance sends for the fill (real fields, as in the captures). */
function fillMessage(orderId: number) {
  return {
    e: "ORDER_TRADE_UPDATE",
    E: T0 + 40,
    T: T0 + 40,
    o: {
      s: "BTCUSDT",
      c: limit.clientOrderId,
      S: "BUY",
      o: "LIMIT",
      q: "0.002",
      p: "91739.90",
      ap: "91739.90",
      sp: "0",
      x: "TRADE",
      X: "FILLED",
      i: orderId,
      l: "0.002",
      z: "0.002",
      L: "91739.90",
      n: "0.03669596",
      N: "USDT",
      T: T0 + 40,
      t: 5612428004,
      m: true,
      R: false,
      ps: "BOTH",
      rp: "0",
    },
  };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

it("a fill lost with its only message is recovered as the stream's report; the late copy is dropped", async () => {
  const streamed = await started();
  expect(await venue.submit(limit)).toMatchObject({ accepted: true });
  const order = fake.orders.get(limit.clientOrderId)!;
  // What the stream would have handed over for the message.
  const reference = new UserDataFold();
  reference.track({ clientOrderId: limit.clientOrderId, symbol: "BTCUSDT", algo: false });
  const expected = reference.apply(parseUserDataMessage(fillMessage(order.orderId))).reports;
  expect(expected).toHaveLength(1);
  // At the venue the order filled; its message never arrived.
  order.status = "FILLED";
  order.executedQty = "0.002";
  order.updateTime = T0 + 40;
  fake.trades.push({
    symbol: "BTCUSDT",
    id: 5612428004,
    orderId: order.orderId,
    side: "BUY",
    price: "91739.90",
    qty: "0.002",
    realizedPnl: "0",
    quoteQty: "183.4798",
    commission: "0.03669596",
    commissionAsset: "USDT",
    time: T0 + 40,
    positionSide: "BOTH",
    buyer: true,
    maker: true,
  });
  const delivered: VenueReport[] = [];
  const result = await venue.reconcile(view(), async (r) => {
    delivered.push(r);
  });
  expect(delivered).toEqual(expected);
  expect(result.recovered).toBe(1);
  expect(result.snapshot).toEqual({
    openOrders: [],
    positions: [],
    walletBalance: "10000.00000000",
  });
  // The message arrives late after all: nothing is handed over twice.
  fake.push(fillMessage(order.orderId));
  const acks = fake.acks;
  await until(() => fake.acks > acks);
  expect(streamed).toEqual([]);
});

it("an order the venue ended while the stream was down ends as the stream's expiry would end it", async () => {
  await started();
  await venue.submit(limit);
  const order = fake.orders.get(limit.clientOrderId)!;
  order.status = "EXPIRED";
  order.updateTime = T0 + 90;
  const delivered: VenueReport[] = [];
  const result = await venue.reconcile(view(), async (r) => {
    delivered.push(r);
  });
  expect(delivered).toEqual([
    {
      kind: "expired",
      time: T0 + 90,
      symbol: "BTCUSDT",
      clientOrderId: limit.clientOrderId,
      reason: "EXPIRED at the venue",
    },
  ]);
  expect(result.recovered).toBe(1);
  // A working order is listed open, an order of another client too (the comparison names it).
  fake.orders.set("web_1", {
    orderId: 77,
    symbol: "BTCUSDT",
    clientOrderId: "web_1",
    status: "NEW",
    params: { side: "SELL", type: "LIMIT", quantity: "0.01", price: "99000" },
  });
  const again = await venue.reconcile(view({ orders: [] }), async (r) => {
    delivered.push(r);
  });
  expect(again.recovered).toBe(0);
  expect(again.snapshot.openOrders).toEqual([
    {
      clientOrderId: "web_1",
      symbol: "BTCUSDT",
      algo: false,
      orderId: "77",
      side: "SELL",
      type: "LIMIT",
      quantity: "0.01",
      price: "99000",
    },
  ]);
});

it("a funding payment lost with its ACCOUNT_UPDATE is recovered from income, once", async () => {
  await started();
  const settlement = T0 + 3_600_000;
  fake.income.push({
    symbol: "BTCUSDT",
    income: "-0.01834798",
    asset: "USDT",
    time: settlement,
    incomeType: "FUNDING_FEE",
  });
  fake.fundingRates.push({
    symbol: "BTCUSDT",
    fundingTime: settlement,
    fundingRate: "0.0001",
    markPrice: "91739.90",
  });
  const engine = view({
    orders: [],
    positions: [{ symbol: "BTCUSDT", positionSide: "BOTH", positionAmt: "0.002" }],
    lastSettlement: { BTCUSDT: settlement },
  });
  const delivered: VenueReport[] = [];
  const deliver = async (r: VenueReport) => {
    delivered.push(r);
  };
  expect((await venue.reconcile(engine, deliver)).recovered).toBe(1);
  expect(delivered).toEqual([
    {
      kind: "funding",
      time: settlement,
      funding: {
        symbol: "BTCUSDT",
        fundingTime: settlement,
        fundingRate: "0.0001",
        markPrice: "91739.90",
        positionAmt: "0.002",
        fundingFee: "-0.01834798",
      },
    },
  ]);
  // Asked again (the engine has not booked it yet in this view): reported once only.
  expect((await venue.reconcile(engine, deliver)).recovered).toBe(0);
  // Booked: no settlement after the last payment, income is not even asked.
  const asked = fake.sent("GET /fapi/v1/income").length;
  await venue.reconcile({ ...engine, fundingSince: { BTCUSDT: settlement } }, deliver);
  expect(fake.sent("GET /fapi/v1/income").length).toBe(asked);
  expect(delivered).toHaveLength(1);
});
