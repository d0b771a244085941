/**
 * The parse thread's body (see parse-thread.ts): runs the archive readers of klines.ts on the files it is asked
 * to open and posts their rows in batches, each stream only as far as the credit its reader granted.
 *
 * The messages are those of parse-thread.protocol.ts; a failure crosses as a `MarketDataError`'s file, line and
 * reason, or another error's name, message and code.
 */
import { parentPort } from "node:worker_threads";
import { readKlineFile, readMarkPriceBarFile } from "./klines.ts";
import {
  BATCH_ROWS,
  type ParseReader,
  type ParseReply,
  type ParseRequest,
  packRow,
  type SerializedError,
} from "./parse-thread.protocol.ts";
import { type CsvSource, MarketDataError } from "./types.ts";

/** The readers the thread runs, by name. */
const READERS: Record<ParseReader, (src: CsvSource) => AsyncGenerator<unknown>> = {
  klines: (src) => readKlineFile(src),
  markPriceBars: (src) => readMarkPriceBarFile(src),
};

interface Stream {
  credit: number;
  closed: boolean;
  /** Wakes the stream's loop when credit arrives or it is closed. */
  wake?: () => void;
}

const streams = new Map<number, Stream>();
const port = parentPort!;

function serialize(error: unknown): SerializedError {
  if (error instanceof MarketDataError)
    return { kind: "market", file: error.file, line: error.line, reason: error.reason };
  const e = error instanceof Error ? error : new Error(String(error));
  const code = (e as NodeJS.ErrnoException).code;
  return { kind: "other", name: e.name, message: e.message, ...(code === undefined ? {} : { code }) };
}

async function run(id: number, reader: ParseReader, src: CsvSource, stream: Stream): Promise<void> {
  const rows = READERS[reader](src);
  let batch: unknown[] = []; // the rows read and not yet sent, packed (`packRow`)
  let count = 0;
  const send = async (): Promise<boolean> => {
    while (stream.credit === 0 && !stream.closed) await new Promise<void>((r) => (stream.wake = r));
    if (stream.closed) return false;
    stream.credit--;
    port.postMessage({ id, rows: batch } satisfies ParseReply);
    batch = [];
    count = 0;
    return true;
  };
  try {
    for await (const row of rows) {
      packRow(reader, row, batch);
      if (++count === BATCH_ROWS && !(await send())) return;
    }
    if (count > 0 && !(await send())) return;
    port.postMessage({ id, done: true } satisfies ParseReply);
  } catch (error) {
    // The rows before the failure go first, so the reader fails where the in-thread reader would.
    if (count > 0 && !(await send())) return;
    if (!stream.closed) port.postMessage({ id, error: serialize(error) } satisfies ParseReply);
  } finally {
    streams.delete(id);
    await rows.return(undefined);
  }
}

port.on("message", (m: ParseRequest) => {
  if (m.op === "open") {
    const stream: Stream = { credit: m.batches, closed: false };
    streams.set(m.id, stream);
    void run(m.id, m.reader, m.src, stream);
    return;
  }
  const stream = streams.get(m.id);
  if (!stream) return;
  if (m.op === "credit") stream.credit += m.batches;
  else stream.closed = true;
  stream.wake?.();
  stream.wake = undefined;
});

// Loaded: the thread can take streams now (see `ParseThread.ready`).
port.postMessage({ ready: true } satisfies ParseReply);
