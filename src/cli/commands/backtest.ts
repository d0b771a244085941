/** `perpsource backtest`: one run into an empty store, a summary, and optionally serving the result. */
import { ProcessMetrics } from "../../adapters/http/process-metrics.ts";
import { timeWrites } from "../../adapters/store/timed.ts";
import { operatorChangeTradingState } from "../../engine/risk-operator.ts";
import { type Flags, UsageError, withContext } from "../context.ts";
import { servingBanner, summaryJsonLine, summaryTable } from "../format.ts";
import { runBacktestWithProgress } from "../run-backtest.ts";
import { serveUntilSignal } from "../serve.ts";
import { openEmptyStore, openStoreToResume } from "../store.ts";

/**
 * Runs the configured backtest (flags override the config; `--overwrite`, `--json`, `--serve PORT`), or with
 * `--resume` continues the interrupted run of `--store`, and prints the summary: a table, or with --json exactly
 * one JSON line on stdout; data warnings go to stderr. Resolves to the exit code.
 * @throws ConfigError on an invalid configuration.
 */
export function backtestCommand(flags: Flags): Promise<number> {
  return withContext(flags, flags, async ({ cfg, logger, out, err, instruments, brackets }) => {
    const json = flags["json"] === true;
    const resume = flags["resume"] === true;
    if (resume && flags["overwrite"] === true)
      throw new UsageError("--resume and --overwrite exclude each other");
    const opened = resume
      ? await openStoreToResume(cfg.store)
      : await openEmptyStore(cfg.store, flags["overwrite"] === true);
    // Served: the store's write latency and appends go to /metrics (measured only then: it costs a clock read).
    const metrics = flags["serve"] === undefined ? undefined : new ProcessMetrics();
    const store = metrics ? timeWrites(opened, metrics.storeWrites) : opened;
    try {
      const summary = await runBacktestWithProgress(
        { cfg, logger, instruments, brackets },
        store,
        !json,
        resume,
      );
      await store.flush(); // commit the last unit of work before serving (other processes see it too)
      for (const warning of summary.warnings) err(`warning: ${warning}`);
      out(json ? summaryJsonLine(summary) : summaryTable(summary, cfg.store));
      if (flags["serve"] !== undefined) {
        await serveUntilSignal({
          store,
          http: cfg.http,
          logger,
          change: (to, reason) => operatorChangeTradingState(store, to, reason),
          announce: (url) => (json ? err : out)(servingBanner(url)),
          ...(metrics ? { processMetrics: metrics.registry } : {}),
        });
      }
      return 0;
    } finally {
      await store.close();
    }
  });
}
