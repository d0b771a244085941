/**
 * The WebSocket URLs of the double (binance-usdm.md §3.5, §5.3; the `binance` SDK's `wsUrl` + usdm wsKeys):
 * - market data: `/market/ws[/<s1>/<s2>…]` (raw), `/market/stream[?streams=<s1>/<s2>]` (combined), the same under
 *   `/public/`, and the legacy `/ws…` and `/stream…`, which Binance now serves as `/public`;
 * - user data: `/private/ws/<listenKey>`, `/private/ws?listenKey=<k>` (raw) and `/private/stream?listenKey=<k>`
 *   (combined), with an optional `events=A/B` filter. An unknown or dead listenKey is refused with HTTP 400
 *   and the -1125 body; any other path with 404.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import type { MarketRoute, MarketStreams } from "./market-streams.ts";
import type { UserStream } from "./user-stream.ts";

/** Where an upgrade request goes. */
export type WsTarget =
  | { kind: "market"; route: MarketRoute; combined: boolean; streams: string[] }
  | { kind: "private"; combined: boolean; listenKey: string; events: Set<string> | undefined }
  | { kind: "unknown" };

/** The target of a WebSocket request URL (path and query, as in the HTTP request line). */
export function wsTarget(url: string): WsTarget {
  const { pathname, searchParams } = new URL(url, "ws://localhost");
  const parts = pathname.split("/").filter((p) => p !== "");
  const legacy = parts[0] === "ws" || parts[0] === "stream";
  const [route, mode, ...rest] = legacy ? ["public", ...parts] : parts;
  const streamList = (s: string | null) =>
    (s ?? "")
      .split("/")
      .map((x) => x.trim())
      .filter((x) => x !== "");
  if (route === "market" || route === "public") {
    if (mode === "ws") return { kind: "market", route, combined: false, streams: rest };
    if (mode === "stream" && rest.length === 0)
      return { kind: "market", route, combined: true, streams: streamList(searchParams.get("streams")) };
  }
  if (route === "private" && (mode === "ws" || mode === "stream") && rest.length <= 1) {
    const listenKey = rest[0] ?? searchParams.get("listenKey") ?? "";
    const events = searchParams.get("events");
    return {
      kind: "private",
      combined: mode === "stream",
      listenKey,
      events: events === null ? undefined : new Set(events.split("/").filter((e) => e !== "")),
    };
  }
  return { kind: "unknown" };
}

/**
 * Serves WebSocket upgrades of `server` on the URLs above, handing connections to `market` and `user`.
 * Returns a function that closes every connection and stops serving upgrades.
 */
export function attachWebSockets(
  server: Server,
  deps: { market: MarketStreams; user: UserStream; logger: Logger },
): () => Promise<void> {
  const wss = new WebSocketServer({ noServer: true });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = wsTarget(request.url ?? "/");
    if (target.kind === "unknown")
      return refuse(socket, 404, { code: -1, msg: `no stream route ${request.url}` });
    if (target.kind === "private" && !deps.user.accepts(target.listenKey))
      return refuse(socket, 400, { code: -1125, msg: "This listenKey does not exist." });
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (target.kind === "market") deps.market.accept(ws, target.route, target.combined, target.streams);
      else deps.user.accept(ws, target.listenKey, target.combined, target.events);
      deps.logger.debug({ url: request.url }, "websocket connected");
    });
  };
  server.on("upgrade", onUpgrade);
  return async () => {
    server.off("upgrade", onUpgrade);
    deps.market.closeAll();
    deps.user.closeAll();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}

function refuse(socket: Duplex, status: number, body: { code: number; msg: string }): void {
  const text = JSON.stringify(body);
  const reason = status === 404 ? "Not Found" : "Bad Request";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
