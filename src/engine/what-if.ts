/**
 * `replay --what-if FILE`: "what would the bot have done with other parameters?". The recorded run's market
 * inputs are run again on the simulated venue with another configuration (src/config/load.ts
 * `loadWhatIfConfig`), into memory, and the outcome is set beside the recorded one. A backtest is re-run on its
 * manifest's files (checked against their sha256); a live run (paper, testnet, live) as a paper run on the market
 * inputs and warm-up its log recorded (live-replay.ts), without its venue's reports, answers or an operator's
 * halts. Nothing is written to the store and nothing is sent.
 */
import type { Logger } from "pino";
import { InMemoryEventStore } from "../adapters/store/memory.ts";
import type { BacktestConfig } from "../config/schema.ts";
import { Dec } from "../domain/decimal.ts";
import type { EventStore } from "../events/store.ts";
import { executeBacktest } from "./backtest.ts";
import { rerunLive } from "./live-replay.ts";
import { readBackFold } from "./log-fold.ts";
import { readRecordedInputs } from "./recorded-inputs.ts";
import type { RecordedRun } from "./recorded-run.ts";
import { recordedInputs } from "./recorded-run.ts";
import { type ReplayDeps, replayCatalogs } from "./replay.ts";

/** A run's outcome as a what-if compares it: counts, and USDT as exact decimal strings. */
export interface RunFigures {
  /** Orders submitted (denied ones included). */
  orders: number;
  /** Fills booked. */
  fills: number;
  realizedPnl: string;
  fees: string;
  funding: string;
  netPnl: string;
  maxDrawdown: string;
}

/** The keys of `RunFigures`, in the order they are shown. */
export const RUN_FIGURES = [
  "orders",
  "fills",
  "realizedPnl",
  "fees",
  "funding",
  "netPnl",
  "maxDrawdown",
] as const satisfies readonly (keyof RunFigures)[];

/** The recorded run beside its what-if. */
export interface WhatIfReport {
  runId: string;
  mode: string;
  /** The configuration keys the what-if changed: `path: recorded → what-if` (values as JSON). */
  changes: string[];
  recorded: RunFigures;
  whatIf: RunFigures;
  /** whatIf − recorded, figure by figure. */
  difference: RunFigures;
}

/** The recorded run's input files changed or are missing: a what-if would not run on the recorded market. */
export class WhatIfInputError extends Error {
  override name = "WhatIfInputError";
}

/**
 * Re-runs the market inputs of the run recorded in `store` (`recorded`, from readRecordedRun) with `config` and
 * compares the outcomes (see the module comment).
 * @throws WhatIfInputError when a backtest's input files are missing or changed, or the catalogs are not the
 *   run's; the engine's errors.
 */
export async function whatIf(
  store: EventStore,
  recorded: RecordedRun,
  config: BacktestConfig,
  deps: ReplayDeps,
): Promise<WhatIfReport> {
  const { started } = recorded;
  const problems: string[] = [];
  const catalogs = replayCatalogs(started, deps, problems);
  const rerun = new InMemoryEventStore();
  const logger: Logger = deps.logger;
  logger.info(
    { runId: started.runId, mode: started.mode },
    "re-running the recorded market with the what-if",
  );
  if (started.mode === "backtest") {
    const { files, problems: missing } = await recordedInputs(started, deps.dataRoot);
    problems.push(...missing);
    if (problems.length > 0) throw new WhatIfInputError(problems.join("; "));
    await executeBacktest(config, files, { store: rerun, dataRoot: deps.dataRoot, logger, ...catalogs });
  } else {
    if (problems.length > 0) throw new WhatIfInputError(problems.join("; "));
    const inputs = await readRecordedInputs(store, "paper");
    await rerunLive({
      started,
      completed: recorded.completed !== undefined,
      inputs: { ...inputs, answers: new Map(), outOfBand: new Map() },
      mode: "paper",
      config,
      store: rerun,
      logger,
      ...catalogs,
    });
  }
  const before = figures((await readBackFold(store.readAll())).summary);
  const after = figures((await readBackFold(rerun.readAll())).summary);
  await rerun.close();
  return {
    runId: started.runId,
    mode: started.mode,
    changes: configChanges(recorded.config, config),
    recorded: before,
    whatIf: after,
    difference: difference(before, after),
  };
}

function figures(s: RunFigures): RunFigures {
  const { orders, fills, realizedPnl, fees, funding, netPnl, maxDrawdown } = s;
  return { orders, fills, realizedPnl, fees, funding, netPnl, maxDrawdown };
}

/** `b − a`, figure by figure (decimals exact). */
export function difference(a: RunFigures, b: RunFigures): RunFigures {
  const money = (k: Exclude<keyof RunFigures, "orders" | "fills">) => new Dec(b[k]).minus(a[k]).toFixed();
  return {
    orders: b.orders - a.orders,
    fills: b.fills - a.fills,
    realizedPnl: money("realizedPnl"),
    fees: money("fees"),
    funding: money("funding"),
    netPnl: money("netPnl"),
    maxDrawdown: money("maxDrawdown"),
  };
}

/** The leaves of two configurations that differ, as `path: a → b` (JSON values). */
export function configChanges(a: unknown, b: unknown, path = ""): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => configChanges(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b)
    ? []
    : [`${path}: ${JSON.stringify(a) ?? "unset"} → ${JSON.stringify(b) ?? "unset"}`];
}
