/**
 * `start`'s first run: the archive files its backtest reads, and their download from data.binance.vision into the
 * data root when the window's klines are missing (item 8 of issue 9).
 */
import { discoverArchive } from "../adapters/market/archive.ts";
import { ArchiveUnreachableError, fetchArchive } from "../adapters/market/fetch.ts";
import type { FetchableKind } from "../adapters/market/types.ts";
import { ALL_SYMBOLS, type AppConfig, type BacktestRequest, windowOf } from "../config/schema.ts";
import { warmUpWindow } from "../engine/warm-up.ts";
import { monthRange } from "./args.ts";
import { createFetchProgress } from "./progress.ts";

/** The monthly archive files of a backtest: every kind × symbol × month (`fetchArchive`'s options). */
export interface ArchivePlan {
  symbols: string[];
  /** Calendar months "YYYY-MM", oldest first. */
  months: string[];
  dataTypes: FetchableKind[];
}

/**
 * What a backtest run reads (src/engine/backtest.ts): 1m klines (its bars), funding settlements (the venue settles
 * them every run) and 8h mark-price klines (the mark a settlement is priced at); `fetchArchive`'s default
 * intervals are exactly these.
 */
const BACKTEST_KINDS: readonly FetchableKind[] = ["klines", "fundingRate", "markPriceKlines"];

/**
 * The archive files `request` reads: its symbols, and the months from its warm-up's first bar (or, for a
 * strategy consuming funding, its first settlement: `warmUpWindow`) to its last day. Undefined for symbols
 * `"ALL"`, which are resolved from the files already there.
 */
export function backtestArchivePlan(request: BacktestRequest): ArchivePlan | undefined {
  if (request.symbols === ALL_SYMBOLS) return undefined;
  const window = windowOf(request);
  const warm = warmUpWindow(request);
  const first = Math.min(window.from, warm?.from ?? window.from, warm?.fundingFrom ?? window.from);
  const month = (ms: number) => new Date(ms).toISOString().slice(0, 7);
  return {
    symbols: [...request.symbols],
    months: monthRange(month(first), month(window.to - 1)),
    dataTypes: [...BACKTEST_KINDS],
  };
}

/** What `fetchMissingArchive` did. */
export type FirstRunFetch =
  | { status: "present" }
  | { status: "fetched"; files: number; downloaded: number; bytes: number }
  | { status: "unreachable"; reason: string };

/**
 * When `cfg.archive.fetchOnStart` and the 1m klines of `cfg.backtest`'s listed symbols do not cover its window
 * under `cfg.dataRoot`, downloads the files of `backtestArchivePlan` from `cfg.archive.baseUrl` into the data root
 * (files already present with the same CHECKSUM are kept), showing a progress bar on a TTY (`tty`), else one
 * line per file through `err`. Resolves to `present` when nothing was needed (or fetching is off, or the symbols
 * are "ALL"), `unreachable` with the cause when the archive cannot be reached (DNS, refused, timeout).
 * @throws Error from `fetchArchive`: an HTTP error status, a checksum mismatch naming the file and both hashes
 *   (nothing of that file written), a malformed CHECKSUM or zip.
 */
export async function fetchMissingArchive(
  cfg: AppConfig,
  io: { err(line: string): void; tty: boolean },
): Promise<FirstRunFetch> {
  const plan = backtestArchivePlan(cfg.backtest);
  if (!cfg.archive.fetchOnStart || plan === undefined) return { status: "present" };
  if (await coversWindow(cfg.dataRoot, plan.symbols, cfg.backtest)) return { status: "present" };
  const total = plan.dataTypes.length * plan.symbols.length * plan.months.length;
  io.err(
    `fetching ${plan.symbols.join(", ")} ${plan.months[0]}…${plan.months.at(-1)} ` +
      `(${plan.dataTypes.join(", ")}: ${total} files) from ${cfg.archive.baseUrl} into ${cfg.dataRoot}`,
  );
  const progress = createFetchProgress(io.tty, total, io.err);
  try {
    const files = await fetchArchive({
      ...plan,
      baseUrl: cfg.archive.baseUrl,
      dest: cfg.dataRoot,
      onBytes: progress.bytes,
      onProgress: progress.file,
    });
    const fetched = files.filter((f) => !f.skipped);
    return {
      status: "fetched",
      files: files.length,
      downloaded: fetched.length,
      bytes: fetched.reduce((sum, f) => sum + f.bytes, 0),
    };
  } catch (error) {
    if (error instanceof ArchiveUnreachableError) return { status: "unreachable", reason: error.message };
    throw error;
  } finally {
    progress.stop();
  }
}

/** Whether the 1m kline files under `dataRoot` cover the window for every symbol (by their names). */
async function coversWindow(dataRoot: string, symbols: string[], request: BacktestRequest): Promise<boolean> {
  try {
    await discoverArchive(dataRoot, { symbols, ...windowOf(request) });
    return true;
  } catch {
    return false;
  }
}
