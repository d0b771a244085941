/**
 * The local Binance USDⓈ-M double (`perpsource exchange-sim`, issue 7 item 6): a fastify + ws server that
 * replays the archive's market data at the exchange clock (replay.ts), serves Binance's public REST endpoints
 * (public-routes.ts), listenKeys and the market and private WebSockets (user-stream.ts, market-streams.ts,
 * ws-gateway.ts), checks keys and signatures (auth.ts), reports the request weight (weight.ts), follows the
 * lockstep protocol (lockstep.ts), and hosts the exchange core: its trading routes and its user events.
 *
 * Sim routes: `GET /sim/v1/status` → `{ now, from, to, symbols, lockstep, speed, replay, error, waitingForAck,
 * pendingMessages, barsSent, stepsSent, marketConnections, privateConnections, listenKey, faults }` (`faults`:
 * how often each injected fault fired, faults.ts);
 * `POST /sim/v1/lockstep/ack` (API key; weight 0: no Binance route, so not in `X-MBX-USED-WEIGHT-1M`) → `{ acked: true }`, or HTTP 409 `{ code: -1, msg }` when no step
 * message waits for an ack.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import { discoverArchive } from "../adapters/market/archive.ts";
import type { ArchiveFile, MarketWindow } from "../adapters/market/types.ts";
import { type ApiCredentials, registerSecurity } from "./auth.ts";
import { BookCapture, captureWindow, discoverCaptures } from "./book-capture.ts";
import { ReplayClock } from "./clock.ts";
import { BinanceApiError } from "./errors.ts";
import { type ExchangeInfoSnapshot, exchangeInfoBody, loadExchangeInfoSnapshot } from "./exchange-info.ts";
import type { ExchangeCore, TradingRoutes } from "./exchange-port.ts";
import { type Fault, FaultInjector } from "./faults.ts";
import { ChangeSignal, Lockstep } from "./lockstep.ts";
import { MarketHistory } from "./market-history.ts";
import { MarketStreams } from "./market-streams.ts";
import { publicRoutes } from "./public-routes.ts";
import { MarketReplay, type ReplayState } from "./replay.ts";
import { BINANCE_HEARTBEAT, type Heartbeat } from "./stream-connection.ts";
import { UserStream } from "./user-stream.ts";
import { RequestWeight, registerWeight } from "./weight.ts";
import { attachWebSockets } from "./ws-gateway.ts";

/** The history served before the window by default: one day. */
export const DEFAULT_HISTORY_MS = 86_400_000;

/** What a double needs. */
export interface ExchangeSimOptions<E extends ExchangeCore> {
  /** Market data root (data.binance.vision layout). */
  dataRoot: string;
  /** Replayed symbols, upper-case. */
  symbols: readonly string[];
  /** The replayed window [from, to), ms epoch UTC. */
  window: MarketWindow;
  /** Lockstep protocol instead of wall-clock pacing. */
  lockstep?: boolean;
  /**
   * The clock a listenKey's 60 minutes run on: `wall` (default; clients keep keys alive on their own clock) or
   * `exchange` (the replay's market time: a key then expires after 60 minutes of data, a rehearsal of expiry).
   */
  listenKeyClock?: "wall" | "exchange";
  /** `--speed N`: N minutes of data per wall minute (default 1; ignored in lockstep). */
  speed?: number;
  /** The key pair requests are checked against; without it API_KEY and SIGNED routes answer -2015. */
  credentials?: ApiCredentials;
  /** The exchangeInfo snapshot to serve (default: the bundled one). */
  exchangeInfo?: ExchangeInfoSnapshot;
  /** The exchange core: it gets the clock, the bars and the settlements; its user events go to the clients. */
  exchange: E;
  /** The exchange's trading and account routes, registered with `{ exchange }` behind the security hook. */
  tradingRoutes?: TradingRoutes<E>;
  logger: Logger;
  /** WebSocket ping period and pong timeout (default Binance's: 3 min and 10 min). */
  heartbeat?: Heartbeat;
  /** The archive files to replay (default: `discoverArchive(dataRoot, symbols, window)`). */
  files?: readonly ArchiveFile[];
  /**
   * How much market history before the window the REST endpoints serve from the start (klines, fundingRate:
   * a client's warm-up), ms; whatever the archive holds of it (default one day; 0: none).
   */
  historyMs?: number;
  /** `--faults SPEC` (faults.ts `parseFaultSpec`): the faults to inject; none by default. */
  faults?: readonly Fault[];
  /**
   * `--captures PATH…`: recorded depth, bookTicker and trades files or directories (relative to `dataRoot`)
   * replayed with the window on the book and trade streams and `GET /fapi/v1/depth` (book-capture.ts). With
   * captures, the replayed window is `window` narrowed to the captures' span (`captureWindow`).
   */
  captures?: readonly string[];
}

/** `GET /sim/v1/status`. */
export interface SimStatus {
  now: number;
  from: number;
  to: number;
  symbols: readonly string[];
  lockstep: boolean;
  speed: number | null;
  replay: ReplayState;
  error: string | null;
  waitingForAck: boolean;
  pendingMessages: number;
  barsSent: number;
  stepsSent: number;
  marketConnections: number;
  /** The streams subscribed on open market connections, lower-case, sorted. */
  marketStreams: string[];
  privateConnections: number;
  listenKey: boolean;
  /** How often each injected fault fired. */
  faults: Record<string, number>;
}

/** A running double. */
export interface ExchangeSim {
  /** The fastify instance (routes can be injected into it in tests). */
  readonly app: FastifyInstance;
  /**
   * Loads the history before the window and the first prices, listens on host (default 127.0.0.1) and port
   * (0: any), starts the replay, resolves to the base URL.
   * @throws MarketDataError on a malformed archive file of the history or the window's first day.
   */
  listen(options: { host?: string; port: number }): Promise<string>;
  /** Resolves when the replay has replayed the window; rejects when it failed (e.g. MarketDataError). */
  finished(): Promise<void>;
  status(): SimStatus;
  /** Stops the replay, closes every connection and the server. */
  close(): Promise<void>;
}

/**
 * Builds a double over the archive files of `options.symbols` in `options.window` around `options.exchange`.
 * The exchange is the only dependency to plug in: its `now` is set before each replay step and each request,
 * `onBar` / `onFunding` get the replay's events, `onUserEvent` gets the forwarding listener, and
 * `tradingRoutes` is registered with `{ exchange }`.
 * @throws Error from `discoverArchive` (missing kline files, bad window) or `exchangeInfoBody` (a symbol the
 *   snapshot does not list).
 */
export async function createExchangeSim<E extends ExchangeCore>(
  options: ExchangeSimOptions<E>,
): Promise<ExchangeSim> {
  const { symbols, exchange, logger } = options;
  const lockstepOn = options.lockstep === true;
  const speed = lockstepOn ? undefined : (options.speed ?? 1);
  const heartbeat = options.heartbeat ?? BINANCE_HEARTBEAT;
  const captures =
    options.captures === undefined
      ? []
      : await discoverCaptures(options.dataRoot, options.captures, symbols, options.window);
  const window = captureWindow(captures, options.window);
  const barsFromTrades = captures.flatMap((c) => (c.trades ? [c.symbol] : []));
  const files = options.files ?? [
    ...(await discoverArchive(options.dataRoot, { symbols: [...symbols], ...window }, { barsFromTrades })),
    ...captures.flatMap((c) => (c.trades ? [c.trades] : [])),
  ];
  const historyMs = options.historyMs ?? DEFAULT_HISTORY_MS;
  const historyWindow = { from: window.from - historyMs, to: window.from };
  const history =
    historyMs > 0
      ? {
          window: historyWindow,
          files: await discoverArchive(
            options.dataRoot,
            { symbols: [...symbols], ...historyWindow },
            { partial: true },
          ),
        }
      : undefined;
  const exchangeInfo = exchangeInfoBody(options.exchangeInfo ?? loadExchangeInfoSnapshot(undefined), symbols);

  const clock = new ReplayClock(window.from);
  const now = () => clock.now();
  const signal = new ChangeSignal();
  const lockstep = new Lockstep(lockstepOn);
  const published = new MarketHistory(symbols);
  const market = new MarketStreams(signal, logger, heartbeat);
  const book = captures.length > 0 ? await BookCapture.open(captures, window, market, lockstep) : undefined;
  const keyClock = options.listenKeyClock === "exchange" ? now : () => Date.now();
  const user = new UserStream(
    options.credentials?.apiKey ?? "",
    now,
    lockstep,
    signal,
    logger,
    heartbeat,
    keyClock,
  );
  const faults = new FaultInjector(options.faults ?? []);
  faults.attach({
    now,
    dropMarket: (how) => market.dropAll(how),
    closeUser: () => user.dropAll("close"),
    expireListenKey: () => user.expireNow(),
    userConnected: () => user.openConnections > 0,
    sendUser: (message, cut) => user.send(message, cut),
  });
  const ready = (abort: AbortSignal) =>
    signal.until(
      () =>
        symbols.every((s) => market.isSubscribed(`${s.toLowerCase()}@kline_1m`)) &&
        (user.liveKey === undefined || user.openConnections > 0) &&
        faults.ready(),
      abort,
    );
  const replay = new MarketReplay({
    files,
    window,
    ...(history === undefined ? {} : { history }),
    symbols,
    exchange,
    clock,
    published,
    market,
    user,
    lockstep,
    speed,
    ready,
    logger,
    ...(faults.enabled ? { faults } : {}),
    ...(book === undefined ? {} : { book }),
  });
  exchange.now = now();
  exchange.onUserEvent(async (message) => {
    if (!faults.enabled) return user.forward(message);
    const sent = faults.forwardUser(message);
    if (lockstep.inReplayStep) await sent;
  });

  const loggerInstance: FastifyBaseLogger = logger;
  const app: FastifyInstance = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setErrorHandler((error, _request, reply) => {
    const e = error as {
      code?: unknown;
      status?: unknown;
      statusCode?: unknown;
      msg?: unknown;
      message: string;
    };
    if (error instanceof BinanceApiError) return reply.status(error.status).send(error.body());
    const status =
      typeof e.status === "number" ? e.status : typeof e.statusCode === "number" ? e.statusCode : 500;
    if (typeof e.code === "number" && e.code < 0 && status >= 400)
      return reply.status(status).send({ code: e.code, msg: typeof e.msg === "string" ? e.msg : e.message });
    if (status >= 400 && status < 500) return reply.status(status).send({ code: -1000, msg: e.message });
    logger.error({ err: error }, "request failed");
    return reply
      .status(500)
      .send({ code: -1000, msg: "An unknown error occured while processing the request." });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ code: -5000, msg: `Path ${request.url.split("?")[0]}, Method ${request.method} is invalid` }),
  );
  app.addHook("onRequest", async () => {
    exchange.now = now();
  });
  registerWeight(app, new RequestWeight());
  registerSecurity(app, { credentials: options.credentials, now });
  faults.registerHttp(app);

  publicRoutes(app, { history: published, now, exchangeInfo, ...(book === undefined ? {} : { book }) });
  user.routes(app);
  const status = (): SimStatus => ({
    now: now(),
    from: window.from,
    to: window.to,
    symbols,
    lockstep: lockstepOn,
    speed: speed ?? null,
    replay: replay.state,
    error: replay.error ?? null,
    waitingForAck: lockstep.waitingForAck,
    pendingMessages: lockstep.pending,
    barsSent: replay.barsSent,
    stepsSent: lockstep.stepsSent,
    marketConnections: market.size,
    marketStreams: market.subscriptions(),
    privateConnections: user.openConnections,
    listenKey: user.liveKey !== undefined,
    faults: faults.fired(),
  });
  app.get("/sim/v1/status", async () => status());
  await app.register(async (scope) => {
    // The ack carries no body: whatever body or content type a client sends with it is ignored.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string" }, (_request, _body, done) => done(null, undefined));
    scope.post("/sim/v1/lockstep/ack", { config: { security: "API_KEY", weight: 0 } }, async () => {
      if (!lockstep.ack()) throw new BinanceApiError(409, -1, "No step message is waiting for an ack.");
      return { acked: true };
    });
  });
  if (options.tradingRoutes !== undefined) await app.register(options.tradingRoutes, { exchange });

  const closeSockets = attachWebSockets(app.server, { market, user, logger });
  let running: Promise<void> | undefined;
  return {
    app,
    async listen({ host = "127.0.0.1", port }) {
      await replay.prime();
      const url = await app.listen({ host, port });
      logger.info(
        { url, symbols, from: window.from, to: window.to, lockstep: lockstepOn, speed },
        "exchange-sim listening",
      );
      running = replay.run();
      running.catch((error: unknown) => logger.error({ err: error }, "replay failed"));
      return url;
    },
    finished() {
      if (running === undefined) return Promise.reject(new Error("the double is not listening yet"));
      return running;
    },
    status,
    async close() {
      replay.stop();
      faults.close();
      await book?.close();
      await closeSockets();
      await app.close();
      await running?.catch(() => undefined);
    },
  };
}
