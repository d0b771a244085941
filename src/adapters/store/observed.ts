/**
 * An event store that reports what each successful append wrote: the writer of a log (a backtest) folds its
 * own events as it goes (log hash, projections) instead of reading the whole log back at the end.
 */
import type { Observable } from "rxjs";
import type { NewEvent, RecordedEvent } from "../../events/envelope.ts";
import type {
  AppendResult,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
} from "../../events/store.ts";

/**
 * Called after each successful append with the events it wrote (`AppendResult.recorded`, in global order),
 * or with undefined when the store did not report them although the batch was not empty (an idempotent retry,
 * or an adapter that does not report its writes): the observer has then missed events or seen a retry. `batch`:
 * the events the caller appended (a retry's too).
 */
export type AppendObserver = (
  recorded: readonly RecordedEvent[] | undefined,
  batch: readonly NewEvent[],
) => void;

/**
 * `store` with every successful append reported to `observer` (after the store accepted it, before the
 * caller continues). Everything else is delegated unchanged; closing it closes `store`.
 */
export function observeAppends(store: EventStore, observer: AppendObserver): EventStore {
  return {
    append(
      stream: string,
      events: readonly NewEvent[],
      expectedRevision: ExpectedRevision,
    ): Promise<AppendResult> {
      return store.append(stream, events, expectedRevision).then((result) => {
        if (events.length > 0) observer(result.recorded, events);
        return result;
      });
    },
    readStream: (stream: string, options?: ReadStreamOptions) => store.readStream(stream, options),
    readAll: (options?: ReadAllOptions) => store.readAll(options),
    subscribe: (options?: { after?: number }): Observable<RecordedEvent> => store.subscribe(options),
    streamRevision: (stream: string) => store.streamRevision(stream),
    flush: () => store.flush(),
    close: () => store.close(),
  };
}
