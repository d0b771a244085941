/**
 * The folds a backtest makes of its own log: the log hash (`eventLogSha256`, src/events/log-hash.ts) and the
 * projections its summary reads. A fresh run folds its events as the store accepts them (`LogFoldThread`): the
 * engine's thread only writes each event's canonical line; a thread of its own hashes the lines and parses them
 * back into the projections, beside the engine. A resumed run, or a store that does not report its writes, folds
 * the log read back from the store once at the end (`readBackFold`). Both give the same result for the same log.
 *
 * Every event of a backtest's log was checked against its machine by the actor that wrote it and against the
 * catalog by the store, so the projections do not audit it again; they keep the drawdown and the last equity,
 * not the curve, so memory stays flat however long the run.
 */
import type { Worker } from "node:worker_threads";
import { tsWorker } from "../adapters/ts-worker.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import { EventLogHasher, validatedEventLine } from "../events/log-hash.ts";
import { createProjections, type ProjectionSummary, type Projections } from "../projections/index.ts";

/** What a backtest's summary takes from its log. */
export interface LogFoldResult {
  /** sha256 of the log (lowercase hex). */
  eventLogSha256: string;
  events: number;
  summary: ProjectionSummary;
  ordersDenied: number;
  /** USDT, at the last marks. */
  unrealizedPnl: string;
}

/** The projections a log fold keeps (no audit, no equity curve). */
export function foldProjections(): Projections {
  return createProjections({ audit: false, equityCurve: false });
}

/** The result of a fold from its projections, hash and event count. */
export function logFoldResult(
  projections: Projections,
  eventLogSha256: string,
  events: number,
): LogFoldResult {
  return {
    eventLogSha256,
    events,
    summary: projections.summary(),
    ordersDenied: projections.tradingRisk().ordersDenied,
    unrealizedPnl: projections.pnl().unrealizedPnl,
  };
}

/** The fold of a whole log read back from its store (`store.readAll()`), on the caller's thread. */
export async function readBackFold(
  log: AsyncIterable<RecordedEvent> | Iterable<RecordedEvent>,
): Promise<LogFoldResult> {
  const hasher = new EventLogHasher();
  const projections = foldProjections();
  for await (const e of log) {
    hasher.addValidated(e);
    projections.apply(e);
  }
  return logFoldResult(projections, hasher.digest(), hasher.count);
}

/** Lines are collected into text chunks of about this many UTF-16 units, each posted to the thread when full. */
const CHUNK_CHARS = 1 << 18;

/**
 * The fold of a fresh run, on a thread of its own. Feed it every append's events with `observe` (an
 * `AppendObserver`, see src/adapters/store/observed.ts); `complete` turns false when an append was not reported
 * (the log must then be read back). Call `result()` once, or `close()` when abandoning it.
 */
export class LogFoldThread {
  private readonly worker: Worker = tsWorker(new URL("./log-fold.worker.ts", import.meta.url));
  private lines: string[] = [];
  private chars = 0;
  private events = 0;
  private waiter: { resolve: (r: LogFoldResult) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  /** False once an append wrote events the store did not report. */
  complete = true;

  constructor() {
    this.worker.on("message", (result: LogFoldResult) => this.waiter?.resolve(result));
    this.worker.on("error", (error) => {
      this.failure = error;
      this.waiter?.reject(error);
    });
  }

  /** Folds the events an append wrote (see `observeAppends`). */
  readonly observe = (recorded: readonly RecordedEvent[] | undefined): void => {
    if (recorded === undefined) {
      this.complete = false;
      return;
    }
    if (!this.complete) return;
    for (const e of recorded) {
      // A store's event passed the catalog: its canonical line is `validatedEventLine`.
      const line = validatedEventLine(e);
      this.lines.push(line);
      this.chars += line.length + 1;
      this.events++;
    }
    if (this.chars >= CHUNK_CHARS) this.post();
  };

  /**
   * The hash and projections of every event observed; stops the thread.
   * @throws the thread's error, if it failed.
   */
  async result(): Promise<LogFoldResult> {
    if (this.failure) throw this.failure;
    this.worker.ref();
    try {
      this.post();
      const result = new Promise<LogFoldResult>((resolve, reject) => {
        this.waiter = { resolve, reject };
      });
      this.worker.postMessage(null);
      const r = await result;
      if (r.events !== this.events)
        throw new Error(`log fold: ${r.events} events folded, ${this.events} sent`);
      return r;
    } finally {
      await this.close();
    }
  }

  /** Stops the thread (the fold is lost). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }

  /** Posts the collected lines as one text chunk, one line each, newline-terminated. */
  private post(): void {
    if (this.lines.length === 0) return;
    this.lines.push("");
    this.worker.postMessage(this.lines.join("\n"));
    this.lines = [];
    this.chars = 0;
  }
}
