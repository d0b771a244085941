/**
 * The `GET /fapi/v1/exchangeInfo` body the double serves: the instruments snapshot of the run (the bundled
 * `src/domain/instruments.snapshot.json`, or the raw response saved in `--instruments FILE`) with only the
 * replayed symbols, their entries as the snapshot holds them, and `serverTime` = the exchange clock.
 */
import { readFileSync } from "node:fs";
import bundledSnapshot from "../domain/instruments.snapshot.json" with { type: "json" };

/** The raw snapshot: a saved exchangeInfo response or the bundled trimmed copy (`symbols`, `rateLimits`, …). */
export type ExchangeInfoSnapshot = { symbols: unknown[]; rateLimits: unknown[]; assets?: unknown[] };

/**
 * The snapshot of `path` (a saved raw response), or the bundled one when `path` is undefined.
 * @throws Error naming the file when it cannot be read, is not JSON, or has no `symbols` / `rateLimits` arrays.
 */
export function loadExchangeInfoSnapshot(path: string | undefined): ExchangeInfoSnapshot {
  if (path === undefined) return bundledSnapshot as ExchangeInfoSnapshot;
  const json = JSON.parse(readFileSync(path, "utf8")) as Partial<ExchangeInfoSnapshot>;
  if (!Array.isArray(json.symbols) || !Array.isArray(json.rateLimits))
    throw new Error(`${path}: not an exchangeInfo response (expected "symbols" and "rateLimits" arrays)`);
  return json as ExchangeInfoSnapshot;
}

/**
 * The exchangeInfo body of `symbols` at exchange time `now`: Binance's top-level fields, the snapshot's rate
 * limits and assets (USDT only when it has none), and the snapshot's entries of `symbols`, in its order.
 * @throws Error naming the symbols the snapshot does not list.
 */
export function exchangeInfoBody(
  snapshot: ExchangeInfoSnapshot,
  symbols: readonly string[],
): (now: number) => Record<string, unknown> {
  const wanted = new Set(symbols);
  const entries = snapshot.symbols.filter((s) => wanted.has((s as { symbol?: string }).symbol ?? ""));
  const listed = new Set(entries.map((s) => (s as { symbol: string }).symbol));
  const missing = symbols.filter((s) => !listed.has(s));
  if (missing.length > 0) throw new Error(`the exchangeInfo snapshot does not list ${missing.join(", ")}`);
  const assets = snapshot.assets ?? [{ asset: "USDT", marginAvailable: true, autoAssetExchange: "-10000" }];
  return (now) => ({
    timezone: "UTC",
    serverTime: now,
    futuresType: "U_MARGINED",
    rateLimits: snapshot.rateLimits,
    exchangeFilters: [],
    assets,
    symbols: entries,
  });
}
