/** `perpsource data fetch`: downloads monthly archive files from data.binance.vision into the data root. */
import { resolve } from "node:path";
import { fetchArchive } from "../../adapters/market/fetch.ts";
import type { FetchableKind } from "../../adapters/market/types.ts";
import { monthRange } from "../args.ts";
import { type Flags, UsageError, withContext } from "../context.ts";

/**
 * Fetches the requested kinds for every symbol and month into `--dest` (default: the data root) at `--interval`
 * (default: klines 1m, markPriceKlines 8h), printing one line per file as it completes. Resolves to the exit code.
 * @throws UsageError when --from is after --to; ConfigError on an invalid configuration.
 */
export function dataFetchCommand(flags: Flags): Promise<number> {
  const { symbols, from, to, types, dest, baseUrl, interval } = flags as {
    symbols: string[];
    from: string;
    to: string;
    types: FetchableKind[];
    dest?: string;
    baseUrl?: string;
    interval?: string;
  };
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  const configFlags = { logLevel: flags["logLevel"], verbose: flags["verbose"] };
  return withContext(flags, configFlags, async ({ cfg, logger, out }) => {
    const target = dest === undefined ? cfg.dataRoot : resolve(dest);
    const fetched = await fetchArchive({
      baseUrl: baseUrl ?? cfg.archive.baseUrl,
      dest: target,
      symbols,
      months: monthRange(from, to),
      dataTypes: [...new Set(types)],
      interval,
      onProgress: ({ done, total, file }) =>
        out(`[${done}/${total}] ${file.skipped ? "present" : "fetched"} ${file.path}`),
    });
    const downloaded = fetched.filter((f) => !f.skipped).length;
    logger.info({ files: fetched.length, downloaded, dest: target }, "data fetch done");
    return 0;
  });
}
