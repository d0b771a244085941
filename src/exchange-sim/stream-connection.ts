/**
 * One WebSocket connection of the double (market or private): sends stream messages raw or wrapped as
 * `{"stream":"<name>","data":{…}}` (combined form), and keeps the connection alive as Binance does
 * (binance-usdm.md §5.3): a ping frame every `pingIntervalMs`, and a disconnect when no pong came for
 * `pongTimeoutMs` (the client's pings are answered by the `ws` library).
 */
import type { WebSocket } from "ws";
import type { Recipient } from "./lockstep.ts";

/** Ping period and pong timeout of the connections, wall ms (Binance: 3 min and 10 min). */
export interface Heartbeat {
  pingIntervalMs: number;
  pongTimeoutMs: number;
}

/** Binance's heartbeat. */
export const BINANCE_HEARTBEAT: Heartbeat = { pingIntervalMs: 180_000, pongTimeoutMs: 600_000 };

/** A client connection. */
export class StreamConnection implements Recipient {
  readonly closed: Promise<void>;
  #lastPong = performance.now();

  /**
   * @param combined whether stream messages are wrapped with their stream name (`/stream?…` routes, or
   *   `SET_PROPERTY combined true`).
   */
  constructor(
    readonly ws: WebSocket,
    public combined: boolean,
    heartbeat: Heartbeat,
  ) {
    ws.on("pong", () => {
      this.#lastPong = performance.now();
    });
    const timer = setInterval(() => {
      if (performance.now() - this.#lastPong > heartbeat.pongTimeoutMs) ws.terminate();
      else ws.ping();
    }, heartbeat.pingIntervalMs);
    timer.unref();
    this.closed = new Promise((resolve) =>
      ws.once("close", () => {
        clearInterval(timer);
        resolve();
      }),
    );
  }

  /** Whether the connection can still send. */
  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** Sends `data` of `stream` (wrapped in the combined form); false when the connection is not open. */
  sendStream(stream: string, data: Record<string, unknown>): boolean {
    return this.sendJson(this.combined ? { stream, data } : data);
  }

  /** Sends one JSON message as is (replies to SUBSCRIBE & co.); false when the connection is not open. */
  sendJson(message: unknown): boolean {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }
}
