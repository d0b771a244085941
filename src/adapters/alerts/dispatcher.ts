/**
 * Sending alerts without ever holding up trading. `enqueue` is synchronous and O(1): it deduplicates (one alert
 * per key within `dedupeMs`) and puts the alert on each sink's bounded queue (full: the alert is dropped for
 * that sink and counted). Each sink has its own worker: it waits for a token of the sink's bucket
 * (`ratePerMinute`), then sends with a timeout, retrying a failure with exponential backoff and full jitter
 * (delays abort when the dispatcher closes); an alert that still fails is logged and counted, never thrown. A
 * sink that hangs or fails only delays its own queue.
 */
import type { Logger } from "pino";
import { Deduper, TokenBucket } from "../../alerts/limits.ts";
import type { Alert } from "../../alerts/rules.ts";

/** Where alerts go (Telegram, a webhook). */
export interface AlertSink {
  /** e.g. `telegram`, `webhook`: the key of its stats and log lines. */
  readonly name: string;
  /**
   * Sends one alert; rejects when the other side did not take it (then it is retried). Must stop at `signal`'s
   * abort (the send timeout or the dispatcher closing).
   */
  send(alert: Alert, signal: AbortSignal): Promise<void>;
}

/** One sink's counts since the dispatcher started. */
export interface SinkStats {
  sent: number;
  /** Given up after the last retry. */
  failed: number;
  /** Not queued: the queue was full. */
  dropped: number;
  /** Waiting now. */
  queued: number;
}

/** Options of `AlertDispatcher`. */
export interface AlertDispatcherOptions {
  sinks: readonly AlertSink[];
  logger: Logger;
  /** The same key within this many ms is sent once (0: every alert). */
  dedupeMs: number;
  /** Sends per minute per sink (the bucket's size and refill). */
  ratePerMinute: number;
  /** Alerts waiting per sink; more are dropped. */
  queueSize: number;
  /** Attempts per alert and sink (default 5). */
  attempts?: number;
  /** First retry delay, ms (default 1 000; doubled each retry, at most 60 000). */
  retryDelayMs?: number;
  /** One attempt's timeout, ms (default 10 000). */
  sendTimeoutMs?: number;
  /** Wall clock, ms (default Date.now). */
  now?: () => number;
}

interface SinkWorker {
  sink: AlertSink;
  queue: Alert[];
  bucket: TokenBucket;
  stats: Omit<SinkStats, "queued">;
  running: Promise<void> | undefined;
}

/** The dispatcher (see the module comment). */
export class AlertDispatcher {
  readonly #workers: SinkWorker[];
  readonly #dedupe: Deduper;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #closing = new AbortController();
  readonly #options: Required<
    Pick<AlertDispatcherOptions, "attempts" | "retryDelayMs" | "sendTimeoutMs" | "queueSize">
  >;
  #deduplicated = 0;

  constructor(options: AlertDispatcherOptions) {
    this.#logger = options.logger.child({ component: "alerts" });
    this.#now = options.now ?? Date.now;
    this.#dedupe = new Deduper(options.dedupeMs);
    this.#options = {
      attempts: options.attempts ?? 5,
      retryDelayMs: options.retryDelayMs ?? 1_000,
      sendTimeoutMs: options.sendTimeoutMs ?? 10_000,
      queueSize: options.queueSize,
    };
    this.#workers = options.sinks.map((sink) => ({
      sink,
      queue: [],
      bucket: new TokenBucket(options.ratePerMinute, 60_000),
      stats: { sent: 0, failed: 0, dropped: 0 },
      running: undefined,
    }));
  }

  /** Queues `alert` for every sink unless its key was sent within the dedupe window. Never throws or waits. */
  enqueue(alert: Alert): void {
    if (this.#closing.signal.aborted) return;
    if (!this.#dedupe.admit(alert.key, this.#now())) {
      this.#deduplicated += 1;
      this.#logger.debug({ key: alert.key }, "alert deduplicated");
      return;
    }
    this.#logger.info({ key: alert.key, severity: alert.severity }, alert.title);
    for (const worker of this.#workers) {
      if (worker.queue.length >= this.#options.queueSize) {
        worker.stats.dropped += 1;
        this.#logger.warn(
          { sink: worker.sink.name, key: alert.key },
          "alert dropped: the sink's queue is full",
        );
        continue;
      }
      worker.queue.push(alert);
      worker.running ??= this.#drain(worker).finally(() => {
        worker.running = undefined;
      });
    }
  }

  /** Counts per sink, and the alerts deduplicated. */
  stats(): { sinks: Record<string, SinkStats>; deduplicated: number } {
    const sinks: Record<string, SinkStats> = {};
    for (const w of this.#workers) sinks[w.sink.name] = { ...w.stats, queued: w.queue.length };
    return { sinks, deduplicated: this.#deduplicated };
  }

  /** Resolves when every queue is empty and no send is under way (tests; a graceful stop). */
  async idle(): Promise<void> {
    while (this.#workers.some((w) => w.running !== undefined)) {
      await Promise.all(this.#workers.map((w) => w.running));
    }
  }

  /**
   * Waits up to `graceMs` for the queues to drain, then aborts what is left (counted as failed). Later
   * `enqueue`s are ignored.
   */
  async close(graceMs = 2_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.#closing.abort();
    for (const w of this.#workers) {
      w.stats.failed += w.queue.length;
      w.queue.length = 0;
    }
    await this.idle();
  }

  async #drain(worker: SinkWorker): Promise<void> {
    const closing = this.#closing.signal;
    while (worker.queue.length > 0 && !closing.aborted) {
      const wait = worker.bucket.take(this.#now());
      if (wait > 0) {
        await sleep(wait, closing);
        continue;
      }
      const alert = worker.queue.shift()!;
      if (await this.#send(worker.sink, alert)) worker.stats.sent += 1;
      else worker.stats.failed += 1;
    }
  }

  /** Sends `alert` to `sink` with retries (see the module comment); whether it was taken. Never throws. */
  async #send(sink: AlertSink, alert: Alert): Promise<boolean> {
    const closing = this.#closing.signal;
    const { attempts, retryDelayMs, sendTimeoutMs } = this.#options;
    for (let attempt = 1; ; attempt++) {
      try {
        await sink.send(alert, AbortSignal.any([closing, AbortSignal.timeout(sendTimeoutMs)]));
        return true;
      } catch (error) {
        const last = attempt >= attempts || closing.aborted;
        const log = { sink: sink.name, key: alert.key, attempt, err: String(error) };
        if (last) {
          this.#logger.error(log, "alert not sent: giving up");
          return false;
        }
        this.#logger.warn(log, "alert not sent; retrying");
        // Full jitter over an exponential ceiling (the wall clock and randomness are an adapter's to use).
        await sleep(Math.random() * Math.min(60_000, retryDelayMs * 2 ** (attempt - 1)), closing);
      }
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
