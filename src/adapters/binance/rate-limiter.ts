/**
 * The request-weight and order-count budget of binance-usdm.md §5.1: the limits of `exchangeInfo.rateLimits`
 * (REQUEST_WEIGHT 2400/1m per IP, ORDERS 300/10s and 1200/1m per account by default), counted in fixed windows
 * aligned to the interval (as Binance counts: `X-MBX-USED-WEIGHT-1M` is the weight used in the current minute),
 * corrected upwards by the `X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*` headers of every answer. A request that
 * would pass `headroom` × limit waits for the next window. A 429 backs off exponentially (or until Retry-After);
 * a 418 / -1003 ban halts everything until it ends. Pure bookkeeping: times are passed in (ms).
 */

/** One entry of `exchangeInfo.rateLimits`. */
export interface RateLimit {
  rateLimitType: string;
  interval: string;
  intervalNum: number;
  limit: number;
}

/** What one request costs: IP weight and orders (new orders count 1; cancels and queries 0). */
export interface RequestCost {
  weight: number;
  orders: number;
}

/** Binance's published USDⓈ-M limits (§5.1), until exchangeInfo gives the live ones. */
export const DEFAULT_RATE_LIMITS: readonly RateLimit[] = [
  { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 2400 },
  { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 300 },
  { rateLimitType: "ORDERS", interval: "MINUTE", intervalNum: 1, limit: 1200 },
];

const UNIT_MS: Record<string, number> = { SECOND: 1_000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };
const SUFFIX_MS: Record<string, number> = { S: 1_000, M: 60_000, H: 3_600_000, D: 86_400_000 };

interface Counter {
  type: "REQUEST_WEIGHT" | "ORDERS" | "RAW_REQUESTS";
  intervalMs: number;
  limit: number;
  windowStart: number;
  used: number;
}

/** Options: `headroom` (fraction of each limit used, default 0.9), the 429 backoff (default 1 s doubling to 60 s). */
export interface RateLimiterOptions {
  headroom?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** The budget (see the module docstring). */
export class RateLimiter {
  private counters: Counter[] = [];
  private backoffUntil = 0;
  private strikes = 0;
  private banUntil = 0;
  private readonly headroom: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;

  constructor(limits: readonly RateLimit[] = DEFAULT_RATE_LIMITS, options: RateLimiterOptions = {}) {
    this.headroom = options.headroom ?? 0.9;
    this.backoffBaseMs = options.backoffBaseMs ?? 1_000;
    this.backoffMaxMs = options.backoffMaxMs ?? 60_000;
    this.configure(limits);
  }

  /**
   * Takes the live limits (exchangeInfo.rateLimits); usage counted so far is kept for unchanged windows.
   * @throws Error naming an entry with an unknown type or interval.
   */
  configure(limits: readonly RateLimit[]): void {
    this.counters = limits.map((l) => {
      const unit = UNIT_MS[l.interval];
      if (!unit || !["REQUEST_WEIGHT", "ORDERS", "RAW_REQUESTS"].includes(l.rateLimitType) || !(l.limit > 0))
        throw new Error(`exchangeInfo.rateLimits: unknown limit ${JSON.stringify(l)}`);
      const intervalMs = unit * l.intervalNum;
      const type = l.rateLimitType as Counter["type"];
      const old = this.counters.find((c) => c.type === type && c.intervalMs === intervalMs);
      return { type, intervalMs, limit: l.limit, windowStart: old?.windowStart ?? 0, used: old?.used ?? 0 };
    });
  }

  /** When the current ban ends (ms), or undefined when not banned at `now`. */
  bannedUntil(now: number): number | undefined {
    return this.banUntil > now ? this.banUntil : undefined;
  }

  /** How long (ms) a request of `cost` must wait at `now` (0: it may go); not for a ban (see `bannedUntil`). */
  delay(cost: RequestCost, now: number): number {
    let wait = Math.max(0, this.backoffUntil - now);
    for (const c of this.counters) {
      const amount = costFor(c, cost);
      if (amount === 0) continue;
      const used = this.windowOf(c, now) === c.windowStart ? c.used : 0;
      if (used + amount > Math.floor(c.limit * this.headroom))
        wait = Math.max(wait, this.windowOf(c, now) + c.intervalMs - now);
    }
    return wait;
  }

  /** Counts a request sent at `now`. */
  record(cost: RequestCost, now: number): void {
    for (const c of this.counters) {
      this.roll(c, now);
      c.used += costFor(c, cost);
    }
  }

  /**
   * Takes an answer's headers (lower-case names; `x-mbx-used-weight-1m`, `x-mbx-order-count-10s`, …) at `now`:
   * each raises its window's count to the server's.
   */
  observe(headers: Readonly<Record<string, unknown>>, now: number): void {
    for (const [name, value] of Object.entries(headers)) {
      const match = /^x-mbx-(used-weight|order-count)-(\d+)([smhd])$/i.exec(name);
      if (!match) continue;
      const used = Number(value);
      if (!Number.isFinite(used)) continue;
      const type = match[1]!.toLowerCase() === "used-weight" ? "REQUEST_WEIGHT" : "ORDERS";
      const intervalMs = Number(match[2]) * SUFFIX_MS[match[3]!.toUpperCase()]!;
      const c = this.counters.find((x) => x.type === type && x.intervalMs === intervalMs);
      if (!c) continue;
      this.roll(c, now);
      c.used = Math.max(c.used, used);
    }
  }

  /** A 429 at `now`: no request until `until` (Retry-After) or an exponential backoff. */
  tooManyRequests(now: number, until?: number): void {
    const backoff = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** this.strikes);
    this.strikes += 1;
    this.backoffUntil = Math.max(this.backoffUntil, until ?? now + backoff);
  }

  /** A request succeeded: the 429 backoff starts over. */
  succeeded(): void {
    this.strikes = 0;
  }

  /** A 418 / -1003 ban until `until` (ms). */
  ban(until: number): void {
    this.banUntil = Math.max(this.banUntil, until);
  }

  /** Usage in the current windows, for logging: `REQUEST_WEIGHT/60000ms` → used / limit. */
  usage(now: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const c of this.counters) {
      const used = this.windowOf(c, now) === c.windowStart ? c.used : 0;
      out[`${c.type}/${c.intervalMs}ms`] = `${used}/${c.limit}`;
    }
    return out;
  }

  private windowOf(c: Counter, now: number): number {
    return now - (now % c.intervalMs);
  }

  private roll(c: Counter, now: number): void {
    const start = this.windowOf(c, now);
    if (start !== c.windowStart) {
      c.windowStart = start;
      c.used = 0;
    }
  }
}

function costFor(c: Counter, cost: RequestCost): number {
  if (c.type === "REQUEST_WEIGHT") return cost.weight;
  if (c.type === "ORDERS") return cost.orders;
  return 1;
}
