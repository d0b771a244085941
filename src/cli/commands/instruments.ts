/** `perpsource instruments refresh` and `perpsource instruments show SYMBOL`. */
import { join } from "node:path";
import { refreshExchangeInfo } from "../../adapters/exchange-info/fetch.ts";
import { type Flags, withContext } from "../context.ts";

/**
 * Fetches `GET {--base-url}/fapi/v1/exchangeInfo`, validates it and saves it as `exchangeInfo-YYYY-MM-DD.json`
 * (the UTC day of its serverTime) in `--dest` (default: `<data root>/futures/um/exchangeInfo`); prints the path.
 * Resolves to 0, or 1 after printing why (network, HTTP status, not JSON, the JSON path of a bad field).
 */
export function instrumentsRefreshCommand(flags: Flags): Promise<number> {
  const { dest, baseUrl } = flags as { dest?: string; baseUrl?: string };
  return withContext(flags, flags, async ({ cfg, logger, out }) => {
    const target = dest ?? join(cfg.dataRoot, "futures", "um", "exchangeInfo");
    const saved = await refreshExchangeInfo({ baseUrl, dest: target });
    const { catalog } = saved;
    logger.info({ path: saved.path, bytes: saved.bytes, symbols: catalog.symbols().length }, "saved");
    out(`${saved.path} (${catalog.symbols().length} symbols, snapshot of ${catalog.snapshotDate})`);
    return 0;
  });
}

/**
 * Prints the instrument of `flags.args[0]` (upper-cased) as JSON (from `--instruments FILE`, else the bundled
 * snapshot).
 * Resolves to 0, or 1 when the snapshot does not list the symbol.
 */
export function instrumentsShowCommand(flags: Flags): Promise<number> {
  const [symbol] = flags["args"] as string[];
  return withContext(flags, flags, async ({ out, instruments }) => {
    out(JSON.stringify(instruments.get(symbol!.toUpperCase()), null, 2));
    return 0;
  });
}
