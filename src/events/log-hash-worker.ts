/**
 * The log hash of `EventLogHasher`, with the sha256 itself computed in a worker thread: the writer of a log
 * builds each event's line and encodes it as UTF-8 straight into a byte chunk, which is handed over (transferred,
 * not copied) to the worker when full; hashing (most of the cost) runs beside the writer instead of on its thread.
 * Same digest as `EventLogHasher` over the same events.
 */
import { Worker } from "node:worker_threads";
import type { RecordedEvent } from "./envelope.ts";
import { validatedEventLine } from "./log-hash.ts";

/**
 * The worker: hashes the first `length` bytes of every `{ bytes, length }` chunk it receives; `null` asks for the
 * hex digest. Plain JS (eval'd as CJS).
 */
const WORKER = `
const { parentPort } = require("node:worker_threads");
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (chunk) => {
  if (chunk === null) return parentPort.postMessage(hash.digest("hex"));
  hash.update(new Uint8Array(chunk.bytes, 0, chunk.length));
});
`;

/** Bytes of a chunk: lines are encoded into it until the next one might not fit, then it goes to the worker. */
const CHUNK_BYTES = 1 << 18;

/** A chunk of its own for text too long for a chunk. */
function lineChunk(line: string): { bytes: ArrayBuffer; length: number } {
  const encoded = Buffer.from(line, "utf8");
  const bytes = new ArrayBuffer(encoded.length);
  new Uint8Array(bytes).set(encoded);
  return { bytes, length: encoded.length };
}

/** See the module comment. Call `digest()` once, or `close()` when abandoning it. */
export class WorkerLogHasher {
  // No inherited flags (a loader such as tsx, a test runner's preloads): the worker needs node's builtins only.
  private readonly worker = new Worker(WORKER, { eval: true, execArgv: [] });
  private chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  private length = 0;
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
    this.count++;
    // A UTF-16 unit takes at most 3 bytes of UTF-8 (a surrogate pair, 2 units, takes 4); then the newline.
    const room = 3 * line.length + 1;
    if (this.length + room > CHUNK_BYTES) {
      this.post();
      if (room > CHUNK_BYTES) {
        const big = lineChunk(`${line}\n`);
        this.worker.postMessage(big, [big.bytes]);
        return;
      }
    }
    this.length += this.chunk.write(line, this.length, "utf8");
    this.chunk[this.length++] = 0x0a;
  }

  /** Hands the chunk's bytes over to the worker (transferred: the writer starts a new chunk). */
  private post(): void {
    if (this.length === 0) return;
    const bytes = this.chunk.buffer;
    this.worker.postMessage({ bytes, length: this.length }, [bytes]);
    this.chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    this.length = 0;
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
