/**
 * The `binance` SDK against the double, as perpsource's live side uses it: `WebsocketClient({ wsUrl })` on the
 * usdm routes (market stream with SUBSCRIBE, the user data stream through its own listenKey REST call) and
 * `USDMClient({ baseUrl, api_key, api_secret })` for a signed call, in lockstep on the real BTCUSDT archive of
 * 2025-05-05: closed klines arrive in order with the archive's prices, user events arrive as sent.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { USDMClient, WebsocketClient } from "binance";
import type { FastifyPluginAsync } from "fastify";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { hmacCredentials, requestParameters } from "../src/exchange-sim/auth.ts";
import { createExchangeSim } from "../src/exchange-sim/server.ts";
import { ack, csvBars, FakeExchange } from "./support/exchange-sim.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("the binance SDK against exchange-sim on BTCUSDT 2025-05-05");
const FROM = Date.UTC(2025, 4, 5);
const KEY = "sdk-key";
const SECRET = "sdk-secret";
const BARS = 8;
const silent = { trace: () => {}, info: () => {}, error: () => {} };

/** A signed route as the exchange core declares them. */
const balanceRoute: FastifyPluginAsync<{ exchange: FakeExchange }> = async (app) => {
  app.get("/fapi/v3/balance", { config: { security: "SIGNED" } }, async (request) => [
    { asset: "USDT", balance: "10000", timestamp: requestParameters(request).timestamp },
  ]);
};

describe.skipIf(!root)("the binance SDK against exchange-sim (real data)", () => {
  it("WebsocketClient gets the closed klines in order and the user events; USDMClient passes a signed call", async () => {
    // A real ORDER_TRADE_UPDATE (futures/um/user-data), emitted while the exchange matches each of the first bars.
    const realUpdate = JSON.parse(
      readFileSync(
        join(root!, "futures/um/user-data/BTCUSDT-2024-11-18-open-close-roundtrip.jsonl"),
        "utf8",
      ).split("\n")[1]!,
    ) as Record<string, unknown>;
    const exchange = new FakeExchange((bar) =>
      bar.openTime < FROM + 3 * 60_000 ? [{ ...realUpdate, E: bar.closeTime, T: bar.closeTime }] : [],
    );
    const sim = await createExchangeSim({
      dataRoot: root!,
      symbols: ["BTCUSDT"],
      window: { from: FROM, to: FROM + 86_400_000 },
      lockstep: true,
      credentials: hmacCredentials(KEY, SECRET),
      exchange,
      tradingRoutes: balanceRoute,
      logger: pino({ level: "silent" }),
    });
    const url = await sim.listen({ port: 0 });
    const wsClient = new WebsocketClient(
      { wsUrl: url.replace("http", "ws"), api_key: KEY, api_secret: SECRET, restOptions: { baseUrl: url } },
      silent,
    );
    try {
      const closed: Record<string, unknown>[] = [];
      const userEvents: Record<string, unknown>[] = [];
      const done = new Promise<void>((resolve, reject) => {
        wsClient.on("exception", reject);
        wsClient.on("message", (raw) => {
          const message = raw as unknown as Record<string, unknown>;
          const k = message.k as { x?: boolean } | undefined;
          const isUser = message.e === "ORDER_TRADE_UPDATE";
          if (message.e === "kline" && k?.x === true) closed.push(message);
          else if (isUser) userEvents.push(message);
          else return;
          if (closed.length >= BARS) resolve();
          else void ack(url, KEY).catch(reject);
        });
      });
      await wsClient.subscribeUsdFuturesUserDataStream();
      wsClient.subscribeKlines("BTCUSDT", "1m", "usdm");
      await done;

      const expected = csvBars(root!, "BTCUSDT", FROM, FROM + BARS * 60_000);
      expect(
        closed.map((m) => {
          const k = m.k as Record<string, unknown>;
          return [m.E, k.t, k.T, k.o, k.h, k.l, k.c, k.v];
        }),
      ).toEqual(
        expected.map((b) => [b.closeTime, b.openTime, b.closeTime, b.open, b.high, b.low, b.close, b.volume]),
      );
      expect(userEvents.map(({ e, E, T, o }) => ({ e, E, T, o }))).toEqual(
        expected
          .slice(0, 3)
          .map((b) => ({ e: "ORDER_TRADE_UPDATE", E: b.closeTime, T: b.closeTime, o: realUpdate.o })),
      );

      const rest = new USDMClient({ baseUrl: url, api_key: KEY, api_secret: SECRET });
      const serverTime = await rest.getServerTime();
      expect(serverTime).toBe(expected.at(-1)!.closeTime);
      rest.setTimeOffset(serverTime - Date.now());
      const balance = await rest.getBalanceV3();
      expect(balance).toEqual([
        { asset: "USDT", balance: "10000", timestamp: expect.stringMatching(/^\d+$/) },
      ]);
      expect(
        (await rest.getKlines({ symbol: "BTCUSDT", interval: "1m", limit: 3 })).map((r) => r[4]),
      ).toEqual(expected.slice(-3).map((b) => b.close));
    } finally {
      await wsClient.closeAll(true);
      await sim.close();
    }
  });
});
