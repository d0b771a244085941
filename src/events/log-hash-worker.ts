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

/**
 * A chunk's entry tags: a line the writer built (the line follows); a BarClosed's varying fields (`addValidated`
 * lists them); the BarClosed context (stream, symbol, interval, correlationId) of the entries after it, sent
 * when it changes; padding (a chunk is a fixed array, reused: see `post`).
 */
const LINE = 0;
const BAR = 1;
const CONTEXT = 2;
const PAD = 3;
/** BarClosed's optional fields in schema order; bit i of a BAR entry's mask says the i-th one follows. */
const OPTIONAL = ["takerBuyVolume", "markPrice", "markOpen", "markHigh", "markLow"] as const;

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
const OPTIONAL = ${JSON.stringify(OPTIONAL)};
parentPort.on("message", (c) => {
  if (c === null) return parentPort.postMessage(hash.digest("hex"));
  // The chunk's lines, one concatenation (read in place: no per-bar copy), hashed at once.
  let text = "";
  let head = "";
  let dataHead = "";
  let metaHead = "";
  for (let i = 0; i < c.length; ) {
    const tag = c[i++];
    if (tag === ${LINE}) {
      text += c[i++] + "\\n";
    } else if (tag === ${BAR}) {
      const causationId = c[i + 9];
      const eventTime = c[i + 10];
      const mask = c[i + 11];
      text +=
        head + c[i] + ',"eventId":' + str(c[i + 1]) + ',"type":"BarClosed","data":' + dataHead + c[i + 2] +
        ',"closeTime":' + c[i + 3] + ',"open":"' + c[i + 4] + '","high":"' + c[i + 5] + '","low":"' + c[i + 6] +
        '","close":"' + c[i + 7] + '","volume":"' + c[i + 8] + '"';
      i += 12;
      for (let k = 0; k < OPTIONAL.length; k++) if (mask & (1 << k)) text += ',"' + OPTIONAL[k] + '":"' + c[i++] + '"';
      text += '},"metadata":' + metaHead + str(causationId) + ',"eventTime":' + eventTime + "}}\\n";
    } else if (tag === ${CONTEXT}) {
      head = '{"stream":' + str(c[i]) + ',"revision":';
      dataHead = '{"symbol":"' + c[i + 1] + '","interval":"' + c[i + 2] + '","openTime":';
      metaHead = '{"correlationId":' + str(c[i + 3]) + ',"causationId":';
      i += 4;
    }
  }
  hash.update(text, "utf8");
  Atomics.add(hashed, 0, 1);
  Atomics.notify(hashed, 0);
});
`;

/** Slots of a chunk (its fixed length). A BarClosed's entry takes 13 to 18, its context 5. */
const CHUNK_SLOTS = 1 << 12;
/** The most slots one `addValidated` writes (a context and a BarClosed with every optional field). */
const MAX_ENTRY_SLOTS = 5 + 13 + OPTIONAL.length;
/**
 * A chunk is posted once its lines (those the writer built; a BarClosed counts `BAR_CHARS`) reach about this
 * many UTF-16 units, or its slots are full, so the worker's text stays small however long the log.
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
   * The chunk being filled: `size` slots of entries, then padding. One array, reused for every chunk (posting
   * copies it); it stays packed (a holey array is copied to the worker entry by entry, many times slower).
   */
  private readonly chunk: unknown[] = packedArray(CHUNK_SLOTS, PAD);
  private size = 0;
  private chars = 0;
  /** The BarClosed context the chunk's entries are in (undefined: none yet in this chunk). */
  private stream: string | undefined;
  private symbol: string | undefined;
  private interval: string | undefined;
  private correlationId: string | undefined;
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

  /**
   * Adds an event whose data and metadata passed the catalog (see `validatedEventLine`). A BarClosed is written
   * as [BAR, revision, eventId, openTime, closeTime, open, high, low, close, volume, causationId, eventTime,
   * mask, the optional fields the mask names], after a CONTEXT entry [CONTEXT, stream, symbol, interval,
   * correlationId] when those differ from the chunk's last BarClosed's; any other event as [LINE, its line].
   */
  addValidated(event: RecordedEvent): void {
    if (this.size > CHUNK_SLOTS - MAX_ENTRY_SLOTS || this.chars >= CHUNK_CHARS) this.post();
    const c = this.chunk;
    let i = this.size;
    if (event.type === "BarClosed") {
      const d = event.data as EventData<"BarClosed">;
      const m = event.metadata;
      if (
        event.stream !== this.stream ||
        d.symbol !== this.symbol ||
        d.interval !== this.interval ||
        m.correlationId !== this.correlationId
      ) {
        c[i++] = CONTEXT;
        c[i++] = this.stream = event.stream;
        c[i++] = this.symbol = d.symbol;
        c[i++] = this.interval = d.interval;
        c[i++] = this.correlationId = m.correlationId;
      }
      c[i++] = BAR;
      c[i++] = event.revision;
      c[i++] = event.eventId;
      c[i++] = d.openTime;
      c[i++] = d.closeTime;
      c[i++] = d.open;
      c[i++] = d.high;
      c[i++] = d.low;
      c[i++] = d.close;
      c[i++] = d.volume;
      c[i++] = m.causationId;
      c[i++] = m.eventTime;
      const maskAt = i++;
      let mask = 0;
      for (let k = 0; k < OPTIONAL.length; k++) {
        const value = d[OPTIONAL[k]!];
        if (value === undefined) continue;
        mask |= 1 << k;
        c[i++] = value;
      }
      c[maskAt] = mask;
      this.chars += BAR_CHARS;
    } else {
      const line = validatedEventLine(event);
      c[i++] = LINE;
      c[i++] = line;
      this.chars += line.length;
    }
    this.size = i;
    this.count++;
  }

  /** Posts the chunk (its entries, padded) to the worker and starts the next one. */
  private post(): void {
    if (this.size === 0) return;
    this.chunk.fill(PAD, this.size);
    this.worker.postMessage(this.chunk);
    this.posted++;
    this.size = 0;
    this.chars = 0;
    this.stream = this.symbol = this.interval = this.correlationId = undefined;
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

/**
 * An array of `length` × `value`, packed (`new Array(length)` is holey, and stays holey once filled: a
 * structured clone then copies it entry by entry, about twice as slowly).
 */
function packedArray(length: number, value: unknown): unknown[] {
  const array: unknown[] = [];
  for (let i = 0; i < length; i++) array.push(value);
  return array;
}
