/**
 * Live market depth and trades (issue 7 item 1: what strategies declare) as RxJS Observables over the `binance`
 * SDK's `WebsocketClient` (`MarketSocket`: backoff, 24 h rotation) on the routes of binance-usdm.md §5.3:
 * - `bookTickerStream`: `<s>@bookTicker` on `/public`, as the archive reader's `BookTick`s;
 * - `aggTradeStream`: `<s>@aggTrade` on `/market`, as `AggTrade`s (a jump of the aggregate id is logged: the
 *   trades in between were missed, e.g. during a reconnect; they are not fetched back);
 * - `localBookStream`: `<s>@depth@100ms` on `/public` kept as a local order book by `BookSync` (the [LOB]
 *   procedure, book-sync.ts) with `GET /fapi/v1/depth` snapshots, emitting the book's top levels after every
 *   applied diff; a gap (`pu` break, a first event past the snapshot) or a reconnect drops the book and resyncs
 *   it from a new snapshot, each logged (`local book: resync`).
 * Each Observable is cold: subscribing opens its own connection, unsubscribing closes it. Each errors with
 * `BinanceWireError` on a malformed message; the book stream also when a snapshot cannot be fetched after
 * retries. Logs are pino JSON (`component: "binance-book"`).
 */
import type { USDMClient, WsKey } from "binance";
import type { Logger } from "pino";
import { defer, Observable, retry, type Subscriber, Subscription, throwError, timer } from "rxjs";
import type { BookView, DepthSnapshot } from "../../domain/book/order-book.ts";
import type { BookTick } from "../market/ticks.ts";
import { BookSync, type SyncStep } from "./book-sync.ts";
import {
  type AggTrade,
  type BookStreamMessage,
  depthSnapshotFromRest,
  parseBookMessage,
} from "./book-wire.ts";
import { sdkLogger } from "./market-feed.ts";
import { MarketSocket } from "./market-socket.ts";
import { BinanceWireError } from "./market-wire.ts";
import type { BinanceRest } from "./rest.ts";

/** Where and what to stream. */
export interface BookStreamOptions {
  /** USDⓈ-M symbols, upper-case, e.g. ["BTCUSDT"]. */
  symbols: readonly string[];
  /** WebSocket base URL without route (default Binance's); the SDK appends `/public/stream` or `/market/stream`. */
  wsUrl?: string;
  /** Binance's testnet URLs (the SDK's `testnet`) where no URL is given. */
  testnet?: boolean;
  logger: Logger;
}

/** `GET /fapi/v1/depth` of `symbol` with `limit` levels per side. */
export type DepthSnapshotSource = (symbol: string, limit: DepthLimit) => Promise<DepthSnapshot>;

/** The `limit`s `GET /fapi/v1/depth` takes. */
export type DepthLimit = 5 | 10 | 20 | 50 | 100 | 500 | 1000;

/** Options of `localBookStream`. */
export interface LocalBookOptions extends BookStreamOptions {
  /** The REST snapshots (`depthSnapshotsOverRest` or `depthSnapshotsOverClient`). */
  snapshots: DepthSnapshotSource;
  /** Levels per side of each snapshot (default 1000, as [LOB] step 2). */
  snapshotLimit?: DepthLimit;
  /** Levels per side of each emitted view (default 100). */
  depth?: number;
  /** Attempts per snapshot before the stream errors (default 5), with exponential backoff from `retryMs`. */
  snapshotAttempts?: number;
  retryMs?: number;
}

/** Weight of `GET /fapi/v1/depth` by `limit` (binance-usdm.md §5.1): 2 (5–50), 5 (100), 10 (500), 20 (1000). */
export function depthWeight(limit: DepthLimit): number {
  return limit <= 50 ? 2 : limit === 100 ? 5 : limit === 500 ? 10 : 20;
}

/** Snapshots through the venue's `BinanceRest` (its weight budget, 429/418 handling; an idempotent read). */
export function depthSnapshotsOverRest(rest: BinanceRest): DepthSnapshotSource {
  return async (symbol, limit) => {
    const body = await rest.request(
      "GET /fapi/v1/depth",
      { weight: depthWeight(limit), orders: 0 },
      (client) => client.getOrderBook({ symbol, limit }),
      { idempotent: true },
    );
    return depthSnapshotFromRest(symbol, body);
  };
}

/** Snapshots through a plain SDK client (no budget: a paper run's market source, like the market feed's). */
export function depthSnapshotsOverClient(client: USDMClient): DepthSnapshotSource {
  return async (symbol, limit) => depthSnapshotFromRest(symbol, await client.getOrderBook({ symbol, limit }));
}

/** `<s>@bookTicker` of every symbol (see the module comment). @throws RangeError for a bad symbol list. */
export function bookTickerStream(options: BookStreamOptions): Observable<BookTick> {
  return streamOf(options, "usdmPublic", "@bookTicker", (subscriber) => ({
    message: (m) => {
      if (m.kind === "bookTicker") subscriber.next(m.tick);
    },
  }));
}

/** `<s>@aggTrade` of every symbol (see the module comment). @throws RangeError for a bad symbol list. */
export function aggTradeStream(options: BookStreamOptions): Observable<AggTrade> {
  return streamOf(options, "usdmMarket", "@aggTrade", (subscriber, logger) => {
    const last = new Map<string, number>();
    return {
      message: (m) => {
        if (m.kind !== "aggTrade") return;
        const { symbol, aggId } = m.trade;
        const previous = last.get(symbol);
        if (previous !== undefined && aggId !== previous + 1)
          logger.warn({ symbol, previous, aggId }, "aggTrade: aggregate ids jumped (trades missed)");
        if (previous === undefined || aggId > previous) last.set(symbol, aggId);
        subscriber.next(m.trade);
      },
    };
  });
}

/**
 * The local order book of every symbol (see the module comment): the view of a symbol's book (best `depth`
 * levels per side, `time` = the last applied diff's transaction time) after each applied diff and after each
 * sync. @throws RangeError for a bad symbol list.
 */
export function localBookStream(options: LocalBookOptions): Observable<BookView> {
  const limit = options.snapshotLimit ?? 1000;
  const attempts = options.snapshotAttempts ?? 5;
  const retryMs = options.retryMs ?? 500;
  return streamOf(options, "usdmPublic", "@depth@100ms", (subscriber, logger, symbols) => {
    const syncs = new Map(symbols.map((s) => [s, new BookSync(s, { depth: options.depth })]));
    const fetches = new Subscription();
    const run = (sync: BookSync, step: SyncStep) => {
      if (step.resync !== undefined)
        logger.warn({ symbol: sync.symbol, reason: step.resync }, "local book: resync");
      for (const view of step.views) subscriber.next(view);
      if (step.fetch) fetch(sync);
    };
    const fetch = (sync: BookSync) => {
      const { symbol } = sync;
      logger.info({ symbol, limit, weight: depthWeight(limit) }, "local book: fetching the depth snapshot");
      const once = defer(() => options.snapshots(symbol, limit)).pipe(
        retry({
          count: attempts - 1,
          delay: (error, n) => {
            if (error instanceof BinanceWireError) return throwError(() => error);
            logger.warn(
              { symbol, attempt: n, error: String(error) },
              "local book: snapshot failed; retrying",
            );
            return timer(Math.min(30_000, retryMs * 2 ** (n - 1)));
          },
        }),
      );
      fetches.add(
        once.subscribe({
          next: (snapshot) => {
            const was = sync.synced;
            run(sync, sync.snapshot(snapshot));
            if (!was && sync.synced)
              logger.info({ symbol, lastUpdateId: snapshot.lastUpdateId }, "local book: in sync");
          },
          error: (error) => {
            sync.snapshotFailed();
            subscriber.error(error);
          },
        }),
      );
    };
    return {
      message: (m) => {
        if (m.kind !== "depthUpdate") return;
        const sync = syncs.get(m.update.symbol);
        if (sync !== undefined) run(sync, sync.update(m.update));
      },
      disconnected: () => {
        for (const sync of syncs.values()) run(sync, sync.disconnected());
      },
      close: () => fetches.unsubscribe(),
    };
  });
}

/** What a stream does with its socket's messages. */
interface StreamHandlers {
  message(message: BookStreamMessage): void;
  disconnected?(): void;
  close?(): void;
}

/** A cold Observable over one `MarketSocket` subscribed to `<symbol><suffix>` of every symbol on `wsKey`. */
function streamOf<T>(
  options: BookStreamOptions,
  wsKey: WsKey,
  suffix: string,
  handlers: (subscriber: Subscriber<T>, logger: Logger, symbols: readonly string[]) => StreamHandlers,
): Observable<T> {
  const symbols = [...new Set(options.symbols)].sort();
  if (symbols.length === 0) throw new RangeError("book streams: no symbols");
  for (const s of symbols)
    if (!/^[A-Z0-9]+$/.test(s))
      throw new RangeError(`book streams: symbol ${JSON.stringify(s)} is not upper-case`);
  const topics = symbols.map((s) => `${s.toLowerCase()}${suffix}`);
  return new Observable<T>((subscriber) => {
    const logger = options.logger.child({ component: "binance-book", streams: suffix });
    const handle = handlers(subscriber, logger, symbols);
    const socket = new MarketSocket({
      client: { wsUrl: options.wsUrl, testnet: options.testnet, beautify: false },
      logger: sdkLogger(logger),
    });
    socket.on("message", (message) => {
      let parsed: BookStreamMessage | undefined;
      try {
        parsed = parseBookMessage(message);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      if (parsed !== undefined) handle.message(parsed);
    });
    socket.on("open", ({ wsKey: key, wsUrl }) =>
      logger.info({ wsKey: key, wsUrl, topics }, "book streams: connected"),
    );
    socket.on("reconnecting", ({ wsKey: key }) => {
      logger.warn({ wsKey: key }, "book streams: connection lost, reconnecting");
      handle.disconnected?.();
    });
    socket.on("reconnected", ({ wsKey: key }) => logger.info({ wsKey: key }, "book streams: reconnected"));
    socket.on("exception", (e) =>
      logger.warn({ wsKey: e?.wsKey, error: e?.message ?? e?.msg }, "book streams: connection error"),
    );
    socket.subscribe(topics, wsKey).catch((error: unknown) => subscriber.error(error));
    return () => {
      handle.close?.();
      socket.shutdown();
      socket.removeAllListeners();
    };
  });
}
