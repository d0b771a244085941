/**
 * A live run's reconciliation with an external venue (issue 7 item 4): at start, on the venue's resync points
 * and every `everyMs` of market time (live-run.ts runs each as one task of its serial queue). One round:
 * 1. the venue recovers what its report stream lost (`ExternalVenue.reconcile`) and hands the reports to the
 *    engine here, inside the task (a report the stream queued and the recovery handed over too is handled once);
 *    a periodic round skips this and goes to 2 (REST requests are few: every query counts against the budget);
 * 2. the engine's view after that is compared with the venue's snapshot (reconciliation.ts);
 * 3. when something differs after a periodic round's first read, or cannot be explained (a HALTED discrepancy)
 *    after a recovery, the round is repeated once with a recovery (the venue may have moved between two reads),
 *    and the second comparison counts;
 * 4. the result is logged (pino JSON: `reconciliation` with every discrepancy and its numbers; an error with
 *    both numbers when trading halts) and, when it recovered or found anything, recorded (VenueReconciled) with
 *    the trading state it calls for (REDUCING for unknown orders and positions, HALTED for a mismatch).
 * A venue error (a ban, a timeout) ends the round with a warning: the next point tries again. A settlement's
 * funding payment is looked for (`income`) in two rounds at most; one still missing then shows in the wallet.
 */
import type { Logger } from "pino";
import type { EventData } from "../events/catalog.ts";
import { type EngineView, type ReconciliationOutcome, reconcile } from "./reconciliation.ts";
import type { TradingEngine } from "./trading-engine.ts";
import { type ExternalVenue, type VenueReport, VenueRequestError } from "./venue.ts";

/** What started a round (VenueReconciled.trigger). */
export type ReconciliationTrigger = EventData<"VenueReconciled">["trigger"];

/** Reconciles one engine with one external venue (module docstring). Not re-entrant: one round at a time. */
export class LiveReconciler {
  /** Reports handled by the engine: a report reaches it through the stream's task or a round, once. */
  private readonly handled = new WeakSet<VenueReport>();
  /** Per symbol, its last settlement and how many rounds looked for its payment (two are enough). */
  private readonly fundingChecks = new Map<string, { settlement: number; rounds: number }>();

  constructor(
    private readonly deps: {
      engine: TradingEngine;
      venue: ExternalVenue;
      logger: Logger;
      /** Funding lookback when the engine booked none in this process (ms, market time). */
      fundingFallback: number;
      /** Ends a handled report's unit of work (a live run's checkpoint). */
      afterReport?: (report: VenueReport) => Promise<void>;
    },
  ) {}

  /**
   * Hands a venue report to the engine, then ends its unit of work (`deps.afterReport`), unless it was handled
   * already (a report reaches the engine through the stream's task or a round's recovery, once). Use it for every
   * report: a recovered report is a unit of work like a streamed one, so a replay, which hands every recorded
   * report over the same way, writes the same checkpoints.
   */
  readonly handle = async (report: VenueReport): Promise<void> => {
    if (this.handled.has(report)) return;
    this.handled.add(report);
    await this.deps.engine.onVenueReport(report);
    await this.deps.afterReport?.(report);
  };

  /**
   * One round (module docstring), at market time `time` (the events' time). Call it from the engine's task.
   * @returns the outcome, or undefined when the venue cannot reconcile or a venue error ended the round.
   * @throws what the engine throws (a report it cannot take).
   */
  async run(trigger: ReconciliationTrigger, time: number): Promise<ReconciliationOutcome | undefined> {
    const { venue, engine, logger } = this.deps;
    if (!venue.reconcile) return undefined;
    let recovered = 0;
    let outcome: ReconciliationOutcome | undefined;
    try {
      // A periodic round reads the venue first and recovers only when something differs.
      let recover = trigger !== "periodic";
      for (let round = 0; round < 2; round += 1) {
        const view = this.view();
        // After a first read or recovery found something, funding is looked for on every symbol too.
        const result = await venue.reconcile(view, this.handle, { recover, allFunding: round > 0 });
        recovered += result.recovered;
        if (recover) this.countFundingChecks(view);
        outcome = reconcile(this.view(), result.snapshot);
        if (outcome.action === "none" || (recover && outcome.action === "REDUCING")) break;
        recover = true;
      }
    } catch (error) {
      if (!(error instanceof VenueRequestError)) throw error;
      logger.warn({ trigger, error: error.message }, "reconciliation failed: tried again at the next point");
      return undefined;
    }
    const result = outcome!;
    const log = {
      trigger,
      time,
      recovered,
      action: result.action,
      discrepancies: result.discrepancies,
      numbers: result.numbers,
    };
    if (result.action === "HALTED")
      logger.error({ reconciliation: log, reason: result.reason }, "reconciliation: halted");
    else if (result.action === "REDUCING")
      logger.warn({ reconciliation: log, reason: result.reason }, "reconciliation: reducing");
    else logger.info({ reconciliation: log }, "reconciliation");
    await engine.recordReconciliation(trigger, recovered, result, {
      causationId: `reconciliation:${trigger}:${time}`,
      eventTime: time,
    });
    return result;
  }

  /** The engine's view; a settlement whose payment two rounds looked for is no longer looked for. */
  private view(): EngineView {
    const view = this.deps.engine.reconciliationView(this.deps.fundingFallback);
    const fundingSince = { ...view.fundingSince };
    for (const [symbol, settlement] of Object.entries(view.lastSettlement)) {
      const checks = this.fundingChecks.get(symbol);
      if (checks?.settlement === settlement && checks.rounds >= 2)
        fundingSince[symbol] = Math.max(fundingSince[symbol] ?? settlement, settlement);
    }
    return { ...view, fundingSince };
  }

  private countFundingChecks(view: EngineView): void {
    for (const [symbol, settlement] of Object.entries(view.lastSettlement)) {
      const checks = this.fundingChecks.get(symbol);
      if (checks?.settlement === settlement) checks.rounds += 1;
      else this.fundingChecks.set(symbol, { settlement, rounds: 1 });
    }
  }
}
