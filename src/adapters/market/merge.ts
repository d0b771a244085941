/**
 * The archive as one deterministic, time-ordered stream of market events (bars, funding settlements, gaps)
 * over all symbols — the backtest's market feed.
 *
 * Order: by `time` (bar: closeTime, settlement: fundingTime, gap: toOpenTime), then kind (funding < gap <
 * bar), then symbol (alphabetical). So a settlement at 08:00:00.003 comes after the bar closing 07:59:59.999
 * and before the bar closing 08:00:59.999 (strategies.md §0, funding boundary rule), and a gap comes right
 * before the bar that revealed it.
 */
import { from, type Observable } from "rxjs";
import { type FundingRow, readFundingFile } from "./funding.ts";
import { ONE_MINUTE_MS, readKlineFile, readMarkPriceKlineFile } from "./klines.ts";
import { archiveFileRange, checkWindow } from "./layout.ts";
import type { ArchiveFile, FundingSettlement, MarketEvent, MarketGap, MarketWindow } from "./types.ts";

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

/**
 * Merges `files` (from `discoverArchive`) into one ordered stream over [q.from, q.to):
 * - bars with from ≤ openTime < to. A symbol's kline files are merged by openTime; when files overlap, the bar
 *   of the file whose name-range starts first (then by path) wins and the others' bars at that openTime are
 *   dropped, identical or not (the archive's copies agree, README). Within a file the parser's rules apply.
 * - a gap before a bar whose openTime is more than 1 minute after the previous bar's (or, for the first bar,
 *   after the first whole minute ≥ from); none after the last bar.
 * - settlements with from ≤ fundingTime < to (first file wins per fundingTime). markPrice = open of the 8h
 *   mark-price kline with open_time = fundingTime floored to the minute (`markPriceKline`), else the close of the
 *   symbol's latest bar with closeTime < fundingTime, looking before `from` too (`lastClose`); a settlement with
 *   neither (before the symbol's first bar) is skipped.
 * Rejects with `MarketDataError` on a malformed file, RangeError on an invalid window.
 */
export async function* archiveMarketEvents(
  files: readonly ArchiveFile[],
  q: MarketWindow,
): AsyncGenerator<MarketEvent> {
  checkWindow(q);
  const symbols = [...new Set(files.map((f) => f.symbol))].sort();
  const sources = symbols.map((s) =>
    symbolEvents(
      s,
      files.filter((f) => f.symbol === s),
      q,
    ),
  );
  yield* mergeOrdered(sources, compareEvents);
}

/** `archiveMarketEvents` as an RxJS Observable (cold: each subscription reads the files again). */
export function archiveMarket$(files: readonly ArchiveFile[], q: MarketWindow): Observable<MarketEvent> {
  return from(archiveMarketEvents(files, q));
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

/** Files of one kind in merge priority: name-range start, then path. */
function inPriorityOrder(files: readonly ArchiveFile[], kind: ArchiveFile["kind"]): ArchiveFile[] {
  return files
    .filter((f) => f.kind === kind)
    .map((f) => ({ f, start: archiveFileRange(f.path).from }))
    .sort((a, b) => a.start - b.start || (a.f.path < b.f.path ? -1 : a.f.path > b.f.path ? 1 : 0))
    .map(({ f }) => f);
}

async function* symbolEvents(
  symbol: string,
  files: readonly ArchiveFile[],
  q: MarketWindow,
): AsyncGenerator<MarketEvent> {
  const settlements = await loadSettlements(inPriorityOrder(files, "fundingRate"), q);
  const markOpens = await loadMarkOpens(inPriorityOrder(files, "markPriceKlines"));
  const bars = mergeOrdered(
    inPriorityOrder(files, "klines").map((f) => readKlineFile(f)),
    (a, b) => a.openTime - b.openTime,
  );
  let next = 0;
  let lastClose: string | undefined;
  const settle = (row: FundingRow): MarketEvent | undefined => {
    const mark = markOpens.get(row.fundingTime - (row.fundingTime % ONE_MINUTE_MS));
    const markPrice = mark ?? lastClose;
    if (markPrice === undefined) return undefined;
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
  let previousOpenTime = Math.ceil(q.from / ONE_MINUTE_MS) * ONE_MINUTE_MS - ONE_MINUTE_MS;
  let lastOpenTime = Number.NEGATIVE_INFINITY;
  for await (const row of bars) {
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
      yield { kind: "gap", time: gap.toOpenTime, gap };
    }
    for (; next < settlements.length && settlements[next]!.fundingTime <= row.closeTime; next++) {
      const event = settle(settlements[next]!);
      if (event !== undefined) yield event;
    }
    lastClose = row.close;
    if (inWindow) {
      previousOpenTime = row.openTime;
      yield { kind: "bar", time: row.closeTime, bar: { symbol, interval: "1m", ...row } };
    }
  }
  for (; next < settlements.length; next++) {
    const event = settle(settlements[next]!);
    if (event !== undefined) yield event;
  }
}

/** Settlements in [from, to), ordered by fundingTime; the first file (in priority order) wins per time. */
async function loadSettlements(files: ArchiveFile[], q: MarketWindow): Promise<FundingRow[]> {
  const byTime = new Map<number, FundingRow>();
  for (const file of files) {
    for await (const row of readFundingFile(file)) {
      if (row.fundingTime >= q.from && row.fundingTime < q.to && !byTime.has(row.fundingTime)) {
        byTime.set(row.fundingTime, row);
      }
    }
  }
  return [...byTime.values()].sort((a, b) => a.fundingTime - b.fundingTime);
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
 * k-way merge of sorted async sources by `compare`; on ties the lower source index goes first. Sources are
 * advanced one at a time (so the first error in stream order is the one thrown) and all closed at the end.
 */
async function* mergeOrdered<T>(
  sources: AsyncGenerator<T>[],
  compare: (a: T, b: T) => number,
): AsyncGenerator<T> {
  try {
    if (sources.length === 1) {
      yield* sources[0]!;
      return;
    }
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
