/**
 * What a `--symbols ALL` backtest reads of the data root (src/domain/universe.ts decides what to trade): the
 * symbols with a folder in a 1m kline layout (`klineSymbols`), and the bars their files hold before and in the
 * window, counted only as far as the decision needs (`BarCounter`).
 */
import type { SymbolBars } from "../../domain/universe.ts";
import { klineFiles, klineSymbols } from "./archive.ts";
import { readKlineFile } from "./klines.ts";
import { checkWindow } from "./layout.ts";

/** The window a symbol's bars are counted in; times in ms since the epoch, UTC. */
export interface BarCountQuery {
  /** Start of the warm-up read before the window (= `from` without warm-up). */
  readonly warmUpFrom: number;
  /** The window [from, to). */
  readonly from: number;
  readonly to: number;
  /** The strategy's bar interval: a UTC bucket of this length with at least one 1m bar is one bar. */
  readonly intervalMs: number;
  /**
   * Counting stops once the window holds a bar and the bars before and in it reach `enough` (the strategy's
   * warm-up): the counts are exact below that, and at least that above.
   */
  readonly enough: number;
}

/** Counts the bars of one symbol's 1m openTimes (any order, repeats once) as `BarCountQuery` says. Pure. */
export class BarCounter {
  readonly #before = new Set<number>();
  readonly #inWindow = new Set<number>();

  constructor(readonly query: BarCountQuery) {
    checkWindow(query);
    const { warmUpFrom, from, intervalMs, enough } = query;
    if (!Number.isSafeInteger(warmUpFrom) || warmUpFrom > from)
      throw new RangeError(`warmUpFrom ${warmUpFrom}: expected an integer ms epoch ≤ from (${from})`);
    if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0)
      throw new RangeError(`intervalMs ${intervalMs}: expected a positive integer`);
    if (!Number.isSafeInteger(enough) || enough < 0)
      throw new RangeError(`enough ${enough}: expected an integer ≥ 0`);
  }

  /** Counts the 1m bar opening at `openTime` (ms) when it is in [warmUpFrom, to). */
  add(openTime: number): void {
    const { warmUpFrom, from, to, intervalMs } = this.query;
    if (openTime < warmUpFrom || openTime >= to) return;
    (openTime < from ? this.#before : this.#inWindow).add(Math.floor(openTime / intervalMs));
  }

  /** Whether the counts decide already: the window holds a bar and the total reached `enough`. */
  get done(): boolean {
    return this.#inWindow.size > 0 && this.#before.size + this.#inWindow.size >= this.query.enough;
  }

  /** The bars counted so far. */
  counts(): SymbolBars {
    return { beforeWindow: this.#before.size, inWindow: this.#inWindow.size };
  }
}

/**
 * Every symbol with a folder in a 1m kline layout under `dataRoot` and the bars its files hold (`BarCounter`),
 * reading each file by name range and only as far as needed.
 * @throws MarketDataError (file:line) for a malformed row read; Error for a CSV whose name carries no dates.
 */
export async function universeBars(dataRoot: string, q: BarCountQuery): Promise<Map<string, SymbolBars>> {
  const bars = new Map<string, SymbolBars>();
  for (const symbol of await klineSymbols(dataRoot)) {
    const counter = new BarCounter(q);
    files: for (const file of await klineFiles(dataRoot, symbol, { from: q.warmUpFrom, to: q.to })) {
      for await (const row of readKlineFile(file)) {
        if (row.openTime >= q.to) break; // a file's rows come in time order
        counter.add(row.openTime);
        if (counter.done) break files;
      }
    }
    bars.set(symbol, counter.counts());
  }
  return bars;
}
