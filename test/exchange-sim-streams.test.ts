/**
 * The WebSocket endpoints of the double, without market data: URL routing (market, public, legacy, private,
 * unknown), the SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY replies and errors of
 * binance-usdm.md §5.3, and the heartbeat (ping frames; a client that never pongs is disconnected).
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { hmacCredentials } from "../src/exchange-sim/auth.ts";
import { createExchangeSim, type ExchangeSim } from "../src/exchange-sim/server.ts";
import { wsTarget } from "../src/exchange-sim/ws-gateway.ts";
import { FakeExchange, WsProbe } from "./support/exchange-sim.ts";

const FROM = Date.UTC(2025, 4, 5);
const KEY = "streams-key";

describe("exchange-sim WebSocket URLs", () => {
  it("routes the market, public, legacy and private forms; anything else is unknown", () => {
    expect(wsTarget("/market/ws/btcusdt@kline_1m/btcusdt@markPrice@1s")).toEqual({
      kind: "market",
      route: "market",
      combined: false,
      streams: ["btcusdt@kline_1m", "btcusdt@markPrice@1s"],
    });
    expect(wsTarget("/market/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m")).toEqual({
      kind: "market",
      route: "market",
      combined: true,
      streams: ["btcusdt@kline_1m", "ethusdt@kline_1m"],
    });
    expect(wsTarget("/market/stream")).toMatchObject({ kind: "market", combined: true, streams: [] });
    expect(wsTarget("/public/stream?streams=btcusdt@bookTicker")).toMatchObject({
      kind: "market",
      route: "public",
    });
    expect(wsTarget("/ws/btcusdt@kline_1m")).toMatchObject({
      kind: "market",
      route: "public",
      combined: false,
    });
    expect(wsTarget("/stream?streams=btcusdt@kline_1m")).toMatchObject({
      kind: "market",
      route: "public",
      combined: true,
    });
    expect(wsTarget("/private/ws/abc")).toEqual({
      kind: "private",
      combined: false,
      listenKey: "abc",
      events: undefined,
    });
    expect(wsTarget("/private/ws?listenKey=abc&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE")).toEqual({
      kind: "private",
      combined: false,
      listenKey: "abc",
      events: new Set(["ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]),
    });
    expect(wsTarget("/private/stream?listenKey=abc")).toMatchObject({
      kind: "private",
      combined: true,
      listenKey: "abc",
    });
    for (const url of ["/", "/fapi/v1/time", "/market", "/market/stream/x", "/private/ws/a/b", "/ws-fapi/v1"])
      expect(wsTarget(url)).toEqual({ kind: "unknown" });
  });
});

describe("exchange-sim WebSocket server", () => {
  let sim: ExchangeSim | undefined;
  const probes: WsProbe[] = [];
  afterEach(async () => {
    for (const p of probes.splice(0)) await p.close();
    await sim?.close();
  });

  async function start(heartbeat = { pingIntervalMs: 60_000, pongTimeoutMs: 120_000 }) {
    sim = await createExchangeSim({
      dataRoot: "/nonexistent",
      symbols: ["BTCUSDT"],
      window: { from: FROM, to: FROM + 86_400_000 },
      lockstep: true,
      credentials: hmacCredentials(KEY, "secret"),
      exchange: new FakeExchange(),
      logger: pino({ level: "silent" }),
      files: [],
      heartbeat,
    });
    return (await sim.listen({ port: 0 })).replace("http", "ws");
  }
  const open = async (url: string) => {
    const p = new WsProbe(url);
    probes.push(p);
    await p.opened;
    return p;
  };

  it("answers subscription messages as Binance does", async () => {
    const ws = await start();
    const p = await open(`${ws}/market/ws`);
    p.send({ method: "SUBSCRIBE", params: ["btcusdt@kline_1m", "btcusdt@markPrice@1s"], id: 1 });
    expect(await p.next()).toEqual({ result: null, id: 1 });
    p.send({ method: "UNSUBSCRIBE", params: ["BTCUSDT@kline_1m"], id: 2 });
    expect(await p.next()).toEqual({ result: null, id: 2 });
    p.send({ method: "LIST_SUBSCRIPTIONS", id: 3 });
    expect(await p.next()).toEqual({ result: ["btcusdt@markPrice@1s"], id: 3 });
    p.send({ method: "GET_PROPERTY", params: ["combined"], id: 4 });
    expect(await p.next()).toEqual({ result: false, id: 4 });
    p.send({ method: "SET_PROPERTY", params: ["combined", true], id: 5 });
    expect(await p.next()).toEqual({ result: null, id: 5 });
    p.send({ method: "GET_PROPERTY", params: ["combined"], id: 6 });
    expect(await p.next()).toEqual({ result: true, id: 6 });
    p.send({ method: "SUBSCRIBE", params: "btcusdt@kline_1m", id: 7 });
    expect(await p.next()).toEqual({
      error: { code: 2, msg: "Invalid request: params must be an array of stream names" },
      id: 7,
    });
    p.send({ method: "PING", id: 8 });
    expect(await p.next()).toEqual({
      error: { code: 2, msg: 'Invalid request: unknown method "PING"' },
      id: 8,
    });
    p.ws.send("{not json");
    expect(await p.next()).toMatchObject({
      error: { code: 3, msg: expect.stringMatching(/^Invalid JSON: /) },
      id: null,
    });
  });

  it("refuses unknown paths (404) and private connections without a live listenKey (400, -1125)", async () => {
    const ws = await start();
    await expect(new WsProbe(`${ws}/fapi/v1/time`).opened).rejects.toThrow(/404/);
    await expect(new WsProbe(`${ws}/private/ws/nope`).opened).rejects.toThrow(/400/);
    await expect(new WsProbe(`${ws}/private/stream?listenKey=`).opened).rejects.toThrow(/400/);
  });

  it("pings every pingIntervalMs and disconnects a client that sends no pong within pongTimeoutMs", async () => {
    const ws = await start({ pingIntervalMs: 40, pongTimeoutMs: 200 });
    const answering = await open(`${ws}/market/ws`);
    let pings = 0;
    answering.ws.on("ping", () => pings++);
    const silent = new WebSocket(`${ws}/market/ws`, { autoPong: false });
    const closed = new Promise<number>((resolve) => silent.once("close", (code) => resolve(code)));
    const startedAt = Date.now();
    expect(await closed).toBe(1006); // terminated, no close frame
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(200);
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
  });
});
