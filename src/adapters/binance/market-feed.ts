/**
 * The live market source (issue 7 item 1; live-contract.md "binance-market"): the `binance` SDK's
 * `WebsocketClient` on the USDⓈ-M market route (`<wsUrl>/market/stream`, SUBSCRIBE to `<s>@kline_1m` and
 * `<s>@markPrice@1s` of every symbol) and its `USDMClient` (klines, fundingRate, time) turned into the archive
 * feed's `MarketEvent` stream. `market-pipeline.ts` holds the rules (closed bars only, REST back-fill after any
 * hole, gaps, marks, funding); `market-order.ts` the order across symbols; `market-socket.ts` the reconnect
 * backoff and the 24 h rotation. Logs (pino): connection state, each closed bar's exchange-time lag
 * (receive time − `E`), back-fills and gaps, the watchdog.
 *
 * The stale-data watchdog: when a symbol got no message for `staleAfterMs` (default 90 s; in lockstep off unless
 * given, and paused while a bar waits for its ack), its missing bars are fetched up to the exchange's clock
 * (trailing missing minutes become a gap) and the connection is restarted.
 */
import { USDMClient } from "binance";
import type { Logger } from "pino";
import { concatMap, defer, map, mergeMap, Observable, retry, Subject, throwError, timer } from "rxjs";
import type { MarketEvent } from "../market/types.ts";
import { inMarketOrder } from "./market-order.ts";
import { type FeedItem, MarketPipeline, type PipelineInput, type PipelineOutput } from "./market-pipeline.ts";
import { lockstepAck, usdmMarketRest } from "./market-rest.ts";
import { MarketSocket } from "./market-socket.ts";
import { BinanceWireError, parseMarketMessage } from "./market-wire.ts";

/** Options of `openLiveMarketFeed`. */
export interface LiveMarketFeedOptions {
  /** USDⓈ-M symbols, e.g. ["BTCUSDT", "ETHUSDT"]. */
  symbols: readonly string[];
  /** REST base URL (default: Binance's, or its testnet's); e.g. the double's `http://127.0.0.1:P`. */
  restUrl?: string;
  /** WebSocket base URL, without route (default: Binance's); the SDK appends `/market/stream`. */
  wsUrl?: string;
  /** Binance's testnet URLs (the SDK's `testnet`) where no URL is given. */
  testnet?: boolean;
  logger: Logger;
  /** Stale-data watchdog period, ms (see the module comment). */
  staleAfterMs?: number;
  /** Lockstep rehearsal against exchange-sim: POST /sim/v1/lockstep/ack after each closed kline is processed. */
  lockstep?: boolean;
  /**
   * The stream's first minute (ms epoch, floored to the minute; not part of live-contract.md): every minute from
   * it on is delivered, those before the first live bar fetched over REST first, settlements included (warm-up
   * bars, or resuming a run after its last logged bar). Default: the first closed bar that comes live.
   */
  from?: number;
  /** Sent as `X-MBX-APIKEY` with the lockstep ack (exchange-sim checks it; not part of live-contract.md). */
  apiKey?: string;
  /**
   * Told when the stream's connection is lost (`down`: the SDK is reconnecting) and when it is back (`up`:
   * reconnected, after a drop or a rotation): the stream-outage alert (src/adapters/alerts/follow-alerts.ts) and
   * the reconnect counter of /metrics. Must not throw.
   */
  onConnection?: (state: "down" | "up") => void;
}

/** The live market source; see `openLiveMarketFeed`. */
export interface LiveMarketFeed {
  /** Market inputs in order, as the archive feed gives them (MarketEvent of src/adapters/market/types.ts):
   *  closed 1m bars only (k.x), each with its minute's mark kline aggregated from markPrice@1s when marks came;
   *  funding settlements (from markPrice `T`/`r`, confirmed by GET /fapi/v1/fundingRate); gaps it could not fill.
   *  After any reconnect the missing closed klines are fetched over REST and delivered in order first; never a
   *  bar twice. Connects when subscribed; one subscription only. Errors on a malformed message
   *  (`BinanceWireError`) or REST failing five times in a row on one input. */
  readonly events: Observable<MarketEvent>;
  /** Resolves when the consumer finished an event (lockstep ack point): the driver calls it after each event. */
  processed(event: MarketEvent): Promise<void>;
  /** Closes the connection for good and completes `events`. */
  close(): Promise<void>;
}

const MARKET_KEY = "usdmMarket";
const DEFAULT_STALE_MS = 90_000;

/**
 * Opens the live market source of `options.symbols` (see the module comment and `LiveMarketFeed`).
 * @throws RangeError for no symbols, a symbol that is not upper-case letters and digits, or lockstep without
 * `restUrl` (the double's ack route).
 */
export function openLiveMarketFeed(options: LiveMarketFeedOptions): LiveMarketFeed {
  const symbols = [...new Set(options.symbols)].sort();
  if (symbols.length === 0) throw new RangeError("live market: no symbols");
  for (const s of symbols) {
    if (!/^[A-Z0-9]+$/.test(s))
      throw new RangeError(`live market: symbol ${JSON.stringify(s)} is not upper-case`);
  }
  const { restUrl, lockstep = false, apiKey } = options;
  if (lockstep && restUrl === undefined)
    throw new RangeError("live market: lockstep needs restUrl (the double)");
  const logger = options.logger.child({ component: "binance-market" });
  const staleAfterMs = options.staleAfterMs ?? (lockstep ? undefined : DEFAULT_STALE_MS);
  const rest = usdmMarketRest(
    new USDMClient({ baseUrl: restUrl, testnet: options.testnet, disableTimeSync: true }),
  );
  const ack = async (): Promise<void> => {
    if (!(await lockstepAck(restUrl as string, apiKey))) {
      logger.warn("live market: lockstep ack refused (409: no step message waiting)");
    }
  };
  const steps = new WeakSet<MarketEvent>(); // lockstep: bars of the stream's closed klines, owed an ack
  let outstanding = 0; // lockstep: such bars emitted and not yet processed
  let subscribed = false;
  let stop: (() => void) | undefined;

  const events = new Observable<MarketEvent>((subscriber) => {
    if (subscribed) {
      subscriber.error(new Error("live market: events can be subscribed only once"));
      return;
    }
    subscribed = true;
    const pipeline = new MarketPipeline(symbols, rest, logger, { from: options.from });
    const socket = new MarketSocket({
      client: { wsUrl: options.wsUrl, testnet: options.testnet, beautify: false },
      logger: sdkLogger(logger),
    });
    const inputs = new Subject<PipelineInput>();
    const lastMessageAt = new Map(symbols.map((s) => [s, Date.now()]));
    const fail = (error: unknown): void => subscriber.error(error);

    socket.on("message", (message) => {
      if ((message as { wsKey?: string }).wsKey !== MARKET_KEY) return;
      let parsed: ReturnType<typeof parseMarketMessage>;
      try {
        parsed = parseMarketMessage(message);
      } catch (error) {
        fail(error);
        return;
      }
      if (parsed === undefined) return;
      const receivedAt = Date.now();
      lastMessageAt.set(parsed.symbol, receivedAt);
      if (parsed.kind === "kline" && parsed.closed) {
        // Exchange-time lag; against exchange-sim it is the replay's distance to the wall clock.
        const lagMs = receivedAt - parsed.eventTime;
        logger.info(
          { symbol: parsed.symbol, openTime: parsed.bar.openTime, lagMs },
          "live market: closed bar received",
        );
      }
      inputs.next(parsed);
    });
    socket.on("open", ({ wsKey, wsUrl }) => logger.info({ wsKey, wsUrl }, "live market: connected"));
    socket.on("reconnecting", ({ wsKey }) => {
      logger.warn({ wsKey }, "live market: connection lost, reconnecting");
      inputs.next({ kind: "disconnected" });
      options.onConnection?.("down");
    });
    socket.on("reconnected", ({ wsKey, wsUrl }) => {
      logger.info({ wsKey, wsUrl }, "live market: reconnected; fetching missed bars");
      inputs.next({ kind: "resync", reason: "reconnected", stale: [] });
      options.onConnection?.("up");
    });
    socket.on("close", ({ wsKey }) => logger.info({ wsKey }, "live market: connection closed"));
    socket.on("exception", (e) =>
      logger.warn({ wsKey: e?.wsKey, error: e?.message ?? e?.msg }, "live market: connection error"),
    );

    const handled = inputs.pipe(
      concatMap((input) =>
        defer(() => pipeline.handle(input)).pipe(
          retry({
            count: 5,
            delay: (error, n) => {
              if (error instanceof BinanceWireError) return throwError(() => error);
              logger.warn(
                { input: input.kind, attempt: n, error: String(error) },
                "live market: REST failed; retrying",
              );
              return timer(Math.min(30_000, 500 * 2 ** n));
            },
          }),
          concatMap(async (out: PipelineOutput) => {
            if (out.droppedStep && lockstep) await ack();
            return out.items;
          }),
        ),
      ),
      mergeMap((items: FeedItem[]) => items),
      map((item) => {
        if (item.step && lockstep) {
          steps.add(item.event);
          outstanding++;
        }
        return item.event;
      }),
    );
    const ordered = lockstep ? handled : handled.pipe(inMarketOrder(symbols));
    const subscription = ordered.subscribe(subscriber);

    const topics = symbols.flatMap((s) => [`${s.toLowerCase()}@kline_1m`, `${s.toLowerCase()}@markPrice@1s`]);
    socket.subscribe(topics, MARKET_KEY).catch(fail);

    let watchdog: NodeJS.Timeout | undefined;
    if (staleAfterMs !== undefined) {
      watchdog = setInterval(
        () => {
          const now = Date.now();
          if (outstanding > 0) {
            for (const s of symbols) lastMessageAt.set(s, now); // waiting for our own ack, not for the exchange
            return;
          }
          const stale = symbols.filter((s) => now - (lastMessageAt.get(s) ?? now) >= staleAfterMs);
          if (stale.length === 0) return;
          for (const s of stale) lastMessageAt.set(s, now);
          logger.warn(
            { symbols: stale, staleAfterMs },
            "live market: no data; fetching over REST and reconnecting",
          );
          inputs.next({ kind: "resync", reason: "stale", stale });
          socket.restart(MARKET_KEY, "stale data");
        },
        Math.max(10, Math.min(staleAfterMs / 4, 5_000)),
      );
    }

    stop = () => {
      clearInterval(watchdog);
      socket.shutdown();
      socket.removeAllListeners();
      inputs.complete();
    };
    return () => {
      stop?.();
      subscription.unsubscribe();
    };
  });

  return {
    events,
    async processed(event) {
      if (!steps.has(event)) return;
      steps.delete(event);
      outstanding--;
      await ack();
    },
    async close() {
      stop?.();
    },
  };
}

/** The SDK's logger on pino: its info lines (connection chatter) at debug, its errors as warnings. */
export function sdkLogger(logger: Logger): MarketSocketLogger {
  const context = (params: unknown[]): Record<string, unknown> => {
    const ctx = params[1] as { wsKey?: unknown; error?: { message?: unknown } } | undefined;
    return { sdk: true, wsKey: ctx?.wsKey, error: ctx?.error?.message };
  };
  return {
    trace: (...params) => logger.trace(context(params), String(params[0])),
    info: (...params) => logger.debug(context(params), String(params[0])),
    error: (...params) => logger.warn(context(params), String(params[0])),
  };
}

export type MarketSocketLogger = ConstructorParameters<typeof MarketSocket>[0]["logger"];
