/**
 * `perpsource report --store URL [--store URL …] [--out FILE] [--json]`: the backtest report of each store's run
 * (src/projections/run-report.ts), side by side: one self-contained HTML file, and/or the JSON document.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { describeStoreUrl } from "../../adapters/store/open-store.ts";
import type { RecordedEvent } from "../../events/envelope.ts";
import type { EventStore } from "../../events/store.ts";
import { createProjections } from "../../projections/index.ts";
import {
  configDifferences,
  REPORT_CONVENTIONS,
  type ReportDocument,
  type RunReport,
  runReport,
} from "../../projections/run-report.ts";
import { type Flags, reportError, UsageError, withContext } from "../context.ts";
import { reportHtml } from "../report-html.ts";
import { openExistingStore } from "../store.ts";

/** A store the report cannot read: not found, not a perpsource store, empty, or not one run (exit 2). */
export class ReportStoreError extends Error {
  override name = "ReportStoreError";
}

/**
 * Writes the report of every `--store` (in order) to `--out` and/or prints its JSON document with `--json`;
 * resolves to 0, or 2 when a store cannot be reported (its URL and why on stderr).
 * @throws UsageError without a --store, or without --out and --json.
 */
export function reportCommand(flags: Flags): Promise<number> {
  const stores = (flags["store"] as string[] | undefined) ?? [];
  const out = typeof flags["out"] === "string" ? flags["out"] : undefined;
  const json = flags["json"] === true;
  if (stores.length === 0) throw new UsageError("report needs at least one --store URL");
  if (out === undefined && !json) throw new UsageError("report needs --out FILE, --json, or both");
  // --store is a list here, not the config's one store: every other flag (--log-level, …) is config as usual
  const { store: _stores, ...configFlags } = flags;
  return withContext(flags, configFlags, async (ctx) => {
    const reports: (RunReport & { store: string })[] = [];
    for (const url of stores) {
      try {
        reports.push({ store: describeStoreUrl(url), ...(await reportStore(url)) });
      } catch (error) {
        if (!(error instanceof ReportStoreError)) throw error;
        reportError(error, false);
        return 2;
      }
    }
    const differences = configDifferences(reports.map((r) => r.run.config));
    const runs = reports.map((r, i) => ({ ...r, differences: differences[i]! }));
    const doc: ReportDocument = { conventions: REPORT_CONVENTIONS, runs };
    if (out !== undefined) {
      writeFileSync(resolve(out), reportHtml(doc, chartLibrary()));
      ctx.logger.info({ out: resolve(out), runs: runs.length }, "report written");
    }
    if (json) ctx.out(JSON.stringify(doc));
    return 0;
  });
}

/**
 * Opens `url` read-only, folds its log into fresh projections and reports its run.
 * @throws ReportStoreError naming the store when it does not exist, is not a perpsource store, is empty, does
 *   not start with RunStarted, or holds more than one run.
 */
async function reportStore(url: string): Promise<RunReport> {
  const name = describeStoreUrl(url);
  let store: EventStore;
  try {
    store = await openExistingStore(url);
  } catch (error) {
    const message = (error as Error).message;
    throw new ReportStoreError(message.includes(name) ? message : `store ${name}: ${message}`);
  }
  try {
    return await foldRun(store, name);
  } catch (error) {
    if (error instanceof ReportStoreError) throw error;
    throw new Error(`store ${name}: ${(error as Error).message}`, { cause: error });
  } finally {
    await store.close();
  }
}

/** The report of the one run of `store` (named `name` in errors). */
async function foldRun(store: EventStore, name: string): Promise<RunReport> {
  const projections = createProjections({ marketSeries: false });
  let first: RecordedEvent | undefined;
  for await (const event of store.readAll()) {
    if (first === undefined) {
      first = event;
      if (event.type !== "RunStarted")
        throw new ReportStoreError(
          `store ${name}: its first event is ${event.type}, not RunStarted: not a recorded run`,
        );
    } else if (event.type === "RunStarted") {
      throw new ReportStoreError(
        `store ${name}: holds more than one run (a second RunStarted at position ${event.position})`,
      );
    }
    projections.apply(event);
  }
  if (first === undefined) throw new ReportStoreError(`store ${name} is empty: it holds no run`);
  return runReport(projections);
}

/** The source of lightweight-charts' standalone production build (defines the global `LightweightCharts`). */
function chartLibrary(): string {
  const manifest = createRequire(import.meta.url).resolve("lightweight-charts/package.json");
  return readFileSync(join(dirname(manifest), "dist", "lightweight-charts.standalone.production.js"), "utf8");
}
