/**
 * The public REST endpoints (MARKET_DATA, no key): `GET /fapi/v1/ping`, `time`, `exchangeInfo`, `klines`,
 * `markPriceKlines`, `fundingRate`, `premiumIndex`, and `depth` from the recorded captures (book-capture.ts), answering from what the replay has published (`MarketHistory`) at the exchange
 * clock's `now`: only closed bars and settlements at or before it. Parameter errors answer as Binance does
 * (-1102 missing, -1100 not an integer, -1121 symbol not replayed, -1120 an interval not served, -1130 limit).
 * Klines of intervals above 1m are aggregated from the 1m bars (klines.ts).
 */
import type { FastifyInstance } from "fastify";
import type { BookCapture } from "./book-capture.ts";
import { BinanceApiError, integerParameter, invalidSymbol, mandatoryParameter } from "./errors.ts";
import { KLINE_INTERVALS_MS, klines } from "./klines.ts";
import type { MarketHistory, WindowQuery } from "./market-history.ts";
import type { RouteWeight } from "./weight.ts";
import { fundingRateItem, klineRow, markKlineRow, premiumIndexItem } from "./wire.ts";

/** What the public routes read. */
export interface PublicRouteDeps {
  history: MarketHistory;
  /** The exchange clock, ms epoch. */
  now: () => number;
  /** The `GET /fapi/v1/exchangeInfo` body at exchange time `now` (see exchange-info.ts). */
  exchangeInfo: (now: number) => Record<string, unknown>;
  /** The recorded books (`GET /fapi/v1/depth`), when the double replays captures. */
  book?: BookCapture;
}

/** Weight of `klines` by `limit` (binance-usdm.md §5.1): 1 / 2 / 5 / 10 for < 100 / < 500 / ≤ 1000 / > 1000. */
export const klinesWeight: RouteWeight = (query) => {
  const limit = Number(query.limit ?? 500);
  return limit < 100 ? 1 : limit < 500 ? 2 : limit <= 1000 ? 5 : 10;
};

/** The `limit`s of `GET /fapi/v1/depth`. */
const DEPTH_LIMITS = [5, 10, 20, 50, 100, 500, 1000];

/** Weight of `depth` by `limit` (binance-usdm.md §5.1): 2 (5–50), 5 (100), 10 (500), 20 (1000). */
export const depthRouteWeight: RouteWeight = (query) => {
  const limit = Number(query.limit ?? 500);
  return limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20;
};

/** Registers the public routes on `app`. */
export function publicRoutes(app: FastifyInstance, deps: PublicRouteDeps): void {
  const { history, now } = deps;
  type Query = { Querystring: Record<string, string | undefined> };

  app.get("/fapi/v1/ping", { config: { weight: 1 } }, async () => ({}));
  app.get("/fapi/v1/time", { config: { weight: 1 } }, async () => ({ serverTime: now() }));
  app.get("/fapi/v1/exchangeInfo", { config: { weight: 1 } }, async () => deps.exchangeInfo(now()));

  for (const [path, source] of [
    ["/fapi/v1/klines", "trade"],
    ["/fapi/v1/markPriceKlines", "mark"],
  ] as const)
    app.get<Query>(path, { config: { weight: klinesWeight } }, async (request) => {
      const q = request.query;
      const symbol = replayedSymbol(history, q.symbol);
      if (q.interval === undefined || q.interval === "") throw mandatoryParameter("interval");
      if (KLINE_INTERVALS_MS[q.interval] === undefined)
        throw new BinanceApiError(400, -1120, "Invalid interval.");
      const rows = klines(history, symbol, q.interval, windowOf(q, 500, 1500), now(), source);
      return rows.map(source === "trade" ? klineRow : markKlineRow);
    });

  app.get<Query>("/fapi/v1/fundingRate", { config: { weight: 1 } }, async (request) => {
    const q = request.query;
    const window = windowOf(q, 100, 1000);
    const symbols =
      q.symbol === undefined || q.symbol === "" ? history.symbols : [replayedSymbol(history, q.symbol)];
    const items = symbols
      .flatMap((s) => history.funding(s, window))
      .sort((a, b) => a.fundingTime - b.fundingTime || (a.symbol < b.symbol ? -1 : 1));
    const picked = window.startTime !== undefined ? items.slice(0, window.limit) : items.slice(-window.limit);
    return picked.map(fundingRateItem);
  });

  app.get<Query>("/fapi/v1/depth", { config: { weight: depthRouteWeight } }, async (request) => {
    const q = request.query;
    const symbol = replayedSymbol(history, q.symbol);
    const limit = integerParameter(q, "limit") ?? 500;
    if (!DEPTH_LIMITS.includes(limit))
      throw new BinanceApiError(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const body = deps.book?.depth(symbol, limit, now());
    if (body === undefined)
      throw new BinanceApiError(400, -1, `exchange-sim: no depth capture of ${symbol} (--captures)`);
    return body;
  });

  const premiumIndexWeight: RouteWeight = (query) =>
    query.symbol === undefined || query.symbol === "" ? 10 : 1;
  app.get<Query>("/fapi/v1/premiumIndex", { config: { weight: premiumIndexWeight } }, async (request) => {
    const q = request.query;
    const at = now();
    const item = (symbol: string) => {
      const mark = history.markPrice(symbol);
      if (mark === undefined) throw new BinanceApiError(400, -1121, "Invalid symbol.");
      return premiumIndexItem(symbol, mark, history.fundingAnnouncement(symbol, at), at);
    };
    if (q.symbol === undefined || q.symbol === "")
      return history.symbols.filter((s) => history.markPrice(s) !== undefined).map(item);
    return item(replayedSymbol(history, q.symbol));
  });
}

/** The replayed symbol `raw` names. @throws BinanceApiError -1102 when absent, -1121 when not replayed. */
function replayedSymbol(history: MarketHistory, raw: string | undefined): string {
  if (raw === undefined || raw === "") throw mandatoryParameter("symbol");
  if (!history.has(raw)) throw invalidSymbol();
  return raw;
}

/**
 * startTime, endTime and limit (default `defaultLimit`, at most `maxLimit`) of a query.
 * @throws BinanceApiError -1100 for a non-integer, -1130 for a limit of 0 or above `maxLimit`.
 */
function windowOf(
  q: Record<string, string | undefined>,
  defaultLimit: number,
  maxLimit: number,
): WindowQuery {
  const limit = integerParameter(q, "limit") ?? defaultLimit;
  if (limit < 1 || limit > maxLimit)
    throw new BinanceApiError(400, -1130, "Data sent for parameter 'limit' is not valid.");
  const startTime = integerParameter(q, "startTime");
  const endTime = integerParameter(q, "endTime");
  return {
    limit,
    ...(startTime === undefined ? {} : { startTime }),
    ...(endTime === undefined ? {} : { endTime }),
  };
}
