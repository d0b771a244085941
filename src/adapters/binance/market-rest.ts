/**
 * The public REST calls of the live market source, over the `binance` SDK's `USDMClient` (binance-usdm.md §7.1):
 * server time, closed 1m klines of a range (paged by 1 000) and realized funding settlements (paged by 1 000);
 * plus the lockstep acknowledgement of the local double (`POST /sim/v1/lockstep/ack`, live-contract.md).
 */
import type { USDMClient } from "binance";
import type { Bar } from "../market/types.ts";
import { barFromRestKline, type FundingRateRow, fundingRateRow, MINUTE_MS } from "./market-wire.ts";

/** What the live source asks over REST (a port, so the pipeline can be driven without a network). */
export interface MarketRest {
  /** `GET /fapi/v1/time`: the exchange's clock, ms epoch. */
  serverTime(): Promise<number>;
  /**
   * `GET /fapi/v1/klines` (1m): every bar of `symbol` with from ≤ openTime < to, in order, fetched in pages of
   * 1 000 (each page starts after the last bar of the one before). The caller asks only for minutes that closed.
   */
  klines(symbol: string, from: number, to: number): Promise<Bar[]>;
  /**
   * `GET /fapi/v1/fundingRate`: the settlements of `symbol` with from ≤ fundingTime ≤ to, in order, fetched in
   * pages of 1 000 (each page starts after the last settlement of the one before).
   */
  fundingRates(symbol: string, from: number, to: number): Promise<FundingRateRow[]>;
}

/**
 * Bars per `klines` request: 1 000 costs weight 5 (binance-usdm.md §5.1), 1 500 costs 10, so 1 000 fetches the
 * most bars per unit of weight (a 979-hour warm-up: 59 requests, weight 295, per symbol).
 */
const KLINES_PAGE = 1_000;
/** The weight of one `klines` request of `KLINES_PAGE` bars. */
const KLINES_PAGE_WEIGHT = 5;
/** Settlements per `fundingRate` request: Binance's maximum (weight 1; 500 requests per 5 minutes per IP). */
const FUNDING_PAGE = 1_000;
/**
 * The IP weight per minute the market source stays under before it waits for the next minute: below Binance's
 * REQUEST_WEIGHT of 2 400, leaving room for the venue's own requests (a many-symbol warm-up otherwise reaches it).
 */
export const MARKET_WEIGHT_BUDGET = 1_800;

/** Options of `usdmMarketRest`. */
export interface MarketRestOptions {
  /** Used weight of the current minute (`X-MBX-USED-WEIGHT-1M`) above which a klines page waits; default above. */
  weightBudget?: number;
  /** The wall clock the budget's minute is read on (default Date.now; the SDK stamps its counts with it). */
  wall?: () => number;
  /** Waits `ms` (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** Told when a klines page waits for the next minute (the used weight and the wait, ms). */
  onWait?: (usedWeight: number, waitMs: number) => void;
}

/**
 * `MarketRest` over an SDK client (its `baseUrl` or `testnet` option chooses the exchange). Before each klines
 * page, when the weight the exchange reported for the current wall minute (the SDK's `X-MBX-USED-WEIGHT-1M`) plus
 * the page's would pass `weightBudget`, it waits for the next minute.
 */
export function usdmMarketRest(client: USDMClient, options: MarketRestOptions = {}): MarketRest {
  const budget = options.weightBudget ?? MARKET_WEIGHT_BUDGET;
  const wall = options.wall ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pace = async (weight: number): Promise<void> => {
    const states = client.getRateLimitStates();
    const now = wall();
    const minute = Math.floor(now / MINUTE_MS);
    const used = Math.floor(states.lastUpdated / MINUTE_MS) === minute ? states["x-mbx-used-weight-1m"] : 0;
    if (used + weight <= budget) return;
    const waitMs = (minute + 1) * MINUTE_MS - now;
    options.onWait?.(used, waitMs);
    await sleep(waitMs);
  };
  return {
    serverTime: () => client.getServerTime(),
    async klines(symbol, from, to) {
      const bars: Bar[] = [];
      let cursor = from;
      while (cursor < to) {
        const pageStart = cursor;
        await pace(KLINES_PAGE_WEIGHT);
        const rows: unknown = await client.getKlines({
          symbol,
          interval: "1m",
          startTime: cursor,
          endTime: to - 1,
          limit: KLINES_PAGE,
        });
        if (!Array.isArray(rows)) throw new TypeError(`GET /fapi/v1/klines ${symbol}: not an array`);
        const page = rows.map((row, i) => barFromRestKline(symbol, row, i));
        for (const bar of page) {
          if (bar.openTime < cursor || bar.openTime >= to) continue; // outside what was asked
          bars.push(bar);
          cursor = bar.openTime + MINUTE_MS;
        }
        if (page.length < KLINES_PAGE || cursor === pageStart) break;
      }
      return bars;
    },
    async fundingRates(symbol, from, to) {
      const out: FundingRateRow[] = [];
      let cursor = from;
      while (cursor <= to) {
        const rows: unknown = await client.getFundingRateHistory({
          symbol,
          startTime: cursor,
          endTime: to,
          limit: FUNDING_PAGE,
        });
        if (!Array.isArray(rows)) throw new TypeError(`GET /fapi/v1/fundingRate ${symbol}: not an array`);
        const page = rows
          .map((row, i) => fundingRateRow(row, i))
          .filter((row) => row.symbol === symbol && row.fundingTime >= cursor && row.fundingTime <= to)
          .sort((a, b) => a.fundingTime - b.fundingTime);
        out.push(...page);
        if (rows.length < FUNDING_PAGE || page.length === 0) break;
        cursor = page.at(-1)!.fundingTime + 1;
      }
      return out;
    },
  };
}

/**
 * `POST {restUrl}/sim/v1/lockstep/ack` (no body; `X-MBX-APIKEY` when `apiKey` is given: the double checks it).
 * Resolves true when the double took the ack, false when it answered 409 (no step message waiting: e.g. the
 * connection the message came on closed, which ends the double's wait).
 * @throws Error naming the status and body for any other answer than 2xx or 409.
 */
export async function lockstepAck(restUrl: string, apiKey: string | undefined): Promise<boolean> {
  const response = await fetch(`${restUrl.replace(/\/$/, "")}/sim/v1/lockstep/ack`, {
    method: "POST",
    headers: apiKey === undefined ? {} : { "X-MBX-APIKEY": apiKey },
  });
  if (response.status === 409) return false;
  if (!response.ok) {
    throw new Error(`POST /sim/v1/lockstep/ack: HTTP ${response.status} ${await response.text()}`);
  }
  return true;
}
