/** Runs the engine's backtest with the CLI's progress bar attached. */
import { ParseThread } from "../adapters/market/parse-thread.ts";
import { type BacktestSummary, resumeBacktest, runBacktest } from "../engine/backtest.ts";
import type { EventStore } from "../events/store.ts";
import type { CliContext } from "./context.ts";
import { createProgressBar } from "./progress.ts";

/**
 * `runBacktest` of `cfg.backtest` on `cfg.dataRoot` into `store` (or, with `resume`, `resumeBacktest` of the run
 * the store holds); a progress bar when `showProgress` and a TTY.
 */
export async function runBacktestWithProgress(
  { cfg, logger, instruments, brackets }: Pick<CliContext, "cfg" | "logger" | "instruments" | "brackets">,
  store: EventStore,
  showProgress: boolean,
  resume = false,
): Promise<BacktestSummary> {
  const progress = createProgressBar(showProgress);
  // Started first: the parse thread loads its modules while the run discovers and hashes its files.
  const parseThread = new ParseThread();
  try {
    const deps = {
      parseThread,
      store,
      dataRoot: cfg.dataRoot,
      logger,
      instruments,
      brackets: brackets(),
      onProgress: progress?.update,
    };
    return await (resume ? resumeBacktest(deps) : runBacktest(cfg.backtest, deps));
  } finally {
    progress?.stop();
    await parseThread.close();
  }
}
