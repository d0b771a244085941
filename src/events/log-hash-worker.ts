/**
 * The log hash of `EventLogHasher`, with the sha256 itself computed in a worker thread: the writer of a log
 * builds each event's line and posts the lines in chunks; hashing them (most of the cost) runs beside the
 * writer instead of on its thread. Same digest as `EventLogHasher` over the same events.
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { RecordedEvent } from "./envelope.ts";
import { validatedEventLine } from "./log-hash.ts";

/** The worker: hashes every string it receives; `null` asks for the hex digest. Plain JS (eval'd as CJS). */
const WORKER = `
const { parentPort } = require("node:worker_threads");
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (chunk) => {
  if (chunk === null) parentPort.postMessage(hash.digest("hex"));
  else hash.update(chunk);
});
`;

/** Lines are posted in chunks of about this many UTF-16 units. */
const CHUNK = 1 << 17;

/** See the module comment. Call `digest()` once, or `close()` when abandoning it. */
export class WorkerLogHasher {
  // No inherited flags (a loader such as tsx, a test runner's preloads): the worker needs node's builtins only.
  private readonly worker = new Worker(WORKER, { eval: true, execArgv: [] });
  private pending = "";
  private failure: Error | undefined;
  count = 0;

  constructor() {
    // Never keeps the process alive by itself (digest() holds it while it waits).
    this.worker.unref();
    this.worker.on("error", (error) => {
      this.failure = error;
    });
  }

  /** Adds an event whose data and metadata passed the catalog (see `validatedEventLine`). */
  addValidated(event: RecordedEvent): void {
    this.pending += `${validatedEventLine(event)}\n`;
    if (this.pending.length >= CHUNK) {
      this.worker.postMessage(this.pending);
      this.pending = "";
    }
    this.count++;
  }

  /**
   * The lowercase hex sha256 of every line added; stops the worker.
   * @throws the worker's error, if it failed.
   */
  async digest(): Promise<string> {
    if (this.failure) throw this.failure;
    this.worker.ref();
    try {
      this.worker.postMessage(this.pending);
      this.pending = "";
      this.worker.postMessage(null);
      // Rejects with the worker's error if it fails meanwhile.
      const [hex] = (await once(this.worker, "message")) as [string];
      return hex;
    } finally {
      await this.close();
    }
  }

  /** Stops the worker (the digest is lost). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
