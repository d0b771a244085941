/** `perpsource start`: the demo — the default backtest into a fresh store, then serving it. */
import { readdir } from "node:fs/promises";
import { ProcessMetrics } from "../../adapters/http/process-metrics.ts";
import { timeWrites } from "../../adapters/store/timed.ts";
import { MissingMarketDataError } from "../../engine/backtest.ts";
import { operatorChangeTradingState } from "../../engine/risk-operator.ts";
import { type Flags, withContext } from "../context.ts";
import { fetchMissingArchive } from "../first-run.ts";
import { missingDataHowTo, servingBanner, summaryTable } from "../format.ts";
import { runBacktestWithProgress } from "../run-backtest.ts";
import { serveUntilSignal } from "../serve.ts";
import { openEmptyStore } from "../store.ts";

/**
 * Runs the configured backtest on the data root into the configured store (a sqlite store is replaced),
 * prints the summary, then serves on http.host:http.port until SIGINT/SIGTERM. When the window's klines are
 * missing it first downloads the backtest's archive files from `archive.baseUrl` (`fetchMissingArchive`; off with
 * `--no-fetch` / `archive.fetchOnStart: false`). Without market data, or when the archive cannot be reached, it
 * prints where it looked, why, and how to get data, and resolves to 1.
 * @throws ConfigError on an invalid configuration.
 */
export function startCommand(flags: Flags): Promise<number> {
  return withContext(flags, flags, async ({ cfg, logger, out, err, instruments, brackets }) => {
    const fetched = await fetchMissingArchive(cfg, { err, tty: process.stderr.isTTY === true });
    if (fetched.status === "unreachable") {
      err(missingDataHowTo(cfg, `cannot download it: ${fetched.reason}`));
      return 1;
    }
    if (fetched.status === "fetched") {
      logger.info(
        {
          files: fetched.files,
          downloaded: fetched.downloaded,
          bytes: fetched.bytes,
          dataRoot: cfg.dataRoot,
        },
        "archive files fetched",
      );
    }
    if (await isEmptyDir(cfg.dataRoot)) {
      err(missingDataHowTo(cfg, "the directory is missing or empty"));
      return 1;
    }
    const metrics = new ProcessMetrics();
    const store = timeWrites(await openEmptyStore(cfg.store, true), metrics.storeWrites);
    try {
      try {
        const summary = await runBacktestWithProgress({ cfg, logger, instruments, brackets }, store, true);
        for (const warning of summary.warnings) err(`warning: ${warning}`);
        out(summaryTable(summary, cfg.store));
      } catch (error) {
        if (!(error instanceof MissingMarketDataError)) throw error;
        err(missingDataHowTo(cfg, error.message));
        return 1;
      }
      await store.flush(); // commit the last unit of work before serving (other processes see it too)
      await serveUntilSignal({
        store,
        http: cfg.http,
        logger,
        change: (to, reason) => operatorChangeTradingState(store, to, reason),
        announce: (url) => out(servingBanner(url)),
        processMetrics: metrics.registry,
      });
      return 0;
    } finally {
      await store.close();
    }
  });
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return true;
  }
}
