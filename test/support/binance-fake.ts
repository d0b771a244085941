/**
 * A small local fake of the Binance USDⓈ-M REST API and user data stream (fastify + ws) for the venue's tests:
 * HMAC signatures and timestamps checked like Binance (-1022, -1021 against its own clock, which can be skewed),
 * orders and algo orders kept by client id (-4116 duplicate, -2013 unknown), the account set-up routes
 * (-4046 / -4059 when nothing changes), the listenKey, and `/private/stream?listenKey=` / `/private/ws/<key>`
 * WebSockets to push user-data messages. Faults are scripted per route: a queued `Fault` answers the next
 * request instead of the route (after the route ran when `execute` is set: "it happened, the answer was lost").
 * Every request is recorded with its parameters as received (strings).
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { type WebSocket, WebSocketServer } from "ws";
import { SPEC_BTC_BRACKETS } from "./btc-brackets.ts";

/** A scripted answer for the next request of a route. */
export interface Fault {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Run the route first (the order is placed), then answer with the fault (its status/body, else the route's). */
  execute?: boolean;
  /** Hold the answer this many ms (longer than the client's timeout: an unknown outcome). */
  delayMs?: number;
}

/** A request as the fake saw it. */
export interface RecordedRequest {
  route: string;
  params: Record<string, string>;
}

interface FakeOrder {
  orderId: number;
  symbol: string;
  clientOrderId: string;
  status: string;
  params: Record<string, string>;
  /** Set by a test: filled so far (default "0") and the last change (default 0). */
  executedQty?: string;
  updateTime?: number;
}

export interface BinanceFakeOptions {
  apiKey: string;
  apiSecret: string;
  /** exchangeInfo body; default a minimal one with BTCUSDT and ETHUSDT TRADING and Binance's limits. */
  exchangeInfo?: unknown;
  /** Weight reported in X-MBX-USED-WEIGHT-1M; default: counted. */
  usedWeight?: () => number;
}

/** The fake (module docstring). */
export class BinanceFake {
  readonly requests: RecordedRequest[] = [];
  readonly orders = new Map<string, FakeOrder>();
  readonly algoOrders = new Map<string, FakeOrder>();
  readonly faults = new Map<string, Fault[]>();
  /** Added to the wall clock for serverTime and the timestamp check. */
  skewMs = 0;
  dualSidePosition = false;
  readonly marginType: Record<string, string> = { BTCUSDT: "ISOLATED" };
  readonly leverage: Record<string, number> = {};
  acks = 0;
  listenKey = "fakeListenKey0123456789";
  /** GET /fapi/v1/userTrades rows (Binance's fields). */
  readonly trades: Record<string, unknown>[] = [];
  readonly income: { symbol: string; income: string; asset: string; time: number; incomeType: string }[] = [];
  readonly fundingRates: { symbol: string; fundingTime: number; fundingRate: string; markPrice: string }[] =
    [];
  private nextId = 1000;
  private weight = 0;
  private readonly app = Fastify();
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<WebSocket>();
  private connectedResolvers: (() => void)[] = [];

  constructor(private readonly options: BinanceFakeOptions) {}

  /** Starts on 127.0.0.1 (random port); returns the REST and WS origins. */
  async start(): Promise<{ restUrl: string; wsUrl: string }> {
    const app = this.app;
    app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    const route = (
      method: "GET" | "POST" | "PUT" | "DELETE",
      path: string,
      security: "SIGNED" | "API_KEY" | "NONE",
      handler: (p: Record<string, string>) => unknown,
    ) =>
      app.route({
        method,
        url: path,
        handler: async (req, reply) => this.handle(`${method} ${path}`, security, req, reply, handler),
      });
    route("GET", "/fapi/v1/time", "NONE", () => ({ serverTime: this.now() }));
    route("GET", "/fapi/v1/exchangeInfo", "NONE", () => this.options.exchangeInfo ?? defaultExchangeInfo());
    route("GET", "/fapi/v1/positionSide/dual", "SIGNED", () => ({ dualSidePosition: this.dualSidePosition }));
    route("POST", "/fapi/v1/positionSide/dual", "SIGNED", (p) => {
      const wanted = p["dualSidePosition"] === "true";
      if (wanted === this.dualSidePosition) return reject(-4059, "No need to change position side.");
      this.dualSidePosition = wanted;
      return { code: 200, msg: "success" };
    });
    route("POST", "/fapi/v1/marginType", "SIGNED", (p) => {
      if (this.marginType[p["symbol"]!] === p["marginType"])
        return reject(-4046, "No need to change margin type.");
      this.marginType[p["symbol"]!] = p["marginType"]!;
      return { code: 200, msg: "success" };
    });
    route("POST", "/fapi/v1/leverage", "SIGNED", (p) => {
      this.leverage[p["symbol"]!] = Number(p["leverage"]);
      return { symbol: p["symbol"], leverage: Number(p["leverage"]), maxNotionalValue: "1000000" };
    });
    route("GET", "/fapi/v1/commissionRate", "SIGNED", (p) => ({
      symbol: p["symbol"],
      makerCommissionRate: "0.000200",
      takerCommissionRate: "0.000500",
    }));
    // Binance sends the brackets' numbers as JSON numbers.
    route("GET", "/fapi/v1/leverageBracket", "SIGNED", () => [
      {
        symbol: "BTCUSDT",
        brackets: SPEC_BTC_BRACKETS.map((b) => ({
          ...b,
          notionalCap: Number(b.notionalCap),
          notionalFloor: Number(b.notionalFloor),
          maintMarginRatio: Number(b.maintMarginRatio),
          cum: Number(b.cum),
        })),
      },
    ]);
    route("GET", "/fapi/v3/positionRisk", "SIGNED", () => []);
    route("GET", "/fapi/v3/balance", "SIGNED", () => [{ asset: "USDT", balance: "10000.00000000" }]);
    route("GET", "/fapi/v3/account", "SIGNED", () => ({
      assets: [{ asset: "USDT", walletBalance: "10000.00000000" }],
      positions: [],
    }));
    route("GET", "/fapi/v1/income", "SIGNED", (p) =>
      this.income.filter(
        (r) =>
          r.incomeType === p["incomeType"] &&
          (p["symbol"] === undefined || r.symbol === p["symbol"]) &&
          r.time >= Number(p["startTime"]) &&
          (p["endTime"] === undefined || r.time <= Number(p["endTime"])),
      ),
    );
    route("GET", "/fapi/v1/fundingRate", "NONE", (p) =>
      this.fundingRates.filter(
        (r) =>
          r.symbol === p["symbol"] &&
          r.fundingTime >= Number(p["startTime"]) &&
          r.fundingTime <= Number(p["endTime"]),
      ),
    );
    route("GET", "/fapi/v1/userTrades", "SIGNED", (p) =>
      // Like the local double today: `orderId` is not a filter (the venue filters).
      this.trades.filter((t) => t["symbol"] === p["symbol"]),
    );
    route("POST", "/fapi/v1/order", "SIGNED", (p) =>
      this.place(this.orders, p["newClientOrderId"]!, p, "orderId"),
    );
    route("GET", "/fapi/v1/openOrders", "SIGNED", (p) =>
      [...this.orders.values()]
        .filter((o) => o.symbol === p["symbol"] && (o.status === "NEW" || o.status === "PARTIALLY_FILLED"))
        .map((o) => this.query(this.orders, o.clientOrderId, undefined, "orderId")),
    );
    route("GET", "/fapi/v1/openAlgoOrders", "SIGNED", (p) =>
      [...this.algoOrders.values()]
        .filter((o) => o.symbol === p["symbol"] && o.status === "NEW")
        .map((o) => this.query(this.algoOrders, o.clientOrderId, undefined, "algoId")),
    );
    route("GET", "/fapi/v1/order", "SIGNED", (p) =>
      this.query(this.orders, p["origClientOrderId"] ?? "", p["orderId"], "orderId"),
    );
    route("DELETE", "/fapi/v1/order", "SIGNED", (p) =>
      this.cancel(this.orders, p["origClientOrderId"] ?? "", p["orderId"]),
    );
    route("POST", "/fapi/v1/algoOrder", "SIGNED", (p) =>
      this.place(this.algoOrders, p["clientAlgoId"]!, p, "algoId"),
    );
    route("GET", "/fapi/v1/algoOrder", "SIGNED", (p) =>
      this.query(this.algoOrders, p["clientAlgoId"] ?? "", undefined, "algoId"),
    );
    route("DELETE", "/fapi/v1/algoOrder", "SIGNED", (p) =>
      this.cancel(this.algoOrders, p["clientAlgoId"] ?? "", undefined),
    );
    route("POST", "/fapi/v1/listenKey", "API_KEY", () => ({ listenKey: this.listenKey }));
    route("PUT", "/fapi/v1/listenKey", "API_KEY", () => ({ listenKey: this.listenKey }));
    route("DELETE", "/fapi/v1/listenKey", "API_KEY", () => ({}));
    route("POST", "/sim/v1/lockstep/ack", "API_KEY", () => {
      this.acks += 1;
      return {};
    });
    await app.ready();
    app.server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://x");
      const key = url.searchParams.get("listenKey") ?? url.pathname.replace(/^\/private\/ws\//, "");
      if (key !== this.listenKey || !url.pathname.startsWith("/private/")) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.add(ws);
        ws.on("close", () => this.sockets.delete(ws));
        for (const resolve of this.connectedResolvers) resolve();
        this.connectedResolvers = [];
      });
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as AddressInfo;
    return { restUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` };
  }

  /** Queues faults for the next requests of `route` ("POST /fapi/v1/order"). */
  script(route: string, ...faults: Fault[]): void {
    this.faults.set(route, [...(this.faults.get(route) ?? []), ...faults]);
  }

  /** The recorded requests of one route. */
  sent(route: string): Record<string, string>[] {
    return this.requests.filter((r) => r.route === route).map((r) => r.params);
  }

  /** Resolves once a private stream is connected. */
  connected(): Promise<void> {
    if (this.sockets.size > 0) return Promise.resolve();
    return new Promise((resolve) => this.connectedResolvers.push(resolve));
  }

  /** Pushes a user-data message to every private stream (wrapped as the combined stream does). */
  push(message: unknown): void {
    for (const ws of this.sockets) ws.send(JSON.stringify({ stream: this.listenKey, data: message }));
  }

  /** Drops every private stream connection (a network cut). */
  dropStreams(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    await this.app.close();
  }

  now(): number {
    return Date.now() + this.skewMs;
  }

  private async handle(
    route: string,
    security: "SIGNED" | "API_KEY" | "NONE",
    req: FastifyRequest,
    reply: FastifyReply,
    handler: (p: Record<string, string>) => unknown,
  ): Promise<unknown> {
    const query = (req.raw.url ?? "").split("?")[1] ?? "";
    const params: Record<string, string> = {
      ...Object.fromEntries(new URLSearchParams(query)),
      ...((req.body as Record<string, string> | undefined) ?? {}),
    };
    this.requests.push({ route, params });
    this.weight += 1;
    reply.header("x-mbx-used-weight-1m", String(this.options.usedWeight?.() ?? this.weight));
    if (security !== "NONE" && req.headers["x-mbx-apikey"] !== this.options.apiKey)
      return reply.code(401).send({ code: -2015, msg: "Invalid API-key, IP, or permissions for action." });
    if (security === "SIGNED") {
      const unsigned = query.replace(/&?signature=[^&]*/, "");
      const signature = createHmac("sha256", this.options.apiSecret).update(unsigned).digest("hex");
      if (params["signature"] !== signature)
        return reply.code(400).send({ code: -1022, msg: "Signature for this request is not valid." });
      const timestamp = Number(params["timestamp"]);
      const recvWindow = Number(params["recvWindow"] ?? 5000);
      const now = this.now();
      if (!(timestamp < now + 1000 && now - timestamp <= recvWindow))
        return reply
          .code(400)
          .send({ code: -1021, msg: "Timestamp for this request is outside of the recvWindow." });
    }
    const fault = this.faults.get(route)?.shift();
    if (fault && !fault.execute) return this.answer(reply, fault);
    const result = handler(params);
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault && (fault.status !== undefined || fault.body !== undefined))
      return this.answer(reply, { ...fault, delayMs: 0 });
    if (result instanceof Rejection) return reply.code(400).send({ code: result.code, msg: result.msg });
    return result;
  }

  private async answer(reply: FastifyReply, fault: Fault): Promise<unknown> {
    if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    for (const [k, v] of Object.entries(fault.headers ?? {})) reply.header(k, v);
    return reply.code(fault.status ?? 200).send(fault.body ?? {});
  }

  private place(
    book: Map<string, FakeOrder>,
    clientOrderId: string,
    p: Record<string, string>,
    idName: string,
  ) {
    if (book.has(clientOrderId)) return reject(-4116, "ClientOrderId is duplicated.");
    const order = { orderId: this.nextId++, symbol: p["symbol"]!, clientOrderId, status: "NEW", params: p };
    book.set(clientOrderId, order);
    return { [idName]: order.orderId, symbol: order.symbol, status: "NEW", clientOrderId };
  }

  private query(
    book: Map<string, FakeOrder>,
    clientOrderId: string,
    orderId: string | undefined,
    idName: string,
  ) {
    const order = orderId
      ? [...book.values()].find((o) => String(o.orderId) === orderId)
      : book.get(clientOrderId);
    if (!order) return reject(-2013, "Order does not exist.");
    const { quantity = "0", price = "0", type } = order.params;
    return {
      [idName]: order.orderId,
      status: order.status,
      algoStatus: order.status,
      clientOrderId: order.clientOrderId,
      clientAlgoId: order.clientOrderId,
      symbol: order.symbol,
      side: order.params["side"],
      positionSide: order.params["positionSide"] ?? "BOTH",
      type,
      orderType: type,
      origQty: quantity,
      quantity,
      price,
      triggerPrice: order.params["triggerPrice"] ?? "0",
      avgPrice: "0",
      executedQty: order.executedQty ?? "0",
      updateTime: order.updateTime ?? 0,
    };
  }

  private cancel(book: Map<string, FakeOrder>, clientOrderId: string, orderId: string | undefined) {
    const order = orderId
      ? [...book.values()].find((o) => String(o.orderId) === orderId)
      : book.get(clientOrderId);
    if (order === undefined || order.status !== "NEW") return reject(-2011, "Unknown order sent.");
    order.status = "CANCELED";
    return { orderId: order.orderId, status: "CANCELED" };
  }
}

class Rejection {
  constructor(
    readonly code: number,
    readonly msg: string,
  ) {}
}

function reject(code: number, msg: string): Rejection {
  return new Rejection(code, msg);
}

/** The bundled exchangeInfo snapshot (every USDⓈ-M symbol of 2025-12-24). */
function defaultExchangeInfo(): unknown {
  return JSON.parse(
    readFileSync(new URL("../../src/domain/instruments.snapshot.json", import.meta.url), "utf8"),
  );
}
