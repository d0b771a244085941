/**
 * The REST side of the Binance venue: the SDK's `USDMClient` (signing, the SDK's time offset) behind one
 * `request` that keeps binance-usdm.md §5.1:
 * - every request first waits for its budget (`RateLimiter`), and every answer's `X-MBX-USED-WEIGHT-*` /
 *   `X-MBX-ORDER-COUNT-*` headers correct it;
 * - 429: back off (exponential, or Retry-After) and send again (a 429 was not executed);
 * - 418 or -1003 "banned until T": halt every request until T (`BinanceApiError` kind `banned`, at once);
 * - -1021: resynchronise the clock (`GET /fapi/v1/time`, `setTimeOffset`) and send again, once;
 * - unavailable (503 "Service Unavailable.", -1008, connection refused): retry with backoff (not executed);
 * - unknown outcome (timeout, 5xx, -1006/-1007, 503 "Unknown error"): retried only for idempotent requests
 *   (reads); for an order or a cancel it is thrown, and the caller queries before anything else;
 * - rejected: thrown with Binance's code and message.
 * Parameters are sent as given: prices and quantities as decimal strings, never numbers (§7.1, -1111).
 * Errors and logs are redacted (errors.ts): the API key and secret never appear.
 */
import type { AxiosRequestConfig } from "axios";
import { USDMClient } from "binance";
import type { Logger } from "pino";
import { parseJsonLossless } from "../leverage-brackets/load.ts";
import { BinanceApiError, classifyError } from "./errors.ts";
import { RateLimiter, type RateLimiterOptions, type RequestCost } from "./rate-limiter.ts";

/** Testnet REST origin (the SDK's `testnet`). */
export const TESTNET_REST_URL = "https://testnet.binancefuture.com";

/** Options of `BinanceRest`. */
export interface BinanceRestOptions {
  /** REST origin (the local double); default Binance mainnet, or testnet with `testnet`. */
  restUrl?: string;
  testnet?: boolean;
  apiKey: string;
  apiSecret: string;
  logger: Logger;
  /** ms clock for the budget and bans (the venue's clock). */
  clock: () => number;
  /** Waits `ms`; default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** An answer not received after this many ms is an unknown outcome; default 10 000. */
  timeoutMs?: number;
  /** Binance's recvWindow (ms); default 5 000. */
  recvWindow?: number;
  /** Retries of 429 / unavailable / idempotent unknown outcomes; default 4. */
  maxRetries?: number;
  limiter?: RateLimiterOptions;
  /**
   * At most once per this many ms (clock) a request logs the budget's use, `rate limit usage` at info (weight
   * and order counts per window, e.g. `"REQUEST_WEIGHT/60000ms": "37/2400"`); default 60 000.
   */
  usageLogEveryMs?: number;
}

/** Per-request options: `idempotent` requests (reads) are retried on an unknown outcome. */
export interface RequestOptions {
  idempotent?: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The rate-limited, classified REST client (see the module docstring). */
export class BinanceRest {
  readonly client: USDMClient;
  readonly limiter: RateLimiter;
  readonly recvWindow: number;
  private readonly secrets: string[];
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxRetries: number;
  private usageLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: BinanceRestOptions) {
    this.secrets = [options.apiKey, options.apiSecret];
    this.sleep = options.sleep ?? defaultSleep;
    this.maxRetries = options.maxRetries ?? 4;
    this.recvWindow = options.recvWindow ?? 5_000;
    this.limiter = new RateLimiter(undefined, options.limiter);
    const observe = (headers: Record<string, unknown>) => this.limiter.observe(headers, this.options.clock());
    const requestOptions: AxiosRequestConfig = {
      timeout: options.timeoutMs ?? 10_000,
      // Every answer's headers, success or error, feed the budget (the SDK keeps only the last value of each).
      transformResponse: [
        function (this: AxiosRequestConfig, data: unknown, headers: unknown) {
          observe(headerRecord(headers));
          return parseBody(data, this.url ?? "");
        },
      ],
    };
    this.client = new USDMClient(
      {
        api_key: options.apiKey,
        api_secret: options.apiSecret,
        recvWindow: this.recvWindow,
        parseExceptions: false,
        disableTimeSync: true,
        ...(options.restUrl ? { baseUrl: options.restUrl.replace(/\/+$/, "") } : {}),
        ...(options.testnet ? { testnet: true } : {}),
      },
      requestOptions,
    );
    // Our clientOrderIds are ours (ps-…): the SDK would console.warn on each for lacking its broker prefix.
    (this.client as unknown as { validateOrderId: () => void }).validateOrderId = () => {};
  }

  /**
   * Sends one request through the budget (module docstring). `endpoint` names it in errors and logs
   * (e.g. "POST /fapi/v1/order"); `cost` is its weight and order count (§5.1).
   * @throws BinanceApiError (redacted): rejected, unknown (non-idempotent, or retries spent), banned,
   *   rateLimited / unavailable / clock after the retries.
   */
  async request<T>(
    endpoint: string,
    cost: RequestCost,
    send: (client: USDMClient) => Promise<T>,
    options: RequestOptions = {},
  ): Promise<T> {
    let clockSynced = false;
    for (let attempt = 0; ; attempt += 1) {
      await this.waitForBudget(endpoint, cost);
      this.limiter.record(cost, this.options.clock());
      try {
        const result = await send(this.client);
        this.limiter.succeeded();
        this.logUsage();
        return result;
      } catch (raw) {
        const error = classifyError(raw, endpoint, this.secrets, this.options.clock());
        const retry = attempt < this.maxRetries;
        this.options.logger.warn({ endpoint, kind: error.kind, code: error.code, attempt }, error.message);
        switch (error.kind) {
          case "rejected":
            throw error;
          case "banned":
            this.limiter.ban(error.until ?? this.options.clock() + 120_000);
            throw error;
          case "rateLimited":
            this.limiter.tooManyRequests(this.options.clock(), error.until);
            if (retry) continue;
            throw error;
          case "clock":
            if (clockSynced) throw error;
            clockSynced = true;
            await this.syncClock();
            continue;
          case "unavailable":
            if (!retry) throw error;
            await this.sleep(this.backoff(attempt));
            continue;
          case "unknown":
            if (!options.idempotent || !retry) throw error;
            await this.sleep(this.backoff(attempt));
            continue;
        }
      }
    }
  }

  /**
   * Sets the SDK's time offset from `GET /fapi/v1/time` (the midpoint of the round trip): the SDK signs with
   * its process clock + offset. Returns the offset (ms).
   */
  async syncClock(): Promise<number> {
    const sent = Date.now();
    const serverTime = await this.request(
      "GET /fapi/v1/time",
      { weight: 1, orders: 0 },
      (c) => c.getServerTime(),
      {
        idempotent: true,
      },
    );
    const received = Date.now();
    const offset = Math.round(serverTime - (sent + received) / 2);
    this.client.setTimeOffset(offset);
    this.options.logger.info(
      { offsetMs: offset, roundTripMs: received - sent },
      "exchange clock synchronised",
    );
    return offset;
  }

  private async waitForBudget(endpoint: string, cost: RequestCost): Promise<void> {
    for (;;) {
      const now = this.options.clock();
      const until = this.limiter.bannedUntil(now);
      if (until !== undefined)
        throw new BinanceApiError(
          "banned",
          endpoint,
          -1003,
          `IP banned until ${until}: not sent`,
          418,
          until,
        );
      const wait = this.limiter.delay(cost, now);
      if (wait <= 0) return;
      this.options.logger.info(
        { endpoint, waitMs: wait, usage: this.limiter.usage(now) },
        "rate limit: waiting",
      );
      await this.sleep(wait);
    }
  }

  /** Logs the budget's use (operational logging, issue 7 item 8) at most once per `usageLogEveryMs`. */
  private logUsage(): void {
    const now = this.options.clock();
    if (now - this.usageLoggedAt < (this.options.usageLogEveryMs ?? 60_000)) return;
    this.usageLoggedAt = now;
    this.options.logger.info({ usage: this.limiter.usage(now) }, "rate limit usage");
  }

  private backoff(attempt: number): number {
    return Math.min(30_000, 200 * 2 ** attempt);
  }
}

function headerRecord(headers: unknown): Record<string, unknown> {
  if (!headers || typeof headers !== "object") return {};
  const h = headers as { toJSON?: () => Record<string, unknown> };
  const plain = typeof h.toJSON === "function" ? h.toJSON() : (headers as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plain)) out[k.toLowerCase()] = v;
  return out;
}

/**
 * JSON bodies as the SDK would parse them, except `leverageBracket`, parsed losslessly (every number kept as its
 * text, as `--brackets FILE` reads it: its MMRs and cums are JSON numbers). A body that is not JSON stays text.
 */
function parseBody(data: unknown, url: string): unknown {
  if (typeof data !== "string" || data === "") return data;
  try {
    return url.includes("/fapi/v1/leverageBracket")
      ? parseJsonLossless(data, url.split("?")[0]!)
      : JSON.parse(data);
  } catch {
    return data;
  }
}
