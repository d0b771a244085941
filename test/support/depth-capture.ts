/**
 * Replaying a recorded depth file (src/adapters/market/depth.ts) through the local order book by the procedure
 * of binance-usdm.md §5.3 [LOB]: the diff events before the REST snapshot are buffered, then the buffer and the
 * rest of the file are applied to the book started at the snapshot.
 */
import { type DepthRecord, readDepthFile } from "../../src/adapters/market/depth.ts";
import type { CsvSource } from "../../src/adapters/market/types.ts";
import {
  type BookUpdateOutcome,
  type DepthSnapshot,
  type DepthUpdate,
  OrderBook,
} from "../../src/domain/book/order-book.ts";

/** A depth file read into memory: its snapshot and its updates in file order. */
export interface DepthCapture {
  snapshot: DepthSnapshot;
  updates: DepthUpdate[];
}

/** Reads a depth file holding one snapshot. @throws Error when it holds none or several. */
export async function loadDepthCapture(src: CsvSource): Promise<DepthCapture> {
  const records: DepthRecord[] = [];
  for await (const r of readDepthFile(src)) records.push(r);
  const snapshots = records.flatMap((r) => (r.kind === "snapshot" ? [r.snapshot] : []));
  if (snapshots.length !== 1) throw new Error(`${src.path}: ${snapshots.length} snapshots, expected 1`);
  return {
    snapshot: snapshots[0]!,
    updates: records.flatMap((r) => (r.kind === "update" ? [r.update] : [])),
  };
}

/**
 * Applies every update of `capture` (in file order) to a book started at its snapshot; `onOutcome` sees each
 * update with its outcome and the book after it. Returns the book.
 */
export function replayDepthCapture(
  capture: DepthCapture,
  onOutcome?: (update: DepthUpdate, outcome: BookUpdateOutcome, book: OrderBook) => void,
  updates: readonly DepthUpdate[] = capture.updates,
): OrderBook {
  const book = OrderBook.fromSnapshot(capture.snapshot);
  for (const update of updates) {
    const outcome = book.apply(update);
    onOutcome?.(update, outcome, book);
  }
  return book;
}
