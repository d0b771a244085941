/**
 * The lockstep protocol of the double (live-contract.md "Lockstep") on the real BTCUSDT / ETHUSDT archive of
 * 2025-05-05: nothing is replayed before every symbol's kline is subscribed (and the listenKey's private
 * connection is open); one step message at a time — closed klines and private messages — each waiting for
 * `POST /sim/v1/lockstep/ack`; a user event emitted while serving a request queues behind the waiting step
 * without blocking the request; the listenKey expires after 60 minutes of exchange time (`listenKeyClock: "exchange"`).
 */
import type { FastifyPluginAsync } from "fastify";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { discoverArchive } from "../src/adapters/market/archive.ts";
import type { ArchiveFile } from "../src/adapters/market/types.ts";
import { hmacCredentials } from "../src/exchange-sim/auth.ts";
import { createExchangeSim, type ExchangeSim, type SimStatus } from "../src/exchange-sim/server.ts";
import { ack, csvBars, FakeExchange, isClosedKline, payload, WsProbe } from "./support/exchange-sim.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("exchange-sim lockstep on BTCUSDT/ETHUSDT 2025-05-05");
const FROM = Date.UTC(2025, 4, 5);
const WINDOW = { from: FROM, to: FROM + 86_400_000 };
const KEY = "lockstep-key";
const logger = pino({ level: "silent" });
const QUIET_MS = 300;

/** A route that makes the exchange emit a user event while serving the request (like an order's NEW). */
const orderRoute: FastifyPluginAsync<{ exchange: FakeExchange }> = async (app, { exchange }) => {
  app.post("/fapi/v1/order", { config: { security: "API_KEY" } }, async () => {
    await exchange.emit({ e: "ORDER_TRADE_UPDATE", E: exchange.now, o: { x: "NEW", X: "NEW" } });
    return { status: "NEW" };
  });
};

describe.skipIf(!root)("exchange-sim lockstep (real data)", () => {
  let files: ArchiveFile[];
  let sim: ExchangeSim | undefined;
  const probes: WsProbe[] = [];

  beforeAll(async () => {
    files = await discoverArchive(root!, { symbols: ["BTCUSDT", "ETHUSDT"], ...WINDOW });
  });

  afterEach(async () => {
    for (const p of probes.splice(0)) await p.close();
    await sim?.close();
    sim = undefined;
  });

  async function start(symbols: string[], exchange = new FakeExchange()) {
    sim = await createExchangeSim({
      dataRoot: root!,
      symbols,
      window: WINDOW,
      lockstep: true,
      listenKeyClock: "exchange",
      credentials: hmacCredentials(KEY, "secret"),
      exchange,
      tradingRoutes: orderRoute,
      logger,
      files: files.filter((f) => symbols.includes(f.symbol)),
    });
    const url = await sim.listen({ port: 0 });
    return { url, ws: url.replace("http", "ws"), exchange };
  }

  const probe = async (url: string) => {
    const p = new WsProbe(url);
    probes.push(p);
    await p.opened;
    return p;
  };
  const status = async (url: string) => (await (await fetch(`${url}/sim/v1/status`)).json()) as SimStatus;
  const quiet = () => new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  /** The next closed kline of `p` (mark ticks and unclosed updates before it are skipped). */
  const nextClosed = async (p: WsProbe) => {
    for (;;) {
      const m = await p.next();
      if (isClosedKline(m)) return payload(m);
    }
  };

  it("replays nothing until every symbol's kline is subscribed, then waits for each closed kline's ack", async () => {
    const { url, ws, exchange } = await start(["BTCUSDT", "ETHUSDT"]);
    expect(await ack(url, KEY)).toBe(409); // nothing waits for an ack yet
    const market = await probe(`${ws}/market/ws`);
    market.send({ method: "SUBSCRIBE", params: ["btcusdt@kline_1m"], id: 1 });
    expect(await market.next()).toEqual({ result: null, id: 1 });
    await quiet();
    expect(await status(url)).toMatchObject({
      replay: "waiting",
      barsSent: 0,
      waitingForAck: false,
      now: FROM,
    });
    expect(exchange.bars).toHaveLength(0);
    expect(exchange.settlements).toHaveLength(0);

    market.send({ method: "LIST_SUBSCRIPTIONS", id: 3 });
    expect(await market.next()).toEqual({ result: ["btcusdt@kline_1m"], id: 3 });
    market.send({ method: "SUBSCRIBE", params: ["ethusdt@kline_1m"], id: 2 });
    expect(await market.next()).toEqual({ result: null, id: 2 });
    const [btc0, eth0] = [
      csvBars(root!, "BTCUSDT", FROM, FROM + 60_000)[0]!,
      csvBars(root!, "ETHUSDT", FROM, FROM + 60_000)[0]!,
    ];
    expect((await nextClosed(market)).k).toMatchObject({ s: "BTCUSDT", t: btc0.openTime, c: btc0.close });

    // Strict: without an ack nothing more comes, the exchange matches no further bar.
    await quiet();
    expect(market.queued).toBe(0);
    expect(await status(url)).toMatchObject({
      replay: "running",
      barsSent: 1,
      waitingForAck: true,
      now: btc0.closeTime,
    });
    expect(exchange.bars.map((b) => b.bar.symbol)).toEqual(["BTCUSDT"]);
    // An ack with an (ignored) empty JSON body counts like one without.
    const withBody = await fetch(`${url}/sim/v1/lockstep/ack`, {
      method: "POST",
      headers: { "X-MBX-APIKEY": KEY, "Content-Type": "application/json" },
    });
    expect([withBody.status, await withBody.json()]).toEqual([200, { acked: true }]);
    expect((await nextClosed(market)).k).toMatchObject({ s: "ETHUSDT", t: eth0.openTime, c: eth0.close });
    await quiet();
    expect(market.queued).toBe(0);
    expect(exchange.bars.length).toBe(2);
    // An ack needs the API key.
    const noKey = await fetch(`${url}/sim/v1/lockstep/ack`, { method: "POST" });
    expect([noKey.status, await noKey.json()]).toEqual([
      401,
      { code: -2014, msg: "API-key format invalid." },
    ]);
  });

  it("sends private messages as steps: the bar's user event is acked before its kline goes out; a request's event queues behind the waiting kline", async () => {
    const exchange = new FakeExchange((bar) => [
      { e: "ORDER_TRADE_UPDATE", E: bar.closeTime, T: bar.closeTime, o: { s: bar.symbol, X: "FILLED" } },
    ]);
    const { url, ws } = await start(["BTCUSDT"], exchange);
    const listenKey = (
      (await (
        await fetch(`${url}/fapi/v1/listenKey`, { method: "POST", headers: { "X-MBX-APIKEY": KEY } })
      ).json()) as { listenKey: string }
    ).listenKey;
    expect(listenKey).toMatch(/^[0-9a-f]{64}$/);
    const market = await probe(`${ws}/market/stream?streams=btcusdt@kline_1m`);
    await quiet();
    expect((await status(url)).barsSent).toBe(0); // a listenKey lives: its private connection must be open too
    expect(exchange.bars).toHaveLength(0);
    const user = await probe(`${ws}/private/stream?listenKey=${listenKey}`);
    const bars = csvBars(root!, "BTCUSDT", FROM, FROM + 3 * 60_000);

    // Minute 1: the fill comes first, wrapped with the listenKey; the market waits for its ack.
    expect(await user.next()).toEqual({
      stream: listenKey,
      data: {
        e: "ORDER_TRADE_UPDATE",
        E: bars[0]!.closeTime,
        T: bars[0]!.closeTime,
        o: { s: "BTCUSDT", X: "FILLED" },
      },
    });
    await quiet();
    expect(market.queued).toBe(0);
    expect(await status(url)).toMatchObject({ waitingForAck: true, barsSent: 0, privateConnections: 1 });
    expect(await ack(url, KEY)).toBe(200);
    expect((await nextClosed(market)).k).toMatchObject({ t: bars[0]!.openTime, x: true });

    // While the kline waits for its ack the client reacts with an order: the request answers at once, its
    // NEW event queues behind the kline.
    const order = await fetch(`${url}/fapi/v1/order`, { method: "POST", headers: { "X-MBX-APIKEY": KEY } });
    expect([order.status, await order.json()]).toEqual([200, { status: "NEW" }]);
    await quiet();
    expect(user.queued).toBe(0);
    expect(await status(url)).toMatchObject({ waitingForAck: true, pendingMessages: 1 });
    expect(await ack(url, KEY)).toBe(200); // the kline
    expect(payload(await user.next())).toEqual({
      e: "ORDER_TRADE_UPDATE",
      E: bars[0]!.closeTime,
      o: { x: "NEW", X: "NEW" },
    });
    await quiet();
    expect(exchange.bars).toHaveLength(1); // the next bar waits until the NEW is acked
    expect(await ack(url, KEY)).toBe(200); // the NEW
    expect(payload(await user.next())).toMatchObject({ E: bars[1]!.closeTime, o: { X: "FILLED" } });
    expect(exchange.bars).toHaveLength(2);
  });

  it("expires the listenKey after 60 minutes of exchange time: listenKeyExpired (a step), then -1125", async () => {
    const { url, ws } = await start(["BTCUSDT"]);
    const headers = { "X-MBX-APIKEY": KEY };
    const unknown = await fetch(`${url}/fapi/v1/listenKey`, { method: "PUT", headers });
    expect([unknown.status, await unknown.json()]).toEqual([
      400,
      { code: -1125, msg: "This listenKey does not exist." },
    ]);
    const { listenKey } = (await (
      await fetch(`${url}/fapi/v1/listenKey`, { method: "POST", headers })
    ).json()) as { listenKey: string };
    const refused = new WsProbe(`${ws}/private/ws/not-a-key`);
    await expect(refused.opened).rejects.toThrow(/400/);
    const user = await probe(`${ws}/private/ws/${listenKey}`);
    const market = await probe(`${ws}/market/ws/btcusdt@kline_1m`);
    const expiresAt = FROM + 60 * 60_000;
    const bars = csvBars(root!, "BTCUSDT", FROM, expiresAt + 60_000);
    for (const bar of bars) {
      expect((await nextClosed(market)).k).toMatchObject({ t: bar.openTime, x: true });
      expect(await ack(url, KEY)).toBe(200);
      if (bar.closeTime < expiresAt) expect(user.queued).toBe(0);
    }
    // The first step at or after the expiry: the bar of minute 60 (raw form: no wrapper on /private/ws).
    expect(await user.next()).toEqual({ e: "listenKeyExpired", E: bars.at(-1)!.closeTime, listenKey });
    expect(await ack(url, KEY)).toBe(200);
    const late = await fetch(`${url}/fapi/v1/listenKey`, { method: "PUT", headers });
    expect(await late.json()).toEqual({ code: -1125, msg: "This listenKey does not exist." });
    // Without a live key the replay goes on with the market connection only; a new key is another one.
    expect((await nextClosed(market)).k).toMatchObject({ t: expiresAt + 60_000 });
    const fresh = (await (await fetch(`${url}/fapi/v1/listenKey`, { method: "POST", headers })).json()) as {
      listenKey: string;
    };
    expect(fresh.listenKey).not.toBe(listenKey);
  });
});
