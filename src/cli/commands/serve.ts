/** `perpsource serve`: the projections of an existing store over HTTP. */
import { Registry } from "prom-client";
import { registerAlertMetrics } from "../../adapters/alerts/metrics.ts";
import { operatorChangeTradingState } from "../../engine/risk-operator.ts";
import { startConfiguredAlerts } from "../alerts.ts";
import { type Flags, withContext } from "../context.ts";
import { servingBanner } from "../format.ts";
import { serveUntilSignal } from "../serve.ts";
import { openExistingStore, openExistingStoreForAppend } from "../store.ts";

/**
 * Serves the configured store on http.host:http.port until SIGINT/SIGTERM, printing the URL.
 * @throws ConfigError on an invalid configuration.
 */
export function serveCommand(flags: Flags): Promise<number> {
  return withContext(flags, flags, async ({ cfg, logger, out }) => {
    const store = await openExistingStore(cfg.store);
    const alerts = await startConfiguredAlerts(store, cfg, logger);
    // The alerts' own counts (sent, failed, dropped, deduplicated, queued) beside the log's families on /metrics.
    const alertMetrics = alerts === undefined ? undefined : new Registry();
    if (alerts && alertMetrics) registerAlertMetrics(alertMetrics, () => alerts.stats());
    try {
      // The served store is read-only: an operator's change opens the store for one append.
      const change = async (to: "HALTED" | "ACTIVE", reason: string) => {
        const writer = await openExistingStoreForAppend(cfg.store);
        try {
          return await operatorChangeTradingState(writer, to, reason);
        } finally {
          await writer.close();
        }
      };
      await serveUntilSignal({
        store,
        http: cfg.http,
        logger,
        change,
        announce: (url) => out(servingBanner(url)),
        ...(alertMetrics ? { processMetrics: alertMetrics } : {}),
      });
      return 0;
    } finally {
      await alerts?.close();
      await store.close();
    }
  });
}
