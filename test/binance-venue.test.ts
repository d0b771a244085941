/**
 * BinanceVenue and BinanceRest against the local fake (test/support/binance-fake.ts): start-up, order and algo
 * order parameters as exact strings, rejections with Binance's codes, 429 backoff, 418 halt, -1021 resync,
 * unknown outcomes settled by a query (never a second send), cancels, the user stream (fills once, in order,
 * lockstep acks, funding completed over REST), and no secret in any error or log line.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BinanceVenue } from "../src/adapters/binance/venue.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import { BinanceFake } from "./support/binance-fake.ts";

const apiKey = "fakeApiKeyAAAAAAAAAAAAAAAAAAAAAAAA";
const apiSecret = "fakeApiSecretBBBBBBBBBBBBBBBBBBBBBB";

let fake: BinanceFake;
let urls: { restUrl: string; wsUrl: string };
let logLines: string[];
let venues: BinanceVenue[];

beforeEach(async () => {
  fake = new BinanceFake({ apiKey, apiSecret });
  urls = await fake.start();
  logLines = [];
  venues = [];
});

afterEach(async () => {
  for (const v of venues) await v.close().catch(() => {});
  await fake.close();
  const all = logLines.join("\n");
  expect(all).not.toContain(apiKey);
  expect(all).not.toContain(apiSecret);
});

function makeVenue(
  extra: { lockstep?: boolean; timeoutMs?: number; onReconnect?: () => void } = {},
): BinanceVenue {
  const logger = pino(
    { level: "debug" },
    new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  );
  const venue = new BinanceVenue({
    ...urls,
    apiKey,
    apiSecret,
    symbols: ["BTCUSDT"],
    logger,
    clock: Date.now,
    ...(extra.lockstep ? { lockstep: true } : {}),
    ...(extra.onReconnect ? { onReconnect: extra.onReconnect } : {}),
    rest: { timeoutMs: extra.timeoutMs ?? 2_000, recvWindow: 300, limiter: { backoffBaseMs: 50 } },
  });
  venues.push(venue);
  return venue;
}

const settings = { leverage: 5, marginType: "ISOLATED" as const, dualSidePosition: false };

function limitOrder(clientOrderId: string): OrderRequest {
  return {
    clientOrderId,
    symbol: "BTCUSDT",
    side: "BUY",
    type: "LIMIT",
    purpose: "ENTRY",
    positionSide: "BOTH",
    quantity: "0.002",
    reduceOnly: false,
    price: "91739.90",
    timeInForce: "GTC",
    selfTradePreventionMode: "EXPIRE_MAKER",
  };
}

async function started(extra: Parameters<typeof makeVenue>[0] = {}) {
  const venue = makeVenue(extra);
  const reports: VenueReport[] = [];
  await venue.start(settings, async (r) => {
    reports.push(r);
  });
  await fake.connected();
  return { venue, reports };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("BinanceVenue start", () => {
  it("sets the account up idempotently (-4046 is fine), reads commission and balance, opens the user stream", async () => {
    const { venue } = await started();
    expect(fake.sent("POST /fapi/v1/marginType")).toHaveLength(1); // answered -4046: already ISOLATED
    expect(fake.sent("POST /fapi/v1/positionSide/dual")).toHaveLength(0); // already one-way
    expect(fake.leverage).toEqual({ BTCUSDT: 5 });
    expect(venue.account?.commission).toEqual({ BTCUSDT: { maker: "0.000200", taker: "0.000500" } });
    expect(venue.account?.walletBalance).toBe("10000.00000000");
    expect(venue.account?.instruments.get("BTCUSDT").symbol).toBe("BTCUSDT");
    expect(venue.account?.brackets.get("BTCUSDT").brackets[2]).toMatchObject({
      maintMarginRatio: "0.0065",
      cum: "950",
    });
    expect(venue.account?.rateLimits.find((l) => l.rateLimitType === "REQUEST_WEIGHT")?.limit).toBe(6000);
    expect(fake.sent("POST /fapi/v1/listenKey")).toHaveLength(1);
  });

  it("fails to start when the user data stream cannot be opened", async () => {
    fake.script("POST /fapi/v1/listenKey", { status: 400, body: { code: -2015, msg: "Invalid API-key." } });
    await expect(makeVenue().start(settings, async () => {})).rejects.toThrow(
      /user data stream: no connection/,
    );
  });

  it("switches the position mode and margin type when they differ", async () => {
    fake.marginType["BTCUSDT"] = "CROSSED";
    const venue = makeVenue();
    await venue.start({ ...settings, dualSidePosition: true }, async () => {});
    expect(fake.dualSidePosition).toBe(true);
    expect(fake.marginType["BTCUSDT"]).toBe("ISOLATED");
  });
});

describe("BinanceVenue orders", () => {
  it("sends a LIMIT order with exact decimal strings and returns Binance's order id", async () => {
    const { venue } = await started();
    const result = await venue.submit(limitOrder("ps-BTCUSDT-1-E"));
    expect(result).toEqual({ accepted: true, orderId: String(fake.orders.get("ps-BTCUSDT-1-E")!.orderId) });
    const [sent] = fake.sent("POST /fapi/v1/order");
    expect(sent).toMatchObject({
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      positionSide: "BOTH",
      quantity: "0.002",
      price: "91739.90",
      timeInForce: "GTC",
      newClientOrderId: "ps-BTCUSDT-1-E",
      newOrderRespType: "ACK",
      selfTradePreventionMode: "EXPIRE_MAKER",
    });
    expect(sent).not.toHaveProperty("reduceOnly");
  });

  it("sends a conditional order to the Algo Order API with clientAlgoId = clientOrderId", async () => {
    const { venue } = await started();
    const stop: OrderRequest = {
      clientOrderId: "ps-BTCUSDT-1-SL",
      symbol: "BTCUSDT",
      side: "SELL",
      type: "STOP_MARKET",
      purpose: "STOP_LOSS",
      positionSide: "BOTH",
      quantity: "0.002",
      reduceOnly: true,
      triggerPrice: "90100.10",
      workingType: "MARK_PRICE",
      priceProtect: true,
    };
    const result = await venue.submit(stop);
    expect(result).toEqual({
      accepted: true,
      orderId: String(fake.algoOrders.get("ps-BTCUSDT-1-SL")!.orderId),
    });
    expect(fake.sent("POST /fapi/v1/order")).toHaveLength(0);
    expect(fake.sent("POST /fapi/v1/algoOrder")[0]).toMatchObject({
      algoType: "CONDITIONAL",
      clientAlgoId: "ps-BTCUSDT-1-SL",
      type: "STOP_MARKET",
      quantity: "0.002",
      triggerPrice: "90100.10",
      workingType: "MARK_PRICE",
      priceProtect: "TRUE",
      reduceOnly: "true",
    });
    // Untriggered: canceled on the algo endpoint.
    expect(await venue.cancel("BTCUSDT", "ps-BTCUSDT-1-SL")).toEqual({ canceled: true });
    expect(fake.sent("DELETE /fapi/v1/algoOrder")).toEqual([
      expect.objectContaining({ clientAlgoId: "ps-BTCUSDT-1-SL" }),
    ]);
  });

  it("returns a rejection with Binance's code and message", async () => {
    const { venue } = await started();
    fake.script("POST /fapi/v1/order", {
      status: 400,
      body: { code: -2019, msg: "Margin is insufficient." },
    });
    expect(await venue.submit(limitOrder("ps-BTCUSDT-2-E"))).toEqual({
      accepted: false,
      code: -2019,
      reason: "Margin is insufficient.",
    });
    // A clientOrderId sent before is refused here, not sent again; Binance's own -4116 is passed on as well.
    await venue.submit(limitOrder("ps-BTCUSDT-3-E"));
    expect(await venue.submit(limitOrder("ps-BTCUSDT-3-E"))).toEqual({
      accepted: false,
      code: -4116,
      reason: "clientOrderId ps-BTCUSDT-3-E was already sent by this venue: not sent again",
    });
    expect(
      fake.sent("POST /fapi/v1/order").filter((p) => p["newClientOrderId"] === "ps-BTCUSDT-3-E"),
    ).toHaveLength(1);
    fake.script("POST /fapi/v1/order", {
      status: 400,
      body: { code: -4116, msg: "ClientOrderId is duplicated." },
    });
    expect(await venue.submit(limitOrder("ps-BTCUSDT-3b-E"))).toEqual({
      accepted: false,
      code: -4116,
      reason: "ClientOrderId is duplicated.",
    });
  });

  it("backs off after a 429 and then sends the order once", async () => {
    const { venue } = await started();
    fake.script("POST /fapi/v1/order", {
      status: 429,
      body: { code: -1003, msg: "Too many requests; current limit is 2400 requests per minute." },
    });
    const before = Date.now();
    const result = await venue.submit(limitOrder("ps-BTCUSDT-4-E"));
    expect(result.accepted).toBe(true);
    expect(Date.now() - before).toBeGreaterThanOrEqual(45);
    expect(fake.sent("POST /fapi/v1/order")).toHaveLength(2);
    expect(fake.orders.size).toBe(1);
  });

  it("halts on a 418 until the ban in the -1003 message ends: later orders are not sent", async () => {
    const { venue } = await started();
    const until = Date.now() + 400;
    fake.script("POST /fapi/v1/order", {
      status: 418,
      body: {
        code: -1003,
        msg: `Way too many requests; IP banned until ${until}. Please use the websocket.`,
      },
    });
    const first = await venue.submit(limitOrder("ps-BTCUSDT-5-E"));
    expect(first).toMatchObject({ accepted: false, code: -1003 });
    const second = await venue.submit(limitOrder("ps-BTCUSDT-6-E"));
    expect(second).toEqual({ accepted: false, code: -1003, reason: `IP banned until ${until}: not sent` });
    expect(fake.sent("POST /fapi/v1/order")).toHaveLength(1);
    await new Promise((r) => setTimeout(r, until - Date.now() + 20));
    expect((await venue.submit(limitOrder("ps-BTCUSDT-7-E"))).accepted).toBe(true);
  });

  it("resynchronises the clock on -1021 and sends again", async () => {
    const { venue } = await started();
    fake.skewMs = 5_000; // the exchange's clock jumps ahead: our timestamps fall outside recvWindow
    const result = await venue.submit(limitOrder("ps-BTCUSDT-8-E"));
    expect(result.accepted).toBe(true);
    expect(fake.requests.map((r) => r.route).slice(-3)).toEqual([
      "POST /fapi/v1/order",
      "GET /fapi/v1/time",
      "POST /fapi/v1/order",
    ]);
    expect(Math.abs(venue.rest.client.getTimeOffset() - 5_000)).toBeLessThan(500);
  });

  it("settles a 503 'Unknown error' by a query by clientOrderId, never a second send", async () => {
    const { venue } = await started();
    const unknown = {
      status: 503,
      body: { code: -1000, msg: "Unknown error, please check your request or try again later." },
    };
    fake.script("POST /fapi/v1/order", { ...unknown, execute: true }, unknown);
    const placed = await venue.submit(limitOrder("ps-BTCUSDT-9-E"));
    expect(placed).toEqual({ accepted: true, orderId: String(fake.orders.get("ps-BTCUSDT-9-E")!.orderId) });
    const lost = await venue.submit(limitOrder("ps-BTCUSDT-10-E"));
    expect(lost).toMatchObject({ accepted: false, code: -1000 });
    expect(fake.sent("POST /fapi/v1/order").map((p) => p["newClientOrderId"])).toEqual([
      "ps-BTCUSDT-9-E",
      "ps-BTCUSDT-10-E",
    ]);
    expect(fake.sent("GET /fapi/v1/order").map((p) => p["origClientOrderId"])).toEqual([
      "ps-BTCUSDT-9-E",
      "ps-BTCUSDT-10-E",
    ]);
  });

  it("after a restart, queries each order in doubt before sending it: found → accepted, never sent; absent → sent once", async () => {
    const { venue: killed } = await started();
    const placed = await killed.submit(limitOrder("ps-BTCUSDT-21-E"));
    const stop: OrderRequest = {
      clientOrderId: "ps-BTCUSDT-21-SL",
      symbol: "BTCUSDT",
      side: "SELL",
      type: "STOP_MARKET",
      purpose: "STOP_LOSS",
      positionSide: "BOTH",
      reduceOnly: false,
      closePosition: true,
      triggerPrice: "90000",
    };
    const placedStop = await killed.submit(stop);
    await killed.close();
    // The restarted process: both orders and a third that never left are in doubt.
    const venue = makeVenue();
    venue.inDoubt([limitOrder("ps-BTCUSDT-21-E"), stop, limitOrder("ps-BTCUSDT-22-E")]);
    await venue.start(settings, async () => {});
    expect(await venue.submit(limitOrder("ps-BTCUSDT-21-E"))).toEqual(placed);
    expect(await venue.submit(stop)).toEqual(placedStop);
    const sent = await venue.submit(limitOrder("ps-BTCUSDT-22-E"));
    expect(sent).toEqual({ accepted: true, orderId: String(fake.orders.get("ps-BTCUSDT-22-E")!.orderId) });
    expect(fake.sent("POST /fapi/v1/order").map((p) => p["newClientOrderId"])).toEqual([
      "ps-BTCUSDT-21-E",
      "ps-BTCUSDT-22-E",
    ]);
    expect(fake.sent("POST /fapi/v1/algoOrder").map((p) => p["clientAlgoId"])).toEqual(["ps-BTCUSDT-21-SL"]);
    expect(fake.sent("GET /fapi/v1/order").map((p) => p["origClientOrderId"])).toEqual([
      "ps-BTCUSDT-21-E",
      "ps-BTCUSDT-22-E",
    ]);
    expect(fake.sent("GET /fapi/v1/algoOrder").map((p) => p["clientAlgoId"])).toEqual(["ps-BTCUSDT-21-SL"]);
    // Once settled, the order is no longer in doubt: a second submit is refused locally, nothing is sent.
    expect(await venue.submit(limitOrder("ps-BTCUSDT-22-E"))).toMatchObject({ accepted: false, code: -4116 });
    expect(fake.sent("POST /fapi/v1/order")).toHaveLength(2);
  });

  it("settles a timeout of an algo order by querying the algo order", async () => {
    const { venue } = await started({ timeoutMs: 300 });
    fake.script("POST /fapi/v1/algoOrder", { execute: true, delayMs: 800, body: {} });
    const stop: OrderRequest = {
      clientOrderId: "ps-BTCUSDT-11-TP",
      symbol: "BTCUSDT",
      side: "SELL",
      type: "TAKE_PROFIT_MARKET",
      purpose: "TAKE_PROFIT",
      positionSide: "BOTH",
      reduceOnly: false,
      closePosition: true,
      triggerPrice: "95000",
    };
    const result = await venue.submit(stop);
    expect(result).toEqual({
      accepted: true,
      orderId: String(fake.algoOrders.get("ps-BTCUSDT-11-TP")!.orderId),
    });
    expect(fake.sent("POST /fapi/v1/algoOrder")).toHaveLength(1);
    expect(fake.sent("POST /fapi/v1/algoOrder")[0]).not.toHaveProperty("quantity");
    expect(fake.sent("GET /fapi/v1/algoOrder")).toHaveLength(1);
  });

  it("reports a cancel of an order the venue no longer has as not canceled, with Binance's code", async () => {
    const { venue } = await started();
    await venue.submit(limitOrder("ps-BTCUSDT-12-E"));
    expect(await venue.cancel("BTCUSDT", "ps-BTCUSDT-12-E")).toEqual({ canceled: true });
    expect(await venue.cancel("BTCUSDT", "ps-BTCUSDT-12-E")).toEqual({ canceled: true }); // queried: CANCELED
    expect(await venue.cancel("BTCUSDT", "ps-unknown")).toEqual({
      canceled: false,
      code: -2011,
      reason: "Unknown order sent.",
    });
  });

  it("keeps the API key and secret out of errors", async () => {
    const { venue } = await started();
    fake.script("POST /fapi/v1/order", {
      status: 400,
      body: { code: -1102, msg: `Mandatory parameter was not sent (key ${apiKey}).` },
    });
    const result = await venue.submit(limitOrder("ps-BTCUSDT-13-E"));
    expect(result).toEqual({
      accepted: false,
      code: -1102,
      reason: "Mandatory parameter was not sent (key ***).",
    });
  });
});

describe("BinanceVenue user data stream", () => {
  const otu = (clientOrderId: string, extra: Record<string, unknown>) => ({
    e: "ORDER_TRADE_UPDATE",
    E: 1731954087444,
    T: 1731954087444,
    o: {
      s: "BTCUSDT",
      c: clientOrderId,
      S: "BUY",
      o: "LIMIT",
      f: "GTC",
      q: "0.002",
      p: "91739.90",
      ap: "0",
      sp: "0",
      x: "NEW",
      X: "NEW",
      i: 1000,
      l: "0",
      z: "0",
      L: "0",
      n: "0",
      N: "USDT",
      T: 1731954087444,
      t: 0,
      m: false,
      R: false,
      wt: "CONTRACT_PRICE",
      ot: "LIMIT",
      ps: "BOTH",
      rp: "0",
      ...extra,
    },
  });

  it("hands each fill to onReport once, in order, and acks every private message in lockstep", async () => {
    const { venue, reports } = await started({ lockstep: true });
    await venue.submit(limitOrder("ps-BTCUSDT-20-E"));
    const part1 = otu("ps-BTCUSDT-20-E", {
      x: "TRADE",
      X: "PARTIALLY_FILLED",
      l: "0.001",
      z: "0.001",
      L: "91739.90",
      n: "0.04586995",
      t: 7,
    });
    const part2 = otu("ps-BTCUSDT-20-E", {
      x: "TRADE",
      X: "FILLED",
      l: "0.001",
      z: "0.002",
      L: "91739.80",
      n: "0.04586990",
      t: 8,
    });
    const messages = [part2, otu("ps-BTCUSDT-20-E", {}), part1, part2, part1];
    for (const m of messages) fake.push(m);
    await until(() => fake.acks === messages.length, "acks");
    expect(
      reports.map(
        (r) => r.kind === "fill" && [r.fill.tradeId, r.fill.price, r.fill.commission, r.fill.status],
      ),
    ).toEqual([
      ["7", "91739.90", "0.04586995", "PARTIALLY_FILLED"],
      ["8", "91739.80", "0.04586990", "FILLED"],
    ]);
  });

  it("reports no CANCELED for our own cancel, and an expired for one we did not ask for", async () => {
    const { venue, reports } = await started({ lockstep: true });
    await venue.submit(limitOrder("ps-BTCUSDT-21-E"));
    await venue.submit(limitOrder("ps-BTCUSDT-22-E"));
    await venue.cancel("BTCUSDT", "ps-BTCUSDT-21-E");
    fake.push(otu("ps-BTCUSDT-21-E", { x: "CANCELED", X: "CANCELED" }));
    fake.push(otu("ps-BTCUSDT-22-E", { x: "EXPIRED", X: "EXPIRED", er: 6 }));
    await until(() => fake.acks === 2, "acks");
    expect(reports).toEqual([
      {
        kind: "expired",
        time: 1731954087444,
        symbol: "BTCUSDT",
        clientOrderId: "ps-BTCUSDT-22-E",
        reason: "EXPIRED at the venue (er 6)",
        expiryReason: 6,
      },
    ]);
  });

  it("completes a cross funding fee over income (asked again until listed) and fundingRate", async () => {
    const { reports } = await started({ lockstep: true });
    const T = 1731974400004;
    fake.push({
      e: "ACCOUNT_UPDATE",
      E: T,
      T,
      a: {
        m: "ORDER",
        B: [{ a: "USDT", wb: "10000", cw: "10000", bc: "0" }],
        P: [{ s: "BTCUSDT", pa: "0.002", ep: "91739.9", cr: "0", up: "0", mt: "cross", iw: "0", ps: "BOTH" }],
      },
    });
    // Binance lists the income a moment after the stream's message.
    setTimeout(
      () =>
        fake.income.push({
          symbol: "BTCUSDT",
          income: "-0.01835",
          asset: "USDT",
          time: T,
          incomeType: "FUNDING_FEE",
        }),
      300,
    );
    fake.fundingRates.push({
      symbol: "BTCUSDT",
      fundingTime: T - 4,
      fundingRate: "0.00010000",
      markPrice: "91750.10",
    });
    fake.push({
      e: "ACCOUNT_UPDATE",
      E: T,
      T,
      a: { m: "FUNDING_FEE", B: [{ a: "USDT", wb: "9999.98165", cw: "9999.98165", bc: "-0.01835" }], P: [] },
    });
    await until(() => fake.acks === 2, "acks");
    expect(reports).toEqual([
      {
        kind: "funding",
        time: T,
        funding: {
          symbol: "BTCUSDT",
          fundingTime: T - 4,
          fundingRate: "0.00010000",
          markPrice: "91750.10",
          positionAmt: "0.002",
          fundingFee: "-0.01835",
        },
      },
    ]);
  });

  it("hands an order's reports over only after its submit returned", async () => {
    const { venue, reports } = await started({ lockstep: true });
    const events: string[] = [];
    fake.script("POST /fapi/v1/order", { execute: true, delayMs: 300 });
    const submitted = venue
      .submit(limitOrder("ps-BTCUSDT-23-E"))
      .then((r) => events.push(`submit ${r.accepted}`));
    await until(() => fake.orders.has("ps-BTCUSDT-23-E"), "the order at the fake");
    fake.push(
      otu("ps-BTCUSDT-23-E", { x: "TRADE", X: "FILLED", l: "0.002", z: "0.002", L: "91739.90", t: 9 }),
    );
    await until(() => reports.length === 1, "the fill");
    events.push("fill");
    await submitted;
    expect(events).toEqual(["submit true", "fill"]);
  });

  it("follows the SDK's re-created listenKey after listenKeyExpired and signals a resync", async () => {
    const { venue, reports } = await started();
    let resyncs = 0;
    venue.onResync(() => {
      resyncs += 1;
    });
    await venue.submit(limitOrder("ps-BTCUSDT-24-E"));
    const oldKey = fake.listenKey;
    fake.listenKey = "fakeListenKeyRenewed0000";
    fake.push({ e: "listenKeyExpired", E: 1731954087444, listenKey: oldKey });
    await until(() => fake.sent("POST /fapi/v1/listenKey").length === 2, "a new listenKey");
    await fake.connected();
    await until(() => resyncs >= 1, "the resync signal");
    fake.push(
      otu("ps-BTCUSDT-24-E", { x: "TRADE", X: "FILLED", l: "0.002", z: "0.002", L: "91739.90", t: 10 }),
    );
    await until(() => reports.length === 1, "the fill on the new stream");
    expect(reports[0]).toMatchObject({
      kind: "fill",
      fill: { clientOrderId: "ps-BTCUSDT-24-E", tradeId: "10" },
    });
  });

  it("reconnects after a dropped connection, signals a resync and reports the reconnection", async () => {
    let reconnects = 0;
    const { venue, reports } = await started({
      onReconnect: () => {
        reconnects++;
      },
    });
    let resyncs = 0;
    venue.onResync(() => {
      resyncs += 1;
    });
    await venue.submit(limitOrder("ps-BTCUSDT-25-E"));
    fake.dropStreams();
    await until(() => resyncs >= 1, "the resync signal");
    await fake.connected();
    fake.push(
      otu("ps-BTCUSDT-25-E", { x: "TRADE", X: "FILLED", l: "0.002", z: "0.002", L: "91739.90", t: 11 }),
    );
    await until(() => reports.length === 1, "the fill after the reconnect");
    expect(reports[0]).toMatchObject({ kind: "fill", fill: { tradeId: "11" } });
    expect(reconnects).toBe(1);
  });
});
