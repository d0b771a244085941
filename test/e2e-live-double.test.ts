/**
 * Live trading rehearsed against the local Binance double (issue 7): `exchange-sim` replays real BTCUSDT and
 * ETHUSDT data in lockstep; a testnet run (the Binance venue over REST and the user data stream, the live market
 * feed over the market WebSocket) trades sma-cross on it, and a paper run (the simulated venue on the double's
 * market stream) too. Both have the fills of a backtest of the same bars, and the testnet run's account equals
 * the double's ledger.
 */

import { USDMClient } from "binance";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { exchangeTime } from "../src/adapters/binance/exchange-time.ts";
import { openLiveMarketFeed } from "../src/adapters/binance/market-feed.ts";
import { BinanceVenue } from "../src/adapters/binance/venue.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema, windowOf } from "../src/config/schema.ts";
import { Dec } from "../src/domain/decimal.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import { type LiveMode, runLive } from "../src/engine/live-run.ts";
import type { EventStore } from "../src/events/store.ts";
import { hmacCredentials } from "../src/exchange-sim/auth.ts";
import { SimExchange, tradingRoutes } from "../src/exchange-sim/exchange/index.ts";
import { createExchangeSim, type ExchangeSim } from "../src/exchange-sim/server.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("live runs against exchange-sim on BTCUSDT+ETHUSDT 2025-05-05..2025-05-06");
const logger = pino({ level: "silent" });
const API_KEY = "test-api-key";
const API_SECRET = "test-api-secret";
const config = BacktestConfigSchema.parse({
  symbols: ["BTCUSDT", "ETHUSDT"],
  from: "2025-05-05",
  to: "2025-05-06",
  warmupBars: 0,
});
const window = windowOf(config);
const instruments = bundledInstrumentCatalog();
const brackets = bundledLeverageBracketCatalog();

let sim: ExchangeSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Starts the double in lockstep on the window; its URL and exchange. */
async function startDouble(): Promise<{ url: string; exchange: SimExchange }> {
  const exchange = new SimExchange({
    instruments,
    brackets,
    symbols: config.symbols,
    walletBalance: config.initialBalance,
  });
  sim = await createExchangeSim({
    dataRoot: root!,
    symbols: config.symbols,
    window,
    lockstep: true,
    credentials: hmacCredentials(API_KEY, API_SECRET),
    exchange,
    tradingRoutes,
    logger,
  });
  return { url: await sim.listen({ port: 0 }), exchange };
}

/** A live run of `mode` against the double at `url` until the window's end. */
async function runAgainst(mode: LiveMode, url: string, store: EventStore) {
  const wsUrl = url.replace(/^http/, "ws");
  const venue =
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
        });
  return runLive(mode, config, {
    store,
    logger,
    instruments,
    brackets,
    startTime: await exchangeTime(url),
    until: window.to,
    ...(venue ? { venue } : {}),
    openFeed: (from) =>
      openLiveMarketFeed({
        from,
        symbols: config.symbols,
        restUrl: url,
        wsUrl,
        logger,
        lockstep: true,
        apiKey: API_KEY,
      }),
  });
}

/** Fills as `time|symbol|side|quantity|price`, in log order. */
async function fills(store: EventStore): Promise<string[]> {
  const lines: string[] = [];
  for await (const e of store.readAll()) {
    if (e.type !== "OrderFilled") continue;
    const d = e.data as { symbol: string; side: string; quantity: string; price: string };
    lines.push(`${e.metadata.eventTime}|${d.symbol}|${d.side}|${d.quantity}|${d.price}`);
  }
  return lines;
}

describe.skipIf(!root)("live runs against exchange-sim (lockstep)", () => {
  it("testnet mode trades sma-cross with the backtest's fills; its account equals the double's", async () => {
    const backtestStore = new InMemoryEventStore();
    const backtest = await runBacktest(config, { store: backtestStore, dataRoot: root!, logger });
    const { url } = await startDouble();
    const store = new InMemoryEventStore();
    const summary = await runAgainst("testnet", url, store);

    expect(summary.completed).toBe(true);
    expect(summary.bars).toBe(backtest.bars);
    expect(summary.fills).toBeGreaterThan(4);
    expect(await fills(store)).toEqual(await fills(backtestStore));
    expect(summary.netPnl).toBe(backtest.netPnl);

    const client = new USDMClient({ baseUrl: url, api_key: API_KEY, api_secret: API_SECRET });
    client.setTimeOffset((await exchangeTime(url)) - Date.now()); // the double's clock is the replay's
    const account = await client.getAccountInformationV3();
    const usdt = account.assets.find((a) => a.asset === "USDT")!;
    const ours = new Dec(config.initialBalance).plus(summary.netPnl);
    expect(new Dec(String(usdt.walletBalance)).eq(ours)).toBe(true);
  }, 600_000);

  it("paper mode on the double's market stream has the backtest's fills", async () => {
    const backtestStore = new InMemoryEventStore();
    await runBacktest(config, { store: backtestStore, dataRoot: root!, logger });
    const { url } = await startDouble();
    const store = new InMemoryEventStore();
    const summary = await runAgainst("paper", url, store);
    expect(summary.completed).toBe(true);
    expect(await fills(store)).toEqual(await fills(backtestStore));
  }, 600_000);
});
