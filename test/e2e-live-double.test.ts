/**
 * Live trading rehearsed against the local Binance double (issue 7): `exchange-sim` replays real BTCUSDT and
 * ETHUSDT data in lockstep; a testnet run (the Binance venue over REST and the user data stream, the live market
 * feed over the market WebSocket) trades sma-cross on it, and a paper run (the simulated venue on the double's
 * market stream) too. Both have the fills of a backtest of the same bars, and the testnet run's account equals
 * the double's ledger. The harness is test/support/live-double.ts.
 */

import { USDMClient } from "binance";
import { afterEach, describe, expect, it } from "vitest";
import { exchangeTime } from "../src/adapters/binance/exchange-time.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { Dec } from "../src/domain/decimal.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import type { ExchangeSim } from "../src/exchange-sim/server.ts";
import {
  API_KEY,
  API_SECRET,
  config,
  fills,
  logger,
  runAgainst,
  startDouble,
} from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("live runs against exchange-sim on BTCUSDT+ETHUSDT 2025-05-05..2025-05-06");

let sim: ExchangeSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start() {
  const double = await startDouble(root!);
  sim = double.sim;
  return double;
}

describe.skipIf(!root)("live runs against exchange-sim (lockstep)", () => {
  it("testnet mode trades sma-cross with the backtest's fills; its account equals the double's", async () => {
    const backtestStore = new InMemoryEventStore();
    const backtest = await runBacktest(config, { store: backtestStore, dataRoot: root!, logger });
    const { url } = await start();
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
    const { url } = await start();
    const store = new InMemoryEventStore();
    const summary = await runAgainst("paper", url, store);
    expect(summary.completed).toBe(true);
    expect(await fills(store)).toEqual(await fills(backtestStore));
  }, 600_000);
});
