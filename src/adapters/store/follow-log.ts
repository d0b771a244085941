/**
 * Catch-up-then-live subscriptions over a store's global log, shared by the in-process adapters. A subscriber
 * keeps a cursor (the last delivered position) and drains pages of later events whenever the store wakes it;
 * because catch-up and live delivery read the same log from the same cursor, there are no gaps or duplicates at
 * the switch-over, and events arrive in global order even when a subscriber appends from inside `next`.
 */
import { Observable } from "rxjs";
import type { RecordedEvent } from "../../events/envelope.ts";

/** One subscription as its store sees it. */
export interface LogFollower {
  /** New events may be stored: read the next page. */
  wake: () => void;
  /** The store closed: complete the subscription. */
  end: () => void;
  /** The log can no longer be followed (e.g. `StoreReplacedError`): error the subscription. */
  fail: (error: unknown) => void;
}

/** How a store drives one subscription. */
export interface LogFollowerHooks {
  /** Events with position > `after`, in order, at most `limit` of them (synchronous). */
  readPage(after: number, limit: number): readonly RecordedEvent[];
  /**
   * Registers the subscription: the store calls `wake` after each append (and on every poll), `end` when it
   * closes, `fail` when the log cannot be followed any more. Returns the function that unregisters it.
   */
  watch(follower: LogFollower): () => void;
}

/** Events per page while catching up; between full pages the subscriber yields to the event loop. */
const PAGE_SIZE = 1000;

/**
 * Every event with position > `after` (all when undefined): first the stored ones, then each new one after the
 * store wakes the subscription. Wake-ups are coalesced into one drain per microtask. A failing `readPage`
 * errors the subscription.
 */
export function followLog(hooks: LogFollowerHooks, after: number | undefined): Observable<RecordedEvent> {
  return new Observable<RecordedEvent>((subscriber) => {
    let cursor = after ?? 0;
    let scheduled = false;
    const drain = (): void => {
      scheduled = false;
      if (subscriber.closed) return;
      let page: readonly RecordedEvent[];
      try {
        page = hooks.readPage(cursor, PAGE_SIZE);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      for (const event of page) {
        if (subscriber.closed) return;
        cursor = event.position;
        subscriber.next(event);
      }
      if (page.length === PAGE_SIZE && !scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    };
    const wake = (): void => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(drain);
    };
    const unwatch = hooks.watch({
      wake,
      end: () => subscriber.complete(),
      fail: (error) => subscriber.error(error),
    });
    wake();
    return unwatch;
  });
}
