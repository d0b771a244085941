/**
 * The market stream's 1m bars aggregated into a higher interval, as an RxJS operator over the pure aggregator of
 * src/domain/bars/aggregate.ts (strategies.md §0, Time and bars). Synchronous, so it keeps `pull`'s backpressure.
 *
 * `withAggregatedBars` keeps the market events and adds the aggregated ones, each right after the event that
 * closed it.
 */
import { connect, merge, Observable, type OperatorFunction } from "rxjs";
import type { MarketEvent } from "../adapters/market/types.ts";
import {
  type BarAggregatorState,
  type BarStep,
  flushBarAggregator,
  type IntervalEvent,
  initialBarAggregator,
  stepBarAggregator,
} from "../domain/bars/aggregate.ts";
import type { BarInterval } from "../domain/bars/intervals.ts";

/** Options of `aggregateBars`. */
export interface AggregateBarsOptions {
  /**
   * On completion, emit the still-open buckets as partial (default false: a bucket whose last minute never
   * closed is not a closed bar; a trailing gap event flushes it anyway).
   */
  flushOnComplete?: boolean;
  /**
   * Resume from a saved state (e.g. a strategy snapshot; validate its JSON with `parseBarAggregatorState`)
   * instead of an empty one; its interval must match.
   */
  state?: BarAggregatorState;
}

/**
 * Market events (any symbols; funding settlements are ignored) → `interval` bars and interval gaps, per symbol
 * in time order (see `stepBarAggregator`). Errors with the aggregator's Error on out-of-order or malformed
 * input; source errors pass through unchanged.
 */
export function aggregateBars(
  interval: BarInterval,
  options: AggregateBarsOptions = {},
): OperatorFunction<MarketEvent, IntervalEvent> {
  const initial = options.state ?? initialBarAggregator(interval);
  if (initial.interval !== interval) {
    throw new RangeError(`aggregateBars(${interval}): the given state aggregates ${initial.interval}`);
  }
  return (source) =>
    new Observable<IntervalEvent>((subscriber) => {
      let state = initial;
      const emit = (events: readonly IntervalEvent[]): void => {
        for (const event of events) subscriber.next(event);
      };
      return source.subscribe({
        next: (event) => {
          if (event.kind === "funding") return;
          let step: BarStep;
          try {
            step = stepBarAggregator(state, event);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          state = step.state;
          emit(step.emitted);
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          if (options.flushOnComplete) emit(flushBarAggregator(state).emitted);
          subscriber.complete();
        },
      });
    });
}

/**
 * The market events unchanged, each followed by the `intervals`' events it closed (in the order of
 * `intervals`): e.g. the 1m bar closing 10:59:59.999, then the 5m, 15m and 1h bars closing with it. Aggregated
 * bars are told from the 1m ones by `bar.interval`, interval gaps by `gap.interval`.
 */
export function withAggregatedBars(
  intervals: readonly BarInterval[],
): OperatorFunction<MarketEvent, MarketEvent | IntervalEvent> {
  return connect((market$) =>
    merge(market$, ...intervals.map((interval) => market$.pipe(aggregateBars(interval)))),
  );
}
