/** Runs the engine's backtest with the CLI's progress bar attached. */
import type { Logger } from "pino";
import type { AppConfig } from "../config/schema.ts";
import { type BacktestSummary, resumeBacktest, runBacktest } from "../engine/backtest.ts";
import type { EventStore } from "../events/store.ts";
import { createProgressBar } from "./progress.ts";

/**
 * `runBacktest` of `cfg.backtest` on `cfg.dataRoot` into `store` (or, with `resume`, `resumeBacktest` of the run
 * the store holds); a progress bar when `showProgress` and a TTY.
 */
export async function runBacktestWithProgress(
  cfg: AppConfig,
  store: EventStore,
  logger: Logger,
  showProgress: boolean,
  resume = false,
): Promise<BacktestSummary> {
  const progress = createProgressBar(showProgress);
  try {
    const deps = { store, dataRoot: cfg.dataRoot, logger, onProgress: progress?.update };
    return await (resume ? resumeBacktest(deps) : runBacktest(cfg.backtest, deps));
  } finally {
    progress?.stop();
  }
}
