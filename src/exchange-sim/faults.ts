/**
 * Fault injection of the double (`exchange-sim --faults SPEC`, issue 7 item 6): what a client of Binance must
 * survive, on purpose and reproducibly. Every fault is counted in exchange events or requests (never in wall
 * time) and fires on every N-th one (`every=N`) or, with `p=RATIO;seed=N`, on a seeded pseudo-random draw.
 *
 * SPEC grammar: `fault(,fault)*`, `fault = name[:param=value(;param=value)*]`, e.g.
 * `drop-user-ws:every=300,http-418:every=400;banMs=120000`. Each fault names at most once.
 *
 * | fault            | counted in                         | effect                                                        |
 * |------------------|------------------------------------|---------------------------------------------------------------|
 * | drop-market-ws   | closed klines published            | the market connections are cut (no close frame) instead of    |
 * |                  |                                    | delivering that kline: it is lost (the client back-fills)     |
 * | drop-user-ws     | user-data messages                 | the private connections are cut instead of delivering it      |
 * | rotate-ws        | replayed bars (one per symbol/min) | every connection is closed (1000, "rotation") between two     |
 * |                  |                                    | steps: nothing is lost                                        |
 * | delay-user       | user-data messages (`ms`)          | the message is held `ms` wall ms before it is sent            |
 * | duplicate-user   | user-data messages                 | the message is sent twice                                     |
 * | reorder-user     | user-data messages of an order     | held and sent right after the order's next message (swapped)  |
 * | listenkey-expire | replayed bars                      | `listenKeyExpired` is sent and the key is invalidated         |
 * | http-429         | signed requests                    | answered 429 -1003, not executed                              |
 * | http-418         | signed requests (`banMs`)          | answered 418 -1003 "banned until T", T = now + banMs of       |
 * |                  |                                    | exchange time; every signed request until T too               |
 * | clock-skew       | signed requests                    | answered 400 -1021, not executed                              |
 * | unknown-503      | order submits                      | executed, answered 503 "Unknown error, …"                     |
 * | timeout-submit   | order submits (`ms`)               | executed, the answer held `ms` wall ms (past the client's      |
 * |                  |                                    | timeout)                                                      |
 *
 * Order submits are `POST /fapi/v1/order` and `POST /fapi/v1/algoOrder`; signed requests are the routes with
 * `config.security` SIGNED. The sim routes (`/sim/v1/…`) and listenKey routes are never faulted.
 *
 * **Lockstep rule.** A fault never leaves the protocol waiting: (1) a connection is cut only in place of
 * delivering a step message, whose delivery then has no recipient and is skipped (not re-sent: the message is
 * lost, as on Binance, and the client recovers it over REST — klines back-fill, order and trade queries); a step
 * message already delivered on a connection that closes before its ack is released (lockstep.ts);
 * (2) rotations and listenKey expiries happen between two steps, when no message waits for an ack; (3) before
 * the next step the replay waits until every delayed or reordered user message was sent and acked (a reordered
 * message whose order has no next message by then is sent there, in its place), and until the client is back:
 * every symbol's kline subscribed again, and after a listenKey expiry a new listenKey with an open private
 * connection.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { BinanceApiError } from "./errors.ts";
import type { UserEventMessage } from "./exchange-port.ts";

/** The names of the faults. */
export const FAULT_NAMES = [
  "drop-market-ws",
  "drop-user-ws",
  "rotate-ws",
  "delay-user",
  "duplicate-user",
  "reorder-user",
  "listenkey-expire",
  "http-429",
  "http-418",
  "clock-skew",
  "unknown-503",
  "timeout-submit",
] as const;

export type FaultName = (typeof FAULT_NAMES)[number];

/** When a fault fires: on every N-th counted event, or with probability `p` drawn from a seeded generator. */
export type FaultTrigger = { every: number } | { p: number; seed: number };

/** One parsed fault. `ms`: delay-user's delay, timeout-submit's hold (wall ms); `banMs`: http-418 (exchange ms). */
export interface Fault {
  name: FaultName;
  trigger: FaultTrigger;
  ms?: number;
  banMs?: number;
}

/** A bad `--faults` SPEC: the message names the fault and the parameter. */
export class FaultSpecError extends Error {
  override name = "FaultSpecError";
}

/** Default hold of timeout-submit: longer than any client's timeout (wall ms). */
export const DEFAULT_TIMEOUT_HOLD_MS = 30_000;
/** Default ban of http-418 (ms of exchange time): Binance's first ban, 2 minutes. */
export const DEFAULT_BAN_MS = 120_000;

const EXTRA_PARAMS: Partial<Record<FaultName, readonly string[]>> = {
  "delay-user": ["ms"],
  "http-418": ["banMs"],
  "timeout-submit": ["ms"],
};

/**
 * Parses a SPEC (module docstring). Every fault takes `every=N` (integer ≥ 1) or `p=RATIO` (0 < p ≤ 1) with
 * `seed=N` (integer ≥ 0) — delay-user without either delays every message; delay-user needs `ms` (integer ≥ 1), timeout-submit and http-418 take `ms` / `banMs`
 * (integers ≥ 1; defaults 30 000 and 120 000).
 * @throws FaultSpecError naming the fault and the parameter.
 */
export function parseFaultSpec(spec: string): Fault[] {
  const faults: Fault[] = [];
  const items = spec.split(",").map((s) => s.trim());
  if (spec.trim() === "" || items.some((s) => s === ""))
    throw new FaultSpecError(`empty fault in "${spec}": expected name[:param=value[;param=value]],…`);
  for (const item of items) {
    const colon = item.indexOf(":");
    const name = colon < 0 ? item : item.slice(0, colon);
    if (!(FAULT_NAMES as readonly string[]).includes(name))
      throw new FaultSpecError(`unknown fault "${name}": expected one of ${FAULT_NAMES.join(", ")}`);
    const fault = name as FaultName;
    if (faults.some((f) => f.name === fault)) throw new FaultSpecError(`${fault}: given twice`);
    const params = new Map<string, string>();
    if (colon >= 0)
      for (const part of item.slice(colon + 1).split(";")) {
        const eq = part.indexOf("=");
        const key = eq < 0 ? part.trim() : part.slice(0, eq).trim();
        if (eq < 0) throw new FaultSpecError(`${fault}: parameter "${key}" has no value (param=value)`);
        const allowed = ["every", "p", "seed", ...(EXTRA_PARAMS[fault] ?? [])];
        if (!allowed.includes(key))
          throw new FaultSpecError(`${fault}: unknown parameter "${key}": expected ${allowed.join(", ")}`);
        if (params.has(key)) throw new FaultSpecError(`${fault}: parameter ${key} given twice`);
        params.set(key, part.slice(eq + 1).trim());
      }
    const int = (key: string, min: number): number | undefined => {
      const raw = params.get(key);
      if (raw === undefined) return undefined;
      if (!/^\d{1,15}$/.test(raw) || Number(raw) < min)
        throw new FaultSpecError(`${fault}: ${key} must be an integer ≥ ${min}, got "${raw}"`);
      return Number(raw);
    };
    const every = int("every", 1);
    const seed = int("seed", 0);
    const pRaw = params.get("p");
    let trigger: FaultTrigger;
    if (pRaw !== undefined) {
      const p = Number(pRaw);
      if (!/^(0|1)?(\.\d+)?$/.test(pRaw) || !(p > 0 && p <= 1))
        throw new FaultSpecError(`${fault}: p must be a ratio 0 < p ≤ 1, got "${pRaw}"`);
      if (every !== undefined) throw new FaultSpecError(`${fault}: every and p exclude each other`);
      if (seed === undefined) throw new FaultSpecError(`${fault}: p needs seed=N (the draws are seeded)`);
      trigger = { p, seed };
    } else {
      if (seed !== undefined) throw new FaultSpecError(`${fault}: seed goes with p, not with every`);
      if (every === undefined && fault !== "delay-user")
        throw new FaultSpecError(`${fault}: every=N (or p=RATIO;seed=N) is required`);
      trigger = { every: every ?? 1 };
    }
    const ms = int("ms", 1);
    if (fault === "delay-user" && ms === undefined) throw new FaultSpecError(`${fault}: ms=N is required`);
    const banMs = int("banMs", 1);
    faults.push({
      name: fault,
      trigger,
      ...(ms === undefined ? {} : { ms }),
      ...(banMs === undefined ? {} : { banMs }),
    });
  }
  return faults;
}

/** Counts events and says when a fault fires (deterministic: every N-th, or a seeded mulberry32 draw). */
class Counter {
  count = 0;
  fired = 0;
  #state: number;

  constructor(readonly trigger: FaultTrigger) {
    this.#state = "seed" in trigger ? trigger.seed >>> 0 : 0;
  }

  /** Counts one event; true when the fault fires on it. */
  hit(): boolean {
    this.count++;
    const fire =
      "every" in this.trigger ? this.count % this.trigger.every === 0 : this.#draw() < this.trigger.p;
    if (fire) this.fired++;
    return fire;
  }

  #draw(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
}

/** What the injector acts on (the server's parts). */
export interface FaultTargets {
  /** The exchange clock, ms. */
  now: () => number;
  /** Cuts (`terminate`) or closes (`close`: 1000) every market connection. */
  dropMarket(how: "terminate" | "close"): void;
  /** Closes every private connection (1000, between steps). */
  closeUser(): void;
  /**
   * Sends `listenKeyExpired` and drops the live key (a lockstep step); resolves like a replay step's message, to
   * whether there was a live key.
   */
  expireListenKey(): Promise<boolean>;
  /** Whether a live listenKey has an open private connection. */
  userConnected(): boolean;
  /** Sends a user-data message (the user stream's lockstep step). */
  sendUser: UserSend;
}

/**
 * A user-data message sender (a lockstep step): resolves when sent (under lockstep: acked, or sent to no one).
 * `cut`: the private connections are cut in the message's turn, before it would be sent (it then reaches no one).
 */
export type UserSend = (message: UserEventMessage, cut?: boolean) => Promise<void>;

const ORDER_SUBMITS = new Set(["POST /fapi/v1/order", "POST /fapi/v1/algoOrder"]);
const UNKNOWN_MSG = "Unknown error, please check your request or try again later.";

/** The faults of one double (module docstring). */
export class FaultInjector {
  readonly #counters = new Map<FaultName, Counter>();
  readonly #faults = new Map<FaultName, Fault>();
  #targets: FaultTargets | undefined;
  /** The chain user messages go out on (delays keep their order). */
  #tail: Promise<void> = Promise.resolve();
  /** reorder-user: a held message per order key. */
  readonly #held = new Map<string, UserEventMessage>();
  #bannedUntil = Number.NEGATIVE_INFINITY;
  #awaitingKey = false;
  readonly #closing = new AbortController();

  constructor(faults: readonly Fault[]) {
    for (const f of faults) {
      this.#faults.set(f.name, f);
      this.#counters.set(f.name, new Counter(f.trigger));
    }
  }

  /** Whether any fault is on. */
  get enabled(): boolean {
    return this.#faults.size > 0;
  }

  /** How often each fault fired so far (for `/sim/v1/status` and tests). */
  fired(): Record<string, number> {
    return Object.fromEntries([...this.#counters].map(([name, c]) => [name, c.fired]));
  }

  /** Connects the injector to the server's parts (before the replay starts). */
  attach(targets: FaultTargets): void {
    this.#targets = targets;
  }

  #hit(name: FaultName): boolean {
    return this.#counters.get(name)?.hit() ?? false;
  }

  // ── market ─────────────────────────────────────────────────────────────────────────────────────────────

  /** A closed kline is about to be published: true when the market connections were cut instead (drop-market-ws). */
  dropClosedKline(): boolean {
    if (!this.#hit("drop-market-ws")) return false;
    this.#targets?.dropMarket("terminate");
    return true;
  }

  /**
   * Between two replay steps (lockstep: nothing waits for an ack), before the replay checks that the clients are
   * ready: sends what reorder-user still holds and waits for delayed messages, then counts the bar about to be
   * replayed for rotate-ws and listenkey-expire.
   */
  async beforeStep(isBar: boolean): Promise<void> {
    await this.flushUser();
    if (!isBar) return;
    if (this.#hit("rotate-ws")) {
      this.#targets?.dropMarket("close");
      this.#targets?.closeUser();
    }
    if (this.#hit("listenkey-expire") && this.#targets)
      // Without a live key (no user stream, e.g. a paper run) there is nothing to expire nor to wait for.
      this.#awaitingKey = await this.#targets.expireListenKey();
  }

  /** Whether the replay may go on (after a forced listenKey expiry: once a new key has a private connection). */
  ready(): boolean {
    if (this.#awaitingKey && this.#targets?.userConnected()) this.#awaitingKey = false;
    return !this.#awaitingKey;
  }

  // ── user data ──────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Sends one user-data message through the user faults (drop, delay, duplicate, reorder, in that order of
   * precedence), in the order messages came. Resolves when what was sent for it was sent (and acked, see `send`).
   */
  forwardUser(message: UserEventMessage): Promise<void> {
    const send: UserSend = (m, cut) => this.#targets?.sendUser(m, cut) ?? Promise.resolve();
    const drop = this.#hit("drop-user-ws");
    const delay = this.#hit("delay-user") ? (this.#faults.get("delay-user")?.ms ?? 0) : 0;
    const duplicate = this.#hit("duplicate-user");
    const key = orderKey(message);
    const reorder = key !== undefined && this.#hit("reorder-user"); // counts only messages of an order
    const out = async () => {
      if (delay > 0) await sleep(delay, this.#closing.signal);
      if (drop) {
        await send(message, true);
        return;
      }
      if (key !== undefined && reorder && !this.#held.has(key)) {
        this.#held.set(key, message);
        return;
      }
      await send(message);
      if (duplicate) await send(message);
      const held = key === undefined ? undefined : this.#held.get(key);
      if (held !== undefined && held !== message) {
        this.#held.delete(key!);
        await send(held);
      }
    };
    const done = this.#tail.then(out);
    this.#tail = done.catch(() => undefined);
    return done;
  }

  /** Sends every message reorder-user holds (in the order held) and waits for the chain. */
  async flushUser(): Promise<void> {
    await this.#tail;
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const m of held) await this.#targets?.sendUser(m);
  }

  // ── HTTP ───────────────────────────────────────────────────────────────────────────────────────────────

  /** Registers the HTTP faults on `app` (after the security hook, so only well-signed requests are counted). */
  registerHttp(app: FastifyInstance): void {
    const http = ["http-429", "http-418", "clock-skew", "unknown-503", "timeout-submit"] as const;
    if (!http.some((n) => this.#faults.has(n))) return;
    const faulted = new WeakMap<object, "unknown-503" | "timeout-submit">();
    app.addHook("preHandler", async (request: FastifyRequest) => {
      const security = (request.routeOptions.config as { security?: unknown } | undefined)?.security;
      if (security !== "SIGNED") return;
      const now = this.#targets?.now() ?? 0;
      if (now < this.#bannedUntil) throw banned(this.#bannedUntil);
      if (this.#hit("http-418")) {
        this.#bannedUntil = now + (this.#faults.get("http-418")?.banMs ?? DEFAULT_BAN_MS);
        throw banned(this.#bannedUntil);
      }
      if (this.#hit("http-429"))
        throw new BinanceApiError(
          429,
          -1003,
          "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API.",
        );
      if (this.#hit("clock-skew"))
        throw new BinanceApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.");
      if (!ORDER_SUBMITS.has(`${request.method} ${request.routeOptions.url}`)) return;
      if (this.#hit("unknown-503")) faulted.set(request.raw, "unknown-503");
      else if (this.#hit("timeout-submit")) faulted.set(request.raw, "timeout-submit");
    });
    app.addHook("onSend", async (request: FastifyRequest, reply: FastifyReply, payload) => {
      const fault = faulted.get(request.raw);
      if (fault === undefined) return payload;
      faulted.delete(request.raw);
      if (fault === "timeout-submit") {
        await sleep(this.#faults.get(fault)?.ms ?? DEFAULT_TIMEOUT_HOLD_MS, this.#closing.signal);
        return payload;
      }
      reply.code(503).header("content-type", "application/json; charset=utf-8");
      return JSON.stringify({ code: -1000, msg: UNKNOWN_MSG });
    });
  }

  /** Ends every wait (held answers, delays) at once: the double is closing. */
  close(): void {
    this.#closing.abort();
  }
}

/** The order a user-data message belongs to (ORDER_TRADE_UPDATE `o.c`, ALGO_UPDATE `o.caid`), if any. */
export function orderKey(message: UserEventMessage): string | undefined {
  const o = message.o as { c?: unknown; caid?: unknown } | undefined;
  if (message.e === "ORDER_TRADE_UPDATE" && typeof o?.c === "string") return o.c;
  if (message.e === "ALGO_UPDATE" && typeof o?.caid === "string") return o.caid;
  return undefined;
}

function banned(until: number): BinanceApiError {
  return new BinanceApiError(
    418,
    -1003,
    `Way too many requests; IP(127.0.0.1) banned until ${until}. Please use the websocket for live updates to avoid bans.`,
  );
}

/** Resolves after `ms` wall ms, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
