/**
 * Backpressure for RxJS over an async iterable (e.g. `archiveMarketEvents`). RxJS only pushes: `from(iterable)`
 * reads as fast as the iterable yields, so a consumer that awaits per item (store appends) buffers the whole
 * feed. Here the consumer's progress is the demand:
 *
 * ```ts
 * const feed = pull(archiveMarketEvents(files, window), { window: 1 });
 * await lastValueFrom(feed.items$.pipe(aggregateBars("1h"), feed.consume(handle)), { defaultValue: undefined });
 * ```
 *
 * `items$` reads the next item only while fewer than `window` items are inside `consume` (queued or being
 * handled), so at most `window` items are read ahead of the handler, whatever the run's length; once the window
 * is full it reads again when at most half of it is left. Operators
 * between `items$` and `consume` must be synchronous (map, filter, scan, `aggregateBars`): an item one of them
 * turns into several is still handled before the next read; an item it drops frees the demand at once.
 * Without `consume`, `items$` reads as fast as its subscriber takes items, like `from`.
 */
import { config, Observable, type OperatorFunction } from "rxjs";

/** How far the source may run ahead of the consumer. */
export interface PullOptions {
  /** Items read from the iterable and not yet handled by `consume`, at most (an integer ≥ 1; default 1). */
  window?: number;
}

/** A pulled source and the consumer operator that drives it. */
export interface Pull<T> {
  /**
   * The iterable's items, read one at a time as `consume` makes room. Completes when the iterable is done;
   * errors with the iterable's own error (a `MarketDataError` keeps its file:line); unsubscribing calls the
   * iterator's `return()` (its files are closed). Single use: a second subscription errors.
   */
  readonly items$: Observable<T>;
  /**
   * Runs `handler` on each item, one at a time and in order, and emits its results; each handled item lets
   * `items$` read on. A handler's error (thrown or rejected) errors the stream and closes the iterator.
   */
  consume<U, R>(handler: (item: U) => R | PromiseLike<R>): OperatorFunction<U, R>;
}

/** Pairs `iterable` with its consumer; see the module comment. Throws a RangeError for a bad `window`. */
export function pull<T>(iterable: AsyncIterable<T>, options: PullOptions = {}): Pull<T> {
  const window = options.window ?? 1;
  if (!Number.isSafeInteger(window) || window < 1) {
    throw new RangeError(`pull: window must be an integer ≥ 1, got ${window}`);
  }
  let pending = 0; // items inside consume: queued or being handled
  // A waiting reader is woken once at most half the window is left, to read the rest in one go: one wake-up per
  // half window, not per item (with a window of 1: as soon as it is empty).
  const lowWater = window - Math.max(1, Math.floor(window / 2));
  let resume: (() => void) | undefined; // wakes the reader waiting for room
  const wake = (): void => {
    const waiting = resume;
    resume = undefined;
    waiting?.();
  };
  let subscribed = false;

  const items$ = new Observable<T>((subscriber) => {
    if (subscribed) {
      subscriber.error(new Error("pull: items$ reads one iterator and can be subscribed only once"));
      return;
    }
    subscribed = true;
    const iterator = iterable[Symbol.asyncIterator]();
    let unsubscribed = false;
    const read = async (): Promise<void> => {
      try {
        while (!unsubscribed) {
          if (pending >= window) {
            await new Promise<void>((resolve) => {
              resume = resolve;
            });
            continue;
          }
          const result = await iterator.next();
          if (unsubscribed) break;
          if (result.done) {
            subscriber.complete();
            return;
          }
          subscriber.next(result.value);
        }
      } catch (error) {
        // The iterator threw: it is already closed.
        subscriber.error(error);
        return;
      }
      // Unsubscribed before the iterator finished: close it (its finally blocks run, files are closed).
      Promise.resolve(iterator.return?.()).catch(reportUnhandled);
    };
    void read();
    return () => {
      unsubscribed = true;
      wake();
    };
  });

  const consume = <U, R>(handler: (item: U) => R | PromiseLike<R>): OperatorFunction<U, R> => {
    return (source) =>
      new Observable<R>((subscriber) => {
        const queue: U[] = []; // arrived, not yet handled: at most `window` items (plus one item's fan-out)
        let handling = false;
        let sourceDone = false;
        const drain = async (): Promise<void> => {
          handling = true;
          try {
            while (queue.length > 0 && !subscriber.closed) {
              const item = queue.shift() as U;
              const result = await handler(item);
              if (subscriber.closed) return;
              pending--;
              if (pending <= lowWater) wake();
              subscriber.next(result);
            }
          } catch (error) {
            subscriber.error(error);
            return;
          }
          handling = false;
          if (sourceDone) subscriber.complete();
        };
        const subscription = source.subscribe({
          next: (item) => {
            pending++;
            queue.push(item);
            if (!handling) void drain();
          },
          error: (error) => subscriber.error(error),
          complete: () => {
            sourceDone = true;
            if (!handling) subscriber.complete();
          },
        });
        return () => subscription.unsubscribe();
      });
  };

  return { items$, consume };
}

/**
 * `handler` applied to every item of `iterable` in order, one at a time, reading at most `options.window`
 * items ahead: `pull(iterable, options)` with `consume(handler)` right after `items$`.
 */
export function consumeInOrder<T, R>(
  iterable: AsyncIterable<T>,
  handler: (item: T) => R | PromiseLike<R>,
  options: PullOptions = {},
): Observable<R> {
  const feed = pull(iterable, options);
  return feed.items$.pipe(feed.consume(handler));
}

/** An error with no subscriber left to receive it (closing an abandoned iterator), reported as RxJS does. */
function reportUnhandled(error: unknown): void {
  const handler = config.onUnhandledError;
  if (handler) handler(error);
  else
    queueMicrotask(() => {
      throw error;
    });
}
