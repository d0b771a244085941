/**
 * A local order book of one symbol, kept from a REST depth snapshot and the `<s>@depth` diff stream by the
 * procedure of binance-usdm.md §5.3 [LOB]. Pure: no I/O, no clock; prices and quantities are the exchange's
 * decimal strings, compared and summed exactly (`Dec`), never as floats.
 *
 * `OrderBook.fromSnapshot` starts a book at a snapshot's `lastUpdateId`; `apply(update)` then follows the rules:
 * - an update with `u < lastUpdateId` is older than the snapshot: dropped (step 3);
 * - the first update applied must have `U ≤ lastUpdateId ≤ u` (step 4); an update with `U > lastUpdateId`
 *   means updates were missed between the snapshot and it: a gap;
 * - every later update must have `pu` equal to the previous applied update's `u` (step 5); else a gap;
 * - quantities are absolute, a quantity of 0 removes the level, removing an unknown level is normal (step 6).
 * After a gap the book is out of sync: it refuses every update (`apply` answers `gap` again) until the caller
 * starts a new book from a fresh snapshot. A gap never changes the book.
 */
import { canonical, Dec } from "../decimal.ts";

/** One price level: `[price, qty]`, decimal strings as the exchange sent them (quote asset, base asset). */
export type BookLevel = readonly [price: string, qty: string];

/** A REST depth snapshot (`GET /fapi/v1/depth`): levels best first (bids descending, asks ascending). */
export interface DepthSnapshot {
  symbol: string;
  /** The update id the snapshot is at. */
  lastUpdateId: number;
  /** `T`: the matching engine's time of the snapshot, ms epoch. */
  transactionTime: number;
  bids: readonly BookLevel[];
  asks: readonly BookLevel[];
}

/** One `<s>@depth` diff event (`depthUpdate`): the levels changed between update ids `U` and `u`. */
export interface DepthUpdate {
  symbol: string;
  /** `E`: event time, ms epoch. */
  eventTime: number;
  /** `T`: transaction time, ms epoch. */
  transactionTime: number;
  /** `U`: first update id of the event. */
  firstUpdateId: number;
  /** `u`: final update id of the event. */
  finalUpdateId: number;
  /** `pu`: final update id of the previous event of the stream. */
  previousFinalUpdateId: number;
  /** Absolute quantities; "0" removes the level. */
  bids: readonly BookLevel[];
  asks: readonly BookLevel[];
}

/** What `apply` did with an update. */
export type BookUpdateOutcome =
  | { kind: "applied" }
  /** `u < lastUpdateId` of the snapshot, before the first applied update: already in the snapshot. */
  | { kind: "stale" }
  /**
   * The update does not continue the book: `expected` is the snapshot's `lastUpdateId` that the first update
   * must cover (`first`), or the `pu` the next update must carry (`continuity`); the book needs a new snapshot.
   */
  | { kind: "gap"; rule: "first" | "continuity"; expected: number; update: UpdateIds };

/** The ids of an update, as a gap reports them. */
export interface UpdateIds {
  U: number;
  u: number;
  pu: number;
}

/**
 * The top of a book for a consumer (strategies.md §3.2 "order-book snapshot (≤ 100 levels, age ≤ 5 s)"):
 * levels best first, `time` the transaction time of the last update applied (or of the snapshot).
 */
export interface BookView {
  symbol: string;
  lastUpdateId: number;
  /** ms epoch: the age of the view is the decision time minus this. */
  time: number;
  bids: BookLevel[];
  asks: BookLevel[];
}

interface Level {
  price: string;
  key: Dec;
  qty: string;
}

/** One side of the book: levels sorted best first. */
class Side {
  readonly levels: Level[] = [];

  /** @param descending true for bids (best = highest). */
  constructor(private readonly descending: boolean) {}

  /** Sets the absolute quantity of a checked level (qty "0" removes it). */
  set(level: ParsedLevel): void {
    const { price, key, qty, zero } = level;
    const i = this.search(key);
    const found = i < this.levels.length && this.levels[i]!.key.eq(key);
    if (zero) {
      if (found) this.levels.splice(i, 1);
    } else if (found) {
      const existing = this.levels[i]!;
      existing.price = price;
      existing.qty = qty;
    } else this.levels.splice(i, 0, { price, key, qty });
  }

  /** The index of `key`, or where it would go to keep the order. */
  private search(key: Dec): number {
    let lo = 0;
    let hi = this.levels.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.levels[mid]!.key.cmp(key);
      if (this.descending ? c > 0 : c < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  top(n: number): BookLevel[] {
    return this.levels.slice(0, n).map((l) => [l.price, l.qty] as const);
  }
}

const DECIMAL = /^\d+(\.\d+)?$/;

interface ParsedLevel extends Level {
  zero: boolean;
}

/** A level checked: price a positive decimal string, qty an unsigned one. @throws RangeError naming `what`. */
function parseLevel(level: BookLevel, what: string): ParsedLevel {
  const [price, qty] = level;
  const key = decimal(price, `${what} price`);
  if (key.lte(0)) throw new RangeError(`${what}: price ${price} is not > 0`);
  return { price, key, qty, zero: decimal(qty, `${what} qty`).isZero() };
}

function decimal(value: string, what: string): Dec {
  if (typeof value !== "string" || !DECIMAL.test(value))
    throw new RangeError(`${what}: expected an unsigned decimal string, got ${JSON.stringify(value)}`);
  return new Dec(value);
}

/** A local order book (see the module comment). */
export class OrderBook {
  readonly #bids = new Side(true);
  readonly #asks = new Side(false);
  #lastUpdateId: number;
  #time: number;
  /** True once an update was applied (the `pu` rule then holds). */
  #bridged = false;
  #outOfSync: BookUpdateOutcome | undefined;

  private constructor(
    readonly symbol: string,
    snapshot: DepthSnapshot,
  ) {
    this.#lastUpdateId = snapshot.lastUpdateId;
    this.#time = snapshot.transactionTime;
  }

  /**
   * A book at `snapshot`. @throws RangeError for an update id that is not a safe non-negative integer, or a
   * level whose price is not a positive decimal string or whose qty is not an unsigned one (naming the side and
   * the level).
   */
  static fromSnapshot(snapshot: DepthSnapshot): OrderBook {
    updateId(snapshot.lastUpdateId, "snapshot lastUpdateId");
    const book = new OrderBook(snapshot.symbol, snapshot);
    book.#setLevels(snapshot.bids, snapshot.asks, `snapshot ${snapshot.lastUpdateId}`);
    return book;
  }

  /** The update id the book is at: the snapshot's, then the last applied update's `u`. */
  get lastUpdateId(): number {
    return this.#lastUpdateId;
  }

  /** Whether a gap was found: the book then takes no update until it is rebuilt from a new snapshot. */
  get inSync(): boolean {
    return this.#outOfSync === undefined;
  }

  /**
   * Applies `update` by the module's rules and says what it did; only `applied` changes the book.
   * @throws RangeError for a symbol other than the book's, update ids that are not safe integers, or a malformed
   * level (naming it; the book is then unchanged).
   */
  apply(update: DepthUpdate): BookUpdateOutcome {
    if (update.symbol !== this.symbol)
      throw new RangeError(`order book ${this.symbol}: update of ${update.symbol}`);
    const U = updateId(update.firstUpdateId, "U");
    const u = updateId(update.finalUpdateId, "u");
    const pu = updateId(update.previousFinalUpdateId, "pu", true);
    if (this.#outOfSync !== undefined) return this.#outOfSync;
    const ids = { U, u, pu };
    if (!this.#bridged) {
      if (u < this.#lastUpdateId) return { kind: "stale" };
      if (U > this.#lastUpdateId)
        return this.#gap({ kind: "gap", rule: "first", expected: this.#lastUpdateId, update: ids });
    } else if (pu !== this.#lastUpdateId)
      return this.#gap({ kind: "gap", rule: "continuity", expected: this.#lastUpdateId, update: ids });
    this.#setLevels(update.bids, update.asks, `update ${U}..${u}`);
    this.#bridged = true;
    this.#lastUpdateId = u;
    this.#time = update.transactionTime;
    return { kind: "applied" };
  }

  /** The best bid, if any. */
  bestBid(): BookLevel | undefined {
    return this.#bids.top(1)[0];
  }

  /** The best ask, if any. */
  bestAsk(): BookLevel | undefined {
    return this.#asks.top(1)[0];
  }

  /** Number of levels on each side. */
  get size(): { bids: number; asks: number } {
    return { bids: this.#bids.levels.length, asks: this.#asks.levels.length };
  }

  /** The best `depth` levels of each side (default 100), best first, with the book's update id and time. */
  view(depth = 100): BookView {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`order book depth ${depth}: not ≥ 1`);
    return {
      symbol: this.symbol,
      lastUpdateId: this.#lastUpdateId,
      time: this.#time,
      bids: this.#bids.top(depth),
      asks: this.#asks.top(depth),
    };
  }

  #gap(outcome: BookUpdateOutcome): BookUpdateOutcome {
    this.#outOfSync = outcome;
    return outcome;
  }

  /** Checks every level first, then sets them: a malformed level leaves the book unchanged. */
  #setLevels(bids: readonly BookLevel[], asks: readonly BookLevel[], what: string): void {
    const b = bids.map((l, i) => parseLevel(l, `${what} bid ${i}`));
    const a = asks.map((l, i) => parseLevel(l, `${what} ask ${i}`));
    for (const level of b) this.#bids.set(level);
    for (const level of a) this.#asks.set(level);
  }
}

function updateId(value: number, what: string, allowMinusOne = false): number {
  if (!Number.isSafeInteger(value) || value < (allowMinusOne ? -1 : 0))
    throw new RangeError(`order book: ${what} ${value} is not a non-negative safe integer`);
  return value;
}

/** The quantities inside a band around the mid price (strategies.md §3.3 "Order book"). */
export interface BandDepth {
  /** (bestBid + bestAsk) / 2, exact. */
  mid: string;
  /** B: Σ bid qty with price ≥ (1 − band)·mid. */
  bidQty: string;
  /** A: Σ ask qty with price ≤ (1 + band)·mid. */
  askQty: string;
}

/**
 * B and A of the strategies.md §3.3 order-book component over `view`: mid = (bestBid + bestAsk)/2,
 * B = Σ bid qty with price ≥ (1 − band)·mid, A = Σ ask qty with price ≤ (1 + band)·mid, exact decimal strings
 * (the component is s = (B − A)/(B + A), 0 when both are 0). `band` defaults to "0.005" (0.995·mid, 1.005·mid).
 * Undefined when a side is empty (no mid). Only the view's levels count: a view of 100 levels may not reach
 * the band's edge.
 */
export function bandDepth(view: BookView, band = "0.005"): BandDepth | undefined {
  const bid = view.bids[0];
  const ask = view.asks[0];
  if (bid === undefined || ask === undefined) return undefined;
  const mid = new Dec(bid[0]).plus(ask[0]).div(2);
  const width = decimal(band, "band");
  const low = mid.times(new Dec(1).minus(width));
  const high = mid.times(new Dec(1).plus(width));
  let b = new Dec(0);
  let a = new Dec(0);
  for (const [price, qty] of view.bids) if (new Dec(price).gte(low)) b = b.plus(qty);
  for (const [price, qty] of view.asks) if (new Dec(price).lte(high)) a = a.plus(qty);
  return { mid: canonical(mid), bidQty: canonical(b), askQty: canonical(a) };
}
