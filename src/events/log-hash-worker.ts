/**
 * The log hash of `EventLogHasher`, with the sha256 itself computed in a worker thread: the writer of a log
 * builds each event's line and collects the lines into text chunks, each copied to the worker when full; encoding
 * and hashing them (most of the cost) runs beside the writer instead of on its thread. Same digest as
 * `EventLogHasher` over the same events.
 */
import { Worker } from "node:worker_threads";
import type { RecordedEvent } from "./envelope.ts";
import { validatedEventLine } from "./log-hash.ts";

/**
 * The worker: hashes every text chunk it receives as UTF-8; `null` asks for the hex digest. Plain JS (eval'd as
 * CJS).
 */
const WORKER = `
const { parentPort } = require("node:worker_threads");
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (chunk) => {
  if (chunk === null) return parentPort.postMessage(hash.digest("hex"));
  hash.update(chunk, "utf8");
});
`;

/** Lines are collected into text chunks of about this many UTF-16 units, each posted to the worker when full. */
const CHUNK_CHARS = 1 << 17;

/** See the module comment. Call `digest()` once, or `close()` when abandoning it. */
export class WorkerLogHasher {
  // No inherited flags (a loader such as tsx, a test runner's preloads): the worker needs node's builtins only.
  private readonly worker = new Worker(WORKER, { eval: true, execArgv: [] });
  private lines: string[] = [];
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
    const line = validatedEventLine(event);
    this.lines.push(line, "\n");
    this.chars += line.length + 1;
    this.count++;
    if (this.chars >= CHUNK_CHARS) this.post();
  }

  /** Posts the collected lines to the worker as one text chunk (a copy of the text). */
  private post(): void {
    if (this.lines.length === 0) return;
    this.worker.postMessage(this.lines.join(""));
    this.lines = [];
    this.chars = 0;
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
