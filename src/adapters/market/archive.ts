/**
 * Discovery of the local market-data archive: the CSV files of a data.binance.vision-style tree
 * (binance-usdm.md §6) that a backtest over [from, to) needs, with their SHA-256 for the run manifest.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { archiveFileRange, checkWindow } from "./layout.ts";
import { TICK_FILE_NAME } from "./ticks.ts";
import type { ArchiveFile, ArchiveKind, MarketWindow, TickKind } from "./types.ts";

export { MarketCoverage, type SymbolCoverage } from "./coverage.ts";
export { archiveMarketEvents, countKlineRows, type MarketStreamOptions } from "./merge.ts";
export type { ArchiveFile, MarketWindow } from "./types.ts";

/** What a backtest reads: symbols over [from, to) (ms epoch UTC). */
export interface ArchiveQuery extends MarketWindow {
  symbols: string[];
}

/** Binance symbol pattern (upper-case letters and digits); also keeps symbols from escaping the data root. */
const SYMBOL = /^[A-Z0-9]{2,30}$/;

const KIND_ORDER: Record<ArchiveKind, number> = {
  klines: 0,
  fundingRate: 1,
  markPriceKlines: 2,
  trades: 3,
  bookTicker: 4,
  markPrice1s: 5,
};

/** The 1m kline layouts, relative to the data root: a folder per symbol, `<root>/SYMBOL/1m/`. */
const KLINE_ROOTS = ["futures/um/monthly/klines", "futures/um/ohlcv/klines"] as const;

/**
 * Directories searched per kind, relative to the data root. The `monthly/` trees are what `fetchArchive`
 * writes; the others hold ranged `SYM-…-YYYY-MM-DD_YYYY-MM-DD.csv` files (the project's real-data set).
 */
const DIRECTORIES: readonly { kind: ArchiveKind; dir: (symbol: string) => string }[] = [
  ...KLINE_ROOTS.map((root) => ({ kind: "klines" as const, dir: (s: string) => `${root}/${s}/1m` })),
  { kind: "fundingRate", dir: (s) => `futures/um/monthly/fundingRate/${s}` },
  { kind: "fundingRate", dir: (s) => `futures/um/fundingRate/${s}` },
  { kind: "markPriceKlines", dir: (s) => `futures/um/monthly/markPriceKlines/${s}/8h` },
  { kind: "markPriceKlines", dir: (s) => `futures/um/markPriceKlines/${s}/8h` },
  { kind: "markPriceKlines", dir: (s) => `futures/um/monthly/markPriceKlines/${s}/1m` },
  { kind: "markPriceKlines", dir: (s) => `futures/um/markPriceKlines/${s}/1m` },
];

/**
 * Finds the archive files under `dataRoot` that overlap [q.from, q.to) for each symbol (by their names, see
 * `archiveFileRange`): 1m klines (`futures/um/monthly/klines/SYM/1m/SYM-1m-YYYY-MM.csv`,
 * `futures/um/ohlcv/klines/SYM/1m/SYM-1m-FROM_TO.csv`), fundingRate (`futures/um/[monthly/]fundingRate/SYM/`)
 * and markPriceKlines, 8h (funding's mark) and 1m (the venue's mark), in `futures/um/[monthly/]markPriceKlines/
 * SYM/8h|1m/` (one kind: the interval is in the path, see `markPriceInterval`). Funding and mark-price files are
 * optional; overlapping funding sources are all listed (the merge keeps one settlement per slot). Only file
 * names are checked here: holes inside the files are gaps of the merged stream (`archiveMarketEvents`). Sorted by symbol, kind (klines, fundingRate, markPriceKlines), range start, path; each hashed
 * (SHA-256, streamed). Throws an Error naming the symbol, the window, the data root and the months to fetch
 * (`perpsource data fetch`) when a symbol's kline files do not cover the whole window (one line per symbol);
 * a RangeError for an invalid window or symbol; an Error for a CSV whose name carries no dates. With
 * `options.partial`, whatever files there are, without the coverage error (e.g. for bars before a window). A
 * symbol of `options.barsFromTrades` (it has trades files, see `discoverTickFiles`) with no kline file in the
 * window is not an error either: its bars are built from its trades.
 */
export async function discoverArchive(
  dataRoot: string,
  q: ArchiveQuery,
  options: { partial?: boolean; barsFromTrades?: readonly string[] } = {},
): Promise<ArchiveFile[]> {
  checkWindow(q);
  const symbols = [...new Set(q.symbols)].sort();
  if (symbols.length === 0) throw new RangeError("no symbols requested");
  const invalid = symbols.find((s) => !SYMBOL.test(s));
  if (invalid !== undefined) throw new RangeError(`invalid symbol "${invalid}": expected e.g. BTCUSDT`);
  const problems: string[] = [];
  const found: { file: Omit<ArchiveFile, "sha256" | "bytes">; range: MarketWindow }[] = [];
  for (const symbol of symbols) {
    for (const { kind, dir } of DIRECTORIES) {
      for (const name of await csvNames(join(dataRoot, dir(symbol)))) {
        const path = `${dir(symbol)}/${name}`;
        const range = archiveFileRange(path);
        if (range.from < q.to && range.to > q.from) {
          found.push({ file: { path, absolutePath: join(dataRoot, path), kind, symbol }, range });
        }
      }
    }
    const klines = found
      .filter((f) => f.file.symbol === symbol && f.file.kind === "klines")
      .map((f) => f.range);
    // A symbol of `barsFromTrades` without any kline file takes its bars from its trades files (merge.ts).
    const fromTrades = klines.length === 0 && options.barsFromTrades?.includes(symbol) === true;
    const problem = options.partial || fromTrades ? undefined : coverageProblem(dataRoot, symbol, q, klines);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  found.sort(
    (a, b) =>
      compareStrings(a.file.symbol, b.file.symbol) ||
      KIND_ORDER[a.file.kind] - KIND_ORDER[b.file.kind] ||
      a.range.from - b.range.from ||
      compareStrings(a.file.path, b.file.path),
  );
  return Promise.all(found.map(async ({ file }) => ({ ...file, ...(await hashFile(file.absolutePath)) })));
}

/**
 * The tick files (`SYMBOL-trades-….csv[.gz]`, `SYMBOL-bookTicker-…`, `SYMBOL-markPrice1s-…`, see ticks.ts) at
 * `paths` (files, or directories whose tick files are taken; relative paths are relative to `dataRoot`) of the
 * symbols in `symbols` (others are left out), each hashed like the archive files, sorted like them: the run
 * manifest's entries, so a replay or a resume checks them too.
 * @throws Error naming the path when one does not exist or holds no tick file.
 */
export async function discoverTickFiles(
  dataRoot: string,
  paths: readonly string[],
  symbols: readonly string[],
): Promise<ArchiveFile[]> {
  const keep = new Set(symbols);
  const found: Omit<ArchiveFile, "sha256" | "bytes">[] = [];
  for (const p of paths) {
    const absolute = resolve(dataRoot, p);
    const info = await stat(absolute).catch(() => undefined);
    if (!info) throw new Error(`tick files: no such file or directory ${p} (under ${dataRoot})`);
    const names = info.isDirectory() ? (await readdir(absolute)).sort() : [basename(absolute)];
    const dir = info.isDirectory() ? absolute : dirname(absolute);
    const ticks = names.flatMap((name) => {
      const m = TICK_FILE_NAME.exec(name);
      return m ? [{ name, symbol: m[1]!, kind: m[2] as TickKind }] : [];
    });
    if (ticks.length === 0)
      throw new Error(`tick files: ${p} holds no trades, bookTicker or markPrice1s file`);
    for (const { name, symbol, kind } of ticks) {
      if (!keep.has(symbol)) continue;
      const absolutePath = join(dir, name);
      const path = relative(dataRoot, absolutePath).split(sep).join("/");
      if (!found.some((f) => f.path === path)) found.push({ path, absolutePath, kind, symbol });
    }
  }
  found.sort(
    (a, b) =>
      compareStrings(a.symbol, b.symbol) ||
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      compareStrings(a.path, b.path),
  );
  return Promise.all(found.map(async (file) => ({ ...file, ...(await hashFile(file.absolutePath)) })));
}

/**
 * Every symbol with a folder in a 1m kline layout under `dataRoot` (`futures/um/monthly/klines/SYMBOL`,
 * `futures/um/ohlcv/klines/SYMBOL`), sorted, each once; folders not named like a symbol are left out.
 */
export async function klineSymbols(dataRoot: string): Promise<string[]> {
  const names = await Promise.all(KLINE_ROOTS.map((root) => folderNames(join(dataRoot, root))));
  return [...new Set(names.flat().filter((name) => SYMBOL.test(name)))].sort(compareStrings);
}

/**
 * The 1m kline files of `symbol` under `dataRoot` whose name range overlaps `q` (`archiveFileRange`), by range
 * start then path; listed by name only (not hashed).
 * @throws Error for a CSV whose name carries no dates; RangeError for an invalid window or symbol.
 */
export async function klineFiles(
  dataRoot: string,
  symbol: string,
  q: MarketWindow,
): Promise<{ path: string; absolutePath: string; range: MarketWindow }[]> {
  checkWindow(q);
  if (!SYMBOL.test(symbol)) throw new RangeError(`invalid symbol "${symbol}": expected e.g. BTCUSDT`);
  const found: { path: string; absolutePath: string; range: MarketWindow }[] = [];
  for (const { kind, dir } of DIRECTORIES) {
    if (kind !== "klines") continue;
    for (const name of await csvNames(join(dataRoot, dir(symbol)))) {
      const path = `${dir(symbol)}/${name}`;
      const range = archiveFileRange(path);
      if (range.from < q.to && range.to > q.from)
        found.push({ path, absolutePath: join(dataRoot, path), range });
    }
  }
  return found.sort((a, b) => a.range.from - b.range.from || compareStrings(a.path, b.path));
}

async function folderNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => !e.isFile()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

async function csvNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith(".csv"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** Why the kline files' name ranges do not cover the window, or undefined when they do. */
function coverageProblem(
  dataRoot: string,
  symbol: string,
  q: MarketWindow,
  ranges: MarketWindow[],
): string | undefined {
  const missing: MarketWindow[] = [];
  let cursor = q.from;
  for (const range of [...ranges].sort((a, b) => a.from - b.from)) {
    if (range.from > cursor) missing.push({ from: cursor, to: range.from });
    cursor = Math.max(cursor, range.to);
  }
  if (cursor < q.to) missing.push({ from: cursor, to: q.to });
  if (missing.length === 0) return undefined;
  const window = `[${iso(q.from)}, ${iso(q.to)})`;
  const holes = missing.map((m) => `[${iso(m.from)}, ${iso(m.to)})`).join(", ");
  const months = [...new Set(missing.flatMap(monthsOf))].join(",");
  return (
    `no 1m kline data for ${symbol} covering ${window} under ${dataRoot} (missing ${holes}; looked in ` +
    `futures/um/monthly/klines/${symbol}/1m and futures/um/ohlcv/klines/${symbol}/1m). ` +
    `Download it with \`perpsource data fetch\` (symbol ${symbol}, months ${months}).`
  );
}

/** The calendar months (YYYY-MM) a window touches. */
function monthsOf(w: MarketWindow): string[] {
  const months: string[] = [];
  const last = iso(w.to - 1).slice(0, 7);
  let [y, m] = iso(w.from).slice(0, 7).split("-").map(Number) as [number, number];
  for (;;) {
    const month = `${y}-${String(m).padStart(2, "0")}`;
    months.push(month);
    if (month >= last) return months;
    [y, m] = m === 12 ? [y + 1, 1] : [y, m + 1];
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function hashFile(absolutePath: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(absolutePath) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest("hex"), bytes };
}
