/**
 * Keeping the served projections on the store's log: catch up with `readAll`, then follow `subscribe`. A
 * store replaced under the server (`StoreReplacedError`, e.g. `backtest --overwrite` on a SQLite file) is
 * reloaded: fresh projections are folded from the new log's start, then swapped in. A log that cannot be
 * followed (a `CorruptEventError`, an event the projections refuse, a failing store) stops the folding and
 * puts the server in an error state naming the event's position, rather than serving a silently truncated
 * log.
 */
import type { Logger } from "pino";
import type { RecordedEvent } from "../../events/envelope.ts";
import { CorruptEventError, type EventStore, StoreReplacedError } from "../../events/store.ts";
import { createProjections, type Projections } from "../../projections/index.ts";

/** Whether the served projections follow the log, or why they stopped. */
export type LogHealth =
  | { status: "ok" }
  | {
      status: "error";
      error: {
        /** The error's class name, e.g. `CorruptEventError`. */
        name: string;
        message: string;
        /** Global position of the event that could not be folded, when one is to blame. */
        position?: number;
      };
    };

/** Projections that follow a store. */
export interface FollowedProjections {
  /** The current projections (a reload replaces them: a new object, so caches keyed on it are dropped). */
  current(): Projections;
  health(): LogHealth;
  /** Stops following (the store stays open). */
  stop(): void;
}

/**
 * Folds the store's log into projections and follows it (see the module comment); resolves once the stored
 * log is folded (or found unreadable: `health()` then says why).
 * @throws whatever the store throws on the first read, other than CorruptEventError.
 */
export async function followProjections(store: EventStore, logger: Logger): Promise<FollowedProjections> {
  let current = createProjections();
  let health: LogHealth = { status: "ok" };
  let subscription: { unsubscribe(): void } | undefined;
  let stopped = false;

  /**
   * Enters the error state. When one event is to blame, keeps a subscription past it only to notice a
   * replaced store (which is then reloaded); its events are not folded.
   */
  const fail = (error: unknown, event?: RecordedEvent): void => {
    const position = error instanceof CorruptEventError ? error.position : event?.position;
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    health = { status: "error", error: { name, message, ...(position === undefined ? {} : { position }) } };
    logger.error({ err: error, position }, "the served projections stopped following the event store");
    subscription?.unsubscribe();
    subscription = undefined;
    if (position === undefined || stopped) return;
    subscription = store.subscribe({ after: position }).subscribe({
      error: (later: unknown) => (later instanceof StoreReplacedError ? void reload(later) : undefined),
    });
  };

  /** Folds the log from its start into fresh projections, swaps them in, then follows the live log. */
  const load = async (initial: boolean): Promise<void> => {
    const fresh = createProjections();
    let event: RecordedEvent | undefined;
    try {
      for await (event of store.readAll()) fresh.apply(event);
      event = undefined;
    } catch (error) {
      if (stopped) return;
      if (error instanceof StoreReplacedError) return reload(error);
      if (initial && !(error instanceof CorruptEventError) && event === undefined) throw error;
      current = fresh;
      return fail(error, event);
    }
    if (stopped) return;
    current = fresh;
    health = { status: "ok" };
    const after = fresh.lastPosition();
    subscription = store.subscribe(after === null ? {} : { after }).subscribe({
      next: (live) => {
        try {
          current.apply(live);
        } catch (error) {
          fail(error, live);
        }
      },
      error: (error: unknown) => (error instanceof StoreReplacedError ? void reload(error) : fail(error)),
    });
  };

  const reload = async (reason: StoreReplacedError): Promise<void> => {
    subscription?.unsubscribe();
    logger.warn(
      { reason: reason.message },
      "the event store was replaced: reloading the projections from its start",
    );
    try {
      await load(false);
    } catch (error) {
      return fail(error);
    }
    if (health.status === "ok") {
      logger.info({ events: current.eventCount() }, "projections reloaded from the replaced event store");
    }
  };

  await load(true);
  return {
    current: () => current,
    health: () => health,
    stop: () => {
      stopped = true;
      subscription?.unsubscribe();
    },
  };
}
