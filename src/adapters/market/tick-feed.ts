/**
 * Tick streams of several symbols handed out minute by minute, for a backtest that matches the venue on ticks
 * before the strategy sees each 1m bar: `until(symbol, time)` yields the symbol's ticks with time ≤ `time` that
 * were not handed out yet, in `tickStream` order, reading one tick ahead per symbol (never a file in memory).
 */
import { type Tick, type TickFiles, tickStream } from "./ticks.ts";

interface Cursor {
  ticks: AsyncGenerator<Tick>;
  /** The next tick, read ahead; undefined before the first read; null at the end. */
  head: Tick | null | undefined;
}

/** Minute-by-minute access to the tick streams of `files` (one `TickFiles` per symbol). */
export class TickFeed {
  private readonly cursors = new Map<string, Cursor>();

  /** @throws Error when two entries of `files` are for one symbol. */
  constructor(files: readonly TickFiles[]) {
    for (const f of files) {
      if (this.cursors.has(f.symbol)) throw new Error(`TickFeed: tick files of ${f.symbol} given twice`);
      this.cursors.set(f.symbol, { ticks: tickStream(f), head: undefined });
    }
  }

  /** Whether the feed has tick files for `symbol`. */
  has(symbol: string): boolean {
    return this.cursors.has(symbol);
  }

  /**
   * The ticks of `symbol` with time ≤ `time` not handed out before (none for a symbol without tick files).
   * Rejects with the reader's `MarketDataError` on a malformed file.
   */
  async *until(symbol: string, time: number): AsyncGenerator<Tick> {
    const c = this.cursors.get(symbol);
    if (!c) return;
    for (;;) {
      if (c.head === undefined) {
        const r = await c.ticks.next();
        c.head = r.done ? null : r.value;
      }
      if (c.head === null || c.head.time > time) return;
      const tick = c.head;
      c.head = undefined;
      yield tick;
    }
  }

  /** Closes every file still open. */
  async close(): Promise<void> {
    for (const c of this.cursors.values()) await c.ticks.return(undefined);
  }
}
