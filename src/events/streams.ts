/**
 * Stream names. One aggregate, one stream: `symbol-<SYMBOL>` (market facts), `trade-<SYMBOL>` (the strategy's
 * decisions and its position's lifecycle), `order-<clientOrderId>`, `account-<id>`, `risk-<accountId>` (trading state and limits), `run-<id>`.
 */
export const streams = {
  symbol: (symbol: string) => `symbol-${symbol}`,
  trade: (symbol: string) => `trade-${symbol}`,
  order: (clientOrderId: string) => `order-${clientOrderId}`,
  account: (accountId: string) => `account-${accountId}`,
  risk: (accountId: string) => `risk-${accountId}`,
  run: (runId: string) => `run-${runId}`,
} as const;

/** The aggregate categories, one per stream kind. */
export type StreamCategory = "symbol" | "trade" | "order" | "account" | "risk" | "run";
const categories = new Set<string>(["symbol", "trade", "order", "account", "risk", "run"]);

/** The aggregate category of a stream name (`order`, `symbol`, …), or undefined for a foreign name. */
export function streamCategory(stream: string): StreamCategory | undefined {
  const dash = stream.indexOf("-");
  const category = dash > 0 ? stream.slice(0, dash) : "";
  return categories.has(category) ? (category as StreamCategory) : undefined;
}
