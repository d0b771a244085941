/**
 * Names and windows of the local archive (binance-usdm.md §6): the time range a CSV covers according to its
 * file name, and the validation of a requested window.
 */
import type { MarketWindow } from "./types.ts";

const DAY_MS = 86_400_000;
const RANGE_NAME = /-(\d{4})-(\d{2})-(\d{2})_(\d{4})-(\d{2})-(\d{2})\.csv$/;
const MONTH_NAME = /-(\d{4})-(\d{2})\.csv$/;

/**
 * The time range [from, to) (ms epoch UTC) a file covers according to its name: `…-YYYY-MM.csv` is that
 * calendar month, `…-YYYY-MM-DD_YYYY-MM-DD.csv` runs from the first day's 00:00 to the end of the last day.
 * Throws an Error for any other name.
 */
export function archiveFileRange(path: string): MarketWindow {
  const range = RANGE_NAME.exec(path);
  if (range !== null) {
    const [, y1, m1, d1, y2, m2, d2] = range.map(Number) as number[];
    return { from: Date.UTC(y1!, m1! - 1, d1!), to: Date.UTC(y2!, m2! - 1, d2!) + DAY_MS };
  }
  const month = MONTH_NAME.exec(path);
  if (month !== null) {
    const [, y, m] = month.map(Number) as number[];
    return { from: Date.UTC(y!, m! - 1, 1), to: Date.UTC(y!, m!, 1) };
  }
  throw new Error(
    `cannot tell the dates of ${path}: expected a name ending in -YYYY-MM.csv or -YYYY-MM-DD_YYYY-MM-DD.csv`,
  );
}

/**
 * True for a file of the official monthly archive tree (`futures/um/monthly/…`, what data.binance.vision
 * serves and `fetchArchive` writes), as opposed to ranged files derived from other sources (REST, freqtrade).
 */
export function isOfficialMonthly(path: string): boolean {
  return path.startsWith("futures/um/monthly/");
}

const MARK_PRICE_DIR = /(?:^|\/)markPriceKlines\/[A-Z0-9]+\/(1m|8h)\//;

/**
 * The interval of a markPriceKlines file, from its directory (`…/markPriceKlines/SYM/1m/…` or `…/8h/…`, as the
 * archive lays them out): 8h klines price funding settlements, 1m ones are the venue's mark. Throws an Error for
 * a path without either.
 */
export function markPriceInterval(path: string): "1m" | "8h" {
  const m = MARK_PRICE_DIR.exec(path);
  if (m === null) {
    throw new Error(
      `cannot tell the interval of ${path}: expected a path with markPriceKlines/SYMBOL/1m/ or /8h/`,
    );
  }
  return m[1] as "1m" | "8h";
}

/** Throws a RangeError unless from and to are integers (ms epoch) with from < to. */
export function checkWindow(q: MarketWindow): void {
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to) || q.from >= q.to) {
    throw new RangeError(
      `invalid market window [${q.from}, ${q.to}): expected integer ms epochs with from < to`,
    );
  }
}
