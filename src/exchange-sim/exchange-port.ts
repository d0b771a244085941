/**
 * The exchange core as the server sees it: what `SimExchange` (src/exchange-sim/exchange/) offers the server
 * (live-contract.md "sim-exchange → sim-server"). The server sets `now`, feeds it the replay's bars and funding
 * settlements, forwards its user events to the private WebSockets, and registers its trading routes.
 */
import type { FastifyPluginAsync } from "fastify";
import type { VenueBar, VenueFundingSettlement, VenueMarkBar } from "../adapters/venue/simulated/venue.ts";

/** One user-data message in Binance's wire format (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, ALGO_UPDATE, …). */
export type UserEventMessage = Record<string, unknown>;

/** The part of `SimExchange` the server drives. */
export interface ExchangeCore {
  /** Exchange time, ms epoch: the server sets it before each replay step and each request. */
  now: number;
  /** Matches one closed 1m bar (with its 1m mark-price bar when the archive has one). */
  onBar(bar: VenueBar, mark?: VenueMarkBar): Promise<void>;
  /** Settles funding. */
  onFunding(settlement: VenueFundingSettlement): Promise<void>;
  /** The one listener of user events; the exchange awaits it per message. */
  onUserEvent(listener: (message: UserEventMessage) => Promise<void>): void;
}

/**
 * The exchange's trading and account routes (`tradingRoutes` of src/exchange-sim/exchange/). Each route sets
 * `config: { security: "SIGNED" | "API_KEY" }`; the server's hook checks the key, signature and timestamp.
 */
export type TradingRoutes<E extends ExchangeCore> = FastifyPluginAsync<{ exchange: E }>;
