/**
 * Tick streams of several symbols handed out minute by minute, for a backtest that matches the venue on ticks
 * before the strategy sees each 1m bar: `between(symbol, openTime, closeTime)` yields the symbol's ticks of that
 * minute in `tickStream` order, reading one tick ahead per symbol (never a file in memory).
 */
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { groupTickFiles, TICK_FILE_NAME, type Tick, type TickFiles, tickStream } from "./ticks.ts";
import type { CsvSource } from "./types.ts";

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
   * The ticks of `symbol` with `from` ≤ time ≤ `to`, in stream order; ticks before `from` not handed out yet are
   * skipped (e.g. those of a minute without a bar, or before a resumed run's checkpoint), so a run that skips
   * minutes and one that does not hand out the same ticks for the same minutes. None for a symbol without tick
   * files. Calls must not go back in time. Rejects with the reader's `MarketDataError` on a malformed file.
   */
  async *between(symbol: string, from: number, to: number): AsyncGenerator<Tick> {
    const c = this.cursors.get(symbol);
    if (!c) return;
    for (;;) {
      if (c.head === undefined) {
        const r = await c.ticks.next();
        c.head = r.done ? null : r.value;
      }
      if (c.head === null || c.head.time > to) return;
      const tick = c.head;
      c.head = undefined;
      if (tick.time >= from) yield tick;
    }
  }

  /** Closes every file still open. */
  async close(): Promise<void> {
    for (const c of this.cursors.values()) await c.ticks.return(undefined);
  }
}

/**
 * A `TickFeed` over the tick files at `paths` (files, or directories whose files are taken; relative paths are
 * relative to `root`), named as `groupTickFiles` expects, keeping the symbols of `symbols` (others are ignored).
 * @throws Error naming the path when one does not exist or names no tick file, or when a symbol has bookTicker or
 * markPrice1s files without trades files.
 */
export async function openTickFeed(
  root: string,
  paths: readonly string[],
  symbols: readonly string[],
): Promise<TickFeed> {
  const sources: CsvSource[] = [];
  for (const p of paths) {
    const absolute = resolve(root, p);
    const info = await stat(absolute).catch(() => undefined);
    if (!info) throw new Error(`tick files: no such file or directory ${p} (under ${root})`);
    const names = info.isDirectory() ? (await readdir(absolute)).sort() : [basename(absolute)];
    const dir = info.isDirectory() ? absolute : dirname(absolute);
    const found = names
      .filter((n) => TICK_FILE_NAME.test(n))
      .map((n) => ({ path: relative(root, join(dir, n)).split(sep).join("/"), absolutePath: join(dir, n) }));
    if (found.length === 0)
      throw new Error(`tick files: ${p} holds no trades, bookTicker or markPrice1s file`);
    sources.push(...found);
  }
  const keep = new Set(symbols);
  return new TickFeed(groupTickFiles(sources).filter((g) => keep.has(g.symbol)));
}
