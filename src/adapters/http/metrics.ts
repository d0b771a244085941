/**
 * GET /metrics: the projections' metrics (src/projections/metrics.ts) in the Prometheus text format, through a
 * prom-client Registry. Each family is a collector that reads the current projections on scrape, so the numbers
 * always match the log position the other routes serve; prom-client's default process metrics (CPU, memory,
 * event loop lag, GC…) are registered beside them.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Projections } from "../../projections/index.ts";
import { type MetricName, metricFamilies, metricFamilyDefs } from "../../projections/metrics.ts";

type Families = ReturnType<typeof metricFamilies>;

/**
 * Clears `metric` before it is filled with `samples`, which it returns. A family without labels and without a
 * sample (no event yet) is left empty rather than at prom-client's default 0, which would be a false reading.
 */
function refill<T>(metric: Counter | Gauge, labelless: boolean, samples: T[]): T[] {
  metric.reset();
  if (labelless && samples.length === 0) metric.remove();
  return samples;
}

/**
 * A Registry with every perpsource family and the default process metrics, plus the families of `process` (the
 * serving process's own measurements, src/adapters/http/process-metrics.ts) when given. On each scrape the
 * families are computed once from `current()` (at one log position) and every collector reads from that
 * computation.
 */
export function metricsRegistry(current: () => Projections, process?: Registry): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  /** The last computation, reused while the projections and their position are unchanged. */
  let scrape: { projections: Projections; position: number | null; families: Families } | null = null;
  const familiesNow = (): Families => {
    const projections = current();
    const position = projections.lastPosition();
    if (scrape === null || scrape.projections !== projections || scrape.position !== position) {
      scrape = { projections, position, families: metricFamilies(projections) };
    }
    return scrape.families;
  };
  for (const def of metricFamilyDefs) {
    const name: MetricName = def.name;
    const labelless = def.labelNames.length === 0;
    const options = { name, help: def.help, labelNames: [...def.labelNames], registers: [registry] };
    if (def.type === "counter") {
      new Counter({
        ...options,
        collect() {
          const samples = refill(this, labelless, familiesNow()[name]);
          for (const { labels, value } of samples) this.inc(labels, Number(value));
        },
      });
    } else {
      new Gauge({
        ...options,
        collect() {
          const samples = refill(this, labelless, familiesNow()[name]);
          for (const { labels, value } of samples) this.set(labels, Number(value));
        },
      });
    }
  }
  return process === undefined ? registry : Registry.merge([registry, process]);
}
