/**
 * A small fake of Binance's USDⓈ-M market side for the live market source's tests (fastify + ws), driven by real
 * bars and settlements: the URL forms the `binance` SDK uses (`/market/stream` with SUBSCRIBE messages and
 * combined-stream frames `{"stream","data"}`), `GET /fapi/v1/time`, `klines`, `fundingRate`, and the double's
 * `POST /sim/v1/lockstep/ack`. The test drives the exchange clock: `publish(minute)` sends each symbol's marks and
 * klines of that minute (marks, an unclosed kline, the closed one), `advance(minute)` only lets the minute close
 * (REST sees it, the stream does not), `hide` takes a bar out of REST, `dropConnections` cuts the sockets.
 */
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { type WebSocket, WebSocketServer } from "ws";
import type { Bar, FundingSettlement } from "../../src/adapters/market/types.ts";

const MINUTE = 60_000;

/** A mark message the fake sent. */
export interface SentMark {
  symbol: string;
  eventTime: number;
  price: string;
}

/** Options of `FakeBinanceMarket.start`. */
export interface FakeMarketOptions {
  /** Each symbol's real 1m bars (any range covering what the test publishes). */
  bars: ReadonlyMap<string, readonly Bar[]>;
  /** Real settlements (the REST route serves those with fundingTime ≤ now; the marks announce the next). */
  settlements: readonly FundingSettlement[];
  /** Wait for `POST /sim/v1/lockstep/ack` after each closed kline (the double's lockstep). */
  lockstep?: boolean;
  /** The API key the ack must carry in `X-MBX-APIKEY` (else 401 -2015, as the double). */
  apiKey?: string;
}

/** See the module comment. */
export class FakeBinanceMarket {
  /** Exchange time, ms epoch. */
  now = 0;
  /** Every socket's request path, in connection order. */
  readonly connections: string[] = [];
  readonly marksSent: SentMark[] = [];
  /** Closed klines sent, and acks received. */
  closedSent = 0;
  acks = 0;
  private readonly sockets = new Set<WebSocket>();
  private readonly subscriptions = new Map<WebSocket, Set<string>>();
  private readonly hidden = new Set<string>();
  private readonly byTime = new Map<string, Map<number, Bar>>();
  private ackWaiters: (() => void)[] = [];
  private pendingAcks = 0;

  private constructor(
    private readonly app: FastifyInstance,
    private readonly wss: WebSocketServer,
    private readonly options: FakeMarketOptions,
    readonly restUrl: string,
    readonly wsUrl: string,
  ) {
    for (const [symbol, bars] of options.bars)
      this.byTime.set(symbol, new Map(bars.map((b) => [b.openTime, b])));
  }

  /** Starts the fake on a free local port. */
  static async start(options: FakeMarketOptions): Promise<FakeBinanceMarket> {
    const app = Fastify();
    const wss = new WebSocketServer({ noServer: true });
    let fake: FakeBinanceMarket | undefined;
    app.get("/fapi/v1/time", async () => ({ serverTime: fake!.now }));
    app.get("/fapi/v1/klines", async (request, reply) => {
      const q = request.query as Record<string, string | undefined>;
      if (q.interval !== "1m" || q.symbol === undefined) {
        return reply.code(400).send({ code: -1100, msg: "Illegal characters found in parameter." });
      }
      return fake!.klines(
        q.symbol,
        Number(q.startTime ?? 0),
        Number(q.endTime ?? Infinity),
        Number(q.limit ?? 500),
      );
    });
    app.get("/fapi/v1/fundingRate", async (request) => {
      const q = request.query as Record<string, string | undefined>;
      const from = Number(q.startTime ?? 0);
      const to = Number(q.endTime ?? Infinity);
      return options.settlements
        .filter((s) => s.symbol === q.symbol && s.fundingTime >= from && s.fundingTime <= to)
        .filter((s) => s.fundingTime <= fake!.now)
        .slice(0, Number(q.limit ?? 100))
        .map((s) => ({
          symbol: s.symbol,
          fundingTime: s.fundingTime,
          fundingRate: s.fundingRate,
          markPrice: s.markPrice,
        }));
    });
    app.post("/sim/v1/lockstep/ack", async (request, reply) => {
      if (options.apiKey !== undefined && request.headers["x-mbx-apikey"] !== options.apiKey) {
        return reply.code(401).send({ code: -2015, msg: "Invalid API-key, IP, or permissions for action." });
      }
      if (!fake!.acknowledge())
        return reply.code(409).send({ code: -1, msg: "No step message is waiting for an ack." });
      return { acked: true };
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const port = (app.server.address() as AddressInfo).port;
    fake = new FakeBinanceMarket(app, wss, options, `http://127.0.0.1:${port}`, `ws://127.0.0.1:${port}`);
    app.server.on("upgrade", (request, socket, head) => {
      const path = new URL(request.url ?? "/", "http://x").pathname;
      if (path !== "/market/stream" && path !== "/public/stream") {
        socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => fake!.accept(ws, request.url ?? path));
    });
    return fake;
  }

  /** Resolves once `count` sockets subscribed (in total since the start) to every given stream. */
  async waitForSubscriptions(count: number, streams: readonly string[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = [...this.subscriptions.values()].filter((s) => streams.every((t) => s.has(t))).length;
      if (ready > 0 && this.connections.length >= count) return;
      if (Date.now() > deadline) {
        throw new Error(
          `fake: ${this.connections.length} connection(s), none subscribed to ${streams.join(",")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Lets `openTime`'s minute close and sends every symbol's marks, unclosed and closed kline of it. */
  async publish(openTime: number, options: { reverse?: boolean } = {}): Promise<void> {
    this.advance(openTime);
    const symbols = [...this.byTime.keys()].sort();
    if (options.reverse) symbols.reverse();
    for (const symbol of symbols) {
      const bar = this.byTime.get(symbol)!.get(openTime);
      if (bar === undefined) continue;
      await this.sendMinute(symbol, bar);
    }
  }

  /** Lets `openTime`'s minute close (REST serves it) without sending anything. */
  advance(openTime: number): void {
    this.now = Math.max(this.now, openTime + MINUTE + 5);
  }

  /** Takes `symbol`'s bar at `openTime` out of the REST klines. */
  hide(symbol: string, openTime: number): void {
    this.hidden.add(`${symbol}@${openTime}`);
  }

  /** Cuts every market socket (as a network drop would). */
  dropConnections(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  async close(): Promise<void> {
    this.dropConnections();
    this.wss.close();
    await this.app.close();
  }

  private klines(symbol: string, from: number, to: number, limit: number): unknown[] {
    const bars = [...(this.byTime.get(symbol)?.values() ?? [])]
      .filter((b) => b.openTime >= from && b.openTime <= to && b.closeTime < this.now)
      .filter((b) => !this.hidden.has(`${symbol}@${b.openTime}`))
      .sort((a, b) => a.openTime - b.openTime)
      .slice(0, limit);
    // Binance always sends the taker buy volume; the archive's OHLCV bars have none, so (like the double) the
    // row then ends after the trade count rather than make one up.
    return bars.map((b) => [
      b.openTime,
      b.open,
      b.high,
      b.low,
      b.close,
      b.volume,
      b.closeTime,
      "0",
      0,
      ...(b.takerBuyVolume === undefined ? [] : [b.takerBuyVolume, "0", "0"]),
    ]);
  }

  private accept(ws: WebSocket, url: string): void {
    this.connections.push(url);
    this.sockets.add(ws);
    const topics = new Set<string>();
    this.subscriptions.set(ws, topics);
    ws.on("close", () => {
      this.sockets.delete(ws);
      this.subscriptions.delete(ws);
    });
    ws.on("message", (data) => {
      const request = JSON.parse(String(data)) as { method: string; params?: string[]; id: number };
      if (request.method === "SUBSCRIBE") for (const t of request.params ?? []) topics.add(t);
      if (request.method === "UNSUBSCRIBE") for (const t of request.params ?? []) topics.delete(t);
      const result = request.method === "LIST_SUBSCRIPTIONS" ? [...topics] : null;
      ws.send(JSON.stringify({ result, id: request.id }));
    });
  }

  private send(stream: string, data: unknown): void {
    for (const [ws, topics] of this.subscriptions) {
      if (topics.has(stream)) ws.send(JSON.stringify({ stream, data }));
    }
  }

  /** Marks at +0 s (open), +30 s (low), +15 s (high: sent after a later one), +59 s (close); then the klines. */
  private async sendMinute(symbol: string, bar: Bar): Promise<void> {
    const lower = symbol.toLowerCase();
    const marks: [number, string][] = [
      [0, bar.open],
      [30_000, bar.low],
      [15_000, bar.high],
      [59_000, bar.close],
    ];
    for (const [offset, price] of marks) {
      const eventTime = bar.openTime + offset;
      const next = this.options.settlements.find(
        (s) => s.symbol === symbol && s.fundingTime - (s.fundingTime % MINUTE) > eventTime,
      );
      const nextTime = next === undefined ? 0 : next.fundingTime - (next.fundingTime % MINUTE);
      this.marksSent.push({ symbol, eventTime, price });
      this.send(`${lower}@markPrice@1s`, {
        e: "markPriceUpdate",
        E: eventTime,
        s: symbol,
        p: price,
        ap: price,
        P: price,
        i: price,
        r: next?.fundingRate ?? "0",
        T: nextTime,
      });
    }
    const kline = (closed: boolean) => ({
      e: "kline",
      E: closed ? bar.closeTime + 1 : bar.openTime + 30_000,
      s: symbol,
      k: {
        t: bar.openTime,
        T: bar.closeTime,
        s: symbol,
        i: "1m",
        f: 1,
        L: 2,
        o: bar.open,
        c: closed ? bar.close : bar.open,
        h: closed ? bar.high : bar.open,
        l: closed ? bar.low : bar.open,
        v: closed ? bar.volume : "0",
        n: 1,
        x: closed,
        q: "0",
        ...(bar.takerBuyVolume === undefined ? {} : { V: closed ? bar.takerBuyVolume : "0", Q: "0" }),
        B: "0",
      },
    });
    this.send(`${lower}@kline_1m`, kline(false));
    this.send(`${lower}@kline_1m`, kline(true));
    this.closedSent++;
    if (this.options.lockstep) {
      this.pendingAcks++;
      await new Promise<void>((resolve) => this.ackWaiters.push(resolve));
    }
  }

  /** The ack of the closed kline waiting for one; false when none waits. */
  private acknowledge(): boolean {
    if (this.pendingAcks === 0) return false;
    this.acks++;
    this.pendingAcks--;
    this.ackWaiters.shift()?.();
    return true;
  }
}
