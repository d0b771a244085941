/**
 * The fastify plugin of the double's trading and account routes (contract: /work/notes/live-contract.md), paths
 * as Binance's. Parameters come from the query string and/or an `application/x-www-form-urlencoded` body, as
 * the `binance` SDK sends them; answers are Binance's JSON shapes; a `BinanceError` is HTTP 400 (or its status)
 * with body `{ code, msg }`. Every route sets `config.security` (`SIGNED` or `API_KEY`), which the server's hook
 * enforces; this plugin checks no signature itself.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { SimExchange } from "./exchange.ts";
import { BinanceError, Params } from "./params.ts";

/** The security a route asks of the server's auth hook (binance-usdm.md §5.1). */
export type RouteSecurity = "SIGNED" | "API_KEY";

type Handler = (exchange: SimExchange, p: Params) => unknown;

const FORM = "application/x-www-form-urlencoded";

/** method, path, security, handler: every route of the plugin. */
const ROUTES: ReadonlyArray<readonly ["GET" | "POST" | "DELETE", string, RouteSecurity, Handler]> = [
  ["POST", "/fapi/v1/order", "SIGNED", (x, p) => x.newOrder(p)],
  ["DELETE", "/fapi/v1/order", "SIGNED", (x, p) => x.cancelOrder(p)],
  ["GET", "/fapi/v1/order", "SIGNED", (x, p) => x.getOrder(p)],
  ["DELETE", "/fapi/v1/allOpenOrders", "SIGNED", (x, p) => x.cancelAllOpenOrders(p)],
  ["GET", "/fapi/v1/openOrders", "SIGNED", (x, p) => x.openOrders(p)],
  ["GET", "/fapi/v1/allOrders", "SIGNED", (x, p) => x.allOrders(p)],
  ["POST", "/fapi/v1/algoOrder", "SIGNED", (x, p) => x.newAlgoOrder(p)],
  ["DELETE", "/fapi/v1/algoOrder", "SIGNED", (x, p) => x.cancelAlgoOrder(p)],
  ["GET", "/fapi/v1/algoOrder", "SIGNED", (x, p) => x.getAlgoOrder(p)],
  ["GET", "/fapi/v1/openAlgoOrders", "SIGNED", (x, p) => x.openAlgoOrders(p)],
  ["GET", "/fapi/v1/allAlgoOrders", "SIGNED", (x, p) => x.allAlgoOrders(p)],
  ["DELETE", "/fapi/v1/algoOpenOrders", "SIGNED", (x, p) => x.cancelAllAlgoOpenOrders(p)],
  ["GET", "/fapi/v1/userTrades", "SIGNED", (x, p) => x.userTrades(p)],
  ["GET", "/fapi/v3/positionRisk", "SIGNED", (x, p) => x.positionRisk(p)],
  ["GET", "/fapi/v3/account", "SIGNED", (x) => x.account()],
  ["GET", "/fapi/v3/balance", "SIGNED", (x) => x.balance()],
  ["GET", "/fapi/v1/commissionRate", "SIGNED", (x, p) => x.commissionRate(p)],
  ["POST", "/fapi/v1/leverage", "SIGNED", (x, p) => x.setLeverage(p)],
  ["POST", "/fapi/v1/marginType", "SIGNED", (x, p) => x.setMarginType(p)],
  ["GET", "/fapi/v1/positionSide/dual", "SIGNED", (x) => x.positionMode()],
  ["POST", "/fapi/v1/positionSide/dual", "SIGNED", (x, p) => x.setPositionMode(p)],
  ["GET", "/fapi/v1/leverageBracket", "SIGNED", (x, p) => x.leverageBracket(p)],
  ["GET", "/fapi/v1/income", "SIGNED", (x, p) => x.income(p)],
  ["GET", "/fapi/v1/feeBurn", "SIGNED", (x) => x.feeBurnStatus()],
  ["POST", "/fapi/v1/feeBurn", "SIGNED", (x, p) => x.setFeeBurn(p)],
];

/**
 * Registers every trading/account route of `exchange`. Registers a parser for urlencoded bodies (the body as
 * its raw string, so the server's signature check can read it as sent) unless the server already has one.
 */
export const tradingRoutes: FastifyPluginAsync<{ exchange: SimExchange }> = async (app, { exchange }) => {
  if (!app.hasContentTypeParser(FORM))
    app.addContentTypeParser(FORM, { parseAs: "string" }, (_request, body, done) => done(null, body));
  for (const [method, url, security, handler] of ROUTES) {
    app.route({
      method,
      url,
      config: { security },
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        try {
          return await handler(exchange, new Params(request.query, request.body));
        } catch (error) {
          if (error instanceof BinanceError)
            return reply.code(error.status).send({ code: error.code, msg: error.msg });
          throw error;
        }
      },
    });
  }
};
