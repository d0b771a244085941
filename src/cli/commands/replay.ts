/**
 * `perpsource replay --verify`: re-runs a recorded run and compares it with its event log.
 * `perpsource replay --what-if FILE [--json]`: re-runs its market inputs with other parameters and prints the
 * difference.
 */
import { ConfigError, loadWhatIfConfig } from "../../config/load.ts";
import type { BacktestConfig } from "../../config/schema.ts";
import { verifyReplay } from "../../engine/replay.ts";
import { type Flags, reportError, UsageError, withContext } from "../context.ts";
import { replayReport, whatIfJsonLine, whatIfTable } from "../format.ts";
import { openExistingStore } from "../store.ts";

/**
 * `--verify`: verifies the run recorded in the configured store against a fresh re-run and prints the report;
 * resolves to 0 when the logs agree, 1 when they differ. `--what-if FILE`: prints the recorded run beside the
 * re-run of its market inputs with FILE's parameters (a table, or one JSON line with --json); resolves to 0.
 * @throws UsageError without exactly one of --verify and --what-if; ConfigError on an invalid configuration or
 *   what-if file (the key and its source).
 */
export function replayCommand(flags: Flags): Promise<number> {
  const whatIfFile = typeof flags["whatIf"] === "string" ? flags["whatIf"] : undefined;
  const verify = flags["verify"] === true;
  if (!verify && whatIfFile === undefined) throw new UsageError("replay needs --verify or --what-if FILE");
  if (verify && whatIfFile !== undefined)
    throw new UsageError("replay takes --verify or --what-if FILE, not both");
  return withContext(flags, flags, async ({ cfg, logger, out, instruments, brackets }) => {
    const store = await openExistingStore(cfg.store);
    try {
      const deps = { dataRoot: cfg.dataRoot, logger, instruments, brackets: brackets() };
      if (whatIfFile !== undefined) {
        const { readRecordedRun } = await import("../../engine/recorded-run.ts");
        const { whatIf } = await import("../../engine/what-if.ts");
        const recorded = await readRecordedRun(store);
        let config: BacktestConfig;
        try {
          config = loadWhatIfConfig(whatIfFile, recorded.config, process.cwd());
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          reportError(error, false);
          return 2; // a bad what-if file is a configuration error
        }
        const report = await whatIf(store, recorded, config, deps);
        out(flags["json"] === true ? whatIfJsonLine(report) : whatIfTable(report));
        return 0;
      }
      const report = await verifyReplay(store, deps);
      out(replayReport(report));
      return report.ok ? 0 : 1;
    } finally {
      await store.close();
    }
  });
}
