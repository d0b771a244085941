/**
 * Request authentication as Binance does it (binance-usdm.md §5.1, §5.2): the API key in the `X-MBX-APIKEY`
 * header, and for SIGNED endpoints a `signature` over the request's parameters — HMAC-SHA256 (hex) with the
 * secret, or Ed25519 (base64) with the key pair's private key — plus `timestamp` and `recvWindow` checked
 * against the exchange clock. The signed payload is the query string as sent (without `signature`), directly
 * followed by the `application/x-www-form-urlencoded` body as sent (without `signature`), which is what the
 * `binance` SDK signs. A route asks for this with `config: { security: "SIGNED" | "API_KEY" }`.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  timingSafeEqual,
  verify,
} from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { BinanceApiError, mandatoryParameter } from "./errors.ts";

/** The key pair requests are checked against. */
export interface ApiCredentials {
  apiKey: string;
  /** How signatures are made: HMAC-SHA256 with the secret, or Ed25519. */
  scheme: "HMAC-SHA256" | "Ed25519";
  /** Whether `signature` (as sent, percent-encoded) signs `payload`. */
  verify(payload: string, signature: string): boolean;
}

/** recvWindow when a request sends none, and the largest accepted, ms (binance-usdm.md §5.1). */
export const DEFAULT_RECV_WINDOW_MS = 5_000;
export const MAX_RECV_WINDOW_MS = 60_000;

/**
 * The credentials of `apiKey` and `secret` as the SDK takes them (BINANCE_API_KEY, BINANCE_API_SECRET): an
 * HMAC secret, or the PEM of an Ed25519 private key (requests are then checked with its public key), or the
 * PEM of the Ed25519 public key alone (the key registered with Binance; the client keeps the private one).
 * @throws Error when a key is empty, or the PEM is not an Ed25519 key (RSA keys are not supported).
 */
export function credentialsFromSecret(apiKey: string, secret: string): ApiCredentials {
  if (apiKey === "") throw new Error("the API key is empty");
  if (secret === "") throw new Error("the API secret is empty");
  if (secret.includes("PUBLIC KEY")) {
    try {
      return ed25519Credentials(apiKey, secret.replace(/\\n/g, "\n"));
    } catch (error) {
      throw new Error(
        `the API secret looks like a PEM public key but is not an Ed25519 one: ${(error as Error).message}`,
      );
    }
  }
  if (!secret.includes("PRIVATE KEY")) return hmacCredentials(apiKey, secret);
  let key: KeyObject;
  try {
    key = createPrivateKey(secret.replace(/\\n/g, "\n"));
  } catch (error) {
    throw new Error(
      `the API secret looks like a PEM private key but cannot be read: ${(error as Error).message}`,
    );
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new Error(
      `the API secret is a ${key.asymmetricKeyType} private key; only Ed25519 and HMAC are supported`,
    );
  return ed25519Credentials(apiKey, createPublicKey(key));
}

/** HMAC-SHA256 credentials: the signature is the hex digest of the payload keyed with `secret`. */
export function hmacCredentials(apiKey: string, secret: string): ApiCredentials {
  return {
    apiKey,
    scheme: "HMAC-SHA256",
    verify(payload, signature) {
      const expected = Buffer.from(createHmac("sha256", secret).update(payload).digest("hex"));
      const given = Buffer.from(signature.toLowerCase());
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/**
 * Ed25519 credentials: the signature is the base64 Ed25519 signature of the payload (percent-encoded in the
 * request), checked with `publicKey` (a KeyObject or a PEM `PUBLIC KEY`).
 */
export function ed25519Credentials(apiKey: string, publicKey: KeyObject | string): ApiCredentials {
  const key = typeof publicKey === "string" ? createPublicKey(publicKey) : publicKey;
  if (key.asymmetricKeyType !== "ed25519")
    throw new Error(`expected an Ed25519 public key, got a ${key.asymmetricKeyType} key`);
  return {
    apiKey,
    scheme: "Ed25519",
    verify(payload, signature) {
      let bytes: Buffer;
      try {
        bytes = Buffer.from(decodeURIComponent(signature), "base64");
      } catch {
        return false;
      }
      return bytes.length === 64 && verify(null, Buffer.from(payload), key, bytes);
    },
  };
}

/** The raw `application/x-www-form-urlencoded` bodies of the requests being served, by request. */
const rawBodies = new WeakMap<IncomingMessage, string>();

/**
 * Makes `app` read `application/x-www-form-urlencoded` bodies (into `request.body` as a string record; the raw
 * text is kept for the signature) and check every route's `config.security`: "API_KEY" needs the key header,
 * "SIGNED" the key, a valid signature, and a timestamp within recvWindow of `now()` (the exchange clock).
 * Failures answer -2014 (no key), -2015 (another key), -1102 (no timestamp or signature), -1022 (bad
 * signature), -1131 (bad recvWindow), -1021 (timestamp outside the window or ≥ 1 s ahead). Without
 * `credentials` every API_KEY and SIGNED route answers -2015. Register it before the routes it guards.
 */
export function registerSecurity(
  app: FastifyInstance,
  options: { credentials: ApiCredentials | undefined; now: () => number },
): void {
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (request, body, done) => {
      const text = body as string;
      rawBodies.set(request.raw, text);
      done(null, Object.fromEntries(new URLSearchParams(text)));
    },
  );
  app.addHook("preHandler", async (request) => {
    const security = (request.routeOptions.config as { security?: unknown }).security;
    if (security !== "SIGNED" && security !== "API_KEY") return;
    checkApiKey(request, options.credentials);
    if (security === "SIGNED") checkSignature(request, options.credentials!, options.now());
  });
}

/**
 * Every parameter of a request: its query string and urlencoded body, the body's value winning for a name in
 * both (as strings, `signature` included).
 */
export function requestParameters(request: FastifyRequest): Record<string, string> {
  const body = rawBodies.get(request.raw) ?? "";
  return Object.fromEntries([...new URLSearchParams(rawQuery(request)), ...new URLSearchParams(body)]);
}

function checkApiKey(request: FastifyRequest, credentials: ApiCredentials | undefined): void {
  const key = request.headers["x-mbx-apikey"];
  if (typeof key !== "string" || key === "") throw new BinanceApiError(401, -2014, "API-key format invalid.");
  if (credentials === undefined || key !== credentials.apiKey)
    throw new BinanceApiError(401, -2015, "Invalid API-key, IP, or permissions for action.");
}

function checkSignature(request: FastifyRequest, credentials: ApiCredentials, now: number): void {
  const query = withoutSignature(rawQuery(request));
  const body = withoutSignature(rawBodies.get(request.raw) ?? "");
  const signature = query.signature ?? body.signature;
  const params = new URLSearchParams(`${query.rest}&${body.rest}`);
  const timestamp = params.get("timestamp");
  if (timestamp === null || !/^\d{1,15}$/.test(timestamp)) throw mandatoryParameter("timestamp");
  if (signature === undefined || signature === "") throw mandatoryParameter("signature");
  if (!credentials.verify(query.rest + body.rest, signature))
    throw new BinanceApiError(400, -1022, "Signature for this request is not valid.");
  const recvWindow = params.get("recvWindow");
  const window = recvWindow === null || recvWindow === "" ? DEFAULT_RECV_WINDOW_MS : Number(recvWindow);
  if (!Number.isSafeInteger(window) || window <= 0 || window > MAX_RECV_WINDOW_MS)
    throw new BinanceApiError(400, -1131, `recvWindow must be less than ${MAX_RECV_WINDOW_MS}`);
  const sentAt = Number(timestamp);
  if (sentAt >= now + 1_000)
    throw new BinanceApiError(
      400,
      -1021,
      "Timestamp for this request was 1000ms ahead of the server's time.",
    );
  if (now - sentAt > window)
    throw new BinanceApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.");
}

/** The query string of a request as sent (after `?`, empty when none). */
function rawQuery(request: FastifyRequest): string {
  const url = request.raw.url ?? "";
  const at = url.indexOf("?");
  return at < 0 ? "" : url.slice(at + 1);
}

/** A parameter string without its `signature=` pair: the rest as sent, and the signature's value. */
function withoutSignature(params: string): { rest: string; signature: string | undefined } {
  let signature: string | undefined;
  const rest = params
    .split("&")
    .filter((pair) => {
      if (!pair.startsWith("signature=")) return true;
      signature = pair.slice("signature=".length);
      return false;
    })
    .join("&");
  return { rest, signature };
}
