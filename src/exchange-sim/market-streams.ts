/**
 * The market-data WebSockets (binance-usdm.md §5.3): connections on the `/market` route (klines, mark prices and
 * every other non-book stream) and on the `/public` route (book streams; the legacy `/ws` and `/stream` URLs
 * count as `/public`, as on Binance since 2026-04-23), their subscriptions — given in the URL or with
 * `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS` / `SET_PROPERTY` / `GET_PROPERTY` messages — and the
 * publication of stream messages to the connections subscribed on the stream's route. The double publishes
 * `<symbol>@kline_1m`, `<symbol>@markPrice` and `<symbol>@markPrice@1s`, all `/market` streams, and, from
 * recorded captures (book-capture.ts), `<symbol>@aggTrade` (`/market`), `<symbol>@bookTicker` and
 * `<symbol>@depth[@100ms|@500ms|@0ms]` (`/public`); a subscription to anything else is accepted and stays silent.
 */
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { ChangeSignal, Recipient } from "./lockstep.ts";
import { type Heartbeat, StreamConnection } from "./stream-connection.ts";

/** The WebSocket route a connection came in on. */
export type MarketRoute = "market" | "public";

/** Stream names of the `/public` route (book data); every other stream is a `/market` one. */
const PUBLIC_STREAM = /@(bookTicker|depth\d*)(@\d+ms)?$|^!bookTicker$/;

/** The route a stream is served on (binance-usdm.md §5.3). */
export function routeOf(stream: string): MarketRoute {
  return PUBLIC_STREAM.test(stream) ? "public" : "market";
}

/**
 * A market connection and its subscriptions, keyed by the lower-cased stream name (symbols are lower-case on
 * the wire, but Binance's own names are camel-case, e.g. `btcusdt@markPrice@1s`), each as subscribed.
 */
class MarketConnection extends StreamConnection {
  readonly streams = new Map<string, string>();

  constructor(
    ws: WebSocket,
    readonly route: MarketRoute,
    combined: boolean,
    heartbeat: Heartbeat,
  ) {
    super(ws, combined, heartbeat);
  }
}

/** Every market connection of the double. */
export class MarketStreams {
  readonly #connections = new Set<MarketConnection>();

  /** @param signal told of every subscription change (the lockstep replay waits on subscriptions). */
  constructor(
    private readonly signal: ChangeSignal,
    private readonly logger: Logger,
    private readonly heartbeat: Heartbeat,
  ) {}

  /** Open connections. */
  get size(): number {
    return this.#connections.size;
  }

  /** Takes an upgraded connection on `route`, subscribed to `streams` (from its URL). */
  accept(ws: WebSocket, route: MarketRoute, combined: boolean, streams: readonly string[]): void {
    const connection = new MarketConnection(ws, route, combined, this.heartbeat);
    this.#connections.add(connection);
    this.#subscribe(connection, streams);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      this.#onMessage(connection, data.toString());
    });
    void connection.closed.then(() => {
      this.#connections.delete(connection);
      this.signal.changed();
    });
    this.signal.changed();
  }

  /** Whether an open connection on `stream`'s route is subscribed to it (in any case). */
  isSubscribed(stream: string): boolean {
    const key = stream.toLowerCase();
    for (const c of this.#connections)
      if (c.route === routeOf(stream) && c.open && c.streams.has(key)) return true;
    return false;
  }

  /**
   * Sends `data` of `stream` (Binance's name, e.g. `btcusdt@markPrice@1s`) to every open connection subscribed
   * to it on its route, whatever the case it subscribed in; returns them.
   */
  publish(stream: string, data: Record<string, unknown>): Recipient[] {
    const route = routeOf(stream);
    const key = stream.toLowerCase();
    const sent: Recipient[] = [];
    for (const c of this.#connections)
      if (c.route === route && c.streams.has(key) && c.sendStream(stream, data)) sent.push(c);
    return sent;
  }

  /** The streams subscribed on open connections, lower-case, sorted, each once. */
  subscriptions(): string[] {
    const all = new Set<string>();
    for (const c of this.#connections) if (c.open) for (const key of c.streams.keys()) all.add(key);
    return [...all].sort();
  }

  /** Closes every connection (code 1001, going away). */
  closeAll(): void {
    for (const c of this.#connections) c.ws.close(1001, "server shutting down");
  }

  /** Cuts every connection (`terminate`: no close frame) or closes it (1000, a rotation). */
  dropAll(how: "terminate" | "close"): void {
    for (const c of this.#connections)
      if (how === "terminate") c.ws.terminate();
      else c.ws.close(1000, "rotation");
  }

  #subscribe(connection: MarketConnection, streams: readonly string[]): void {
    for (const stream of streams) {
      connection.streams.set(stream.toLowerCase(), stream);
      if (routeOf(stream) !== connection.route)
        this.logger.warn(
          { stream, route: connection.route },
          `stream ${stream} is served on /${routeOf(stream)}, not on /${connection.route}: this connection gets nothing of it`,
        );
    }
    this.signal.changed();
  }

  #onMessage(connection: MarketConnection, text: string): void {
    connection.sendJson(this.#answer(connection, text));
  }

  /** The reply to one client message (binance-usdm.md §5.3: `{result, id}` or `{error: {code, msg}, id}`). */
  #answer(connection: MarketConnection, text: string): unknown {
    let request: { method?: unknown; params?: unknown; id?: unknown };
    try {
      request = JSON.parse(text) as typeof request;
    } catch (error) {
      return { error: { code: 3, msg: `Invalid JSON: ${(error as Error).message}` }, id: null };
    }
    if (request === null || typeof request !== "object")
      return { error: { code: 2, msg: "Invalid request: expected a JSON object" }, id: null };
    const id = request.id ?? null;
    const fail = (msg: string) => ({ error: { code: 2, msg: `Invalid request: ${msg}` }, id });
    const params = request.params;
    switch (request.method) {
      case "SUBSCRIBE":
      case "UNSUBSCRIBE": {
        if (!Array.isArray(params) || !params.every((p) => typeof p === "string"))
          return fail("params must be an array of stream names");
        if (request.method === "SUBSCRIBE") this.#subscribe(connection, params);
        else {
          for (const s of params) connection.streams.delete(s.toLowerCase());
          this.signal.changed();
        }
        return { result: null, id };
      }
      case "LIST_SUBSCRIPTIONS":
        return { result: [...connection.streams.values()], id };
      case "SET_PROPERTY":
        if (!Array.isArray(params) || params[0] !== "combined" || typeof params[1] !== "boolean")
          return fail('params must be ["combined", true|false]');
        connection.combined = params[1];
        return { result: null, id };
      case "GET_PROPERTY":
        if (!Array.isArray(params) || params[0] !== "combined") return fail('params must be ["combined"]');
        return { result: connection.combined, id };
      default:
        return fail(`unknown method ${JSON.stringify(request.method)}`);
    }
  }
}
