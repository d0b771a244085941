/**
 * Fault injection of the double (src/exchange-sim/faults.ts): the SPEC parser (every fault, every parameter, the
 * errors naming them, `--faults` as a UsageError), the determinism of the triggers, and each fault's effect on
 * the wire — REST answers through the `binance` SDK against the real exchange core, WebSocket messages seen by
 * raw clients in lockstep (real BTCUSDT data of 2025-05-05).
 */
import { USDMClient } from "binance";
import fc from "fast-check";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { discoverArchive } from "../src/adapters/market/archive.ts";
import type { ArchiveFile } from "../src/adapters/market/types.ts";
import { simCommandOptions } from "../src/cli/commands/exchange-sim.ts";
import { UsageError } from "../src/cli/context.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { hmacCredentials } from "../src/exchange-sim/auth.ts";
import { SimExchange, tradingRoutes } from "../src/exchange-sim/exchange/index.ts";
import type { ExchangeCore, UserEventMessage } from "../src/exchange-sim/exchange-port.ts";
import { FAULT_NAMES, FaultInjector, FaultSpecError, parseFaultSpec } from "../src/exchange-sim/faults.ts";
import { createExchangeSim, type ExchangeSim, type SimStatus } from "../src/exchange-sim/server.ts";
import {
  ack,
  FakeExchange,
  isClosedKline,
  payload,
  type WireMessage,
  WsProbe,
} from "./support/exchange-sim.ts";
import { requireRealData } from "./support/real-data.ts";

describe("--faults SPEC parser", () => {
  it("parses every fault with every=N, its own parameters, and p=RATIO;seed=N", () => {
    for (const name of FAULT_NAMES)
      expect(parseFaultSpec(`${name}:every=3${name === "delay-user" ? ";ms=5" : ""}`)).toEqual([
        { name, trigger: { every: 3 }, ...(name === "delay-user" ? { ms: 5 } : {}) },
      ]);
    expect(
      parseFaultSpec(
        "drop-market-ws:every=500, http-418:every=400;banMs=60000,timeout-submit:p=0.25;seed=7;ms=1500,delay-user:ms=40",
      ),
    ).toEqual([
      { name: "drop-market-ws", trigger: { every: 500 } },
      { name: "http-418", trigger: { every: 400 }, banMs: 60_000 },
      { name: "timeout-submit", trigger: { p: 0.25, seed: 7 }, ms: 1500 },
      { name: "delay-user", trigger: { every: 1 }, ms: 40 },
    ]);
  });

  it.each([
    ["", /empty fault/],
    ["drop-user-ws:every=3,", /empty fault/],
    ["drop-everything:every=1", /unknown fault "drop-everything": expected one of drop-market-ws, /],
    ["http-429", /http-429: every=N \(or p=RATIO;seed=N\) is required/],
    ["http-429:every=0", /http-429: every must be an integer ≥ 1, got "0"/],
    ["http-429:every=1.5", /http-429: every must be an integer ≥ 1, got "1.5"/],
    ["http-429:every", /http-429: parameter "every" has no value/],
    ["http-429:evry=3", /http-429: unknown parameter "evry": expected every, p, seed$/],
    ["http-429:every=3;banMs=10", /http-429: unknown parameter "banMs"/],
    ["http-418:every=3;banMs=-1", /http-418: banMs must be an integer ≥ 1, got "-1"/],
    ["http-429:every=3;every=4", /http-429: parameter every given twice/],
    ["http-429:every=3,http-429:every=4", /http-429: given twice/],
    ["clock-skew:p=0.5", /clock-skew: p needs seed=N/],
    ["clock-skew:p=1.5;seed=1", /clock-skew: p must be a ratio 0 < p ≤ 1, got "1.5"/],
    ["clock-skew:p=0;seed=1", /clock-skew: p must be a ratio/],
    ["clock-skew:every=2;p=0.5;seed=1", /clock-skew: every and p exclude each other/],
    ["clock-skew:every=2;seed=1", /clock-skew: seed goes with p/],
    ["delay-user:every=2", /delay-user: ms=N is required/],
    ["timeout-submit:every=2;ms=x", /timeout-submit: ms must be an integer ≥ 1, got "x"/],
  ])("refuses %j, naming the fault and the parameter", (spec, message) => {
    expect(() => parseFaultSpec(spec)).toThrow(FaultSpecError);
    expect(() => parseFaultSpec(spec)).toThrow(message);
  });

  it("is a UsageError of exchange-sim's --faults", () => {
    const flags = { port: "0", symbols: "BTCUSDT", from: "2025-05-05", lockstep: true };
    expect(simCommandOptions({ ...flags, faults: "rotate-ws:every=1440" }).faults).toEqual([
      { name: "rotate-ws", trigger: { every: 1440 } },
    ]);
    expect(simCommandOptions(flags).faults).toEqual([]);
    expect(() => simCommandOptions({ ...flags, faults: "http-418:every=4;banMs=soon" })).toThrow(UsageError);
    expect(() => simCommandOptions({ ...flags, faults: "http-418:every=4;banMs=soon" })).toThrow(
      '--faults: http-418: banMs must be an integer ≥ 1, got "soon"',
    );
  });

  it("fires on every N-th event, and a seeded draw is the same sequence every time (about p of the events)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 400 }), (every, events) => {
        const injector = new FaultInjector(parseFaultSpec(`drop-market-ws:every=${every}`));
        const fired = Array.from({ length: events }, () => injector.dropClosedKline());
        expect(fired.flatMap((f, i) => (f ? [i + 1] : []))).toEqual(
          Array.from({ length: Math.floor(events / every) }, (_, k) => (k + 1) * every),
        );
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        (seed, p) => {
          const draw = () => {
            const injector = new FaultInjector(
              parseFaultSpec(`drop-market-ws:p=${p.toFixed(2)};seed=${seed}`),
            );
            return Array.from({ length: 2000 }, () => injector.dropClosedKline());
          };
          const a = draw();
          expect(draw()).toEqual(a);
          expect(Math.abs(a.filter(Boolean).length / 2000 - Number(p.toFixed(2)))).toBeLessThan(0.06);
        },
      ),
      { numRuns: 20 },
    );
  });
});

const root = requireRealData("exchange-sim faults on the wire, BTCUSDT 2025-05-05");
const FROM = Date.UTC(2025, 4, 5);
const WINDOW = { from: FROM, to: FROM + 86_400_000 };
const KEY = "faults-key";
const SECRET = "faults-secret";
const logger = pino({ level: "silent" });

describe.skipIf(!root)("faults on the wire (real data, lockstep)", () => {
  let files: ArchiveFile[];
  let sim: ExchangeSim | undefined;
  const probes: WsProbe[] = [];

  beforeAll(async () => {
    files = (await discoverArchive(root!, { symbols: ["BTCUSDT"], ...WINDOW })).filter(
      (f) => f.symbol === "BTCUSDT",
    );
  });

  afterEach(async () => {
    for (const p of probes.splice(0)) await p.close();
    await sim?.close();
    sim = undefined;
  });

  async function start<E extends ExchangeCore>(spec: string, exchange: E, routes = false) {
    sim = await createExchangeSim({
      dataRoot: root!,
      symbols: ["BTCUSDT"],
      window: WINDOW,
      lockstep: true,
      credentials: hmacCredentials(KEY, SECRET),
      exchange,
      ...(routes ? { tradingRoutes: tradingRoutes as never } : {}),
      logger,
      files,
      faults: parseFaultSpec(spec),
    });
    const url = await sim.listen({ port: 0 });
    return { url, ws: url.replace("http", "ws") };
  }
  const headers = { "X-MBX-APIKEY": KEY };
  const status = async (url: string) => (await (await fetch(`${url}/sim/v1/status`)).json()) as SimStatus;
  const newKey = async (url: string) =>
    (
      (await (await fetch(`${url}/fapi/v1/listenKey`, { method: "POST", headers })).json()) as {
        listenKey: string;
      }
    ).listenKey;
  const probe = async (url: string) => {
    const p = new WsProbe(url);
    probes.push(p);
    await p.opened;
    return p;
  };
  const closedWith = (p: WsProbe) =>
    new Promise<number>((resolve) => {
      if (p.ws.readyState === p.ws.CLOSED) resolve(-1);
      else p.ws.once("close", (code) => resolve(code));
    });
  const nextClosed = async (p: WsProbe) => {
    for (;;) {
      const m = await p.next();
      if (isClosedKline(m)) return payload(m).k!;
    }
  };
  const quiet = () => new Promise((resolve) => setTimeout(resolve, 300));
  /** One user event per bar: an order's NEW then its TRADE (two messages of order `o-<openTime>`). */
  const twoPerBar = () =>
    new FakeExchange((bar) =>
      ["NEW", "TRADE"].map(
        (x): UserEventMessage => ({
          e: "ORDER_TRADE_UPDATE",
          E: bar.closeTime,
          T: bar.closeTime,
          o: { s: bar.symbol, c: `o-${bar.openTime}`, x },
        }),
      ),
    );

  describe("REST (through the SDK, on the exchange core)", () => {
    async function client(spec: string, timeout?: number) {
      const exchange = new SimExchange({
        instruments: bundledInstrumentCatalog(),
        brackets: bundledLeverageBracketCatalog(),
        symbols: ["BTCUSDT"],
        walletBalance: "10000",
      });
      const { url } = await start(spec, exchange, true);
      const c = new USDMClient(
        { baseUrl: url, api_key: KEY, api_secret: SECRET, parseExceptions: false, disableTimeSync: true },
        timeout === undefined ? {} : { timeout },
      );
      // One bar replayed (its kline waits for an ack): the exchange has a price to take orders at.
      const market = await probe(`${url.replace("http", "ws")}/market/ws/btcusdt@kline_1m`);
      expect((await nextClosed(market)).t).toBe(FROM);
      c.setTimeOffset(FROM + 60_000 - Date.now());
      (c as unknown as { validateOrderId: () => void }).validateOrderId = () => {};
      return { c, url, exchange };
    }
    const failure = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        const r = (e as { response?: { status: number; data: unknown }; code?: string }).response;
        return r ? { status: r.status, data: r.data } : { code: (e as { code?: string }).code };
      }
      throw new Error("expected a failure");
    };
    /** A resting BUY LIMIT (below the day's prices). */
    const order = (id: string) =>
      ({
        symbol: "BTCUSDT",
        side: "BUY",
        type: "LIMIT",
        timeInForce: "GTC",
        price: "80000",
        quantity: "0.002",
        newClientOrderId: id,
      }) as never;

    it("http-429: every N-th signed request is answered 429 -1003 and not executed", async () => {
      const { c } = await client("http-429:every=2");
      await c.getPositionsV3({ symbol: "BTCUSDT" } as never);
      expect(await failure(c.submitNewOrder(order("ps-429")))).toMatchObject({
        status: 429,
        data: { code: -1003 },
      });
      expect(
        await failure(c.getOrder({ symbol: "BTCUSDT", origClientOrderId: "ps-429" } as never)),
      ).toMatchObject({
        status: 400,
        data: { code: -2013 },
      });
    });

    it("http-418: banned until now + banMs of exchange time, every signed request until then too", async () => {
      const { c, url } = await client("http-418:every=1;banMs=60000");
      const first = await failure(c.getPositionsV3({ symbol: "BTCUSDT" } as never));
      expect(first).toEqual({
        status: 418,
        data: {
          code: -1003,
          msg: `Way too many requests; IP(127.0.0.1) banned until ${FROM + 120_000 - 1}. Please use the websocket for live updates to avoid bans.`,
        },
      });
      expect(await failure(c.getAccountInformationV3())).toMatchObject({ status: 418 });
      expect((await status(url)).faults).toEqual({ "http-418": 1 }); // a request during the ban is not counted
      expect((await fetch(`${url}/fapi/v1/time`)).status).toBe(200); // public routes are not banned
    });

    it("clock-skew: answered 400 -1021, not executed", async () => {
      const { c } = await client("clock-skew:every=1");
      expect(await failure(c.submitNewOrder(order("ps-skew")))).toEqual({
        status: 400,
        data: { code: -1021, msg: "Timestamp for this request is outside of the recvWindow." },
      });
    });

    it("unknown-503: the order is placed, the answer is 503 'Unknown error'", async () => {
      const { c } = await client("unknown-503:every=2");
      await c.submitNewOrder(order("ps-a"));
      expect(await failure(c.submitNewOrder(order("ps-b")))).toEqual({
        status: 503,
        data: { code: -1000, msg: "Unknown error, please check your request or try again later." },
      });
      const placed = await c.getOrder({ symbol: "BTCUSDT", origClientOrderId: "ps-b" } as never);
      expect(placed).toMatchObject({ clientOrderId: "ps-b", status: "NEW" });
    });

    it("timeout-submit: the order is placed, the answer is held past the client's timeout", async () => {
      const { c } = await client("timeout-submit:every=1;ms=1500", 300);
      const sent = Date.now();
      expect(await failure(c.submitNewOrder(order("ps-t")))).toEqual({ code: "ECONNABORTED" });
      expect(Date.now() - sent).toBeLessThan(1_500);
      const placed = await c.getOrder({ symbol: "BTCUSDT", origClientOrderId: "ps-t" } as never);
      expect(placed).toMatchObject({ clientOrderId: "ps-t" });
    });
  });

  describe("WebSockets", () => {
    it("drop-market-ws: the N-th closed kline is not sent, the connection is cut; the replay waits for a subscription again", async () => {
      const { url, ws } = await start("drop-market-ws:every=2", new FakeExchange());
      const market = await probe(`${ws}/market/ws/btcusdt@kline_1m`);
      const cut = closedWith(market);
      expect((await nextClosed(market)).t).toBe(FROM);
      expect(await ack(url, KEY)).toBe(200);
      expect(await cut).toBe(1006); // no close frame
      expect(market.queued === 0 || !(await market.next().then(isClosedKline))).toBe(true);
      await quiet();
      expect(await status(url)).toMatchObject({
        barsSent: 1,
        waitingForAck: false,
        faults: { "drop-market-ws": 1 },
      });
      const again = await probe(`${ws}/market/ws/btcusdt@kline_1m`);
      expect((await nextClosed(again)).t).toBe(FROM + 120_000); // minute 2 was lost: the client back-fills it
    });

    it("rotate-ws: every connection is closed (1000) between two steps; nothing is lost", async () => {
      const { url, ws } = await start("rotate-ws:every=2", new FakeExchange());
      const market = await probe(`${ws}/market/ws/btcusdt@kline_1m`);
      const closed = closedWith(market);
      expect((await nextClosed(market)).t).toBe(FROM);
      expect(await ack(url, KEY)).toBe(200);
      expect(await closed).toBe(1000);
      const again = await probe(`${ws}/market/ws/btcusdt@kline_1m`);
      expect((await nextClosed(again)).t).toBe(FROM + 60_000);
    });

    async function userSetup(spec: string, exchange = twoPerBar()) {
      const { url, ws } = await start(spec, exchange);
      const key = await newKey(url);
      const market = await probe(`${ws}/market/ws/btcusdt@kline_1m`);
      const user = await probe(`${ws}/private/ws/${key}`);
      return { url, ws, market, user, key };
    }
    /** The next user message, acked. */
    const take = async (url: string, user: WsProbe) => {
      const m = await user.next();
      expect(await ack(url, KEY)).toBe(200);
      return m;
    };
    const brief = (m: WireMessage) => {
      const o = (m as { o?: { c?: string; x?: string } }).o;
      return `${o?.c}:${o?.x}`;
    };

    /** The closed kline the market waits with, acked. */
    const takeKline = async (url: string, market: WsProbe) => {
      const k = await nextClosed(market);
      expect(await ack(url, KEY)).toBe(200);
      return k.t;
    };

    it("duplicate-user: the N-th user message is sent twice, each a step", async () => {
      const { url, user, market } = await userSetup("duplicate-user:every=2");
      const got = [];
      for (let i = 0; i < 3; i++) got.push(brief(await take(url, user)));
      expect(await takeKline(url, market)).toBe(FROM);
      got.push(brief(await take(url, user)));
      expect(got).toEqual([`o-${FROM}:NEW`, `o-${FROM}:TRADE`, `o-${FROM}:TRADE`, `o-${FROM + 60_000}:NEW`]);
    });

    it("reorder-user: the N-th message is sent after its order's next one", async () => {
      const { url, user, market } = await userSetup("reorder-user:every=1");
      const got = [];
      for (let i = 0; i < 2; i++) got.push(brief(await take(url, user)));
      expect(await takeKline(url, market)).toBe(FROM);
      for (let i = 0; i < 2; i++) got.push(brief(await take(url, user)));
      const [a, b] = [`o-${FROM}`, `o-${FROM + 60_000}`];
      expect(got).toEqual([`${a}:TRADE`, `${a}:NEW`, `${b}:TRADE`, `${b}:NEW`]);
    });

    it("reorder-user: a held message whose order sends nothing more goes out before the next step", async () => {
      const exchange = new FakeExchange((bar) => [
        {
          e: "ORDER_TRADE_UPDATE",
          E: bar.closeTime,
          T: bar.closeTime,
          o: { s: bar.symbol, c: `o-${bar.openTime}`, x: "NEW" },
        },
      ]);
      const { url, user, market } = await userSetup("reorder-user:every=1", exchange);
      expect(await takeKline(url, market)).toBe(FROM); // minute 1's NEW is held
      expect(brief(await user.next())).toBe(`o-${FROM}:NEW`); // sent before minute 2 is replayed
      await quiet();
      expect(market.queued).toBe(0);
      expect(await ack(url, KEY)).toBe(200);
      expect(await takeKline(url, market)).toBe(FROM + 60_000);
      expect(brief(await take(url, user))).toBe(`o-${FROM + 60_000}:NEW`);
    });

    it("delay-user: each message is held ms wall ms before it is sent", async () => {
      const { url, user } = await userSetup("delay-user:ms=250");
      const started = performance.now();
      await take(url, user);
      const second = performance.now();
      await take(url, user);
      expect(second - started).toBeGreaterThanOrEqual(240);
      expect(performance.now() - second).toBeGreaterThanOrEqual(240);
    });

    it("drop-user-ws: the private connection is cut in the N-th message's turn, which reaches no one; the replay waits for a private connection", async () => {
      const { url, ws, user, key, market } = await userSetup("drop-user-ws:every=2");
      const cut = closedWith(user);
      expect(brief(await take(url, user))).toBe(`o-${FROM}:NEW`);
      expect(await cut).toBe(1006);
      expect(await takeKline(url, market)).toBe(FROM);
      await quiet();
      expect(await status(url)).toMatchObject({
        privateConnections: 0,
        barsSent: 1,
        waitingForAck: false,
        faults: { "drop-user-ws": 1 },
      });
      const again = await probe(`${ws}/private/ws/${key}`);
      // Minute 1's TRADE is lost; minute 2 is replayed once a private connection is back.
      expect(brief(await again.next())).toBe(`o-${FROM + 60_000}:NEW`);
    });

    it("listenkey-expire without a listenKey (no user stream, a paper run) neither sends nor waits", async () => {
      const { url, ws } = await start("listenkey-expire:every=1", new FakeExchange());
      const market = await probe(`${ws}/market/ws/btcusdt@kline_1m`);
      expect(await takeKline(url, market)).toBe(FROM);
      expect(await takeKline(url, market)).toBe(FROM + 60_000);
      expect((await status(url)).faults["listenkey-expire"]).toBeGreaterThanOrEqual(2); // fired, nothing waited
    });

    it("listenkey-expire: listenKeyExpired (a step), the key is dead (-1125), the replay waits for a new key's connection", async () => {
      const { url, ws, user, key } = await userSetup("listenkey-expire:every=1", new FakeExchange());
      expect(payload(await user.next())).toMatchObject({ e: "listenKeyExpired", listenKey: key, E: FROM });
      expect(await ack(url, KEY)).toBe(200);
      const put = await fetch(`${url}/fapi/v1/listenKey`, { method: "PUT", headers });
      expect([put.status, await put.json()]).toEqual([
        400,
        { code: -1125, msg: "This listenKey does not exist." },
      ]);
      await quiet();
      expect(await status(url)).toMatchObject({ barsSent: 0, listenKey: false });
      const fresh = await newKey(url);
      expect(fresh).not.toBe(key);
      await probe(`${ws}/private/ws/${fresh}`);
      await quiet();
      expect((await status(url)).barsSent).toBe(1);
    });
  });
});
