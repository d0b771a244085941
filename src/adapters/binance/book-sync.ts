/**
 * The synchronisation of one symbol's local book with the exchange (binance-usdm.md §5.3 [LOB]), pure: the
 * stream's diff events, the REST snapshots and the connection's losses go in, and each input says what the
 * caller must do (fetch a snapshot) and what it may show (the book's view after an applied update).
 *
 * 1. Diff events are buffered until a snapshot arrives; the first buffered event asks for a snapshot (so the
 *    stream is live before the snapshot is taken, step 1–2).
 * 2. A snapshot starts a book (`OrderBook`), the buffer is applied to it (stale events dropped, step 3–4).
 * 3. Each later event is applied; a gap (the first event does not cover the snapshot's `lastUpdateId`, or `pu`
 *    is not the previous `u`, step 4–5) drops the book and starts again at 1 with that event buffered.
 * 4. A lost connection drops the book and the buffer: the events in between are lost.
 * A snapshot that arrives while no snapshot is wanted any more is still used (the rules tell whether it fits).
 * At most one snapshot is asked for at a time (`snapshotFailed` when the caller gives up on one).
 */
import {
  type BookView,
  type DepthSnapshot,
  type DepthUpdate,
  OrderBook,
} from "../../domain/book/order-book.ts";

/** Why a book was dropped. */
export type ResyncReason =
  | {
      kind: "gap";
      rule: "first" | "continuity";
      expected: number;
      update: { U: number; u: number; pu: number };
    }
  | { kind: "disconnected" }
  | { kind: "bufferOverflow"; limit: number };

/** What the caller does after an input. */
export interface SyncStep {
  /** Fetch a REST snapshot now and hand it to `snapshot`. */
  fetch: boolean;
  /** The book was dropped (log it). */
  resync?: ResyncReason;
  /** The book's views after each update applied by this input (none while out of sync). */
  views: BookView[];
}

/** Options of `BookSync`. */
export interface BookSyncOptions {
  /** Levels per side in each view (default 100, strategies.md §3.2). */
  depth?: number;
  /** Events buffered while waiting for a snapshot before the oldest are dropped (default 10 000). */
  maxBuffer?: number;
}

/** One symbol's synchronisation (see the module comment). */
export class BookSync {
  #book: OrderBook | undefined;
  #buffer: DepthUpdate[] = [];
  #fetching = false;
  #overflowed = false;
  readonly #depth: number;
  readonly #maxBuffer: number;

  constructor(
    readonly symbol: string,
    options: BookSyncOptions = {},
  ) {
    this.#depth = options.depth ?? 100;
    this.#maxBuffer = options.maxBuffer ?? 10_000;
  }

  /** Whether a book is in sync (its view is the exchange's at its `lastUpdateId`). */
  get synced(): boolean {
    return this.#book !== undefined;
  }

  /** The book's current view, when in sync. */
  view(): BookView | undefined {
    return this.#book?.view(this.#depth);
  }

  /** A diff event of the stream. @throws RangeError for another symbol's event or a malformed level. */
  update(update: DepthUpdate): SyncStep {
    if (update.symbol !== this.symbol)
      throw new RangeError(`book ${this.symbol}: update of ${update.symbol}`);
    const book = this.#book;
    if (book === undefined) return this.#buffered(update);
    const outcome = book.apply(update);
    if (outcome.kind === "applied") return { fetch: false, views: [book.view(this.#depth)] };
    if (outcome.kind === "stale") return { fetch: false, views: [] };
    this.#book = undefined;
    this.#buffer = [];
    const step = this.#buffered(update);
    return { ...step, resync: outcome };
  }

  /** A REST snapshot (asked for by a step's `fetch`). */
  snapshot(snapshot: DepthSnapshot): SyncStep {
    this.#fetching = false;
    const book = OrderBook.fromSnapshot(snapshot);
    const views: BookView[] = [];
    for (const update of this.#buffer) {
      const outcome = book.apply(update);
      if (outcome.kind === "applied") views.push(book.view(this.#depth));
      else if (outcome.kind === "gap") {
        // The snapshot is older than the buffer's first event that matters: ask for a newer one.
        this.#buffer = this.#buffer.filter((u) => u.finalUpdateId >= update.finalUpdateId);
        this.#fetching = true;
        return { fetch: true, resync: outcome, views: [] };
      }
    }
    this.#buffer = [];
    this.#overflowed = false;
    this.#book = book;
    if (views.length === 0) views.push(book.view(this.#depth));
    return { fetch: false, views };
  }

  /** The caller gave up on the snapshot asked for: the next event asks again. */
  snapshotFailed(): void {
    this.#fetching = false;
  }

  /** The connection was lost: the book and the buffer are dropped (`resync` only when there was something). */
  disconnected(): SyncStep {
    const had = this.#book !== undefined || this.#buffer.length > 0;
    this.#book = undefined;
    this.#buffer = [];
    return had ? { fetch: false, resync: { kind: "disconnected" }, views: [] } : { fetch: false, views: [] };
  }

  #buffered(update: DepthUpdate): SyncStep {
    this.#buffer.push(update);
    let resync: ResyncReason | undefined;
    if (this.#buffer.length > this.#maxBuffer) {
      this.#buffer.shift();
      if (!this.#overflowed) resync = { kind: "bufferOverflow", limit: this.#maxBuffer };
      this.#overflowed = true;
    }
    const fetch = !this.#fetching;
    this.#fetching = true;
    return { fetch, views: [], ...(resync === undefined ? {} : { resync }) };
  }
}
