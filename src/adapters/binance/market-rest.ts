/**
 * The public REST calls of the live market source, over the `binance` SDK's `USDMClient` (binance-usdm.md §7.1):
 * server time, closed 1m klines of a range (paged by 1 000) and realized funding settlements; plus the lockstep
 * acknowledgement of the local double (`POST /sim/v1/lockstep/ack`, live-contract.md).
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
  /** `GET /fapi/v1/fundingRate`: the settlements of `symbol` with from ≤ fundingTime ≤ to, in order. */
  fundingRates(symbol: string, from: number, to: number): Promise<FundingRateRow[]>;
}

const PAGE = 1_000;

/** `MarketRest` over an SDK client (its `baseUrl` or `testnet` option chooses the exchange). */
export function usdmMarketRest(client: USDMClient): MarketRest {
  return {
    serverTime: () => client.getServerTime(),
    async klines(symbol, from, to) {
      const bars: Bar[] = [];
      let cursor = from;
      while (cursor < to) {
        const pageStart = cursor;
        const rows: unknown = await client.getKlines({
          symbol,
          interval: "1m",
          startTime: cursor,
          endTime: to - 1,
          limit: PAGE,
        });
        if (!Array.isArray(rows)) throw new TypeError(`GET /fapi/v1/klines ${symbol}: not an array`);
        const page = rows.map((row, i) => barFromRestKline(symbol, row, i));
        for (const bar of page) {
          if (bar.openTime < cursor || bar.openTime >= to) continue; // outside what was asked
          bars.push(bar);
          cursor = bar.openTime + MINUTE_MS;
        }
        if (page.length < PAGE || cursor === pageStart) break;
      }
      return bars;
    },
    async fundingRates(symbol, from, to) {
      const rows: unknown = await client.getFundingRateHistory({
        symbol,
        startTime: from,
        endTime: to,
        limit: 1000,
      });
      if (!Array.isArray(rows)) throw new TypeError(`GET /fapi/v1/fundingRate ${symbol}: not an array`);
      return rows
        .map((row, i) => fundingRateRow(row, i))
        .filter((row) => row.symbol === symbol && row.fundingTime >= from && row.fundingTime <= to)
        .sort((a, b) => a.fundingTime - b.fundingTime);
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
