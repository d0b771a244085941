/**
 * Keeping the dashboard's market series (src/projections/market-series.ts) on the store's log: fold the stored log,
 * then follow `subscribe`. A replaced store (`StoreReplacedError`) is folded again from its start; any other
 * failure stops the folding and is reported by `error()` (the routes then answer 503 naming it).
 */
import type { RecordedEvent } from "../../../events/envelope.ts";
import { type EventStore, StoreReplacedError } from "../../../events/store.ts";
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
 * Folds `store`'s log into market series and follows it; resolves once the stored log is folded.
 * @throws whatever the store throws on that first read.
 */
export async function followSeries(store: EventStore): Promise<FollowedSeries> {
  let current = new MarketSeries();
  let failure: Error | undefined;
  let subscription: { unsubscribe(): void } | undefined;
  let stopped = false;

  const load = async (): Promise<void> => {
    const fresh = new MarketSeries();
    for await (const event of store.readAll()) fresh.apply(event);
    if (stopped) return;
    current = fresh;
    failure = undefined;
    const after = fresh.lastPosition();
    subscription = store.subscribe(after === null ? {} : { after }).subscribe({
      next: (event: RecordedEvent) => current.apply(event),
      error: (error: unknown) => {
        if (error instanceof StoreReplacedError && !stopped) {
          load().catch((e: unknown) => {
            failure = e instanceof Error ? e : new Error(String(e));
          });
        } else failure = error instanceof Error ? error : new Error(String(error));
      },
    });
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
