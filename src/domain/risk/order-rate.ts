/**
 * Order-rate limit in market time: at most `orderRate.orders` orders within any `orderRate.windowMs`: an order at
 * time t is denied when `orders` earlier orders were sent in (t − windowMs, t].
 */
import type { PreTradeRule } from "./types.ts";

/** Denies an order beyond `limits.orderRate`. */
export const orderRate: PreTradeRule = (_intent, snapshot, limits) => {
  if (limits.orderRate === undefined) return undefined;
  const { orders, windowMs } = limits.orderRate;
  const since = snapshot.time - windowMs;
  let recent = 0;
  for (const t of snapshot.orderTimes) if (t > since && t <= snapshot.time) recent++;
  if (recent < orders) return undefined;
  return {
    rule: "orderRate",
    reason: `${recent} orders were sent in the last ${windowMs} ms of market time, the limit is ${orders}`,
    numbers: { recentOrders: String(recent), limit: String(orders), windowMs: String(windowMs) },
  };
};
