/**
 * The order parameters of `POST /fapi/v1/order` and `POST /fapi/v1/algoOrder` as the venue's `OrderRequest`
 * (binance-usdm.md §2.2, §2.4), and the history window of the list endpoints. Per-type rules (mandatory and
 * forbidden parameters, filters, precision) are `validateOrder`'s, run by the venue at submit.
 */
import type { OrderRequest } from "../../engine/venue.ts";
import { BinanceError, mandatory, type Params } from "./params.ts";

/** The five conditional types (Algo Order API, binance-usdm.md §2.4). */
export const CONDITIONAL_TYPES = [
  "STOP",
  "STOP_MARKET",
  "TAKE_PROFIT",
  "TAKE_PROFIT_MARKET",
  "TRAILING_STOP_MARKET",
] as const;
const TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX", "GTD"] as const;
const STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"] as const;

/**
 * The venue's request of an order's parameters. `purpose` is ENTRY for every order (the venue does not read it).
 * @throws BinanceError -1102 side missing, -1117 side, -1115 timeInForce, -4061 positionSide, -1130 other
 * enums, -1100 malformed decimals or integers, -1130 priceMatch (not supported by the double).
 */
export function orderRequest(
  p: Params,
  symbol: string,
  type: OrderRequest["type"],
  clientOrderId: string,
): OrderRequest {
  const side = p.oneOf("side", ["BUY", "SELL"], -1117, "Invalid side.");
  if (side === undefined) throw mandatory("side");
  const positionSide =
    p.oneOf(
      "positionSide",
      ["BOTH", "LONG", "SHORT"],
      -4061,
      "Order's position side does not match user's setting.",
    ) ?? "BOTH";
  const priceMatch = p.raw("priceMatch");
  if (priceMatch !== undefined && priceMatch !== "NONE")
    throw new BinanceError(
      -1130,
      "Data sent for parameter 'priceMatch' is not valid (the double does not support priceMatch).",
    );
  const optional = {
    quantity: p.decimal("quantity"),
    price: p.decimal("price"),
    timeInForce: p.oneOf("timeInForce", TIME_IN_FORCE, -1115, "Invalid timeInForce."),
    goodTillDate: p.integer("goodTillDate"),
    triggerPrice: p.decimal("triggerPrice"),
    workingType: p.oneOf(
      "workingType",
      ["MARK_PRICE", "CONTRACT_PRICE"],
      -1130,
      "Data sent for parameter 'workingType' is not valid.",
    ),
    priceProtect: p.boolean("priceProtect"),
    closePosition: p.boolean("closePosition"),
    activatePrice: p.decimal("activatePrice"),
    callbackRate: p.decimal("callbackRate"),
    selfTradePreventionMode: p.oneOf(
      "selfTradePreventionMode",
      STP_MODES,
      -1130,
      "Data sent for parameter 'selfTradePreventionMode' is not valid.",
    ),
  };
  const request: Record<string, unknown> = {
    clientOrderId,
    symbol,
    side,
    type,
    purpose: "ENTRY",
    positionSide,
    reduceOnly: p.boolean("reduceOnly") ?? false,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) request[k] = v;
  return request as unknown as OrderRequest;
}

/**
 * A history window as Binance's history endpoints answer: with `startTime`/`endTime` (or `fromStart`, an id
 * lower bound) the first `limit` items from there, else the latest `limit` items. Items are in time order.
 */
export function historyWindow<T>(
  list: T[],
  p: Params,
  time: (x: T) => number,
  limit: number,
  fromStart: boolean,
): T[] {
  const start = p.integer("startTime");
  const end = p.integer("endTime");
  if (start !== undefined && end !== undefined && end < start)
    throw new BinanceError(-1130, "Data sent for parameter 'endTime' is not valid.");
  const within = list.filter(
    (x) => (start === undefined || time(x) >= start) && (end === undefined || time(x) <= end),
  );
  return fromStart || start !== undefined ? within.slice(0, limit) : within.slice(-limit);
}
