/**
 * Time travel for the projection routes (`?asOf=`, see `AsOf` in schemas.ts): the projections as they were at
 * an earlier point of the log, folded afresh from the log's prefix.
 *
 * - `{ position: p }`: the state after every event with global position ≤ p.
 * - `{ time: t }`: the shortest log prefix that holds every event whose `metadata.eventTime` ≤ t, i.e. the
 *   prefix up to and including the last event in global order with eventTime ≤ t. The log is in global
 *   (append) order and eventTime is the market clock, which need not be monotonic across streams: an event with
 *   a later eventTime appended before that last one is in the state too; no event with eventTime ≤ t is left out.
 *
 * Either resolves to the position of an event of the log (the state's `lastPosition()`, which the routes put
 * in `x-log-position`), or to no event at all (a point before the log's first event: the empty state). A
 * point at or past the live projections' last position is the live state. Resolving reads an index of every
 * event's position and eventTime up to the live head (16 bytes an event, extended as the head moves; dropped
 * when the live projections are replaced by a reload). Folded states are kept in a small
 * LRU keyed by the resolved position, so paging through one `asOf` folds once; a fold gives the event loop a
 * turn every `FOLD_CHUNK` events, so `/health` stays responsive while a long prefix is folded.
 */
import type { EventStore } from "../../events/store.ts";
import { createProjections, type Projections } from "../../projections/index.ts";
import type { AsOf } from "./schemas.ts";

/** Events folded between two turns of the event loop. */
const FOLD_CHUNK = 2_000;

/** The state a route answers from. */
export interface StateView {
  projections: Projections;
  /** The resolved position of a past state (its lastPosition(), null for the empty state); absent when live. */
  past?: { position: number | null };
}

/** What is known of one live log: each event's position and eventTime, in global order, and folded states. */
interface LogIndex {
  /** The live projections this index belongs to (a reload replaces them, and drops the index). */
  live: Projections;
  positions: number[];
  times: number[];
  /** Folded past states by resolved position, least recently used first. */
  states: Map<number, Promise<Projections>>;
  /** The empty state (a point before the first event). */
  empty: Projections;
  /** The extension of `positions`/`times` under way (one at a time). */
  indexing: Promise<void>;
}

/** Past states of the log that `live()` follows; see the module comment. */
export class PastStates {
  private index: LogIndex | undefined;

  constructor(
    private readonly store: EventStore,
    /** The live projections (a followed store's reload returns a new object). */
    private readonly live: () => Projections,
    /** Folded states kept. */
    readonly capacity = 4,
  ) {}

  /**
   * The projections as of `asOf`: the live ones when absent or at/past the live head, else a folded past state.
   * @throws what the store throws while reading the prefix (e.g. CorruptEventError), and an Error when the log
   *   read back does not hold the indexed positions (the store changed under the server).
   */
  async at(asOf: AsOf | undefined): Promise<StateView> {
    const live = this.live();
    const head = live.lastPosition();
    if (asOf === undefined || head === null) return { projections: live };
    if ("position" in asOf && asOf.position >= head) return { projections: live };
    const index = this.indexOf(live);
    await this.extend(index, head);
    // the entries at or before the head (a later request may have indexed further)
    const end = lastAtOrBefore(index.positions, head) + 1;
    let i = end - 1;
    if ("position" in asOf) i = lastAtOrBefore(index.positions, asOf.position, end);
    else while (i >= 0 && index.times[i]! > asOf.time) i--;
    if (i < 0) return { projections: index.empty, past: { position: null } };
    const position = index.positions[i]!;
    if (position >= head) return { projections: live };
    return { projections: await this.fold(index, i + 1, position), past: { position } };
  }

  /** The index of `live`, a fresh one when the live projections were replaced. */
  private indexOf(live: Projections): LogIndex {
    if (this.index?.live !== live) {
      this.index = {
        live,
        positions: [],
        times: [],
        states: new Map(),
        empty: createProjections({ marketSeries: false }),
        indexing: Promise.resolve(),
      };
    }
    return this.index;
  }

  /** Indexes the log's events up to position `head` (one extension at a time). */
  private extend(index: LogIndex, head: number): Promise<void> {
    const run = index.indexing.then(async () => {
      const last = index.positions.at(-1);
      if (last !== undefined && last >= head) return;
      let n = 0;
      for await (const e of this.store.readAll(last === undefined ? {} : { after: last })) {
        if (e.position > head) break;
        index.positions.push(e.position);
        index.times.push(e.metadata.eventTime);
        if (++n % FOLD_CHUNK === 0) await turn();
      }
    });
    index.indexing = run.catch(() => undefined);
    return run;
  }

  /** Projections folded from the log's first `count` events, the last at `position`; cached by position. */
  private fold(index: LogIndex, count: number, position: number): Promise<Projections> {
    const held = index.states.get(position);
    if (held !== undefined) {
      index.states.delete(position);
      index.states.set(position, held); // most recently used
      return held;
    }
    const folded = (async () => {
      const state = createProjections({ marketSeries: false });
      let n = 0;
      for await (const e of this.store.readAll({ limit: count })) {
        state.apply(e);
        if (++n % FOLD_CHUNK === 0) await turn();
      }
      if (state.lastPosition() !== position) {
        throw new Error(
          `asOf: the log's first ${count} events end at position ${state.lastPosition()}, not at the indexed ` +
            `${position}: the store changed under the server`,
        );
      }
      return state;
    })();
    index.states.set(position, folded);
    folded.catch(() => {
      if (index.states.get(position) === folded) index.states.delete(position);
    });
    for (const key of index.states.keys()) {
      if (index.states.size <= this.capacity) break;
      index.states.delete(key);
    }
    return folded;
  }
}

/** The index of the last element of the ascending `sorted[0, end)` that is ≤ `value`, or −1 when none is. */
function lastAtOrBefore(sorted: readonly number[], value: number, end = sorted.length): number {
  let lo = 0;
  let hi = end; // the answer + 1 lies in [lo, hi]
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** A turn of the event loop (lets pending I/O, e.g. /health, run). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
