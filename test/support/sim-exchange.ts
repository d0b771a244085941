/**
 * Test harness of the double's exchange core: a `SimExchange` behind `tradingRoutes` on a bare fastify instance
 * (no auth hook), its user events collected, REST calls as the SDK sends them (urlencoded body or query string),
 * and the real archive's market events of a window.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { archiveMarketEvents, discoverArchive } from "../../src/adapters/market/archive.ts";
import { isPriced, type MarketEvent } from "../../src/adapters/market/types.ts";
import { bundledInstrumentCatalog } from "../../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../../src/domain/margin/brackets.catalog.ts";
import {
  SimExchange,
  type SimExchangeOptions,
  tradingRoutes,
  type UserEvent,
} from "../../src/exchange-sim/exchange/index.ts";
import { collect } from "./market.ts";

/** A JSON body or message as received: tests read Binance's fields by name. */
// biome-ignore lint/suspicious/noExplicitAny: wire JSON, checked field by field by the tests
export type Wire = any;

export interface Harness {
  exchange: SimExchange;
  app: FastifyInstance;
  events: UserEvent[];
  /** A REST call; params in the body (POST, DELETE) or the query (GET) unless `where` says otherwise. */
  call(
    method: "GET" | "POST" | "DELETE",
    url: string,
    params?: Record<string, string>,
    where?: "query" | "body",
  ): Promise<{ status: number; body: Wire }>;
  /** Feeds one market event (exchange time = the bar's closeTime, or the settlement time). */
  feed(e: MarketEvent): Promise<void>;
  close(): Promise<void>;
}

/** A double over BTCUSDT (and `symbols`), 10000 USDT unless `options` say otherwise. */
export async function simHarness(options: Partial<SimExchangeOptions> = {}): Promise<Harness> {
  const exchange = new SimExchange({
    instruments: bundledInstrumentCatalog(),
    brackets: bundledLeverageBracketCatalog(),
    symbols: ["BTCUSDT"],
    walletBalance: "10000",
    ...options,
  });
  const events: UserEvent[] = [];
  exchange.onUserEvent(async (m) => {
    events.push(m);
  });
  const app = Fastify();
  await app.register(tradingRoutes, { exchange });
  await app.ready();
  return {
    exchange,
    app,
    events,
    async call(method, url, params = {}, where) {
      const qs = new URLSearchParams(params).toString();
      const inQuery = (where ?? (method === "GET" ? "query" : "body")) === "query";
      const r = await app.inject(
        inQuery
          ? { method, url: qs ? `${url}?${qs}` : url }
          : { method, url, payload: qs, headers: { "content-type": "application/x-www-form-urlencoded" } },
      );
      await exchange.idle();
      return { status: r.statusCode, body: r.json() };
    },
    async feed(e) {
      if (e.kind === "bar") {
        exchange.now = e.bar.closeTime;
        await exchange.onBar(e.bar, e.mark);
      } else if (e.kind === "funding" && isPriced(e.funding)) {
        exchange.now = e.funding.fundingTime;
        await exchange.onFunding(e.funding);
      }
    },
    close: () => app.close(),
  };
}

/** The archive's market events of `symbols` in [from, to) under `root`. */
export async function marketEvents(
  root: string,
  symbols: string[],
  from: number,
  to: number,
): Promise<MarketEvent[]> {
  const files = await discoverArchive(root, { symbols, from, to });
  return collect(archiveMarketEvents(files, { from, to }));
}
