/** `perpsource brackets refresh` and `perpsource brackets show SYMBOL` (leverage brackets, binance-usdm.md §4.6). */
import { join } from "node:path";
import type { SymbolBrackets } from "../../domain/margin/brackets.ts";
import { requireApiKeyPair } from "../api-keys.ts";
import { type Flags, withContext } from "../context.ts";

/**
 * Fetches the account's brackets from the signed `GET {--rest-url}/fapi/v1/leverageBracket` with the key pair of
 * the environment (src/cli/api-keys.ts), validates them and saves them as `leverageBracket-YYYY-MM-DD.json` (the
 * UTC day of Binance's server time) in `--out` (default: `<data root>/futures/um/leverageBracket`); prints the path.
 * Resolves to 0, or 1 after printing why (network, HTTP status and Binance's error body, a bad payload).
 * @throws ApiKeyError (exit 2) when the key pair is unset, partial or unreadable, before any request. The keys are
 *   never printed.
 */
export function bracketsRefreshCommand(flags: Flags): Promise<number> {
  const { out: outDir, restUrl } = flags as { out?: string; restUrl?: string };
  const { apiKey, apiSecret } = requireApiKeyPair(
    "GET /fapi/v1/leverageBracket, a signed (USER_DATA) endpoint (read permission is enough),",
  );
  const credentials = { apiKey, apiSecret };
  return withContext(flags, flags, async ({ cfg, logger, out }) => {
    const { refreshLeverageBrackets } = await import("../../adapters/leverage-brackets/fetch.ts");
    const dest = outDir ?? join(cfg.dataRoot, "futures", "um", "leverageBracket");
    const saved = await refreshLeverageBrackets({ restUrl, dest, credentials });
    const symbols = saved.catalog.symbols().length;
    logger.info({ path: saved.path, bytes: saved.bytes, symbols }, "saved");
    out(`${saved.path} (${symbols} symbols, snapshot of ${saved.catalog.snapshotDate})`);
    return 0;
  });
}

/**
 * Prints the brackets of `flags.args[0]` (upper-cased) as a table, or as JSON with `--json` (from `--brackets
 * FILE`, else the bundled snapshot). Resolves to 0, or 1 when the snapshot has no brackets for the symbol.
 */
export function bracketsShowCommand(flags: Flags): Promise<number> {
  const [symbol] = flags["args"] as string[];
  return withContext(flags, flags, async ({ out, brackets }) => {
    const catalog = brackets();
    const found = catalog.get(symbol!.toUpperCase());
    if (flags["json"] === true) out(JSON.stringify(found, null, 2));
    else
      for (const line of bracketTable(found, `snapshot of ${catalog.snapshotDate}, ${catalog.source}`))
        out(line);
    return 0;
  });
}

/** The lines of a symbol's bracket table: a title, a header, one row per bracket, columns aligned. */
export function bracketTable(symbol: SymbolBrackets, origin: string): string[] {
  const header = ["bracket", "notional floor", "notional cap", "max leverage", "MMR", "cum"];
  const rows = symbol.brackets.map((b) => [
    String(b.bracket),
    b.notionalFloor,
    b.notionalCap,
    String(b.initialLeverage),
    b.maintMarginRatio,
    b.cum,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const coef = symbol.notionalCoef === undefined ? "" : `, notionalCoef ${symbol.notionalCoef}`;
  return [
    `${symbol.symbol} leverage brackets (USDT notional, floor < notional ≤ cap; ${origin}${coef})`,
    line(header),
    ...rows.map(line),
  ];
}
