/**
 * Stream names. One aggregate, one stream: `symbol-<SYMBOL>`, `order-<clientOrderId>`, `account-<id>`,
 * `run-<id>`.
 */
export const streams = {
  symbol: (symbol: string) => `symbol-${symbol}`,
  order: (clientOrderId: string) => `order-${clientOrderId}`,
  account: (accountId: string) => `account-${accountId}`,
  run: (runId: string) => `run-${runId}`,
} as const;

/** The aggregate category of a stream name (`order`, `symbol`, …), or undefined for a foreign name. */
export function streamCategory(stream: string): "symbol" | "order" | "account" | "run" | undefined {
  const dash = stream.indexOf("-");
  const category = dash > 0 ? stream.slice(0, dash) : "";
  return category === "symbol" || category === "order" || category === "account" || category === "run"
    ? category
    : undefined;
}
