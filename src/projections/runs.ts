/** Runs projection: each run's RunStarted configuration and, once there, its RunCompleted counters. */
import type { EventData } from "../events/catalog.ts";

/** A run as the API shows it. */
export interface RunView {
  runId: string;
  mode: "backtest" | "paper" | "testnet" | "live";
  strategy: string;
  symbols: string[];
  /** Market-time range of the run, ms. */
  from: number;
  to: number;
  /** The validated configuration, as recorded. */
  config: Record<string, unknown>;
  /** eventTime of RunStarted, ms. */
  startTime: number;
  /** RunCompleted counters and eventTime (ms), or null while the run is going. */
  completed: { bars: number; fundingSettlements: number; time: number } | null;
}

/** Fold of RunStarted / RunCompleted, in start order. */
export class RunsProjection {
  private readonly byId = new Map<string, RunView>();
  private leverage: number | null = null;

  /** A run started at `time` (ms); its config becomes the configured one. */
  started(run: EventData<"RunStarted">, time: number): void {
    this.byId.set(run.runId, {
      runId: run.runId,
      mode: run.mode,
      strategy: run.strategy,
      symbols: [...run.symbols],
      from: run.from,
      to: run.to,
      config: run.config,
      startTime: time,
      completed: null,
    });
    this.leverage = configuredLeverage(run.config);
  }

  /** Ignores the completion of a run never started. */
  completed(run: EventData<"RunCompleted">, time: number): void {
    const view = this.byId.get(run.runId);
    if (view) view.completed = { bars: run.bars, fundingSettlements: run.fundingSettlements, time };
  }

  /** Leverage configured by the latest run (config.smaCross.leverage), or null when it has none. */
  get configuredLeverage(): number | null {
    return this.leverage;
  }

  /** Every run, in start order (copies). */
  views(): RunView[] {
    return [...this.byId.values()].map((v) => ({
      ...v,
      symbols: [...v.symbols],
      completed: v.completed && { ...v.completed },
    }));
  }
}

/** config.smaCross.leverage as a positive number (a number or a decimal string), else null. */
function configuredLeverage(config: Record<string, unknown>): number | null {
  const smaCross = config["smaCross"];
  if (typeof smaCross !== "object" || smaCross === null) return null;
  const raw = (smaCross as Record<string, unknown>)["leverage"];
  const leverage = typeof raw === "string" && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  return typeof leverage === "number" && Number.isFinite(leverage) && leverage > 0 ? leverage : null;
}
