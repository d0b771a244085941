/**
 * Reconciliation of a testnet run with the venue (src/engine/live-reconciliation.ts) against the local double,
 * on real BTCUSDT+ETHUSDT data: an order placed at the double by another client (its REST API, another
 * clientOrderId) is an unknown order, and trading goes REDUCING; once another one of its orders filled, the
 * position and the wallet the engine cannot explain halt trading, with both numbers in the event and in the pino
 * log. The store, verdicts included, passes `replay --verify` (they are out-of-band records of the log).
 */
import { Writable } from "node:stream";
import { USDMClient } from "binance";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { exchangeTime } from "../src/adapters/binance/exchange-time.ts";
import { openLiveMarketFeed } from "../src/adapters/binance/market-feed.ts";
import { BinanceVenue } from "../src/adapters/binance/venue.ts";
import type { MarketEvent } from "../src/adapters/market/types.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { Dec } from "../src/domain/decimal.ts";
import { runLive } from "../src/engine/live-run.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import { Params } from "../src/exchange-sim/exchange/params.ts";
import type { ExchangeSim } from "../src/exchange-sim/server.ts";
import {
  API_KEY,
  API_SECRET,
  brackets,
  config,
  instruments,
  startDouble,
  window,
} from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData(
  "reconciliation of a testnet run against exchange-sim, BTCUSDT+ETHUSDT 2025-05-05",
);

let sim: ExchangeSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** A pino logger whose JSON lines are kept in `lines`. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

describe.skipIf(!root)("reconciliation against the double (lockstep)", () => {
  it("another client's order: unknown order → REDUCING; once it filled: unexplained wallet → HALTED", async () => {
    const double = await startDouble(root!);
    sim = double.sim;
    const { url } = double;
    // Another client (its own clientOrderIds) places, while the run goes on, a LIMIT order that stays open, then
    // a MARKET order that fills at the next bar's open.
    const client = new USDMClient({ baseUrl: url, api_key: API_KEY, api_secret: API_SECRET });
    (client as unknown as { validateOrderId: () => void }).validateOrderId = () => {};
    const foreign = async (e: MarketEvent) => {
      if (e.kind !== "bar" || e.bar.symbol !== "ETHUSDT") return;
      client.setTimeOffset((await exchangeTime(url)) - Date.now());
      const minute = (e.bar.openTime - window.from) / 60_000;
      if (minute === 1)
        await client.submitNewOrder({
          symbol: "ETHUSDT",
          side: "BUY",
          type: "LIMIT",
          timeInForce: "GTC",
          quantity: "0.5",
          price: new Dec(e.bar.close).times("0.97").toDecimalPlaces(2).toFixed(),
          newClientOrderId: "web_limit_1",
        } as never);
      if (minute === 6)
        await client.submitNewOrder({
          symbol: "ETHUSDT",
          side: "BUY",
          type: "MARKET",
          quantity: "0.5",
          newClientOrderId: "web_market_1",
        } as never);
    };
    const { logger, lines } = capturingLogger();
    const store = new InMemoryEventStore();
    const wsUrl = url.replace(/^http/, "ws");
    const venue = new BinanceVenue({
      restUrl: url,
      wsUrl,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      symbols: config.symbols,
      logger,
      lockstep: true,
      clock: () => Date.now(),
    });
    const summary = await runLive("testnet", config, {
      store,
      logger,
      instruments,
      brackets,
      startTime: await exchangeTime(url),
      until: window.from + 12 * 60_000,
      reconcileEveryMs: 5 * 60_000,
      venue,
      openFeed: (from) => {
        const feed = openLiveMarketFeed({
          from,
          symbols: config.symbols,
          restUrl: url,
          wsUrl,
          logger,
          lockstep: true,
          apiKey: API_KEY,
        });
        return {
          events: feed.events,
          processed: async (e) => {
            await foreign(e);
            await feed.processed(e);
          },
          close: () => feed.close(),
        };
      },
    });
    expect(summary.completed).toBe(true);
    expect(summary.tradingState).toBe("HALTED");

    const risk: { type: string; data: Record<string, unknown> }[] = [];
    for await (const e of store.readStream(`risk-${config.accountId}`))
      risk.push({ type: e.type, data: e.data as Record<string, unknown> });
    const changes = risk.filter((e) => e.type === "TradingStateChanged").map((e) => e.data);
    expect(changes.map((c) => [c.from, c.to, c.by])).toEqual([
      ["ACTIVE", "REDUCING", "reconciliation"],
      ["REDUCING", "HALTED", "reconciliation"],
    ]);
    expect(changes[0]!.reason).toContain("unknown order web_limit_1 (ETHUSDT BUY LIMIT 0.5 @");
    // The double's ledger, read in-process (its clock runs on once the run stopped acknowledging).
    const fill = double.exchange.userTrades(new Params({ symbol: "ETHUSDT" }))[0]!;
    const venueWallet = String(
      (double.exchange.account().assets as { asset: string; walletBalance: string }[]).find(
        (a) => a.asset === "USDT",
      )!.walletBalance,
    );
    expect(Number(venueWallet)).toBeLessThan(Number(config.initialBalance)); // the commission of the foreign fill
    expect(changes[1]!.reason).toContain(
      `USDT wallet: engine ${config.initialBalance}, venue ${new Dec(venueWallet).toFixed()}`,
    );
    expect(changes[1]!.reason).toContain(`unknown position ETHUSDT BOTH 0.5 at the venue`);
    expect(changes[1]!.numbers).toMatchObject({
      "walletBalance.engine": config.initialBalance,
      "ETHUSDT.engine": "0",
      "ETHUSDT.venue": "0.5",
    });
    expect(Number(fill.qty)).toBe(0.5);
    const kinds = risk
      .filter((e) => e.type === "VenueReconciled")
      .map((e) => (e.data.discrepancies as { kind: string }[]).map((d) => d.kind));
    expect(kinds).toEqual([["unknownOrder"], ["unknownOrder", "unknownPosition", "walletMismatch"]]);

    // The halt is logged as JSON with both numbers.
    const halted = lines.find((l) => l.msg === "reconciliation: halted") as
      | { reconciliation: { numbers: Record<string, string>; trigger: string } }
      | undefined;
    expect(halted?.reconciliation.trigger).toBe("periodic");
    expect(Number(halted?.reconciliation.numbers["walletBalance.venue"])).toBe(Number(venueWallet));
    expect(halted?.reconciliation.numbers["walletBalance.engine"]).toBe(config.initialBalance);

    // Replayed without the venue, the verdicts are written again at their place and the re-run matches.
    const replay = await verifyReplay(store, { dataRoot: root!, logger: pino({ level: "silent" }) });
    expect(replay.differences).toEqual([]);
    expect(replay.ok).toBe(true);
  }, 300_000);
});
