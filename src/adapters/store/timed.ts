/**
 * An event store that reports how long its writes take, for the process's metrics (src/adapters/http/
 * process-metrics.ts). Wall-clock time is measured here, at the edge, around the port's calls: nothing of it
 * reaches the events or the log.
 */
import type { EventStore } from "../../events/store.ts";

/** Told about each successful write of a `timeWrites` store. */
export interface StoreWriteObserver {
  /**
   * An append of `events` events (> 0) that took `seconds` (wall clock, commit included when it committed). An
   * idempotent retry (it resolves, writing nothing) is reported like the append it repeats: adapters do not all
   * tell the two apart (EventStoreDB reports no `recorded`).
   */
  appended(events: number, seconds: number): void;
  /** A flush (the commit of an open unit of work, src/events/store.ts `flush`) that took `seconds`. */
  flushed(seconds: number): void;
}

/**
 * `store` with the wall-clock duration (and size) of each successful non-empty append and each flush reported to
 * `observer`; a rejected call is not reported. Everything else is delegated unchanged; closing it closes
 * `store`.
 */
export function timeWrites(store: EventStore, observer: StoreWriteObserver): EventStore {
  return {
    async append(stream, events, expectedRevision) {
      const started = performance.now();
      const result = await store.append(stream, events, expectedRevision);
      if (events.length > 0) {
        observer.appended(events.length, (performance.now() - started) / 1000);
      }
      return result;
    },
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: (options) => store.readAll(options),
    subscribe: (options) => store.subscribe(options),
    streamRevision: (stream) => store.streamRevision(stream),
    async flush() {
      const started = performance.now();
      await store.flush();
      observer.flushed((performance.now() - started) / 1000);
    },
    close: () => store.close(),
  };
}
