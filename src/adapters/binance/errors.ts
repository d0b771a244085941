/**
 * Errors of the Binance REST API, classified by what the caller may do next (binance-usdm.md §5.1–§5.2):
 *
 * | kind        | from                                                            | meaning                          |
 * |-------------|-----------------------------------------------------------------|----------------------------------|
 * | rejected    | HTTP 4xx with `{code, msg}` (not the kinds below)               | not executed; Binance's code/msg |
 * | unknown     | no response (timeout, reset), 408, 5xx except the two below,    | may have been executed: query    |
 * |             | -1000/-1006/-1007, 503 "Unknown error…"                         | before anything else             |
 * | unavailable | 503 "Service Unavailable.", -1008 throttled, connection refused | not executed; retry with backoff |
 * | rateLimited | 429                                                             | not executed; back off           |
 * | banned      | 418, or -1003 "banned until T"                                  | not executed; halt until T       |
 * | clock       | -1021                                                           | not executed; resync the clock   |
 *
 * Secrets never leave this module: `BinanceApiError` keeps only the endpoint, HTTP status, code and message,
 * each passed through `redact` (the API key, the secret and any `signature=` value replaced).
 */

import { VenueRequestError } from "../../engine/venue.ts";

/** What a failed request allows. */
export type BinanceErrorKind = "rejected" | "unknown" | "unavailable" | "rateLimited" | "banned" | "clock";

/** A failed Binance request (redacted). `code` is Binance's (0 when the answer had none). */
export class BinanceApiError extends VenueRequestError {
  override name = "BinanceApiError";
  constructor(
    readonly kind: BinanceErrorKind,
    readonly endpoint: string,
    readonly code: number,
    readonly msg: string,
    readonly status?: number,
    /** `banned`: when the ban ends (ms); `rateLimited`: Retry-After in ms when the answer had one. */
    readonly until?: number,
  ) {
    super(`${endpoint}: ${kind}${status ? ` (HTTP ${status})` : ""}: ${code ? `${code} ` : ""}${msg}`);
  }
}

/** Replaces every secret and `signature=` value in `text` by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(signature=)[^&\s"']+/gi, "$1***");
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("***");
  return out;
}

interface RawError {
  response?: { status?: number; data?: unknown; headers?: Record<string, unknown> };
  code?: string;
  message?: string;
}

const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ERR_INVALID_URL"]);

/**
 * Classifies what the SDK threw (with `parseExceptions: false`: the axios error, or a string) for `endpoint`.
 * `now` is the caller's clock (ms), for a 429's Retry-After.
 */
export function classifyError(
  raw: unknown,
  endpoint: string,
  secrets: readonly string[],
  now: number,
): BinanceApiError {
  if (raw instanceof BinanceApiError) return raw;
  const error = (typeof raw === "object" && raw !== null ? raw : { message: String(raw) }) as RawError;
  const clean = (s: string) => redact(s, secrets);
  const response = error.response;
  if (!response) {
    const what = clean(error.message ?? "no response");
    return NOT_SENT.has(error.code ?? "")
      ? new BinanceApiError("unavailable", endpoint, 0, `${error.code}: ${what}`)
      : new BinanceApiError("unknown", endpoint, 0, `${error.code ?? "no response"}: ${what}`);
  }
  const status = response.status ?? 0;
  const body = response.data as { code?: unknown; msg?: unknown } | string | undefined;
  // A body parsed losslessly (leverageBracket's, rest.ts) has its numbers as text: `"code":"-1021"`.
  const rawCode = typeof body === "object" && body !== null ? body.code : undefined;
  const code =
    typeof rawCode === "number"
      ? rawCode
      : typeof rawCode === "string" && /^-?\d+$/.test(rawCode)
        ? Number(rawCode)
        : 0;
  const msg = clean(
    typeof body === "object" && body !== null && typeof body.msg === "string"
      ? body.msg
      : typeof body === "string" && body.length > 0
        ? body.slice(0, 200)
        : `HTTP ${status}`,
  );
  const make = (kind: BinanceErrorKind, until?: number) =>
    new BinanceApiError(kind, endpoint, code, msg, status, until);
  const bannedUntil = /banned until (\d+)/i.exec(msg);
  if (status === 418 || bannedUntil) return make("banned", bannedUntil ? Number(bannedUntil[1]) : undefined);
  if (status === 429) {
    const retryAfter = Number(response.headers?.["retry-after"]);
    return make(
      "rateLimited",
      Number.isFinite(retryAfter) && retryAfter > 0 ? now + retryAfter * 1000 : undefined,
    );
  }
  if (code === -1021) return make("clock");
  if (code === -1008 || (status === 503 && /service unavailable/i.test(msg))) return make("unavailable");
  if (code === -1000 || code === -1006 || code === -1007 || status === 408 || status >= 500)
    return make("unknown");
  return make("rejected");
}
