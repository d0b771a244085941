import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { z } from "zod";
import {
  ErrorResponse,
  EventsResponse,
  HealthResponse,
  OrderResponse,
  OrdersResponse,
  PnlResponse,
  PositionsResponse,
  RiskResponse,
  RunsResponse,
} from "../src/adapters/http/schemas.ts";
import { buildHttpServer, serveProjections } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import type { EventData, EventType } from "../src/events/catalog.ts";
import { deterministicEventId } from "../src/events/ids.ts";
import { streams } from "../src/events/streams.ts";
import { createProjections, type Projections, rebuildProjections } from "../src/projections/index.ts";

const T0 = 1_704_067_200_000; // 2024-01-01T00:00Z
const at = (minute: number) => T0 + minute * 60_000;

/** Appends one event to `stream` of `store` (deterministic id, market time `eventTime`). */
async function append<T extends EventType>(
  store: InMemoryEventStore,
  stream: string,
  type: T,
  data: EventData<T>,
  eventTime: number,
): Promise<void> {
  const revision = ((await store.streamRevision(stream)) ?? -1) + 1;
  await store.append(
    stream,
    [
      {
        eventId: deterministicEventId("http", stream, revision),
        type,
        data,
        metadata: { correlationId: "http", causationId: "test", eventTime }, // the run id, as a backtest writes
      },
    ],
    revision === 0 ? "noStream" : revision - 1,
  );
}

function bar(minute: number, close: string): EventData<"BarClosed"> {
  const openTime = at(minute);
  return {
    symbol: "BTCUSDT",
    interval: "1m",
    openTime,
    closeTime: openTime + 59_999,
    open: close,
    high: close,
    low: close,
    close,
    volume: "3",
  };
}

function order(
  clientOrderId: string,
  side: "BUY" | "SELL",
  extra: Partial<EventData<"OrderSubmitted">> = {},
) {
  return {
    clientOrderId,
    symbol: "BTCUSDT",
    side,
    type: "MARKET",
    purpose: "ENTRY",
    positionSide: "BOTH",
    quantity: "2",
    reduceOnly: false,
    ...extra,
  } satisfies EventData<"OrderSubmitted">;
}

function filled(
  clientOrderId: string,
  side: "BUY" | "SELL",
  price: string,
  commission: string,
): EventData<"OrderFilled"> {
  return {
    clientOrderId,
    symbol: "BTCUSDT",
    side,
    tradeId: `t-${clientOrderId}`,
    price,
    quantity: "2",
    cumulativeQuantity: "2",
    commission,
    commissionAsset: "USDT",
    maker: false,
    status: "FILLED",
  };
}

/** A long round trip on BTCUSDT: buy 2 @ 100.50, funding, take profit 2 @ 103.50 (numbers of projections.test). */
async function seed(store: InMemoryEventStore): Promise<void> {
  const account = streams.account("main");
  await append(
    store,
    streams.run("http"),
    "RunStarted",
    {
      runId: "http",
      mode: "backtest",
      strategy: "sma-cross",
      symbols: ["BTCUSDT"],
      from: T0,
      to: at(10),
      config: { smaCross: { leverage: 5 } },
      manifest: [],
    },
    T0,
  );
  await append(
    store,
    account,
    "AccountOpened",
    { accountId: "main", asset: "USDT", walletBalance: "10000" },
    T0,
  );
  await append(store, streams.symbol("BTCUSDT"), "BarClosed", bar(0, "100.00"), at(1) - 1);
  await append(store, streams.order("E1"), "OrderSubmitted", order("E1", "BUY"), at(1));
  await append(store, streams.order("E1"), "OrderAccepted", { clientOrderId: "E1", orderId: "1" }, at(1));
  await append(store, streams.order("E1"), "OrderFilled", filled("E1", "BUY", "100.50", "0.1005"), at(1));
  await append(
    store,
    account,
    "FillBooked",
    {
      symbol: "BTCUSDT",
      clientOrderId: "E1",
      tradeId: "t-E1",
      side: "BUY",
      price: "100.50",
      quantity: "2",
      commission: "0.1005",
      realizedPnl: "0",
      positionAmt: "2",
      entryPrice: "100.5",
      walletBalance: "9999.8995",
    },
    at(1),
  );
  const bracket = {
    reduceOnly: true,
    purpose: "TAKE_PROFIT",
    type: "TAKE_PROFIT_MARKET",
    triggerPrice: "103.50",
  } as const;
  await append(
    store,
    streams.order("TP.1:a/b_c-d"),
    "OrderSubmitted",
    order("TP.1:a/b_c-d", "SELL", bracket),
    at(1),
  );
  await append(
    store,
    streams.order("TP.1:a/b_c-d"),
    "OrderAccepted",
    { clientOrderId: "TP.1:a/b_c-d", orderId: "2" },
    at(1),
  );
  await append(store, streams.symbol("BTCUSDT"), "BarClosed", bar(1, "101.00"), at(2) - 1);
  await append(
    store,
    account,
    "FundingFeeBooked",
    {
      symbol: "BTCUSDT",
      fundingTime: at(2),
      fundingRate: "0.0001",
      markPrice: "101",
      positionAmt: "2",
      fundingFee: "-0.0202",
      walletBalance: "9999.8793",
    },
    at(2),
  );
  await append(store, streams.symbol("BTCUSDT"), "BarClosed", bar(2, "99.00"), at(3) - 1);
  await append(store, streams.symbol("BTCUSDT"), "BarClosed", bar(3, "103.00"), at(4) - 1);
}

/** Parses a JSON response body with its documented schema (fails the test when the shape drifts). */
function body<S extends z.ZodType>(schema: S, payload: string): z.output<S> {
  return schema.parse(JSON.parse(payload));
}

describe("HTTP API over the projections", () => {
  const store = new InMemoryEventStore();
  let projections: Projections;
  let app: ReturnType<typeof buildHttpServer>;

  beforeAll(async () => {
    await seed(store);
    projections = await rebuildProjections(store.readAll());
    app = buildHttpServer({ store, projections });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await store.close();
  });

  const get = (url: string) => app.inject({ method: "GET", url });

  it("GET /health reports the folded position and event count, and a run without RunCompleted as incomplete", async () => {
    const res = await get("/health");
    expect(res.statusCode).toBe(200);
    expect(body(HealthResponse, res.payload)).toEqual({
      status: "incomplete",
      runId: "http",
      lastPosition: 13,
      events: 13,
      lastEventTime: at(4) - 1,
      control: "disabled", // no control token
    });
  });

  it("GET /runs lists the run with completed: false, its counters and its last event", async () => {
    const res = await get("/runs");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(body(RunsResponse, res.payload).runs).toEqual([
      {
        runId: "http",
        mode: "backtest",
        strategy: "sma-cross",
        symbols: ["BTCUSDT"],
        from: T0,
        to: at(10),
        config: { smaCross: { leverage: 5 } },
        startTime: T0,
        completed: false,
        completedTime: null,
        events: 13,
        bars: 4,
        fundingSettlements: 0,
        orders: 2,
        fills: 1,
        lastPosition: 13,
        lastEventTime: at(4) - 1,
      },
    ]);
  });

  it("GET /positions marks the open long to the latest close", async () => {
    const res = await get("/positions");
    expect(res.statusCode).toBe(200);
    expect(body(PositionsResponse, res.payload).positions).toEqual([
      {
        symbol: "BTCUSDT",
        side: "LONG",
        positionAmt: "2",
        entryPrice: "100.5",
        markPrice: "103.00",
        unrealizedPnl: "5",
        notional: "206",
        updateTime: at(1),
        // Never configured: Binance's 20× cross. BTCUSDT's bundled bracket 1 has MMR 0.004, cum 0 (§4.6).
        leverage: 20,
        marginType: "CROSSED",
        isolatedWallet: null,
        initialMargin: "10.3", // 206 / 20
        maintMargin: "0.824", // 206 × 0.004
        marginRatio: "0.000082359814", // 0.824 / (9999.8793 + 5), 12 decimals
        liquidationPrice: null, // (9999.8793 − 201) / (2 × 0.004 − 2) < 0: no liquidation ("--")
      },
    ]);
  });

  it("GET /pnl returns the PnL and the equity curve at the requested interval", async () => {
    const hourly = body(PnlResponse, (await get("/pnl")).payload);
    expect(hourly).toMatchObject({
      interval: "1h",
      walletBalance: "9999.8793",
      equity: "10004.8793",
      fees: "0.1005",
      funding: "-0.0202",
      maxDrawdown: "4.0202",
      equityCurve: {
        points: [{ time: at(4) - 1, equity: "10004.8793" }],
        totalPoints: 1,
        downsampled: false,
      },
    });
    const minutes = body(PnlResponse, (await get(`/pnl?interval=1m&from=${at(2)}&to=${at(3)}`)).payload);
    expect(minutes.equityCurve.points).toEqual([{ time: at(3) - 1, equity: "9996.8793" }]);
    // every minute: 4 points, under maxPoints (6 at least), so nothing is dropped
    const all = body(PnlResponse, (await get("/pnl?interval=1m&maxPoints=6")).payload);
    expect(all.equityCurve).toMatchObject({ totalPoints: 4, downsampled: false });
    expect(all.equityCurve.points.map((p) => p.equity)).toEqual([
      "10000",
      "10000.8995",
      "9996.8793",
      "10004.8793",
    ]);
  });

  it("serialises a projection route once per query and log position, shared by parallel requests", async () => {
    const local = createProjections();
    for await (const e of store.readAll()) local.apply(e);
    const pnl = vi.spyOn(local, "pnl");
    const cachedApp = buildHttpServer({ store, projections: local });
    const fetchPnl = (url: string) => cachedApp.inject({ method: "GET", url }).then((r) => r.payload);
    try {
      const parallel = await Promise.all(Array.from({ length: 20 }, () => fetchPnl("/pnl?interval=1m")));
      const res = await cachedApp.inject({ method: "GET", url: "/pnl?interval=1m" });
      expect(res.headers["x-log-position"]).toBe("13");
      expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(new Set(parallel).size).toBe(1);
      expect(pnl).toHaveBeenCalledTimes(1);
      // the same normalised query (parameter order, defaults spelled out) is the same body
      await fetchPnl("/pnl?maxPoints=2000&interval=1m");
      expect(pnl).toHaveBeenCalledTimes(1);
      await fetchPnl("/pnl?interval=1h");
      await fetchPnl("/pnl");
      expect(pnl).toHaveBeenCalledTimes(2);
      // a new event (folded, not stored: the shared store stays as seeded) moves the log position: rebuilt
      local.apply({
        stream: streams.symbol("BTCUSDT"),
        revision: 4,
        position: 14,
        eventId: deterministicEventId("http", streams.symbol("BTCUSDT"), 4),
        type: "BarClosed",
        data: bar(4, "104.00"),
        metadata: { correlationId: "http", causationId: "test", eventTime: at(5) - 1 },
      });
      const after = body(PnlResponse, await fetchPnl("/pnl?interval=1m"));
      expect(pnl).toHaveBeenCalledTimes(3);
      expect(after.equity).toBe("10006.8793");
      expect(after.equityCurve.totalPoints).toBe(5);
    } finally {
      await cachedApp.close();
    }
  });

  it("GET /orders filters by status and symbol and pages", async () => {
    const all = body(OrdersResponse, (await get("/orders")).payload);
    expect(all).toMatchObject({ total: 2, limit: 100, offset: 0 });
    expect(all.orders.map((o) => [o.clientOrderId, o.status])).toEqual([
      ["E1", "FILLED"],
      ["TP.1:a/b_c-d", "NEW"],
    ]);
    const page = body(
      OrdersResponse,
      (await get("/orders?status=NEW&symbol=BTCUSDT&limit=1&offset=0")).payload,
    );
    expect(page.orders.map((o) => o.clientOrderId)).toEqual(["TP.1:a/b_c-d"]);
    expect(body(OrdersResponse, (await get("/orders?offset=1&limit=5")).payload)).toMatchObject({
      total: 2,
      orders: [{ clientOrderId: "TP.1:a/b_c-d" }],
    });
    expect(body(OrdersResponse, (await get("/orders?symbol=ETHUSDT")).payload).total).toBe(0);
  });

  it("GET /orders/:clientOrderId returns one order, with every clientOrderId character allowed", async () => {
    const res = await get("/orders/E1");
    expect(res.statusCode).toBe(200);
    expect(body(OrderResponse, res.payload)).toMatchObject({
      clientOrderId: "E1",
      orderId: "1",
      status: "FILLED",
      executedQty: "2",
      avgPrice: "100.5",
      commission: "0.1005",
      fills: [{ tradeId: "t-E1", price: "100.50", quantity: "2" }],
    });
    const tp = await get(`/orders/${encodeURIComponent("TP.1:a/b_c-d")}`);
    expect(tp.statusCode).toBe(200);
    expect(body(OrderResponse, tp.payload)).toMatchObject({ triggerPrice: "103.50", reduceOnly: true });
    const unknown = await get("/orders/NOPE");
    expect(unknown.statusCode).toBe(404);
    expect(body(ErrorResponse, unknown.payload)).toEqual({ error: "Not Found", message: "no order NOPE" });
  });

  it("GET /risk returns exposure, leverage and initial margin at the configured leverage", async () => {
    const res = await get("/risk");
    expect(res.statusCode).toBe(200);
    expect(body(RiskResponse, res.payload)).toMatchObject({
      equity: "10004.8793",
      grossExposure: "206",
      netExposure: "206",
      leverage: "0.02058995",
      configuredLeverage: 5,
      initialMargin: "41.2",
    });
  });

  it("GET /events pages through the global log and reads one stream from a revision", async () => {
    const first = body(EventsResponse, (await get("/events?limit=2")).payload);
    expect(first.events.map((e) => [e.position, e.type])).toEqual([
      [1, "RunStarted"],
      [2, "AccountOpened"],
    ]);
    expect(first.next).toBe(2);
    const second = body(EventsResponse, (await get(`/events?from=${first.next}&limit=1`)).payload);
    expect(second.events[0]).toMatchObject({
      position: 3,
      revision: 0,
      stream: "symbol-BTCUSDT",
      type: "BarClosed",
    });
    expect(body(EventsResponse, (await get("/events")).payload).events).toHaveLength(13);
    expect(body(EventsResponse, (await get("/events?from=13")).payload)).toEqual({ events: [], next: null });

    const stream = body(EventsResponse, (await get("/events?stream=order-E1&from=1")).payload);
    expect(stream.events.map((e) => [e.revision, e.type])).toEqual([
      [1, "OrderAccepted"],
      [2, "OrderFilled"],
    ]);
    expect(stream.next).toBe(3);
    expect(stream.events[1]).toMatchObject({
      eventId: deterministicEventId("http", "order-E1", 2),
      data: { clientOrderId: "E1", price: "100.50" },
      metadata: { correlationId: "http", causationId: "test", eventTime: at(1) },
    });
    expect(body(EventsResponse, (await get("/events?stream=order-NOPE")).payload).events).toEqual([]);
  });

  it.each([
    ["/orders?limit=0", "limit"],
    ["/orders?limit=abc", "limit"],
    ["/orders?limit=100000", "limit"],
    ["/orders?limit=1.5", "limit"],
    ["/orders?limit=1&limit=2", "limit"],
    ["/orders?offset=-3", "offset"],
    ["/orders?status=WHATEVER", "status"],
    ["/orders?symbol=btcusdt", "symbol"],
    ["/events?from=-1", "from"],
    ["/events?limit=1001", "limit"],
    ["/events?stream=symbol-BTC%20USDT", "stream"],
    ["/events?stream=%3Cscript%3E", "stream"],
    ["/events?stream=", "stream"],
    ["/pnl?interval=7m", "interval"],
    ["/pnl?from=abc", "from"],
    ["/pnl?from=20&to=10", "to"],
    ["/pnl?to=99999999999999999999", "to"],
    ["/pnl?maxPoints=5", "maxPoints"],
    ["/pnl?maxPoints=100001", "maxPoints"],
    ["/pnl?maxPoints=2e3", "maxPoints"],
    ["/pnl?maxPoints=", "maxPoints"],
    ["/runs?all=1", "all"],
    ["/orders/bad%20id", "clientOrderId"],
    ["/orders/ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789X", "clientOrderId"],
    ["/orders/E1?verbose=1", "verbose"],
    ["/positions?foo=1", "foo"],
    ["/health?x=", "x"],
  ])("GET %s → 400 naming %s", async (url, field) => {
    const res = await get(url);
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const error = body(ErrorResponse, res.payload);
    expect(error).toMatchObject({ error: "Bad Request", field });
    expect(error.message).toMatch(new RegExp(`^${field}: `));
  });

  it.each([
    ["GET", "/nope"],
    ["GET", "/orders/E1/fills"],
    ["POST", "/health"],
    ["DELETE", "/orders/E1"],
  ] as const)("%s %s → 404 JSON", async (method, url) => {
    const res = await app.inject({ method, url });
    expect(res.statusCode).toBe(404);
    expect(body(ErrorResponse, res.payload)).toEqual({
      error: "Not Found",
      message: `no route ${method} ${url}`,
    });
  });

  it.each([
    ["/orders/%E0%A4%A", 400, "Bad Request"],
    [`/orders/${"A".repeat(150)}`, 414, "URI Too Long"],
  ])("GET %s (rejected before routing) → %i JSON", async (url, status, error) => {
    const res = await get(url);
    expect(res.statusCode).toBe(status);
    expect(body(ErrorResponse, res.payload)).toMatchObject({ error });
  });

  it("answers an unexpected failure with a 500 JSON that leaks no stack", async () => {
    const broken: Projections = Object.create(projections, {
      risk: {
        value: () => {
          throw new Error("secret detail");
        },
      },
    });
    const failing = buildHttpServer({ store, projections: broken, logger: pino({ level: "silent" }) });
    const res = await failing.inject({ method: "GET", url: "/risk" });
    expect(res.statusCode).toBe(500);
    expect(body(ErrorResponse, res.payload)).toEqual({
      error: "Internal Server Error",
      message: "the request failed; see the server log",
    });
    expect(res.payload).not.toMatch(/secret|at .*\.ts/);
    await failing.close();
  });
});

describe("serveProjections", () => {
  it("serves the store's projections and follows events appended after it started", async () => {
    const store = new InMemoryEventStore();
    await seed(store);
    const server = await serveProjections({
      store,
      host: "127.0.0.1",
      port: 0,
      logger: pino({ level: "silent" }),
    });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const health = async () => body(HealthResponse, await (await fetch(`${server.url}/health`)).text());
      expect(await health()).toMatchObject({
        status: "incomplete",
        runId: "http",
        lastPosition: 13,
        events: 13,
      });

      await append(store, streams.symbol("BTCUSDT"), "BarClosed", bar(4, "104.00"), at(5) - 1);
      await vi.waitFor(async () =>
        expect(await health()).toMatchObject({ status: "incomplete", lastPosition: 14, events: 14 }),
      );
      const pnl = body(PnlResponse, await (await fetch(`${server.url}/pnl?interval=1m`)).text());
      expect(pnl.equity).toBe("10006.8793"); // 9999.8793 + 2 × (104 − 100.5)
      expect(pnl.equityCurve.points).toHaveLength(5);

      await append(
        store,
        streams.run("http"),
        "RunCompleted",
        { runId: "http", bars: 5, fundingSettlements: 0 },
        at(5) - 1,
      );
      await vi.waitFor(async () =>
        expect(await health()).toEqual({
          status: "ok",
          runId: "http",
          lastPosition: 15,
          events: 15,
          lastEventTime: at(5) - 1,
          control: "disabled",
        }),
      );
      const runs = body(RunsResponse, await (await fetch(`${server.url}/runs`)).text()).runs;
      expect(runs).toMatchObject([
        { completed: true, completedTime: at(5) - 1, bars: 5, events: 15, lastPosition: 15 },
      ]);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
