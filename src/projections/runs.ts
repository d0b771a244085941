/**
 * Runs projection: each run's RunStarted configuration, whether its RunCompleted is there, and counters of
 * its events so far (an event belongs to the run whose runId is its metadata.correlationId), so a run that was
 * killed or is still being written shows as incomplete with how far it got.
 */
import type { EventData } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";

/** A run as the API shows it. Times are ms since the epoch (market time). */
export interface RunView {
  runId: string;
  mode: "backtest" | "paper" | "testnet" | "live";
  strategy: string;
  symbols: string[];
  /** Market-time range of the run. */
  from: number;
  to: number;
  /** The validated configuration, as recorded. */
  config: Record<string, unknown>;
  /** eventTime of RunStarted. */
  startTime: number;
  /** Whether its RunCompleted was folded; false for a run killed, or still being written. */
  completed: boolean;
  /** eventTime of RunCompleted, null while incomplete. */
  completedTime: number | null;
  /** Events of the run folded so far, RunStarted (and RunCompleted) included. */
  events: number;
  /** BarClosed events of the run. */
  bars: number;
  /** FundingRateSettled events of the run. */
  fundingSettlements: number;
  /** OrderSubmitted events of the run. */
  orders: number;
  /** FillBooked events of the run. */
  fills: number;
  /** Global position of the run's last event (adapter-specific, so left out of projection snapshots). */
  lastPosition: number;
  /** eventTime of the run's last event. */
  lastEventTime: number;
}

/** Counters kept per run, by event type. */
const counted = {
  BarClosed: "bars",
  FundingRateSettled: "fundingSettlements",
  OrderSubmitted: "orders",
  FillBooked: "fills",
} as const satisfies Partial<Record<string, keyof RunView>>;

/** Fold of RunStarted / RunCompleted and of every event's run (by correlationId), in start order. */
export class RunsProjection {
  private readonly byId = new Map<string, RunView>();
  private latest: RunView | null = null;
  private leverage: number | null = null;

  /** Counts `event` towards the run of its correlationId (RunStarted first opens the run). */
  apply(event: RecordedEvent): void {
    const time = event.metadata.eventTime;
    if (event.type === "RunStarted") this.started(event.data as EventData<"RunStarted">, time);
    const run = this.byId.get(event.metadata.correlationId);
    if (run === undefined) return;
    run.events++;
    run.lastPosition = event.position;
    run.lastEventTime = time;
    const counter = counted[event.type as keyof typeof counted];
    if (counter !== undefined) run[counter]++;
    if (event.type === "RunCompleted" && (event.data as EventData<"RunCompleted">).runId === run.runId) {
      run.completed = true;
      run.completedTime = time;
    }
  }

  private started(run: EventData<"RunStarted">, time: number): void {
    const view: RunView = {
      runId: run.runId,
      mode: run.mode,
      strategy: run.strategy,
      symbols: [...run.symbols],
      from: run.from,
      to: run.to,
      config: run.config,
      startTime: time,
      completed: false,
      completedTime: null,
      events: 0,
      bars: 0,
      fundingSettlements: 0,
      orders: 0,
      fills: 0,
      lastPosition: 0,
      lastEventTime: time,
    };
    this.byId.set(run.runId, view);
    this.latest = view;
    this.leverage = configuredLeverage(run.config);
  }

  /** Leverage configured by the latest run (config.smaCross.leverage), or null when it has none. */
  get configuredLeverage(): number | null {
    return this.leverage;
  }

  /** The run started last (a copy), or null before any RunStarted. */
  latestRun(): RunView | null {
    return this.latest && copy(this.latest);
  }

  /** Every run, in start order (copies). */
  views(): RunView[] {
    return [...this.byId.values()].map(copy);
  }
}

function copy(view: RunView): RunView {
  return { ...view, symbols: [...view.symbols] };
}

/** config.smaCross.leverage as a positive number (a number or a decimal string), else null. */
function configuredLeverage(config: Record<string, unknown>): number | null {
  const smaCross = config["smaCross"];
  if (typeof smaCross !== "object" || smaCross === null) return null;
  const raw = (smaCross as Record<string, unknown>)["leverage"];
  const leverage = typeof raw === "string" && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  return typeof leverage === "number" && Number.isFinite(leverage) && leverage > 0 ? leverage : null;
}
