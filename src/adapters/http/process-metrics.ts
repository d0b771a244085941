/**
 * Metrics of this process that the event log does not hold (src/projections/metrics.ts derives the others from
 * it): how long the event store's writes take and how many events this process appended (a `timeWrites`
 * store), and how often the live Binance adapter's WebSocket streams reconnected. Measured at the edge, in the
 * process that appends or trades; served on its `/metrics` beside the log's families (`run --serve`,
 * `backtest --serve`, `start`).
 */
import { Counter, Histogram, Registry } from "prom-client";
import type { StoreWriteObserver } from "../store/timed.ts";

/** The live adapter's WebSocket streams: market data (klines, marks) and the account's user-data stream. */
export type WebSocketStream = "market" | "user";

/** Bucket bounds of the write histogram, seconds: 50 µs (an in-process append) to 2.5 s (a stalled disk). */
const WRITE_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** The families `ProcessMetrics` registers, by name. */
export const processMetricNames = {
  writeDuration: "perpsource_store_write_duration_seconds",
  eventsAppended: "perpsource_events_appended_total",
  reconnects: "perpsource_ws_reconnects_total",
} as const;

/** The process's own metrics in a prom-client Registry (see the module comment). */
export class ProcessMetrics {
  readonly registry = new Registry();
  private readonly writes = new Histogram({
    name: processMetricNames.writeDuration,
    help: "Wall-clock duration of the event store's appends and flushes (commits) in this process, seconds, by op.",
    labelNames: ["op"],
    buckets: WRITE_BUCKETS,
    registers: [this.registry],
  });
  private readonly appendedEvents = new Counter({
    name: processMetricNames.eventsAppended,
    help: "Events this process appended to the event store.",
    registers: [this.registry],
  });
  private readonly reconnects = new Counter({
    name: processMetricNames.reconnects,
    help: "WebSocket reconnections of the live Binance adapter, by stream (market, user).",
    labelNames: ["stream"],
    registers: [this.registry],
  });

  constructor() {
    for (const op of ["append", "flush"]) this.writes.zero({ op });
    for (const stream of ["market", "user"]) this.reconnects.inc({ stream }, 0);
  }

  /** The observer of a `timeWrites` store: feeds the write histogram and the appended-events counter. */
  readonly storeWrites: StoreWriteObserver = {
    appended: (events, seconds) => {
      this.writes.observe({ op: "append" }, seconds);
      this.appendedEvents.inc(events);
    },
    flushed: (seconds) => this.writes.observe({ op: "flush" }, seconds),
  };

  /** Counts one reconnection of `stream` (the adapters' `onReconnect`). */
  reconnected(stream: WebSocketStream): void {
    this.reconnects.inc({ stream });
  }
}
