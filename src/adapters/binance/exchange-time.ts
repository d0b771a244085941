/** The exchange's clock over REST (`GET /fapi/v1/time`, weight 1, binance-usdm.md §5.1). */

/**
 * The server time of the USDⓈ-M REST API at `restUrl` (ms epoch).
 * @throws Error naming the URL when the request fails or the answer has no integer `serverTime`.
 */
export async function exchangeTime(restUrl: string): Promise<number> {
  const url = new URL("/fapi/v1/time", restUrl);
  let body: unknown;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = await response.json();
  } catch (error) {
    throw new Error(`cannot read the exchange time from ${url.href}: ${(error as Error).message}`);
  }
  const serverTime = (body as { serverTime?: unknown } | null)?.serverTime;
  if (typeof serverTime !== "number" || !Number.isSafeInteger(serverTime))
    throw new Error(`${url.href} answered without an integer serverTime: ${JSON.stringify(body)}`);
  return serverTime;
}
