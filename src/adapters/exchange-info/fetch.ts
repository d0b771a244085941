/**
 * `perpsource instruments refresh`: fetches `GET {base}/fapi/v1/exchangeInfo` (binance-usdm.md §1.1, weight 1),
 * validates it and saves the body exactly as received as `exchangeInfo-YYYY-MM-DD.json` (the UTC day of its
 * serverTime), the layout of the shared data's `futures/um/exchangeInfo/`.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InstrumentCatalog } from "../../domain/instruments.catalog.ts";
import { parseJson } from "./load.ts";

/** Binance USDⓈ-M REST origin. */
export const DEFAULT_FAPI_BASE_URL = "https://fapi.binance.com";

/** Options of `refreshExchangeInfo`. */
export interface RefreshExchangeInfoOptions {
  /** REST origin; default https://fapi.binance.com. */
  baseUrl?: string;
  /** Directory the file is written to (created when missing). */
  dest: string;
  /** HTTP client; default the global fetch. */
  fetchImpl?: typeof fetch;
  /** Abort the request after this many ms; default 30 000. */
  timeoutMs?: number;
}

/** A saved snapshot. */
export interface RefreshedExchangeInfo {
  /** Absolute path of the written `exchangeInfo-YYYY-MM-DD.json`. */
  path: string;
  bytes: number;
  catalog: InstrumentCatalog;
}

/** The endpoint answered with an HTTP error or could not be reached. */
export class ExchangeInfoFetchError extends Error {
  override name = "ExchangeInfoFetchError";
}

/**
 * Fetches, validates and saves one exchangeInfo response. Nothing is written unless the body is a valid
 * exchangeInfo; the file is written to a temporary name, then renamed.
 * @throws ExchangeInfoFetchError (network failure, timeout, non-2xx status with the start of the body),
 *   ExchangeInfoError naming the URL (not JSON, or the JSON path of each problem).
 */
export async function refreshExchangeInfo(
  options: RefreshExchangeInfoOptions,
): Promise<RefreshedExchangeInfo> {
  const url = `${(options.baseUrl ?? DEFAULT_FAPI_BASE_URL).replace(/\/+$/, "")}/fapi/v1/exchangeInfo`;
  const fetchImpl = options.fetchImpl ?? fetch;
  let response: Response;
  let body: string;
  try {
    response = await fetchImpl(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
    body = await response.text();
  } catch (err) {
    throw new ExchangeInfoFetchError(`GET ${url} failed: ${(err as Error).message}`);
  }
  if (!response.ok) {
    const excerpt = body.length > 200 ? `${body.slice(0, 200)}…` : body;
    throw new ExchangeInfoFetchError(
      `GET ${url}: HTTP ${response.status} ${response.statusText}${excerpt === "" ? "" : `: ${excerpt}`}`,
    );
  }
  const source = `response of GET ${url}`;
  const catalog = InstrumentCatalog.fromExchangeInfo(parseJson(body, source), source);
  await mkdir(options.dest, { recursive: true });
  const path = resolve(options.dest, `exchangeInfo-${catalog.snapshotDate}.json`);
  await writeFile(`${path}.partial`, body);
  await rename(`${path}.partial`, path);
  return { path, bytes: Buffer.byteLength(body), catalog };
}
