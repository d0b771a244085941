/** `perpsource replay --verify`: re-runs a recorded run and compares it with its event log. */
import { verifyReplay } from "../../engine/replay.ts";
import { type Flags, withContext } from "../context.ts";
import { replayReport } from "../format.ts";
import { openExistingStore } from "../store.ts";

/**
 * Verifies the run recorded in the configured store against a fresh re-run on the data root and prints the
 * report. Resolves to 0 when the logs agree, 1 when they differ.
 * @throws ConfigError on an invalid configuration.
 */
export function replayCommand(flags: Flags): Promise<number> {
  return withContext(flags, flags, async ({ cfg, logger, out, instruments, brackets }) => {
    const store = await openExistingStore(cfg.store);
    try {
      const report = await verifyReplay(store, {
        dataRoot: cfg.dataRoot,
        logger,
        instruments,
        brackets: brackets(),
      });
      out(replayReport(report));
      return report.ok ? 0 : 1;
    } finally {
      await store.close();
    }
  });
}
