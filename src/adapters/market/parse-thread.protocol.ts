/**
 * The messages between a `ParseThread` (parse-thread.ts) and its thread (parse-thread.worker.ts).
 *
 * In: `{ op: "open", id, reader, src, batches }` (batches = the initial credit), `{ op: "credit", id, batches }`,
 * `{ op: "close", id }`. Out: `{ id, rows }` (at most `BATCH_ROWS`), `{ id, done: true }`, `{ id, error }`.
 */
import type { CsvSource } from "./types.ts";

/** Rows per posted batch. */
export const BATCH_ROWS = 256;

/** The readers the thread runs: `readKlineFile` (1m klines) and `readMarkPriceBarFile` (1m mark-price klines). */
export type ParseReader = "klines" | "markPriceBars";

/** A failure as it crosses the thread boundary. */
export type SerializedError =
  | { kind: "market"; file: string; line: number; reason: string }
  | { kind: "other"; name: string; message: string; code?: string };

export type ParseRequest =
  | { op: "open"; id: number; reader: ParseReader; src: CsvSource; batches: number }
  | { op: "credit"; id: number; batches: number }
  | { op: "close"; id: number };

export type ParseReply =
  | { id: number; rows: unknown[] }
  | { id: number; done: true }
  | { id: number; error: SerializedError };
