/**
 * The alerts' own Prometheus families, for the registry of `/metrics` (src/adapters/http/metrics.ts): process
 * counts of this process's dispatcher, not folded from the log (two processes alerting on one store count
 * separately). Registered on the process registry of `run --serve` and `serve` (src/cli/commands).
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { AlertService } from "./follow-alerts.ts";

type Stats = ReturnType<AlertService["stats"]>;

/**
 * Registers on `registry`: `perpsource_alerts_total{sink,outcome}` (outcome sent, failed or dropped),
 * `perpsource_alerts_deduplicated_total` and `perpsource_alerts_queued{sink}`, read from `stats()` on each
 * scrape; no samples while it answers undefined (alerts off).
 */
export function registerAlertMetrics(registry: Registry, stats: () => Stats | undefined): void {
  new Counter({
    name: "perpsource_alerts_total",
    help: "Alerts by sink and outcome: sent, failed (given up after the retries) or dropped (the sink's queue was full)",
    labelNames: ["sink", "outcome"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [sink, s] of Object.entries(stats()?.sinks ?? {})) {
        for (const outcome of ["sent", "failed", "dropped"] as const) this.inc({ sink, outcome }, s[outcome]);
      }
    },
  });
  new Counter({
    name: "perpsource_alerts_deduplicated_total",
    help: "Alerts not sent because an alert of the same key was sent within alerts.dedupeMs",
    registers: [registry],
    collect() {
      this.reset();
      const now = stats();
      // Alerts off: no sample rather than a false 0.
      if (now === undefined) this.remove();
      else this.inc(now.deduplicated);
    },
  });
  new Gauge({
    name: "perpsource_alerts_queued",
    help: "Alerts waiting in a sink's queue",
    labelNames: ["sink"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [sink, s] of Object.entries(stats()?.sinks ?? {})) this.set({ sink }, s.queued);
    },
  });
}
