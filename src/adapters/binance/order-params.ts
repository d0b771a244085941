/**
 * OrderSubmitted → Binance request parameters (binance-usdm.md §2.1–§2.4). LIMIT and MARKET go to
 * `POST /fapi/v1/order`; the five conditional types to `POST /fapi/v1/algoOrder` (`algoType=CONDITIONAL`,
 * `clientAlgoId` = our clientOrderId). Every value is a string: prices and quantities are the recorded decimal
 * strings, never numbers (§7.1, -1111); booleans are sent only when true (reduceOnly is refused in hedge mode,
 * -1106, and the engine never sets it there).
 *
 * | OrderSubmitted            | /fapi/v1/order           | /fapi/v1/algoOrder                      |
 * |---------------------------|--------------------------|-----------------------------------------|
 * | clientOrderId             | newClientOrderId         | clientAlgoId                            |
 * | symbol, side, positionSide| symbol, side, positionSide | same                                  |
 * | type                      | type (LIMIT, MARKET)     | type (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET) |
 * | quantity                  | quantity                 | quantity (absent with closePosition)    |
 * | price                     | price (LIMIT)            | price (STOP, TAKE_PROFIT)               |
 * | timeInForce               | timeInForce (LIMIT; GTC when absent) | timeInForce (when given)    |
 * | goodTillDate              | goodTillDate (GTD)       | goodTillDate                            |
 * | reduceOnly                | reduceOnly=true          | reduceOnly=true                         |
 * | selfTradePreventionMode   | selfTradePreventionMode  | selfTradePreventionMode                 |
 * | triggerPrice              | —                        | triggerPrice                            |
 * | workingType               | —                        | workingType                             |
 * | priceProtect              | —                        | priceProtect=TRUE                       |
 * | closePosition             | —                        | closePosition=true                      |
 * | activatePrice, callbackRate | —                      | activatePrice, callbackRate             |
 * | purpose, siblingClientOrderId | (engine-only)        | (engine-only)                           |
 * Regular orders ask `newOrderRespType=ACK`: fills come from the user data stream.
 */
import type { OrderRequest } from "../../engine/venue.ts";
import { CONDITIONAL_ORDER_TYPES } from "../../events/catalog.ts";

/** Whether the order goes to the Algo Order API. */
export function isAlgoOrder(order: Pick<OrderRequest, "type">): boolean {
  return (CONDITIONAL_ORDER_TYPES as readonly string[]).includes(order.type);
}

/** The parameters of the new-order request for `order` (module table). */
export function orderParams(order: OrderRequest): Record<string, string> {
  const p: Record<string, string> = {
    symbol: order.symbol,
    side: order.side,
    positionSide: order.positionSide,
    type: order.type,
  };
  const algo = isAlgoOrder(order);
  if (algo) {
    p["algoType"] = "CONDITIONAL";
    p["clientAlgoId"] = order.clientOrderId;
  } else {
    p["newClientOrderId"] = order.clientOrderId;
    p["newOrderRespType"] = "ACK";
  }
  if (order.quantity !== undefined && !order.closePosition) p["quantity"] = order.quantity;
  if (order.price !== undefined) p["price"] = order.price;
  if (order.timeInForce !== undefined) p["timeInForce"] = order.timeInForce;
  else if (order.type === "LIMIT") p["timeInForce"] = "GTC";
  if (order.goodTillDate !== undefined) p["goodTillDate"] = String(order.goodTillDate);
  if (order.reduceOnly) p["reduceOnly"] = "true";
  if (order.selfTradePreventionMode !== undefined)
    p["selfTradePreventionMode"] = order.selfTradePreventionMode;
  if (!algo) return p;
  if (order.triggerPrice !== undefined) p["triggerPrice"] = order.triggerPrice;
  if (order.workingType !== undefined) p["workingType"] = order.workingType;
  if (order.priceProtect) p["priceProtect"] = "TRUE";
  if (order.closePosition) p["closePosition"] = "true";
  if (order.activatePrice !== undefined) p["activatePrice"] = order.activatePrice;
  if (order.callbackRate !== undefined) p["callbackRate"] = order.callbackRate;
  return p;
}
