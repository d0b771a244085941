/**
 * `perpsource brackets refresh`: fetches the account's leverage brackets from the SIGNED (USER_DATA) endpoint
 * `GET {rest}/fapi/v1/leverageBracket` (binance-usdm.md §4.6, weight 1), validates them (§4.6 rules, the cum rule
 * included) and saves the body exactly as received as `leverageBracket-YYYY-MM-DD.json` (the UTC day of Binance's
 * server time).
 *
 * Signing (§5.1 general info [GI]): the query `timestamp=<ms>&recvWindow=<ms>` is signed with HMAC-SHA256 keyed by
 * the API secret, sent as `signature=<hex>`, with the API key in the `X-MBX-APIKEY` header. The timestamp is
 * Binance's own (`GET /fapi/v1/time` just before), so a drifting local clock cannot cause -1021 INVALID_TIMESTAMP.
 * Neither key appears in a message this module produces.
 */
import { createHmac } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { utcDay } from "../../domain/instruments.catalog.ts";
import { LeverageBracketCatalog } from "../../domain/margin/brackets.catalog.ts";
import { parseJsonLossless } from "./load.ts";

/** Binance USDⓈ-M REST origin. */
export const DEFAULT_FAPI_REST_URL = "https://fapi.binance.com";

/** An API key pair (from BINANCE_API_KEY / BINANCE_API_SECRET). Never printed. */
export interface ApiCredentials {
  readonly apiKey: string;
  readonly apiSecret: string;
}

/** Options of `refreshLeverageBrackets`. */
export interface RefreshLeverageBracketsOptions {
  /** REST origin; default https://fapi.binance.com. */
  restUrl?: string;
  /** Directory the file is written to (created when missing). */
  dest: string;
  credentials: ApiCredentials;
  /** HTTP client; default the global fetch. */
  fetchImpl?: typeof fetch;
  /** Abort each request after this many ms; default 30 000. */
  timeoutMs?: number;
  /** Binance's recvWindow, ms; default 5 000. */
  recvWindow?: number;
}

/** A saved snapshot. */
export interface RefreshedLeverageBrackets {
  /** Absolute path of the written `leverageBracket-YYYY-MM-DD.json`. */
  path: string;
  bytes: number;
  catalog: LeverageBracketCatalog;
}

/** An endpoint answered with an HTTP error, could not be reached, or sent a bad server time. */
export class LeverageBracketFetchError extends Error {
  override name = "LeverageBracketFetchError";
}

/** Hex HMAC-SHA256 of a query string keyed by the API secret (Binance's SIGNED endpoint security). */
export function signQuery(query: string, apiSecret: string): string {
  return createHmac("sha256", apiSecret).update(query).digest("hex");
}

/**
 * Fetches the server time, then the signed bracket list; validates it and saves it. Nothing is written unless
 * the body is a valid bracket response; the file is written to a temporary name, then renamed.
 * @throws LeverageBracketFetchError (network failure, timeout, non-2xx status with the start of the body — e.g.
 *   Binance's `{"code":-2015,…}` for a bad key — or a server time that is not a number), BracketFileError naming
 *   the endpoint (not JSON, or each problem). The URLs in messages carry no query (no signature).
 */
export async function refreshLeverageBrackets(
  options: RefreshLeverageBracketsOptions,
): Promise<RefreshedLeverageBrackets> {
  const base = (options.restUrl ?? DEFAULT_FAPI_REST_URL).replace(/\/+$/, "");
  const fetchImpl = options.fetchImpl ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const get = async (path: string, query = "", headers: Record<string, string> = {}) => {
    const shown = `GET ${base}${path}`;
    let response: Response;
    let body: string;
    try {
      response = await fetchImpl(`${base}${path}${query === "" ? "" : `?${query}`}`, {
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = await response.text();
    } catch (err) {
      throw new LeverageBracketFetchError(`${shown} failed: ${(err as Error).message}`);
    }
    if (!response.ok) {
      const excerpt = body.length > 200 ? `${body.slice(0, 200)}…` : body;
      throw new LeverageBracketFetchError(
        `${shown}: HTTP ${response.status} ${response.statusText}${excerpt === "" ? "" : `: ${excerpt}`}`,
      );
    }
    return { body, source: `response of ${shown}` };
  };

  const time = await get("/fapi/v1/time");
  const timestamp = serverTimeOf(time.body);
  if (timestamp === undefined)
    throw new LeverageBracketFetchError(
      `${time.source}: expected { "serverTime": <ms> }, got ${time.body.slice(0, 200)}`,
    );

  const query = `timestamp=${timestamp}&recvWindow=${options.recvWindow ?? 5_000}`;
  const signed = `${query}&signature=${signQuery(query, options.credentials.apiSecret)}`;
  const brackets = await get("/fapi/v1/leverageBracket", signed, {
    "X-MBX-APIKEY": options.credentials.apiKey,
  });
  const day = utcDay(timestamp);
  const catalog = LeverageBracketCatalog.fromBracketFile(
    parseJsonLossless(brackets.body, brackets.source),
    day,
    brackets.source,
  );
  await mkdir(options.dest, { recursive: true });
  const path = resolve(options.dest, `leverageBracket-${day}.json`);
  await writeFile(`${path}.partial`, brackets.body);
  await rename(`${path}.partial`, path);
  return { path, bytes: Buffer.byteLength(brackets.body), catalog };
}

/** `serverTime` of a `GET /fapi/v1/time` body, when it is one. */
function serverTimeOf(body: string): number | undefined {
  try {
    const time = (JSON.parse(body) as { serverTime?: unknown } | null)?.serverTime;
    return Number.isSafeInteger(time) && (time as number) > 0 ? (time as number) : undefined;
  } catch {
    return undefined;
  }
}
