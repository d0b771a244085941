/**
 * The folds a backtest makes of its own log: the log hash (`eventLogSha256`, src/events/log-hash.ts) and the
 * projections its summary reads. A fresh run folds its events as the store accepts them (`LogFold`: the
 * projections on the engine's thread, the sha256 of the canonical lines in a worker thread). A resumed run, or a
 * store that does not report its writes, folds the log read back from the store once at the end
 * (`readBackFold`). Both give the same result for the same log.
 *
 * Every event of a backtest's log was checked against its machine by the actor that wrote it and against the
 * catalog by the store, so the projections do not audit it again; they keep the drawdown and the last equity,
 * not the curve, and no decision trace, so memory stays flat however long the run.
 */
import type { RecordedEvent } from "../events/envelope.ts";
import { EventLogHasher } from "../events/log-hash.ts";
import { WorkerLogHasher } from "../events/log-hash-worker.ts";
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

/** The projections a log fold keeps (no audit, no equity curve, no decision trace, no trades). */
export function foldProjections(): Projections {
  return createProjections({
    audit: false,
    equityCurve: false,
    decisions: false,
    trades: false,
    marketSeries: false,
  });
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

/**
 * The fold of a fresh run. Feed it every append's events with `observe` (an `AppendObserver`, see
 * src/adapters/store/observed.ts); `complete` turns false when an append was not reported (the log must then be
 * read back). Call `result()` once, or `close()` when abandoning it.
 */
export class LogFold {
  private readonly hasher = new WorkerLogHasher();
  private readonly projections = foldProjections();
  /** False once an append wrote events the store did not report. */
  complete = true;

  /** Folds the events an append wrote (see `observeAppends`). */
  readonly observe = (recorded: readonly RecordedEvent[] | undefined): void => {
    if (recorded === undefined) {
      this.complete = false;
      return;
    }
    if (!this.complete) return;
    for (const e of recorded) {
      // A store's event passed the catalog: its canonical line is `validatedEventLine`.
      this.hasher.addValidated(e);
      this.projections.apply(e);
    }
  };

  /**
   * The hash and projections of every event observed; stops the hasher's worker.
   * @throws the worker's error, if it failed.
   */
  async result(): Promise<LogFoldResult> {
    const sha256 = await this.hasher.digest();
    return logFoldResult(this.projections, sha256, this.hasher.count);
  }

  /** Stops the hasher's worker (the fold is lost). */
  async close(): Promise<void> {
    await this.hasher.close();
  }
}
