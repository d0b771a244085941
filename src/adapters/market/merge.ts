import { minuteBarsFromTrades } from "../../domain/bars/from-trades.ts";
import { ceilMinute, MarketCoverage } from "./coverage.ts";
import { compareDecimals } from "./csv.ts";
import { type FundingRow, readFundingFile } from "./funding.ts";
import {
  EIGHT_HOURS_MS,
  type KlineRow,
  ONE_MINUTE_MS,
  readKlineFile,
  readMarkPriceBarFile,
  readMarkPriceKlineFile,
} from "./klines.ts";
import { archiveFileRange, checkWindow, isOfficialMonthly, markPriceInterval } from "./layout.ts";
import type { ParseThread } from "./parse-thread.ts";
import { type TradeTick, tickStream } from "./ticks.ts";
import {
  type ArchiveFile,
  type Bar,
  type FundingSettlement,
  MarketDataError,
  type MarketEvent,
  type MarketGap,
  type MarketWindow,
  type MarkPriceKline,
} from "./types.ts";

const KIND_RANK: Record<MarketEvent["kind"], number> = { funding: 0, gap: 1, bar: 2 };

/**
 * The gap between two consecutive bars of `symbol` (openTimes in ms epoch), or undefined when `openTime` follows
 * `previousOpenTime` directly. Gaps are reported, never filled.
 */
export function klineGap(
  symbol: string,
  previousOpenTime: number,
  openTime: number,
  intervalMs = ONE_MINUTE_MS,
): MarketGap | undefined {
  const fromOpenTime = previousOpenTime + intervalMs;
  if (openTime <= fromOpenTime) return undefined;
  return { symbol, fromOpenTime, toOpenTime: openTime, missingBars: (openTime - fromOpenTime) / intervalMs };
}

/** Options of `archiveMarketEvents`. */
export interface MarketStreamOptions {
  /** Reset when the stream starts, then filled as it is consumed (see `MarketCoverage`). */
  coverage?: MarketCoverage;
  /** Parses the 1m kline and mark-price kline files on this thread instead of the caller's (same events). */
  parseThread?: ParseThread;
}

/**
 * Merges `files` (from `discoverArchive`) into one ordered stream over [q.from, q.to):
 * - bars with from ≤ openTime < to. A symbol without kline files but with trades files (`--ticks`) has bars built
 *   from its trades (`barsFromTrades`: a minute without trades is a gap). A symbol's kline files are merged by openTime; when files overlap, the bar
 *   of the file whose name-range starts first (then by path) wins and the others' bars at that openTime are
 *   dropped, identical or not (the archive's copies agree, README). Within a file the parser's rules apply.
 * - gaps, on rows (not file names): every minute m with from ≤ m < to that has no bar is in exactly one gap,
 *   whatever the cause (late first bar, hole, early end, an empty, header-only or truncated file). A gap comes
 *   right before the bar after it; a hole at the end of the window (or a symbol without any bar in it) is one
 *   gap reported at the window end (time and toOpenTime = the first minute ≥ to), after the last bar.
 * - settlements with from ≤ fundingTime < to: one per settlement slot (calc_time rounded to the nearest
 *   minute; settlements are ≥ 1 h apart and the sources' jitter is a few ms), whatever the number of files
 *   holding it. The official monthly files (`futures/um/monthly/…`) win: their row's calc_time, rate and
 *   interval are kept; other files fill the slots they lack. Two rows of one slot with different rates reject
 *   with `MarketDataError` naming both file:line positions. markPrice = open of the 8h mark-price kline with
 *   open_time = fundingTime floored to the minute (`markPriceKline`), else the close of the symbol's latest bar
 *   with closeTime < fundingTime, looking before `from` too (`lastClose`); a settlement with neither (before
 *   the symbol's first bar) comes without a markPrice (strategies learn its rate; nothing charges or records it)
 *   and is counted in the coverage (`fundingSkipped`).
 * - 1m mark-price klines (markPriceKlines files under `…/1m/` whose name range overlaps the window): each bar
 *   carries the mark kline of its minute (`mark`) when the files hold one; overlapping files are merged like
 *   the klines (the first file wins per minute). They are streamed in step with the bars (one row ahead, never
 *   a month in memory), so a malformed mark row rejects with `MarketDataError` when the stream reaches it. A
 *   bar of a symbol with such files but without a mark kline is counted (`barsWithoutMark`); a symbol without
 *   them has no `mark` on any bar (the venue then watches the trade bar), and that is not a warning.
 * `options.coverage` receives the per-symbol coverage report (bars, gaps, settlements, warnings).
 * Rejects with `MarketDataError` on a malformed file or conflicting sources, RangeError on an invalid window.
 */
export function archiveMarketEvents(
  files: readonly ArchiveFile[],
  q: MarketWindow,
  options: MarketStreamOptions = {},
): AsyncGenerator<MarketEvent> {
  const symbols = [...new Set(files.map((f) => f.symbol))].sort();
  const coverage = options.coverage ?? new MarketCoverage();
  // Runs when the stream is first read (each source calls it first; the merge reads every source before
  // yielding), so the window is checked and the coverage reset then, as a generator's body would.
  let started = false;
  const start = (): void => {
    if (started) return;
    started = true;
    checkWindow(q);
    coverage.begin(q, symbols);
  };
  if (symbols.length === 0) return noEvents(start);
  const sources = symbols.map((s) =>
    symbolEvents(
      s,
      files.filter((f) => f.symbol === s),
      q,
      coverage,
      start,
      options.parseThread,
    ),
  );
  // No merge layer for one symbol: each layer of async generators costs every event a few promise turns.
  return sources.length === 1 ? sources[0]! : mergeOrdered(sources, compareEvents);
}

/** The stream of no files: checks the window and resets the coverage when read, and ends. */
async function* noEvents(start: () => void): AsyncGenerator<MarketEvent> {
  start();
  yield* [];
}

/**
 * Parses every kline file in `files` (other kinds are ignored) with the same parser and validation as the
 * merge, and counts the rows: the bare-parse baseline of the backtest benchmark.
 */
export async function countKlineRows(files: readonly ArchiveFile[]): Promise<number> {
  let rows = 0;
  for (const file of files) {
    if (file.kind !== "klines") continue;
    for await (const _ of readKlineFile(file)) rows++;
  }
  return rows;
}

/** By time, then kind; equal keys go in source order, i.e. alphabetical symbol (see `mergeOrdered`). */
function compareEvents(a: MarketEvent, b: MarketEvent): number {
  return a.time - b.time || KIND_RANK[a.kind] - KIND_RANK[b.kind];
}

/**
 * Files of one kind in merge priority: official monthly files first for funding (see `isOfficialMonthly`), then
 * name-range start, then path.
 */
function inPriorityOrder(files: readonly ArchiveFile[], kind: ArchiveFile["kind"]): ArchiveFile[] {
  const rank = (f: ArchiveFile) => (kind === "fundingRate" && isOfficialMonthly(f.path) ? 0 : 1);
  return files
    .filter((f) => f.kind === kind)
    .map((f) => ({ f, rank: rank(f), start: archiveFileRange(f.path).from }))
    .sort(
      (a, b) =>
        a.rank - b.rank || a.start - b.start || (a.f.path < b.f.path ? -1 : a.f.path > b.f.path ? 1 : 0),
    )
    .map(({ f }) => f);
}

async function* symbolEvents(
  symbol: string,
  files: readonly ArchiveFile[],
  q: MarketWindow,
  coverage: MarketCoverage,
  start: () => void,
  parseThread: ParseThread | undefined,
): AsyncGenerator<MarketEvent> {
  start();
  const cov = coverage.of(symbol);
  const klineFiles = inPriorityOrder(files, "klines").map(
    (f) => parseThread?.klineBatches(f) ?? singleRows(readKlineFile(f)),
  );
  const tradeFiles = files.filter((f) => f.kind === "trades");
  const bars = new MergedRows(
    klineFiles.length === 0 && tradeFiles.length > 0
      ? [singleRows(barsFromTrades(symbol, tradeFiles))]
      : klineFiles,
    (a, b) => a.openTime - b.openTime,
  );
  // The bars are read from now on (a parse thread parses their first rows while the funding and mark files load
  // here); a failure is thrown where the loop below awaits the same first fill, or dropped when loading those
  // files fails first.
  bars.fill().catch(() => {});
  let settlements: FundingRow[];
  let markOpens: Map<number, string>;
  let marks: MarkBars | undefined;
  try {
    settlements = await loadSettlements(inPriorityOrder(files, "fundingRate"), q);
    const markFiles = inPriorityOrder(files, "markPriceKlines");
    markOpens = await loadMarkOpens(markFiles.filter((f) => markPriceInterval(f.path) === "8h"));
    const minuteMarkFiles = markFiles.filter((f) => {
      const range = archiveFileRange(f.path);
      return markPriceInterval(f.path) === "1m" && range.from < q.to && range.to > q.from;
    });
    if (minuteMarkFiles.length > 0) marks = new MarkBars(minuteMarkFiles, parseThread);
  } catch (error) {
    await bars.close();
    throw error;
  }
  for (const openTime of markOpens.keys()) {
    if (openTime < q.to && openTime + EIGHT_HOURS_MS > q.from) cov.markPriceKlines++;
  }
  let next = 0;
  let lastClose: string | undefined;
  const settle = (row: FundingRow): MarketEvent | undefined => {
    const mark = markOpens.get(row.fundingTime - (row.fundingTime % ONE_MINUTE_MS));
    const markPrice = mark ?? lastClose;
    if (markPrice === undefined) {
      cov.fundingSkipped++;
      const { fundingTime, fundingRate, fundingIntervalHours } = row;
      return {
        kind: "funding",
        time: fundingTime,
        funding: { symbol, fundingTime, fundingRate, fundingIntervalHours },
      };
    }
    cov.fundingSettlements++;
    if (mark === undefined) cov.fundingAtLastClose++;
    const funding: FundingSettlement = {
      symbol,
      fundingTime: row.fundingTime,
      fundingRate: row.fundingRate,
      fundingIntervalHours: row.fundingIntervalHours,
      markPrice,
      markPriceSource: mark === undefined ? "lastClose" : "markPriceKline",
    };
    return { kind: "funding", time: row.fundingTime, funding };
  };
  const gapEvent = (gap: MarketGap): MarketEvent => {
    coverage.addGap(gap);
    return { kind: "gap", time: gap.toOpenTime, gap };
  };
  let previousOpenTime = ceilMinute(q.from) - ONE_MINUTE_MS;
  let lastOpenTime = Number.NEGATIVE_INFINITY;
  try {
    for (;;) {
      // Rows are taken without an await while the current batches last (see MergedRows).
      const row = bars.take();
      if (row === undefined) {
        if (await bars.fill()) continue;
        break;
      }
      if (row.openTime === lastOpenTime) continue; // overlapping files: the first file's bar won
      lastOpenTime = row.openTime;
      if (row.openTime >= q.to) break;
      const inWindow = row.openTime >= q.from;
      const gap = inWindow ? klineGap(symbol, previousOpenTime, row.openTime) : undefined;
      if (gap !== undefined) {
        for (; next < settlements.length && settlements[next]!.fundingTime <= gap.toOpenTime; next++) {
          const event = settle(settlements[next]!);
          if (event !== undefined) yield event;
        }
        yield gapEvent(gap);
      }
      for (; next < settlements.length && settlements[next]!.fundingTime <= row.closeTime; next++) {
        const event = settle(settlements[next]!);
        if (event !== undefined) yield event;
      }
      lastClose = row.close;
      if (inWindow) {
        previousOpenTime = row.openTime;
        cov.bars++;
        cov.firstBarOpenTime ??= row.openTime;
        cov.lastBarOpenTime = row.openTime;
        const bar: Bar = {
          symbol,
          interval: "1m",
          openTime: row.openTime,
          closeTime: row.closeTime,
          open: row.open,
          high: row.high,
          low: row.low,
          close: row.close,
          volume: row.volume,
        };
        // Only when the file has the column (official layout): an OHLCV file's bars stay as they were.
        if (row.takerBuyVolume !== undefined) bar.takerBuyVolume = row.takerBuyVolume;
        const mark = marks === undefined ? undefined : await marks.at(row.openTime);
        if (mark !== undefined) {
          cov.markBars++;
          yield { kind: "bar", time: row.closeTime, bar, mark };
        } else {
          if (marks !== undefined) {
            cov.barsWithoutMark++;
            cov.firstBarWithoutMark ??= row.openTime;
          }
          yield { kind: "bar", time: row.closeTime, bar };
        }
      }
    }
  } finally {
    await bars.close();
    await marks?.close();
  }
  for (; next < settlements.length; next++) {
    const event = settle(settlements[next]!);
    if (event !== undefined) yield event;
  }
  const endGap = klineGap(symbol, previousOpenTime, ceilMinute(q.to));
  if (endGap !== undefined) yield gapEvent(endGap);
}

/**
 * The 1m bars of a symbol without kline files, built from its trades files (`minuteBarsFromTrades`, in path
 * order, checked to continue each other by `tickStream`), as kline rows: a minute without trades has no bar (a
 * gap of the stream).
 */
async function* barsFromTrades(symbol: string, files: readonly ArchiveFile[]): AsyncGenerator<KlineRow> {
  const trades = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  async function* tradesOnly(): AsyncGenerator<TradeTick> {
    for await (const tick of tickStream({ symbol, trades })) if (tick.kind === "trade") yield tick;
  }
  for await (const bar of minuteBarsFromTrades(symbol, tradesOnly())) {
    const { openTime, open, high, low, close, volume } = bar;
    yield { openTime, closeTime: openTime + ONE_MINUTE_MS - 1, open, high, low, close, volume };
  }
}

/**
 * Settlements with from ≤ fundingTime < to, ordered by fundingTime, one per slot (calc_time rounded to the
 * nearest minute): the first file in priority order wins, a later row of the same slot must agree on the rate
 * (exactly) or the load rejects with `MarketDataError` naming both rows. Only rows within a minute of the
 * window are kept in memory.
 */
async function loadSettlements(files: ArchiveFile[], q: MarketWindow): Promise<FundingRow[]> {
  const bySlot = new Map<number, { row: FundingRow; path: string }>();
  for (const file of files) {
    for await (const row of readFundingFile(file)) {
      if (row.fundingTime < q.from - ONE_MINUTE_MS || row.fundingTime >= q.to + ONE_MINUTE_MS) continue;
      const slot = Math.round(row.fundingTime / ONE_MINUTE_MS);
      const kept = bySlot.get(slot);
      if (kept === undefined) {
        bySlot.set(slot, { row, path: file.path });
      } else if (compareDecimals(kept.row.fundingRate, row.fundingRate) !== 0) {
        throw new MarketDataError(
          file.path,
          row.line,
          `last_funding_rate ${row.fundingRate} at calc_time ${row.fundingTime} disagrees with ` +
            `${kept.path}:${kept.row.line} (${kept.row.fundingRate} at ${kept.row.fundingTime}) ` +
            `for the settlement at ${new Date(slot * ONE_MINUTE_MS).toISOString()}`,
        );
      }
    }
  }
  return [...bySlot.values()]
    .map(({ row }) => row)
    .filter((row) => row.fundingTime >= q.from && row.fundingTime < q.to)
    .sort((a, b) => a.fundingTime - b.fundingTime);
}

/** open_time → open of the 8h mark-price klines; the first file (in priority order) wins per open_time. */
async function loadMarkOpens(files: ArchiveFile[]): Promise<Map<number, string>> {
  const opens = new Map<number, string>();
  for (const file of files) {
    for await (const row of readMarkPriceKlineFile(file)) {
      if (!opens.has(row.openTime)) opens.set(row.openTime, row.open);
    }
  }
  return opens;
}

/**
 * The 1m mark-price klines of one symbol's files (in priority order), read in step with its bars: `at` is
 * asked for increasing minutes and reads the files only up to the one asked for, so at most one row per file
 * is held. On a minute held by several files the first file's kline wins.
 */
class MarkBars {
  private readonly rows: AsyncGenerator<MarkPriceKline>;
  private head: MarkPriceKline | undefined;
  private done = false;

  constructor(files: readonly ArchiveFile[], parseThread: ParseThread | undefined) {
    const sources = files.map((f) => parseThread?.markPriceBars(f) ?? readMarkPriceBarFile(f));
    this.rows = sources.length === 1 ? sources[0]! : mergeOrdered(sources, (a, b) => a.openTime - b.openTime);
  }

  /**
   * The mark kline opening at `openTime` (ms epoch, a minute), or undefined when the files hold none; klines
   * before it are passed over. `openTime` must not decrease between calls.
   * @throws MarketDataError from the parser (file:line) for a malformed row read on the way.
   */
  async at(openTime: number): Promise<MarkPriceKline | undefined> {
    while (!this.done && (this.head === undefined || this.head.openTime < openTime)) {
      const r = await this.rows.next();
      if (r.done) {
        this.done = true;
        this.head = undefined;
      } else if (r.value.openTime !== this.head?.openTime) {
        this.head = r.value;
      }
    }
    return this.head?.openTime === openTime ? this.head : undefined;
  }

  /** Closes the files. */
  async close(): Promise<void> {
    await this.rows.return(undefined);
  }
}

/**
 * k-way merge of sorted async sources by `compare` (callers pass one source as is, unmerged); on ties the lower
 * source index goes first. Sources are
 * advanced one at a time (so the first error in stream order is the one thrown) and all closed at the end.
 */
async function* mergeOrdered<T>(
  sources: AsyncGenerator<T>[],
  compare: (a: T, b: T) => number,
): AsyncGenerator<T> {
  try {
    const heads: IteratorResult<T>[] = [];
    for (const source of sources) heads.push(await source.next());
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i]!;
        if (
          !head.done &&
          (best < 0 || compare(head.value, (heads[best] as IteratorYieldResult<T>).value) < 0)
        ) {
          best = i;
        }
      }
      if (best < 0) return;
      const value = (heads[best] as IteratorYieldResult<T>).value;
      heads[best] = await sources[best]!.next();
      yield value;
    }
  } finally {
    for (const source of sources) await source.return(undefined);
  }
}

/** Each row of `rows` as a batch of its own (a source of `MergedRows` read on the caller's thread). */
async function* singleRows<T>(rows: AsyncGenerator<T>): AsyncGenerator<T[]> {
  try {
    for await (const row of rows) yield [row];
  } finally {
    await rows.return(undefined);
  }
}

/**
 * The rows of sorted sources of row batches (`ParseThread.klineBatches`, `singleRows`) in the order of
 * `mergeOrdered` over their rows: one source as it comes; several merged by `compare`, ties to the lower source
 * index, a source advanced to its next row before the row taken from it is handed out (so the first error in
 * stream order is the one thrown, as `mergeOrdered` throws it). `take()` hands out the next row synchronously
 * while the batches in hand allow it, else undefined: then `fill()` reads what is missing and answers whether rows
 * remain. `close()` closes every source.
 */
export class MergedRows<T> {
  private readonly batches: (T[] | undefined)[];
  /** Index of each source's head row in its batch. */
  private readonly at: number[];
  private readonly done: boolean[];
  /** Every source's first batch being read (the first `fill`), then whether they were read. */
  private priming: Promise<boolean> | undefined;
  private primed = false;
  /** A row taken from `held.source` whose batch ran out: handed out once that source was advanced. */
  private held: { row: T; source: number } | undefined;
  /** The row `fill()` made available (the held row, once its source was advanced). */
  private ready: T | undefined;

  constructor(
    private readonly sources: AsyncGenerator<T[]>[],
    private readonly compare: (a: T, b: T) => number,
  ) {
    this.batches = sources.map(() => undefined);
    this.at = sources.map(() => 0);
    this.done = sources.map(() => false);
  }

  /** The next row when it can be had without reading a source; undefined when `fill()` must read first. */
  take(): T | undefined {
    if (this.ready !== undefined) {
      const row = this.ready;
      this.ready = undefined;
      return row;
    }
    // Not before every source's first batch is in: the first row is the least of their heads.
    if (!this.primed || this.held !== undefined) return undefined;
    let best = -1;
    for (let i = 0; i < this.sources.length; i++) {
      const batch = this.batches[i];
      if (batch === undefined) continue;
      if (best < 0 || this.compare(batch[this.at[i]!]!, this.batches[best]![this.at[best]!]!) < 0) best = i;
    }
    if (best < 0) return undefined;
    const batch = this.batches[best]!;
    const row = batch[this.at[best]!]!;
    if (++this.at[best]! < batch.length) return row;
    // The source's batch ran out: it must be advanced before the row is handed out (by `fill`).
    this.batches[best] = undefined;
    // One source: its rows come as they are read (an error after them comes with the next read).
    if (this.sources.length === 1) return row;
    this.held = { row, source: best };
    return undefined;
  }

  /**
   * Reads what `take()` waits for: every source's first batch at the start, else the next batch of the source
   * that ran out. False when no row remains.
   * @throws the sources' errors (a `MarketDataError` keeps its file:line).
   */
  async fill(): Promise<boolean> {
    if (!this.primed) {
      this.priming ??= this.prime();
      return this.priming;
    }
    const held = this.held;
    if (held !== undefined) {
      this.held = undefined;
      await this.advance(held.source);
      this.ready = held.row;
      return true;
    }
    // One source whose batch ran out (several sources never leave `take` here with rows in hand).
    for (let i = 0; i < this.sources.length; i++) if (this.batches[i] === undefined) await this.advance(i);
    return this.batches.some((b) => b !== undefined);
  }

  /**
   * Reads every source's first batch, all at once (each source's file opens and parses without waiting for the
   * others'); the first failure in source order is thrown, as reading them one after the other would.
   */
  private async prime(): Promise<boolean> {
    const read = await Promise.allSettled(this.sources.map((_, i) => this.advance(i)));
    for (const r of read) if (r.status === "rejected") throw r.reason;
    this.primed = true;
    return this.batches.some((b) => b !== undefined);
  }

  /** Closes every source (their files). */
  async close(): Promise<void> {
    for (const source of this.sources) await source.return(undefined);
  }

  /** Reads source `i`'s next non-empty batch, or marks it done. */
  private async advance(i: number): Promise<void> {
    while (!this.done[i]) {
      const r = await this.sources[i]!.next();
      if (r.done) {
        this.done[i] = true;
        return;
      }
      if (r.value.length > 0) {
        this.batches[i] = r.value;
        this.at[i] = 0;
        return;
      }
    }
  }
}
