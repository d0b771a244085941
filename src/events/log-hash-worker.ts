/**
 * The log hash of `EventLogHasher`, with the sha256 itself computed in a worker thread: the writer of a log
 * builds each event's line and encodes it into a chunk of bytes, moved to the worker when full; hashing them
 * (most of the cost) runs beside the writer instead of on its thread. Same digest as `EventLogHasher` over the same events.
 */
import { Worker } from "node:worker_threads";
import type { RecordedEvent } from "./envelope.ts";
import { validatedEventLine } from "./log-hash.ts";

/**
 * The worker: hashes the `length` bytes at `offset` of every `{ buffer, offset, length }` it receives and moves
 * the buffer back; `null` asks for the hex digest. Plain JS (eval'd as CJS).
 */
const WORKER = `
const { parentPort } = require("node:worker_threads");
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (chunk) => {
  if (chunk === null) return parentPort.postMessage(hash.digest("hex"));
  hash.update(new Uint8Array(chunk.buffer, chunk.offset, chunk.length));
  parentPort.postMessage(chunk.buffer, [chunk.buffer]); // back to the writer, to be filled again
});
`;

/** Lines are encoded (UTF-8) into chunks of this many bytes, each moved (not copied) to the worker when full. */
const CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;

/** A chunk of its own (transferable) memory, not zero-filled (only its written bytes are ever read). */
function newChunk(bytes: number): Uint8Array {
  const memory = Buffer.allocUnsafeSlow(bytes);
  return new Uint8Array(memory.buffer, memory.byteOffset, memory.length);
}

/** Resolves with the worker's next message that is not a returned chunk (the digest). */
type DigestWaiter = { resolve: (hex: string) => void; reject: (error: Error) => void };

/** See the module comment. Call `digest()` once, or `close()` when abandoning it. */
export class WorkerLogHasher {
  // No inherited flags (a loader such as tsx, a test runner's preloads): the worker needs node's builtins only.
  private readonly worker = new Worker(WORKER, { eval: true, execArgv: [] });
  private readonly encoder = new TextEncoder();
  private chunk = newChunk(CHUNK_BYTES);
  private length = 0;
  /** Chunks the worker has hashed and moved back: memory stays at the few chunks in flight. */
  private readonly free: ArrayBuffer[] = [];
  private waiter: DigestWaiter | undefined;
  private failure: Error | undefined;
  count = 0;

  constructor() {
    // Never keeps the process alive by itself (digest() holds it while it waits).
    this.worker.unref();
    this.worker.on("message", (message: ArrayBuffer | string) => {
      if (typeof message === "string") this.waiter?.resolve(message);
      else if (message.byteLength === CHUNK_BYTES) this.free.push(message);
    });
    this.worker.on("error", (error) => {
      this.failure = error;
      this.waiter?.reject(error);
    });
  }

  /** Adds an event whose data and metadata passed the catalog (see `validatedEventLine`). */
  addValidated(event: RecordedEvent): void {
    const line = validatedEventLine(event);
    // A UTF-16 unit takes at most 3 UTF-8 bytes; +1 for the newline.
    if (this.length + 3 * line.length + 1 > this.chunk.length) {
      this.post();
      if (3 * line.length + 1 > this.chunk.length) this.chunk = newChunk(3 * line.length + 1);
    }
    this.length += this.encoder.encodeInto(line, this.chunk.subarray(this.length)).written;
    this.chunk[this.length++] = NEWLINE;
    this.count++;
  }

  /** Moves the filled part of the chunk to the worker (a transfer, not a copy) and starts a new chunk. */
  private post(): void {
    if (this.length === 0) return;
    const buffer = this.chunk.buffer as ArrayBuffer;
    this.worker.postMessage({ buffer, offset: this.chunk.byteOffset, length: this.length }, [buffer]);
    const reused = this.free.pop();
    this.chunk = reused ? new Uint8Array(reused) : newChunk(CHUNK_BYTES);
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
