/**
 * The live market events of several symbols in the archive merge's order (src/adapters/market/merge.ts): by
 * time, then kind (funding, gap, bar), then symbol in alphabetical order, so a minute's bars of all symbols go
 * out ordered by symbol and a settlement goes before the bars closing after it.
 */
import { Observable, type OperatorFunction } from "rxjs";
import type { MarketEvent } from "../market/types.ts";

const KIND_RANK: Record<MarketEvent["kind"], number> = { funding: 0, gap: 1, bar: 2 };

/** The symbol a market event is about. */
export function eventSymbol(event: MarketEvent): string {
  return event.kind === "bar"
    ? event.bar.symbol
    : event.kind === "funding"
      ? event.funding.symbol
      : event.gap.symbol;
}

/** The archive merge's order (see the module comment): negative when `a` goes first. */
export function compareMarketEvents(a: MarketEvent, b: MarketEvent): number {
  if (a.time !== b.time) return a.time - b.time;
  const rank = KIND_RANK[a.kind] - KIND_RANK[b.kind];
  if (rank !== 0) return rank;
  const sa = eventSymbol(a);
  const sb = eventSymbol(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * Orders events of `symbols` that arrive in order per symbol (each symbol's events strictly increasing by
 * `compareMarketEvents`) but interleaved arbitrarily across symbols. An event goes out once every other symbol
 * has an event queued after it or has already sent one after it, so nothing later can go before it: output
 * lags input by the symbols' skew (a symbol that sends nothing holds the others back; the feed's watchdog
 * ends that with a gap). On completion the queued events go out in order.
 * Errors with a RangeError for an event of another symbol or one out of its symbol's order.
 */
export function inMarketOrder(symbols: readonly string[]): OperatorFunction<MarketEvent, MarketEvent> {
  return (source) =>
    new Observable<MarketEvent>((subscriber) => {
      const queues = new Map<string, MarketEvent[]>(symbols.map((s) => [s, []]));
      const last = new Map<string, MarketEvent>(); // the last event each symbol sent into the merge
      const release = (): void => {
        for (;;) {
          let best: MarketEvent | undefined;
          for (const queue of queues.values()) {
            const head = queue[0];
            if (head !== undefined && (best === undefined || compareMarketEvents(head, best) < 0))
              best = head;
          }
          if (best === undefined) return;
          for (const [symbol, queue] of queues) {
            if (queue.length > 0) continue;
            const seen = last.get(symbol);
            if (seen === undefined || compareMarketEvents(seen, best) < 0) return;
          }
          queues.get(eventSymbol(best))!.shift();
          subscriber.next(best);
        }
      };
      return source.subscribe({
        next: (event) => {
          const symbol = eventSymbol(event);
          const queue = queues.get(symbol);
          const previous = last.get(symbol);
          if (queue === undefined) {
            subscriber.error(
              new RangeError(`inMarketOrder: event of ${symbol}, not one of ${symbols.join(",")}`),
            );
            return;
          }
          if (previous !== undefined && compareMarketEvents(previous, event) >= 0) {
            subscriber.error(
              new RangeError(
                `inMarketOrder: ${symbol} ${event.kind} at ${event.time} after ${previous.kind} at ${previous.time}`,
              ),
            );
            return;
          }
          last.set(symbol, event);
          queue.push(event);
          release();
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          const rest = [...queues.values()].flat().sort(compareMarketEvents);
          for (const event of rest) subscriber.next(event);
          subscriber.complete();
        },
      });
    });
}
