/**
 * The messages between a `ParseThread` (parse-thread.ts) and its thread (parse-thread.worker.ts).
 *
 * In: `{ op: "open", id, reader, src, batches }` (batches = the initial credit), `{ op: "credit", id, batches }`,
 * `{ op: "close", id }`. Out: `{ id, rows }` (at most `BATCH_ROWS` rows, packed: `packRow`), `{ id, done: true }`,
 * `{ id, error }`.
 */
import type { KlineRow } from "./klines.ts";
import type { CsvSource, MarkPriceKline } from "./types.ts";

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
  | { ready: true }
  | { id: number; rows: unknown[] }
  | { id: number; done: true }
  | { id: number; error: SerializedError };

/**
 * The values of each reader's rows, in the rows' key order (a kline's `takerBuyVolume` slot is undefined when
 * its layout has none). A batch crosses as its rows' values one after the other: a structured clone copies an
 * object's keys with every row, a flat array only the values (fewer bytes, and no keys to look up and no
 * objects to build property by property on the reading side).
 */
const PACKED = { klines: 8, markPriceBars: 5 } as const satisfies Record<ParseReader, number>;

/** Appends `row` (a row of `reader`) to `out` as its values (see `PACKED`). */
export function packRow(reader: ParseReader, row: unknown, out: unknown[]): void {
  if (reader === "klines") {
    const r = row as KlineRow;
    out.push(r.openTime, r.closeTime, r.open, r.high, r.low, r.close, r.volume, r.takerBuyVolume);
  } else {
    const r = row as MarkPriceKline;
    out.push(r.openTime, r.open, r.high, r.low, r.close);
  }
}

/** The rows `packRow` packed into `values`: objects equal to the originals, keys in the same order. */
export function unpackRows(reader: ParseReader, values: readonly unknown[]): unknown[] {
  const n = PACKED[reader];
  const rows = new Array<unknown>(values.length / n);
  for (let i = 0, j = 0; j < values.length; i++, j += n) {
    const v = values as readonly (string & number)[];
    if (reader === "markPriceBars") {
      rows[i] = { openTime: v[j], open: v[j + 1], high: v[j + 2], low: v[j + 3], close: v[j + 4] };
    } else if (v[j + 7] === undefined) {
      rows[i] = {
        openTime: v[j],
        closeTime: v[j + 1],
        open: v[j + 2],
        high: v[j + 3],
        low: v[j + 4],
        close: v[j + 5],
        volume: v[j + 6],
      };
    } else {
      rows[i] = {
        openTime: v[j],
        closeTime: v[j + 1],
        open: v[j + 2],
        high: v[j + 3],
        low: v[j + 4],
        close: v[j + 5],
        volume: v[j + 6],
        takerBuyVolume: v[j + 7],
      };
    }
  }
  return rows;
}
