/**
 * The SDK's `WebsocketClient` with what v3.6.5 lacks for a long-running market connection (binance-usdm.md §5.3,
 * §7.2). The SDK reconnects after every drop, pong timeout or failed attempt, resubscribes its topics and emits
 * `reconnecting` / `reconnected`; but it waits a fixed `reconnectTimeout` (500 ms) before every attempt, and it
 * never rotates a connection before Binance cuts it at 24 h. Here:
 * - the wait before each attempt grows exponentially with the failed attempts since the last open (500 ms, 1 s,
 *   2 s … up to 30 s), with jitter (a uniform draw in [½, 1] of it), so a down exchange is not hammered in step
 *   with every other client;
 * - each market connection is closed and reopened after `rotateAfterMs` (default 23 h 30 min), before Binance's
 *   24 h cut, through the SDK's own reconnect (so `reconnected` follows and the feed back-fills);
 * - `restart(wsKey, reason)` does the same on demand (the stale-data watchdog), when connected.
 */
import { WebsocketClient, type WSClientConfigurableOptions, type WsKey } from "binance";

/** Options of `MarketSocket`. */
export interface MarketSocketOptions {
  /** The SDK's options (`wsUrl`, `testnet`, logger aside). */
  client: WSClientConfigurableOptions;
  /** The SDK's logger (trace, info, error). */
  logger: {
    trace: (...p: unknown[]) => void;
    info: (...p: unknown[]) => void;
    error: (...p: unknown[]) => void;
  };
  /** Rotation period per connection, ms (default 23 h 30 min). */
  rotateAfterMs?: number;
  /** Backoff bounds, ms (default 500 and 30 000). */
  minReconnectMs?: number;
  maxReconnectMs?: number;
  /** A uniform draw in [0, 1) (default Math.random: jitter only, never in the event log). */
  random?: () => number;
}

const DEFAULT_ROTATE_MS = 23.5 * 3_600_000;

/** See the module comment. */
export class MarketSocket extends WebsocketClient {
  private failedAttempts = 0;
  private readonly rotations = new Map<string, NodeJS.Timeout>();

  constructor(options: MarketSocketOptions) {
    super(options.client, options.logger);
    const min = options.minReconnectMs ?? 500;
    const max = options.maxReconnectMs ?? 30_000;
    const random = options.random ?? Math.random;
    // The SDK reads options.reconnectTimeout once per scheduled attempt: make it the backoff.
    Object.defineProperty(this.options, "reconnectTimeout", {
      get: () => {
        const ceiling = Math.min(max, min * 2 ** Math.min(this.failedAttempts, 16));
        return Math.round(ceiling * (0.5 + random() / 2));
      },
    });
    const rotateAfter = options.rotateAfterMs ?? DEFAULT_ROTATE_MS;
    const opened = ({ wsKey }: { wsKey: WsKey }): void => {
      this.failedAttempts = 0;
      this.clearRotation(wsKey);
      const timer = setTimeout(() => this.restart(wsKey, "24h rotation"), rotateAfter);
      timer.unref();
      this.rotations.set(wsKey, timer);
    };
    this.on("open", opened);
    this.on("reconnected", opened);
    this.on("reconnecting", () => {
      this.failedAttempts++;
    });
    this.on("close", ({ wsKey }) => this.clearRotation(wsKey));
  }

  /**
   * Closes `wsKey`'s connection so that the SDK reconnects it (and emits `reconnected`); nothing when it is not
   * connected (a reconnect is already under way: closing again would push it back by another backoff).
   */
  restart(wsKey: WsKey, reason: string): void {
    if (!this.isConnected(wsKey)) return;
    this.clearRotation(wsKey);
    this.executeReconnectableClose(wsKey, reason);
  }

  /** Closes every connection for good (no reconnect) and stops the rotation timers. */
  shutdown(): void {
    for (const key of [...this.rotations.keys()]) this.clearRotation(key);
    this.closeAll(true);
  }

  private clearRotation(wsKey: string): void {
    clearTimeout(this.rotations.get(wsKey));
    this.rotations.delete(wsKey);
  }
}
