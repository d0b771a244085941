/**
 * Keeping the dashboard's market series (src/projections/market-series.ts) on the store's log: fold the stored log,
 * then follow `subscribe`. A replaced store (`StoreReplacedError`) is folded again from its start; any other
 * failure stops the folding and is reported by `error()` (the routes then answer 503 naming it), as
 * follow-projections.ts does for the projections.
 */
import type { RecordedEvent } from "../../../events/envelope.ts";
import { CorruptEventError, type EventStore, StoreReplacedError } from "../../../events/store.ts";
import { MarketSeries } from "../../../projections/market-series.ts";

/** Market series that follow a store. */
export interface FollowedSeries {
  /** The current series (a reload replaces the object). */
  current(): MarketSeries;
  /** Why the series stopped following the log, or undefined while they follow it. */
  error(): Error | undefined;
  /** Stops following (the store stays open). */
  stop(): void;
}

/**
 * Folds `store`'s log into market series and follows it; resolves once the stored log is folded, or found
 * unreadable (`error()` then says why; at a corrupt event, a subscription past it waits for the store to be
 * replaced, which is then folded from its start).
 */
export async function followSeries(store: EventStore): Promise<FollowedSeries> {
  let current = new MarketSeries();
  let failure: Error | undefined;
  let subscription: { unsubscribe(): void } | undefined;
  let stopped = false;

  const fail = (error: unknown): void => {
    failure = error instanceof Error ? error : new Error(String(error));
    subscription?.unsubscribe();
    subscription = undefined;
    if (stopped || !(error instanceof CorruptEventError)) return;
    subscription = store.subscribe({ after: error.position }).subscribe({
      error: (later: unknown) => (later instanceof StoreReplacedError ? reload() : undefined),
    });
  };

  const load = async (): Promise<void> => {
    const fresh = new MarketSeries();
    try {
      for await (const event of store.readAll()) fresh.apply(event);
    } catch (error) {
      if (stopped) return;
      if (error instanceof StoreReplacedError) return reload();
      current = fresh;
      return fail(error);
    }
    if (stopped) return;
    current = fresh;
    failure = undefined;
    const after = fresh.lastPosition();
    subscription = store.subscribe(after === null ? {} : { after }).subscribe({
      next: (event: RecordedEvent) => current.apply(event),
      error: (error: unknown) => (error instanceof StoreReplacedError ? reload() : fail(error)),
    });
  };

  const reload = (): void => {
    subscription?.unsubscribe();
    subscription = undefined;
    if (!stopped) load().catch(fail);
  };

  await load();
  return {
    current: () => current,
    error: () => failure,
    stop: () => {
      stopped = true;
      subscription?.unsubscribe();
    },
  };
}
