/** `perpsource backtest`: one run into an empty store, a summary, and optionally serving the result. */
import { type Flags, withContext } from "../context.ts";
import { servingBanner, summaryJsonLine, summaryTable } from "../format.ts";
import { runBacktestWithProgress } from "../run-backtest.ts";
import { serveUntilSignal } from "../serve.ts";
import { openEmptyStore } from "../store.ts";

/**
 * Runs the configured backtest (flags override the config; `--overwrite`, `--json`, `--serve PORT`) and prints
 * the summary: a table, or with --json exactly one JSON line on stdout. Resolves to the exit code.
 * @throws ConfigError on an invalid configuration.
 */
export function backtestCommand(flags: Flags): Promise<number> {
  return withContext(flags, flags, async ({ cfg, logger, out, err }) => {
    const json = flags["json"] === true;
    const store = await openEmptyStore(cfg.store, flags["overwrite"] === true);
    try {
      const summary = await runBacktestWithProgress(cfg, store, logger, !json);
      await store.flush(); // commit the last unit of work before serving (other processes see it too)
      out(json ? summaryJsonLine(summary) : summaryTable(summary, cfg.store));
      if (flags["serve"] !== undefined) {
        const { host, port } = cfg.http;
        await serveUntilSignal({
          store,
          host,
          port,
          logger,
          announce: (url) => (json ? err : out)(servingBanner(url)),
        });
      }
      return 0;
    } finally {
      await store.close();
    }
  });
}
