/**
 * A run's units of work (docs/ARCHITECTURE.md, "Units of work"): after every `UNIT.marketEvents` market
 * events or `UNIT.marketMs` of market time, whichever first (so the points are deterministic), the run appends
 * a RunCheckpointed with the engine's and the venue's state and flushes the store. On resume the market events a
 * checkpoint covers are skipped, the last of them checked against the checkpoint's cursor. A live run also ends a
 * unit after each venue report and after its opening (`checkpointAt`).
 */
import type { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import type { runMachine } from "../actors/run.machine.ts";
import type { MarketEvent } from "../adapters/market/types.ts";
import type { SimulatedVenue, SimulatedVenueState } from "../adapters/venue/simulated/venue.ts";
import type { EventData } from "../events/catalog.ts";
import type { EventStore } from "../events/store.ts";
import type { EngineCheckpoint, TradingEngine } from "./trading-engine.ts";

/** A unit of work ends after this many market events or this much market time (ms), whichever first. */
export const UNIT = { marketEvents: 2_000, marketMs: 86_400_000 } as const;

/** The state a RunCheckpointed carries. */
export interface CheckpointState {
  engine: EngineCheckpoint;
  /** The simulated venue's state; absent when the run's venue is external (testnet, live). */
  venue?: SimulatedVenueState;
}

/** `--resume` on a store whose run cannot be continued (completed, or its inputs changed). */
export class CannotResumeError extends Error {
  override name = "CannotResumeError";
}

/** Counts the run's market events, skips those a checkpoint covers, and ends each unit with a checkpoint. */
export class UnitsOfWork {
  /** Market events of the feed seen so far (skipped ones included). */
  marketEvents = 0;
  private events = 0;
  private since = Number.NaN;
  /**
   * The last market event handled (the checkpoint's cursor, built from it only when a checkpoint is written);
   * undefined before the first.
   */
  private last: MarketEvent | undefined;
  private readonly skip: number;
  private readonly unit: { marketEvents: number; marketMs: number };

  constructor(
    private readonly deps: {
      runId: string;
      run: EventSourcedActor<typeof runMachine>;
      store: EventStore;
      engine: TradingEngine;
      /** The simulated venue; undefined when the run's venue is external. */
      venue: SimulatedVenue | undefined;
      /** The checkpoint the run resumes from, if any. */
      checkpoint?: EventData<"RunCheckpointed">;
      /** When a unit of work ends (default `UNIT`). */
      unit?: { marketEvents: number; marketMs: number };
      /**
       * Whether the feed replays the market events the checkpoint covers, to be skipped (a backtest's archive,
       * the default), or starts after them (a live feed).
       */
      skipCovered?: boolean;
    },
  ) {
    this.unit = deps.unit ?? UNIT;
    this.skip = deps.skipCovered === false ? 0 : (deps.checkpoint?.marketEvents ?? 0);
    this.marketEvents = deps.skipCovered === false ? (deps.checkpoint?.marketEvents ?? 0) : 0;
    if (deps.checkpoint) {
      const state = deps.checkpoint.state as unknown as CheckpointState;
      deps.engine.restore(state.engine);
      if (deps.venue) {
        if (!state.venue) throw new CannotResumeError("the checkpoint holds no simulated venue state");
        deps.venue.restore(state.venue);
      }
    }
  }

  /**
   * Handles market event `e` with `handle` unless the checkpoint covers it, then ends the unit when it is full.
   * @throws CannotResumeError when the feed's event at the checkpoint is not the one it recorded.
   */
  async step(e: MarketEvent, handle: (e: MarketEvent) => Promise<void>): Promise<void> {
    this.marketEvents += 1;
    if (this.marketEvents <= this.skip) {
      if (this.marketEvents === this.skip) checkCursor(this.deps.checkpoint!, e);
      return;
    }
    await handle(e);
    this.last = e;
    if (Number.isNaN(this.since)) this.since = e.time;
    this.events += 1;
    if (this.events >= this.unit.marketEvents || e.time - this.since >= this.unit.marketMs)
      await this.checkpointAt(e.time);
  }

  /**
   * Ends the unit now, after what the engine did since the last market event (a live run's stop: its orders
   * canceled); its cursor is that event's (or the resumed checkpoint's). Nothing before any market event.
   */
  async checkpointNow(): Promise<void> {
    const cursor = this.cursor();
    if (cursor) await this.checkpointAt(cursor.time);
  }

  /** The last market event handled, else the resumed checkpoint's; undefined when neither. */
  private cursor(): EventData<"RunCheckpointed">["cursor"] | undefined {
    const e = this.last;
    return e ? { time: e.time, kind: e.kind, symbol: marketSymbol(e) } : this.deps.checkpoint?.cursor;
  }

  /** @throws CannotResumeError when the feed ended before the checkpoint's market event. */
  checkComplete(): void {
    if (this.marketEvents < this.skip) {
      throw new CannotResumeError(
        `the market data now holds ${this.marketEvents} events, fewer than the ${this.skip} the checkpoint covers`,
      );
    }
  }

  /**
   * Ends the unit of work now: appends a RunCheckpointed at market time `time` (ms) and flushes the store. A live
   * run calls it after each venue report and after its opening, so that a restart finds at most one input's
   * events after its last checkpoint.
   */
  async checkpointAt(time: number): Promise<void> {
    const { runId, run, store, engine, venue } = this.deps;
    const cursor = this.cursor();
    await engine.catchUp();
    const state: CheckpointState = {
      engine: engine.checkpoint(),
      ...(venue ? { venue: venue.snapshot() } : {}),
    };
    await run.commit(
      [
        {
          type: "RunCheckpointed",
          data: {
            runId,
            marketEvents: this.marketEvents,
            ...(cursor ? { cursor } : {}),
            state: state as unknown as Record<string, unknown>,
          },
        },
      ],
      { causationId: `run:${runId}`, eventTime: time },
    );
    await store.flush();
    this.events = 0;
    this.since = Number.NaN;
  }
}

/** The symbol a market event concerns. */
function marketSymbol(e: MarketEvent): string {
  return e.kind === "bar" ? e.bar.symbol : e.kind === "funding" ? e.funding.symbol : e.gap.symbol;
}

/** On resume, the feed's event at the checkpoint must be the one the checkpoint recorded. */
function checkCursor(checkpoint: EventData<"RunCheckpointed">, e: MarketEvent): void {
  const { cursor } = checkpoint;
  if (!cursor || cursor.time !== e.time || cursor.kind !== e.kind || cursor.symbol !== marketSymbol(e)) {
    throw new CannotResumeError(
      `the market data changed since the checkpoint: its event ${checkpoint.marketEvents} was ${cursor?.kind} ` +
        `${cursor?.symbol} at ${cursor?.time}, the feed now has ${e.kind} ${marketSymbol(e)} at ${e.time}`,
    );
  }
}
