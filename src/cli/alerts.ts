/** Alerts for the commands that watch a run (`run`, `serve`): the configured sinks on the store's log. */
import type { Logger } from "pino";
import type { AlertService } from "../adapters/alerts/follow-alerts.ts";
import { alertTokens } from "../config/load.ts";
import type { AppConfig } from "../config/schema.ts";
import type { EventStore } from "../events/store.ts";

/**
 * Starts alerts on `store` with `cfg.alerts` and the tokens of the environment; undefined when no sink is
 * configured (nothing is loaded then).
 * @throws ConfigError for a token of the wrong format.
 */
export async function startConfiguredAlerts(
  store: EventStore,
  cfg: AppConfig,
  logger: Logger,
): Promise<AlertService | undefined> {
  const { webhook, telegram } = cfg.alerts;
  if (webhook === undefined && telegram === undefined) return undefined;
  const tokens = alertTokens(process.env);
  const { startAlerts } = await import("../adapters/alerts/follow-alerts.ts");
  return startAlerts({ store, config: cfg.alerts, tokens, logger });
}
