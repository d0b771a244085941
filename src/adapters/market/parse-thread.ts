/**
 * Archive parsing on a thread of its own. Parsing and validating the CSV rows is the largest single cost of
 * reading the archive; a backtest reads through `ParseThread`, so its rows are parsed beside the engine instead
 * of on its thread (a pipeline: on two cores the run then costs about the engine alone).
 *
 * The readers are those of klines.ts, run unchanged in the thread (parse-thread.worker.ts): same rows, same
 * order, same `MarketDataError` (file:line: reason) at the same place in the stream — the rows before a bad
 * line are delivered first. Each stream reads ahead by at most `AHEAD_BATCHES` batches of rows (credit granted
 * as its reader consumes them), so memory stays flat however long the file. One thread serves every file of a
 * run (or several: a caller may keep one for its process); it starts when constructed, so it loads its modules
 * while the caller discovers and hashes the files, and stops at `close()`.
 */
import type { Worker } from "node:worker_threads";
import { tsWorker } from "../ts-worker.ts";
import type { KlineRow, MarkPriceKline } from "./klines.ts";
import {
  type ParseReader,
  type ParseReply,
  type ParseRequest,
  type SerializedError,
  unpackRows,
} from "./parse-thread.protocol.ts";
import { type CsvSource, MarketDataError } from "./types.ts";

/** Batches a stream may have parsed and not yet consumed. */
const AHEAD_BATCHES = 4;
/** The thread's young generation, MB (see `start`). */
const PARSE_THREAD_YOUNG_MB = 6;

interface Pending {
  /** Batches received, packed (`packRow`). */
  batches: unknown[][];
  end?: { error?: SerializedError };
  wake?: () => void;
}

function revive(e: SerializedError): Error {
  if (e.kind === "market") return new MarketDataError(e.file, e.line, e.reason);
  const error = new Error(e.message);
  error.name = e.name;
  if (e.code !== undefined) (error as NodeJS.ErrnoException).code = e.code;
  return error;
}

/** A parse thread; see the module comment. */
export class ParseThread {
  private worker: Worker | undefined;
  private failure: Error | undefined;
  private nextId = 0;
  private readonly streams = new Map<number, Pending>();
  private readonly loaded: Promise<void>;
  private onLoaded: { resolve: () => void; reject: (error: Error) => void } | undefined;

  /** Starts the thread at once (loading its modules takes a few hundred ms: start it before it is needed). */
  constructor() {
    this.loaded = new Promise<void>((resolve, reject) => {
      this.onLoaded = { resolve, reject };
    });
    // Observed here, so a thread that fails before anyone awaits `ready()` is no unhandled rejection.
    this.loaded.catch(() => {});
    this.start();
  }

  /**
   * Resolves once the thread has loaded its modules and takes streams at once (streams opened before are
   * served as soon as it has); rejects when it failed to start. A caller that times runs awaits it first, so
   * the thread's start-up (a cost of the process, not of a run) is not timed.
   */
  ready(): Promise<void> {
    return this.loaded;
  }

  /** The rows of `readKlineFile(src)` (1m klines), parsed in the thread. */
  klines(src: CsvSource): AsyncGenerator<KlineRow> {
    return this.read("klines", src) as AsyncGenerator<KlineRow>;
  }

  /**
   * The rows of `klines(src)` in the (non-empty) batches they cross the thread boundary in: a reader that takes
   * them a batch at a time awaits once per batch instead of once per row.
   */
  klineBatches(src: CsvSource): AsyncGenerator<KlineRow[]> {
    return this.batches("klines", src) as AsyncGenerator<KlineRow[]>;
  }

  /** The rows of `readMarkPriceBarFile(src)` (1m mark-price klines), parsed in the thread. */
  markPriceBars(src: CsvSource): AsyncGenerator<MarkPriceKline> {
    return this.read("markPriceBars", src) as AsyncGenerator<MarkPriceKline>;
  }

  /** Stops the thread (streams still open then fail). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failure ??= new Error("ParseThread: closed");
    this.onLoaded?.reject(this.failure);
    for (const s of this.streams.values())
      this.finish(s, { kind: "other", name: "Error", message: "closed" });
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.failure) throw this.failure;
    if (this.worker) return this.worker;
    const worker = tsWorker(new URL("./parse-thread.worker.ts", import.meta.url), {
      // Its rows are garbage once posted: a small young generation keeps the thread's memory small and steady
      // (the default one grows to tens of MB, and a run's peak RSS with it, by more or less from run to run).
      resourceLimits: { maxYoungGenerationSizeMb: PARSE_THREAD_YOUNG_MB },
    });
    worker.on("message", (m: ParseReply) => {
      if ("ready" in m) {
        this.onLoaded?.resolve();
        return;
      }
      const s = this.streams.get(m.id);
      if (!s) return;
      if ("rows" in m) s.batches.push(m.rows);
      else this.finish(s, "error" in m ? m.error : undefined);
      s.wake?.();
      s.wake = undefined;
    });
    worker.on("error", (error) => {
      this.failure = error;
      this.onLoaded?.reject(error);
      for (const s of this.streams.values()) {
        this.finish(s, { kind: "other", name: error.name, message: `parse thread failed: ${error.message}` });
      }
    });
    this.worker = worker;
    return worker;
  }

  private finish(s: Pending, error: SerializedError | undefined): void {
    s.end ??= error === undefined ? {} : { error };
    s.wake?.();
    s.wake = undefined;
  }

  private async *read(reader: ParseReader, src: CsvSource): AsyncGenerator<unknown> {
    for await (const batch of this.batches(reader, src)) yield* batch;
  }

  private async *batches(reader: ParseReader, src: CsvSource): AsyncGenerator<unknown[]> {
    const worker = this.start();
    const id = this.nextId++;
    const s: Pending = { batches: [] };
    this.streams.set(id, s);
    const post = (m: ParseRequest) => worker.postMessage(m);
    post({
      op: "open",
      id,
      reader,
      src: { path: src.path, absolutePath: src.absolutePath },
      batches: AHEAD_BATCHES,
    });
    worker.ref(); // a stream is being read: the thread's replies must keep the process alive
    let ended = false;
    let consumed = 0; // batches taken since the last credit: granted back in halves of the window (fewer messages)
    try {
      for (;;) {
        const batch = s.batches.shift();
        if (batch !== undefined) {
          if (++consumed === AHEAD_BATCHES / 2) {
            post({ op: "credit", id, batches: consumed });
            consumed = 0;
          }
          if (batch.length > 0) yield unpackRows(reader, batch);
          continue;
        }
        if (s.end) {
          ended = true;
          if (s.end.error) throw revive(s.end.error);
          return;
        }
        await new Promise<void>((resolve) => (s.wake = resolve));
      }
    } finally {
      this.streams.delete(id);
      if (!ended && this.worker === worker) post({ op: "close", id });
      if (this.streams.size === 0) worker.unref();
    }
  }
}
