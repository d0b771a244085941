/**
 * The user data stream (binance-usdm.md §3.5): the account's listenKey — created with `POST /fapi/v1/listenKey`
 * (the live key is returned and extended when there is one), kept alive with `PUT`, closed with `DELETE`, valid
 * 60 minutes after its creation or last keepalive (of wall time by default: a client keeps its key alive on its
 * own clock, so a replay faster than real time would otherwise expire it at every step), then announced dead with a
 * `listenKeyExpired` event — and the private connections (`/private/ws/<key>`, `/private/ws?listenKey=`,
 * `/private/stream?listenKey=`, the last one in the combined form `{"stream":"<listenKey>","data":{…}}`;
 * `events=A/B` keeps only those event types) that receive the exchange's user events. Every private message is a
 * lockstep step.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import { requestParameters } from "./auth.ts";
import { BinanceApiError } from "./errors.ts";
import type { UserEventMessage } from "./exchange-port.ts";
import type { ChangeSignal, Lockstep, Recipient } from "./lockstep.ts";
import { type Heartbeat, StreamConnection } from "./stream-connection.ts";

/** How long a listenKey lives after its creation or last keepalive, ms of the key clock. */
export const LISTEN_KEY_VALIDITY_MS = 60 * 60_000;

/** A private connection: its listenKey and the event types it takes (all when undefined). */
class PrivateConnection extends StreamConnection {
  constructor(
    ws: WebSocket,
    readonly listenKey: string,
    combined: boolean,
    readonly events: ReadonlySet<string> | undefined,
    heartbeat: Heartbeat,
  ) {
    super(ws, combined, heartbeat);
  }
}

/** -1125, the answer to a listenKey that does not exist (anymore). */
function unknownListenKey(): BinanceApiError {
  return new BinanceApiError(400, -1125, "This listenKey does not exist.");
}

/** The account's listenKey and private connections. */
export class UserStream {
  #key: { value: string; expiresAt: number } | undefined;
  #created = 0;
  readonly #connections = new Set<PrivateConnection>();

  /**
   * @param apiKey the account's API key (listenKeys are derived from it and a counter).
   * @param now the exchange clock, ms epoch (the events' times).
   * @param signal told when the listenKey or the private connections change.
   * @param keyClock the clock a listenKey's validity runs on, ms (wall time, or the exchange clock).
   */
  constructor(
    private readonly apiKey: string,
    private readonly now: () => number,
    private readonly lockstep: Lockstep,
    private readonly signal: ChangeSignal,
    private readonly logger: Logger,
    private readonly heartbeat: Heartbeat,
    private readonly keyClock: () => number,
  ) {}

  /** The live listenKey, if any (an expired one is announced and dropped first). */
  get liveKey(): string | undefined {
    this.#expireIfDue();
    return this.#key?.value;
  }

  /** Open private connections on the live listenKey. */
  get openConnections(): number {
    const key = this.liveKey;
    let n = 0;
    for (const c of this.#connections) if (c.listenKey === key && c.open) n++;
    return n;
  }

  /** `POST /fapi/v1/listenKey`: the live key extended by 60 minutes, or a new one. */
  create(): string {
    const now = this.keyClock();
    this.#expireIfDue();
    if (this.#key === undefined) {
      this.#created++;
      const value = createHash("sha256").update(`${this.apiKey}\n${this.#created}`).digest("hex");
      this.#key = { value, expiresAt: now + LISTEN_KEY_VALIDITY_MS };
      this.logger.info({ expiresAt: this.#key.expiresAt }, "listenKey created");
      this.signal.changed();
    } else this.#key.expiresAt = now + LISTEN_KEY_VALIDITY_MS;
    return this.#key.value;
  }

  /**
   * `PUT /fapi/v1/listenKey`: extends the live key by 60 minutes.
   * @throws BinanceApiError -1125 when there is no live key, or `listenKey` names another one.
   */
  keepAlive(listenKey: string | undefined): string {
    const key = this.#live(listenKey);
    key.expiresAt = this.keyClock() + LISTEN_KEY_VALIDITY_MS;
    return key.value;
  }

  /**
   * `DELETE /fapi/v1/listenKey`: closes the live key; its connections stay open and receive nothing more.
   * @throws BinanceApiError -1125 when there is no live key, or `listenKey` names another one.
   */
  close(listenKey: string | undefined): void {
    this.#live(listenKey);
    this.#key = undefined;
    this.logger.info("listenKey closed");
    this.signal.changed();
  }

  /** Whether `listenKey` is the live key (a private connection may open on it). */
  accepts(listenKey: string): boolean {
    return listenKey !== "" && this.liveKey === listenKey;
  }

  /** Takes an upgraded private connection on `listenKey` (which `accepts`). */
  accept(ws: WebSocket, listenKey: string, combined: boolean, events: ReadonlySet<string> | undefined): void {
    const connection = new PrivateConnection(ws, listenKey, combined, events, this.heartbeat);
    this.#connections.add(connection);
    void connection.closed.then(() => {
      this.#connections.delete(connection);
      this.signal.changed();
    });
    this.signal.changed();
  }

  /**
   * Sends one user event of the exchange to the private connections of the live key (a lockstep step). Inside
   * a replay step it resolves once the message was acked; from a request it resolves at once (queued).
   */
  async forward(message: UserEventMessage): Promise<void> {
    const delivered = this.send(message);
    if (this.lockstep.inReplayStep) await delivered;
  }

  /**
   * Queues one message to the live key's connections (a lockstep step); resolves when it was sent and acked (or
   * reached no one). `cut`: the private connections are cut first, in its turn (a fault: it then reaches no one).
   */
  send(message: UserEventMessage, cut = false): Promise<void> {
    return this.lockstep.send(() => {
      if (cut) this.dropAll("terminate");
      return this.#deliver(message);
    }, true);
  }

  /**
   * Announces the live key's expiry now (`listenKeyExpired`, a lockstep step) and drops it, whatever its time
   * (the listenkey-expire fault). Resolves like `send`, to whether there was a live key.
   */
  async expireNow(): Promise<boolean> {
    const key = this.#key;
    if (key === undefined) return false;
    await this.#expire(key);
    return true;
  }

  /**
   * Announces the live key's expiry when exchange time reached it (`listenKeyExpired` to its connections, a
   * lockstep step), then drops the key. Resolves like `forward`.
   */
  async expireDue(): Promise<void> {
    const key = this.#key;
    if (key === undefined || this.keyClock() < key.expiresAt) return;
    await this.#expire(key);
  }

  async #expire(key: { value: string; expiresAt: number }): Promise<void> {
    this.#key = undefined;
    this.logger.info({ expiresAt: key.expiresAt }, "listenKey expired");
    const message = { e: "listenKeyExpired", E: this.now(), listenKey: key.value };
    const delivered = this.lockstep.send(() => this.#deliverTo(key.value, message), true);
    this.signal.changed();
    if (this.lockstep.inReplayStep) await delivered;
  }

  /** Closes every private connection (code 1001, going away). */
  closeAll(): void {
    for (const c of this.#connections) c.ws.close(1001, "server shutting down");
  }

  /** Cuts every private connection (`terminate`: no close frame) or closes it (1000, a rotation). */
  dropAll(how: "terminate" | "close"): void {
    for (const c of this.#connections)
      if (how === "terminate") c.ws.terminate();
      else c.ws.close(1000, "rotation");
  }

  /** Registers `POST`, `PUT` and `DELETE /fapi/v1/listenKey` (API key only, weight 1) on `app`. */
  routes(app: FastifyInstance): void {
    const config = { security: "API_KEY", weight: 1 };
    app.post("/fapi/v1/listenKey", { config }, async () => ({ listenKey: this.create() }));
    app.put("/fapi/v1/listenKey", { config }, async (request) => ({
      listenKey: this.keepAlive(requestParameters(request).listenKey),
    }));
    app.delete("/fapi/v1/listenKey", { config }, async (request) => {
      this.close(requestParameters(request).listenKey);
      return {};
    });
  }

  #live(listenKey: string | undefined): { value: string; expiresAt: number } {
    this.#expireIfDue();
    const key = this.#key;
    if (key === undefined || (listenKey !== undefined && listenKey !== "" && listenKey !== key.value))
      throw unknownListenKey();
    return key;
  }

  #expireIfDue(): void {
    if (this.#key !== undefined && this.keyClock() >= this.#key.expiresAt) void this.expireDue();
  }

  #deliver(message: UserEventMessage): Recipient[] {
    const key = this.#key?.value;
    return key === undefined ? [] : this.#deliverTo(key, message);
  }

  #deliverTo(listenKey: string, message: UserEventMessage): Recipient[] {
    const sent: Recipient[] = [];
    const type = typeof message.e === "string" ? message.e : "";
    for (const c of this.#connections) {
      if (c.listenKey !== listenKey || (c.events !== undefined && !c.events.has(type))) continue;
      if (c.sendStream(listenKey, message)) sent.push(c);
    }
    return sent;
  }
}
