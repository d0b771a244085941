/**
 * The exchange core of the local Binance double (issue 7 item 6): `SimExchange` (orders, algo orders, the
 * account ledger, user events) and `tradingRoutes`, the fastify plugin of its REST routes.
 */
export {
  SIM_EXCHANGE_DEFAULTS,
  SimExchange,
  type SimExchangeOptions,
  type UserEvent,
  type UserEventListener,
} from "./exchange.ts";
export { BinanceError, Params } from "./params.ts";
export { type RouteSecurity, tradingRoutes } from "./routes.ts";
