/**
 * The log hash of `EventLogHasher`, computed in a worker thread: the writer of a log hands each event to the
 * worker in a compact form, and the worker writes its canonical line (`validatedEventLine`), encodes it and
 * hashes it, beside the writer instead of on its thread. A BarClosed (one per bar: nearly every event of a
 * backtest) crosses as its fields, which cost the writer far less to copy than its line costs to build; any
 * other event crosses as its line, built by the writer. Same digest as `EventLogHasher` over the same events
 * (`test/engine-log-fold.test.ts`). At most `MAX_IN_FLIGHT` chunks wait for the worker: a writer ahead of it
 * by more waits (blocking, on a shared counter the worker bumps per chunk), so memory stays flat whatever the
 * machine's load.
 */
import { Worker } from "node:worker_threads";
import type { EventData } from "./catalog.ts";
import type { RecordedEvent } from "./envelope.ts";
import { validatedEventLine } from "./log-hash.ts";

/** A chunk's entry tags: a line the writer built, or a BarClosed's fields (`BAR_FIELDS` values follow). */
const LINE = 0;
const BAR = 1;

/**
 * The worker: takes chunks (flat arrays of tagged entries, see `addValidated`), writes their lines exactly as
 * `validatedEventLine` does (a BarClosed's data as `validatedDataJson`, its metadata as `validatedMetadataJson`)
 * and hashes them as UTF-8, then counts the chunk in the shared counter (`workerData`) and wakes a waiting
 * writer; `null` asks for the hex digest. Plain JS (eval'd as CJS).
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const hashed = new Int32Array(workerData);
const hash = require("node:crypto").createHash("sha256");
const str = (v) => JSON.stringify(v);
const opt = (key, v) => (v === undefined ? "" : ',"' + key + '":"' + v + '"');
parentPort.on("message", (c) => {
  if (c === null) return parentPort.postMessage(hash.digest("hex"));
  // The chunk's lines, one concatenation (read in place: no per-bar copy), hashed at once.
  let text = "";
  for (let i = 0; i < c.length; ) {
    if (c[i++] === ${LINE}) {
      text += c[i++] + "\\n";
      continue;
    }
    text +=
      '{"stream":' + str(c[i]) + ',"revision":' + c[i + 1] + ',"eventId":' + str(c[i + 2]) +
      ',"type":"BarClosed","data":{"symbol":"' + c[i + 3] + '","interval":"' + c[i + 4] + '","openTime":' +
      c[i + 5] + ',"closeTime":' + c[i + 6] + ',"open":"' + c[i + 7] + '","high":"' + c[i + 8] + '","low":"' +
      c[i + 9] + '","close":"' + c[i + 10] + '","volume":"' + c[i + 11] + '"' + opt("takerBuyVolume", c[i + 12]) +
      opt("markPrice", c[i + 13]) + opt("markOpen", c[i + 14]) + opt("markHigh", c[i + 15]) +
      opt("markLow", c[i + 16]) + '},"metadata":{"correlationId":' + str(c[i + 17]) + ',"causationId":' +
      str(c[i + 18]) + ',"eventTime":' + c[i + 19] + "}}\\n";
    i += 20;
  }
  hash.update(text, "utf8");
  Atomics.add(hashed, 0, 1);
  Atomics.notify(hashed, 0);
});
`;

/**
 * A chunk is posted to the worker once its entries stand for about this many UTF-16 units of lines (a
 * BarClosed's line counted as `BAR_CHARS`), so the worker's text stays small however long the log.
 */
const CHUNK_CHARS = 1 << 17;
/** About the length of a BarClosed's line. */
const BAR_CHARS = 400;
/** Chunks posted and not yet hashed, at most (see the module comment). */
const MAX_IN_FLIGHT = 4;
/** How long a writer waits in all for a worker that makes no progress (it died: `digest` reports it), ms. */
const STALL_MS = 30_000;

/** See the module comment. Call `digest()` once, or `close()` when abandoning it. */
export class WorkerLogHasher {
  /** Chunks the worker has hashed (it counts them); `posted` counts those sent. */
  private readonly hashed = new Int32Array(new SharedArrayBuffer(4));
  private posted = 0;
  private stalled = false;
  // No inherited flags (a loader such as tsx, a test runner's preloads): the worker needs node's builtins only.
  private readonly worker = new Worker(WORKER, {
    eval: true,
    execArgv: [],
    workerData: this.hashed.buffer,
    // Its lines are garbage once hashed: a small young generation keeps the thread's memory small.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  /**
   * The entries collected, `size` of them, written in order (the array stays packed: a holey one is copied to
   * the worker entry by entry, many times slower).
   */
  private chunk: unknown[] = [];
  private size = 0;
  private chars = 0;
  private waiter: { resolve: (hex: string) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  count = 0;

  constructor() {
    // Never keeps the process alive by itself (digest() holds it while it waits).
    this.worker.unref();
    this.worker.on("message", (hex: string) => this.waiter?.resolve(hex));
    this.worker.on("error", (error) => {
      this.failure = error;
      this.waiter?.reject(error);
    });
  }

  /** Adds an event whose data and metadata passed the catalog (see `validatedEventLine`). */
  addValidated(event: RecordedEvent): void {
    if (event.type === "BarClosed") {
      const d = event.data as EventData<"BarClosed">;
      const m = event.metadata;
      const c = this.chunk;
      let i = this.size;
      c[i++] = BAR;
      c[i++] = event.stream;
      c[i++] = event.revision;
      c[i++] = event.eventId;
      c[i++] = d.symbol;
      c[i++] = d.interval;
      c[i++] = d.openTime;
      c[i++] = d.closeTime;
      c[i++] = d.open;
      c[i++] = d.high;
      c[i++] = d.low;
      c[i++] = d.close;
      c[i++] = d.volume;
      c[i++] = d.takerBuyVolume;
      c[i++] = d.markPrice;
      c[i++] = d.markOpen;
      c[i++] = d.markHigh;
      c[i++] = d.markLow;
      c[i++] = m.correlationId;
      c[i++] = m.causationId;
      c[i++] = m.eventTime;
      this.size = i;
      this.chars += BAR_CHARS;
    } else {
      const line = validatedEventLine(event);
      this.chunk[this.size++] = LINE;
      this.chunk[this.size++] = line;
      this.chars += line.length;
    }
    this.count++;
    if (this.chars >= CHUNK_CHARS) this.post();
  }

  /** Posts the collected entries to the worker as one chunk (a copy). */
  private post(): void {
    if (this.size === 0) return;
    this.worker.postMessage(this.chunk);
    this.posted++;
    this.chunk = [];
    this.size = 0;
    this.chars = 0;
    this.waitForWorker();
  }

  /** Blocks while more than `MAX_IN_FLIGHT` chunks wait for the worker (gives up for good after `STALL_MS`). */
  private waitForWorker(): void {
    let waited = 0;
    while (!this.stalled) {
      const hashed = Atomics.load(this.hashed, 0);
      if (this.posted - hashed <= MAX_IN_FLIGHT) return;
      if (Atomics.wait(this.hashed, 0, hashed, 100) !== "timed-out") continue;
      waited += 100;
      if (waited >= STALL_MS) this.stalled = true;
    }
  }

  /**
   * The lowercase hex sha256 of every line added; stops the worker.
   * @throws the worker's error, if it failed.
   */
  async digest(): Promise<string> {
    if (this.failure) throw this.failure;
    this.worker.ref();
    try {
      this.post();
      const hex = new Promise<string>((resolve, reject) => {
        this.waiter = { resolve, reject };
      });
      this.worker.postMessage(null);
      return await hex;
    } finally {
      await this.close();
    }
  }

  /** Stops the worker (the digest is lost). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
