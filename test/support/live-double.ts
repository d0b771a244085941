/**
 * The harness of live runs against the local Binance double (test/e2e-live-double.test.ts,
 * test/e2e-live-faults.test.ts): a lockstep `exchange-sim` over real BTCUSDT+ETHUSDT data around a `SimExchange`,
 * a testnet or paper `runLive` against it, and the audit of the double's ledger (`userTrades`, `allOrders`,
 * `positionRisk`, `account`) against the run's log.
 */
import pino from "pino";
import { exchangeTime } from "../../src/adapters/binance/exchange-time.ts";
import { openLiveMarketFeed } from "../../src/adapters/binance/market-feed.ts";
import { liveMarketHistory } from "../../src/adapters/binance/market-history.ts";
import { BinanceVenue, type BinanceVenueOptions } from "../../src/adapters/binance/venue.ts";
import { type BacktestConfig, BacktestConfigSchema, windowOf } from "../../src/config/schema.ts";
import { Dec } from "../../src/domain/decimal.ts";
import { bundledInstrumentCatalog } from "../../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../../src/domain/margin/brackets.catalog.ts";
import { type LiveMode, type LiveRunSummary, runLive } from "../../src/engine/live-run.ts";
import type { EventStore } from "../../src/events/store.ts";
import { hmacCredentials } from "../../src/exchange-sim/auth.ts";
import { SimExchange, tradingRoutes } from "../../src/exchange-sim/exchange/index.ts";
import { Params } from "../../src/exchange-sim/exchange/params.ts";
import type { Fault } from "../../src/exchange-sim/faults.ts";
import { createExchangeSim, type ExchangeSim } from "../../src/exchange-sim/server.ts";

/** Silent unless PERPSOURCE_TEST_LOG names a pino level (debugging a run). */
export const logger = pino({ level: process.env.PERPSOURCE_TEST_LOG ?? "silent" });
export const API_KEY = "test-api-key";
export const API_SECRET = "test-api-secret";
/** sma-cross on BTCUSDT+ETHUSDT, 2025-05-05..2025-05-06, cold start. */
export const config: BacktestConfig = BacktestConfigSchema.parse({
  symbols: ["BTCUSDT", "ETHUSDT"],
  from: "2025-05-05",
  to: "2025-05-06",
  warmupBars: 0,
});
export const window = windowOf(config);
export const instruments = bundledInstrumentCatalog();
export const brackets = bundledLeverageBracketCatalog();

/** A lockstep double on the window over `root`, with `faults`; its URL, exchange and server. */
export async function startDouble(
  root: string,
  faults: readonly Fault[] = [],
): Promise<{ url: string; exchange: SimExchange; sim: ExchangeSim }> {
  const exchange = new SimExchange({
    instruments,
    brackets,
    symbols: config.symbols,
    walletBalance: config.initialBalance,
  });
  const sim = await createExchangeSim({
    dataRoot: root,
    symbols: config.symbols,
    window,
    lockstep: true,
    credentials: hmacCredentials(API_KEY, API_SECRET),
    exchange,
    tradingRoutes,
    logger,
    faults,
  });
  return { url: await sim.listen({ port: 0 }), exchange, sim };
}

/** The market feed of `symbols` from the lockstep double at `url` (REST and its WebSocket), from a minute on. */
export function lockstepFeed(url: string, symbols: readonly string[]) {
  return (from: number) =>
    openLiveMarketFeed({
      from,
      symbols,
      restUrl: url,
      wsUrl: url.replace(/^http/, "ws"),
      logger,
      lockstep: true,
      apiKey: API_KEY,
    });
}

/** A live run of `mode` against the double at `url` until the window's end; `venue` tunes the Binance venue. */
export async function runAgainst(
  mode: LiveMode,
  url: string,
  store: EventStore,
  venue: Partial<Pick<BinanceVenueOptions, "rest" | "gapTimeoutMs">> = {},
): Promise<LiveRunSummary> {
  const wsUrl = url.replace(/^http/, "ws");
  const binance =
    mode === "paper"
      ? undefined
      : new BinanceVenue({
          restUrl: url,
          wsUrl,
          apiKey: API_KEY,
          apiSecret: API_SECRET,
          symbols: config.symbols,
          logger,
          lockstep: true,
          clock: () => Date.now(),
          ...venue,
        });
  return runLive(mode, config, {
    store,
    logger,
    instruments,
    brackets,
    startTime: await exchangeTime(url),
    until: window.to,
    ...(binance ? { venue: binance } : {}),
    openFeed: lockstepFeed(url, config.symbols),
  });
}

/**
 * A paper run of `run` (any strategy) into `store` against a fresh lockstep double over `root` that serves
 * `historyDays` days of REST history before the window (a strategy's warm-up: 42 days cover a 979-hour one and its
 * settlements). `onHistoryDone` gets the wall time the warm-up history took, ms.
 */
export async function paperRunWithHistory(
  root: string,
  run: BacktestConfig,
  store: EventStore,
  historyDays: number,
  onHistoryDone?: (ms: number) => void,
): Promise<LiveRunSummary> {
  const runWindow = windowOf(run);
  const sim = await createExchangeSim({
    dataRoot: root,
    symbols: run.symbols,
    window: runWindow,
    lockstep: true,
    credentials: hmacCredentials(API_KEY, API_SECRET),
    exchange: new SimExchange({
      instruments,
      brackets,
      symbols: run.symbols,
      walletBalance: run.initialBalance,
    }),
    tradingRoutes,
    logger,
    historyMs: historyDays * 86_400_000,
  });
  const url = await sim.listen({ port: 0 });
  try {
    const history = liveMarketHistory({ symbols: run.symbols, restUrl: url, logger });
    return await runLive("paper", run, {
      store,
      logger,
      instruments,
      brackets,
      startTime: await exchangeTime(url),
      until: runWindow.to,
      history: (w) => {
        const events = history(w);
        return (async function* timed() {
          const started = performance.now();
          yield* events;
          onHistoryDone?.(performance.now() - started);
        })();
      },
      openFeed: lockstepFeed(url, run.symbols),
    });
  } finally {
    await sim.close();
  }
}

/** Fills as `time|symbol|side|quantity|price`, in log order. */
export async function fills(store: EventStore): Promise<string[]> {
  const lines: string[] = [];
  for await (const e of store.readAll()) {
    if (e.type !== "OrderFilled") continue;
    const d = e.data as { symbol: string; side: string; quantity: string; price: string };
    lines.push(`${e.metadata.eventTime}|${d.symbol}|${d.side}|${d.quantity}|${d.price}`);
  }
  return lines;
}

/** What the log and the double's ledger say, side by side (see `audit`). */
export interface Audit {
  /** `symbol|tradeId|side|quantity|price`, sorted: the log's OrderFilled events, the double's userTrades. */
  logFills: string[];
  venueFills: string[];
  /** clientOrderIds (allOrders) and clientAlgoIds (allAlgoOrders) that occur more than once at the double. */
  duplicateOrderIds: string[];
  /** symbol → position, as the log's last FillBooked / liquidation left it and as positionRisk says. */
  logPositions: Record<string, string>;
  venuePositions: Record<string, string>;
  /** USDT wallet balance: the log's last booking, the double's account. */
  logWallet: string;
  venueWallet: string;
}

/** Reads the log of `store` and the ledger of `exchange` (numbers normalised, e.g. "0.0100" → "0.01"). */
export async function audit(store: EventStore, exchange: SimExchange): Promise<Audit> {
  const n = (x: unknown) => new Dec(String(x)).toFixed(); // "0.0100" → "0.01"
  const logFills: string[] = [];
  const logPositions: Record<string, string> = Object.fromEntries(config.symbols.map((s) => [s, "0"]));
  let logWallet = n(config.initialBalance);
  for await (const e of store.readAll()) {
    const d = e.data as Record<string, string>;
    if (e.type === "OrderFilled")
      logFills.push(`${d.symbol}|${d.tradeId}|${d.side}|${n(d.quantity)}|${n(d.price)}`);
    if (e.type === "FillBooked") logPositions[d.symbol!] = n(d.positionAmt);
    if (e.type === "PositionLiquidated") logPositions[d.symbol!] = "0";
    if (
      (e.type === "FillBooked" || e.type === "FundingFeeBooked" || e.type === "PositionLiquidated") &&
      d.walletBalance
    )
      logWallet = n(d.walletBalance);
  }
  const venueFills: string[] = [];
  const ids: string[] = [];
  const algoIds: string[] = [];
  const venuePositions: Record<string, string> = Object.fromEntries(config.symbols.map((s) => [s, "0"]));
  for (const symbol of config.symbols) {
    for (const t of exchange.userTrades(new Params({ symbol, fromId: "0", limit: "1000" })))
      venueFills.push(`${t.symbol}|${t.id}|${t.side}|${n(t.qty)}|${n(t.price)}`);
    for (const o of exchange.allOrders(new Params({ symbol, orderId: "0", limit: "1000" })))
      ids.push(String(o.clientOrderId));
    for (const a of exchange.allAlgoOrders(new Params({ symbol, algoId: "0", limit: "1000" })))
      algoIds.push(String(a.clientAlgoId));
  }
  for (const p of exchange.positionRisk(new Params({})))
    venuePositions[String(p.symbol)] = new Dec(venuePositions[String(p.symbol)] ?? "0")
      .plus(String(p.positionAmt))
      .toFixed();
  const usdt = (exchange.account().assets as { asset: string; walletBalance: string }[]).find(
    (a) => a.asset === "USDT",
  );
  const dup = (list: string[]) => list.filter((id, i) => list.indexOf(id) !== i);
  return {
    logFills: logFills.sort(),
    venueFills: venueFills.sort(),
    duplicateOrderIds: [...dup(ids), ...dup(algoIds)],
    logPositions,
    venuePositions,
    logWallet,
    venueWallet: n(usdt?.walletBalance),
  };
}
