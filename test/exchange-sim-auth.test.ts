/**
 * The double's request authentication (binance-usdm.md §5.1, §5.2) on a trading route registered the way the
 * exchange core registers its own (`config.security`): key header, HMAC-SHA256 and Ed25519 signatures over the
 * query string followed by the urlencoded body, timestamp and recvWindow against the exchange clock, each
 * failure with Binance's status, code and message; and the `binance` SDK's signed calls (HMAC and Ed25519).
 */
import { createHmac, generateKeyPairSync, sign } from "node:crypto";
import { USDMClient } from "binance";
import fc from "fast-check";
import type { FastifyPluginAsync } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialsFromSecret, hmacCredentials, requestParameters } from "../src/exchange-sim/auth.ts";
import { createExchangeSim, type ExchangeSim } from "../src/exchange-sim/server.ts";
import { FakeExchange } from "./support/exchange-sim.ts";

const FROM = Date.UTC(2025, 4, 5);
const KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const logger = pino({ level: "silent" });

/** A trading route as the exchange core declares them: SIGNED, answering the parameters it got. */
const echoRoutes: FastifyPluginAsync<{ exchange: FakeExchange }> = async (app) => {
  const config = { security: "SIGNED" };
  app.get("/fapi/v3/balance", { config }, async (request) => requestParameters(request));
  app.post("/fapi/v1/order", { config }, async (request) => ({
    params: requestParameters(request),
    body: request.body,
  }));
};

async function startSim(credentials = hmacCredentials(KEY, SECRET)) {
  const sim = await createExchangeSim({
    dataRoot: "/nonexistent",
    symbols: ["BTCUSDT"],
    window: { from: FROM, to: FROM + 86_400_000 },
    lockstep: true,
    credentials,
    exchange: new FakeExchange(),
    tradingRoutes: echoRoutes,
    logger,
    files: [], // no market data: the exchange clock stays at FROM
  });
  return sim;
}

const hmac = (payload: string) => createHmac("sha256", SECRET).update(payload).digest("hex");

describe("exchange-sim authentication", () => {
  let sim: ExchangeSim;
  beforeAll(async () => {
    sim = await startSim();
    await sim.app.ready();
  });
  afterAll(() => sim.close());

  const get = (query: string, headers: Record<string, string> = { "x-mbx-apikey": KEY }) =>
    sim.app.inject({ method: "GET", url: `/fapi/v3/balance?${query}`, headers });
  const signed = (params: string) => `${params}&signature=${hmac(params)}`;
  const error = (status: number, code: number, msg: string) => ({ status, body: { code, msg } });
  const answer = async (r: Awaited<ReturnType<typeof get>>) => ({ status: r.statusCode, body: r.json() });

  it("accepts a request signed over its query string, at the exchange clock within recvWindow", async () => {
    const r = await get(signed(`symbol=BTCUSDT&timestamp=${FROM}&recvWindow=5000`));
    expect(await answer(r)).toEqual({
      status: 200,
      body: {
        symbol: "BTCUSDT",
        timestamp: String(FROM),
        recvWindow: "5000",
        signature: hmac(`symbol=BTCUSDT&timestamp=${FROM}&recvWindow=5000`),
      },
    });
    expect(r.headers["x-mbx-used-weight-1m"]).toMatch(/^\d+$/);
  });

  it("answers the key errors: none -2014, another -2015 (HTTP 401)", async () => {
    const query = signed(`timestamp=${FROM}`);
    const noKey = await get(query, {});
    expect(await answer(noKey)).toEqual(error(401, -2014, "API-key format invalid."));
    expect(noKey.headers["x-mbx-used-weight-1m"]).toMatch(/^\d+$/); // on errors too
    expect(await answer(await get(query, { "x-mbx-apikey": `${KEY}x` }))).toEqual(
      error(401, -2015, "Invalid API-key, IP, or permissions for action."),
    );
  });

  it("answers -1102 without timestamp or signature, -1022 for a signature over other parameters", async () => {
    expect(await answer(await get(signed("symbol=BTCUSDT")))).toEqual(
      error(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."),
    );
    expect(await answer(await get(`timestamp=${FROM}`))).toEqual(
      error(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."),
    );
    const tampered = signed(`symbol=BTCUSDT&timestamp=${FROM}`).replace("BTCUSDT", "ETHUSDT");
    expect(await answer(await get(tampered))).toEqual(
      error(400, -1022, "Signature for this request is not valid."),
    );
    // Signed with another secret.
    const other = `timestamp=${FROM}&signature=${createHmac("sha256", "other").update(`timestamp=${FROM}`).digest("hex")}`;
    expect(await answer(await get(other))).toEqual(
      error(400, -1022, "Signature for this request is not valid."),
    );
  });

  it("checks timestamp against the exchange clock: accepted iff timestamp < now + 1000 and now − timestamp ≤ recvWindow (≤ 60000)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -70_000, max: 3_000 }),
        fc.option(fc.integer({ min: 1, max: 70_000 }), { nil: undefined }),
        async (offset, recvWindow) => {
          const params = `timestamp=${FROM + offset}${recvWindow === undefined ? "" : `&recvWindow=${recvWindow}`}`;
          const r = await answer(await get(signed(params)));
          const window = recvWindow ?? 5_000;
          if (window > 60_000) expect(r).toEqual(error(400, -1131, "recvWindow must be less than 60000"));
          else if (offset >= 1_000)
            expect(r).toEqual(
              error(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."),
            );
          else if (-offset > window)
            expect(r).toEqual(error(400, -1021, "Timestamp for this request is outside of the recvWindow."));
          else expect(r.status).toBe(200);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("signs the query string followed by the urlencoded body, and merges both into the parameters", async () => {
    const query = "symbol=BTCUSDT&side=BUY";
    const body = `type=MARKET&quantity=0.010&timestamp=${FROM}`;
    const r = await sim.app.inject({
      method: "POST",
      url: `/fapi/v1/order?${query}`,
      headers: { "x-mbx-apikey": KEY, "content-type": "application/x-www-form-urlencoded" },
      payload: `${body}&signature=${hmac(query + body)}`,
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      params: { symbol: "BTCUSDT", side: "BUY", type: "MARKET", quantity: "0.010", timestamp: String(FROM) },
      body: { type: "MARKET", quantity: "0.010" },
    });
    const joinedWithAmpersand = await sim.app.inject({
      method: "POST",
      url: `/fapi/v1/order?${query}`,
      headers: { "x-mbx-apikey": KEY, "content-type": "application/x-www-form-urlencoded" },
      payload: `${body}&signature=${hmac(`${query}&${body}`)}`,
    });
    expect(joinedWithAmpersand.json()).toEqual({
      code: -1022,
      msg: "Signature for this request is not valid.",
    });
  });

  it("lets the binance SDK's USDMClient through with HMAC keys (its clock offset set to the exchange's time)", async () => {
    const url = await sim.listen({ port: 0 });
    const client = new USDMClient({ baseUrl: url, api_key: KEY, api_secret: SECRET });
    const serverTime = await client.getServerTime();
    expect(serverTime).toBe(FROM);
    client.setTimeOffset(serverTime - Date.now());
    expect(await client.getBalanceV3()).toMatchObject({
      recvWindow: "5000",
      timestamp: expect.stringMatching(/^\d+$/),
    });
    // Without the offset the wall clock is far ahead of the replayed time: -1021.
    client.setTimeOffset(0);
    await expect(client.getBalanceV3()).rejects.toMatchObject({ code: -1021 });
  });
});

describe("exchange-sim Ed25519 authentication", () => {
  it("verifies base64 Ed25519 signatures with the public key of the Ed25519 private key in BINANCE_API_SECRET, also from the SDK", async () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const sim = await startSim(credentialsFromSecret(KEY, pem));
    try {
      const params = `symbol=BTCUSDT&timestamp=${FROM}`;
      const signature = encodeURIComponent(sign(null, Buffer.from(params), privateKey).toString("base64"));
      const ok = await sim.app.inject({
        url: `/fapi/v3/balance?${params}&signature=${signature}`,
        headers: { "x-mbx-apikey": KEY },
      });
      expect(ok.statusCode).toBe(200);
      const forged = await sim.app.inject({
        url: `/fapi/v3/balance?${params}&signature=${encodeURIComponent(Buffer.alloc(64, 7).toString("base64"))}`,
        headers: { "x-mbx-apikey": KEY },
      });
      expect(forged.json()).toEqual({ code: -1022, msg: "Signature for this request is not valid." });
      const hmacSigned = await sim.app.inject({
        url: `/fapi/v3/balance?${params}&signature=${hmac(params)}`,
        headers: { "x-mbx-apikey": KEY },
      });
      expect(hmacSigned.json()).toEqual({ code: -1022, msg: "Signature for this request is not valid." });

      const url = await sim.listen({ port: 0 });
      const client = new USDMClient({ baseUrl: url, api_key: KEY, api_secret: pem });
      client.setTimeOffset(FROM - Date.now());
      expect(await client.getBalanceV3()).toMatchObject({ timestamp: expect.stringMatching(/^\d+$/) });
    } finally {
      await sim.close();
    }
  });

  it("takes the Ed25519 public key alone (PEM) as the secret", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const sim = await startSim(
      credentialsFromSecret(KEY, publicKey.export({ type: "spki", format: "pem" }).toString()),
    );
    try {
      const params = `timestamp=${FROM}`;
      const signature = encodeURIComponent(sign(null, Buffer.from(params), privateKey).toString("base64"));
      const r = await sim.app.inject({
        url: `/fapi/v3/balance?${params}&signature=${signature}`,
        headers: { "x-mbx-apikey": KEY },
      });
      expect(r.statusCode).toBe(200);
    } finally {
      await sim.close();
    }
  });

  it("refuses a secret that is an RSA private key", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(() => credentialsFromSecret(KEY, pem)).toThrow(
      /rsa private key; only Ed25519 and HMAC are supported/,
    );
  });
});
