/** Runs the engine's backtest with the CLI's progress bar attached. */
import type { Logger } from "pino";
import type { AppConfig } from "../config/schema.ts";
import { type BacktestSummary, runBacktest } from "../engine/backtest.ts";
import type { EventStore } from "../events/store.ts";
import { createProgressBar } from "./progress.ts";

/** `runBacktest` of `cfg.backtest` on `cfg.dataRoot` into `store`; a progress bar when `showProgress` and a TTY. */
export async function runBacktestWithProgress(
  cfg: AppConfig,
  store: EventStore,
  logger: Logger,
  showProgress: boolean,
): Promise<BacktestSummary> {
  const progress = createProgressBar(showProgress);
  try {
    return await runBacktest(cfg.backtest, {
      store,
      dataRoot: cfg.dataRoot,
      logger,
      onProgress: progress?.update,
    });
  } finally {
    progress?.stop();
  }
}
