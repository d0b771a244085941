/**
 * Streaming parsers for kline CSVs of the Binance archive (binance-usdm.md §6): 1m klines in the official
 * 12-column layout or the 6-column OHLCV subset, and 8h or 1m mark-price klines (official 12 columns or the
 * 5-column `open_time,open,high,low,close` subset). Header line optional (present iff its first field is not numeric).
 */
import {
  type CsvRecord,
  checkHeader,
  compareDecimals,
  decimalField,
  integerField,
  isHeader,
  isZeroDecimal,
  LastRowPerTime,
  priceField,
  readCsvRecords,
} from "./csv.ts";
import { type Bar, type CsvSource, MarketDataError, type MarkPriceKline } from "./types.ts";

export type { MarkPriceKline } from "./types.ts";

/**
 * One kline row: a `Bar` without its symbol and interval (the file's path gives those). closeTime comes from the
 * file's close_time column, or is openTime + interval − 1 when the layout has none; takerBuyVolume is present
 * iff the layout has the column (official 12 columns), never defaulted.
 */
export type KlineRow = Omit<Bar, "symbol" | "interval">;

/** Length of a 1m bar, ms. */
export const ONE_MINUTE_MS = 60_000;
/** Length of an 8h mark-price kline (one funding interval), ms. */
export const EIGHT_HOURS_MS = 8 * 3_600_000;

interface Layout {
  fields: number;
  name: string;
  /** Index of the validated volume column, or -1. */
  volume: number;
  /** Index of the close_time column, or -1. */
  closeTime: number;
  /** Index of the validated taker_buy_volume column, or -1. */
  takerBuyVolume: number;
}

const OFFICIAL: Layout = {
  fields: 12,
  name: "official 12-column kline layout",
  volume: 5,
  closeTime: 6,
  takerBuyVolume: 9,
};
const OFFICIAL_NO_VOLUME: Layout = { ...OFFICIAL, volume: -1, takerBuyVolume: -1 };
const OHLCV: Layout = {
  fields: 6,
  name: "open_time,open,high,low,close,volume",
  volume: 5,
  closeTime: -1,
  takerBuyVolume: -1,
};
const OHLC: Layout = {
  fields: 5,
  name: "open_time,open,high,low,close",
  volume: -1,
  closeTime: -1,
  takerBuyVolume: -1,
};

const HEADER_NAMES = ["open_time", "open", "high", "low", "close", "volume", "close_time"];
const TAKER_BUY_VOLUME = "taker_buy_volume";

/**
 * Reads a 1m (or `intervalMs`) kline CSV: official 12 columns or `open_time,open,high,low,close,volume`, with
 * or without header. Per row it checks the field count, integer times aligned to the interval, decimals
 * (no exponent, no sign, not empty, within the overflow bound `MAX_INTEGER_DIGITS`), positive prices,
 * high ≥ max(open, close), low ≤ min(open, close), and close_time =
 * open_time + interval − 1 — except that a zero-volume bar may close early (a trading halt truncates the
 * bar, e.g. spot 2023-03-24 12:00). open_time must increase; a repeated open_time replaces the previous row.
 * The official layout's taker_buy_volume (column 10, header name checked) is returned as `takerBuyVolume`,
 * checked like volume and ≤ volume; the OHLCV layout's rows have no `takerBuyVolume`.
 * Only those columns are validated. Throws `MarketDataError` (file:line: reason) on the first violation.
 */
export function readKlineFile(src: CsvSource, intervalMs = ONE_MINUTE_MS): AsyncGenerator<KlineRow> {
  // One object literal per layout, so each file's rows share one shape.
  return readOhlcRows(src, intervalMs, [OFFICIAL, OHLCV], (f, openTime, closeTime, layout) =>
    layout.takerBuyVolume >= 0
      ? {
          openTime,
          closeTime,
          open: f[1]!,
          high: f[2]!,
          low: f[3]!,
          close: f[4]!,
          volume: f[layout.volume]!,
          takerBuyVolume: f[layout.takerBuyVolume]!,
        }
      : {
          openTime,
          closeTime,
          open: f[1]!,
          high: f[2]!,
          low: f[3]!,
          close: f[4]!,
          volume: f[layout.volume]!,
        },
  );
}

/**
 * Reads an 8h mark-price kline CSV: official 12 columns (volume and later columns ignored) or
 * `open_time,open,high,low,close`, with or without header; same checks and errors as `readKlineFile`.
 */
export function readMarkPriceKlineFile(
  src: CsvSource,
  intervalMs = EIGHT_HOURS_MS,
): AsyncGenerator<MarkPriceKline> {
  return readOhlcRows(src, intervalMs, [OFFICIAL_NO_VOLUME, OHLC], (f, openTime) => ({
    openTime,
    open: f[1]!,
    high: f[2]!,
    low: f[3]!,
    close: f[4]!,
  }));
}

/**
 * Reads a 1m mark-price kline CSV (`futures/um/[monthly/]markPriceKlines/SYM/1m/`): the layouts and checks of
 * `readMarkPriceKlineFile` at a 1m interval (open_time on the minute grid, close_time = open_time + 59 999),
 * except that a repeated open_time is an error, not a replacement: two mark prices for one minute cannot both
 * be the one the venue watched. Throws `MarketDataError` (file:line: reason) on the first violation.
 */
export function readMarkPriceBarFile(src: CsvSource): AsyncGenerator<MarkPriceKline> {
  return readOhlcRows(
    src,
    ONE_MINUTE_MS,
    [OFFICIAL_NO_VOLUME, OHLC],
    (f, openTime) => ({ openTime, open: f[1]!, high: f[2]!, low: f[3]!, close: f[4]! }),
    { rejectRepeats: true },
  );
}

async function* readOhlcRows<T>(
  src: CsvSource,
  intervalMs: number,
  layouts: readonly Layout[],
  build: (fields: string[], openTime: number, closeTime: number, layout: Layout) => T,
  options: { rejectRepeats?: boolean } = {},
): AsyncGenerator<T> {
  let layout: Layout | undefined;
  let previous: { openTime: number; line: number } | undefined;
  const order = new LastRowPerTime<T>(src, "open_time");
  for await (const record of readCsvRecords(src)) {
    if (layout === undefined) {
      layout = pickLayout(src, record, layouts);
      if (isHeader(record.fields)) {
        const used = layout.closeTime >= 0 ? 7 : layout.fields;
        const names = HEADER_NAMES.slice(0, used).map((name, i) => [i, name] as const);
        checkHeader(
          src,
          record,
          layout.takerBuyVolume >= 0 ? [...names, [layout.takerBuyVolume, TAKER_BUY_VOLUME] as const] : names,
        );
        continue;
      }
    }
    const f = record.fields;
    const line = record.line;
    if (f.length !== layout.fields) {
      throw new MarketDataError(
        src.path,
        line,
        `expected ${layout.fields} fields (${layout.name}), got ${f.length}`,
      );
    }
    const openTime = integerField(src, line, f[0]!, "open_time");
    if (openTime % intervalMs !== 0) {
      throw new MarketDataError(
        src.path,
        line,
        `open_time ${openTime} is not a multiple of ${intervalMs} ms`,
      );
    }
    const open = priceField(src, line, f[1]!, "open");
    const high = priceField(src, line, f[2]!, "high");
    const low = priceField(src, line, f[3]!, "low");
    const close = priceField(src, line, f[4]!, "close");
    const volume = layout.volume >= 0 ? decimalField(src, line, f[layout.volume]!, "volume") : undefined;
    checkRange(src, line, open, high, low, close);
    if (layout.takerBuyVolume >= 0) checkTakerBuyVolume(src, line, f[layout.takerBuyVolume]!, volume!);
    let closeTime = openTime + intervalMs - 1;
    if (layout.closeTime >= 0) {
      const fileCloseTime = integerField(src, line, f[layout.closeTime]!, "close_time");
      const haltTruncated =
        volume !== undefined &&
        isZeroDecimal(volume) &&
        fileCloseTime >= openTime &&
        fileCloseTime < closeTime;
      if (fileCloseTime !== closeTime && !haltTruncated) {
        throw new MarketDataError(
          src.path,
          line,
          `close_time ${fileCloseTime} is not open_time + ${intervalMs - 1} (${closeTime})`,
        );
      }
      closeTime = fileCloseTime;
    }
    if (options.rejectRepeats) {
      // Strictly increasing: each row is final at once (no row held back), so the reader stays in step.
      if (previous !== undefined && openTime <= previous.openTime) {
        throw new MarketDataError(
          src.path,
          line,
          openTime === previous.openTime
            ? `open_time ${openTime} repeats line ${previous.line}: one row per minute expected`
            : `open_time ${openTime} is before the previous row's ${previous.openTime} (rows must be in time order)`,
        );
      }
      previous = { openTime, line };
      yield build(f, openTime, closeTime, layout);
      continue;
    }
    const final = order.push(openTime, build(f, openTime, closeTime, layout), line);
    if (final !== undefined) yield final;
  }
  const last = order.flush();
  if (last !== undefined) yield last;
}

function pickLayout(src: CsvSource, record: CsvRecord, layouts: readonly Layout[]): Layout {
  const layout = layouts.find((l) => l.fields === record.fields.length);
  if (layout === undefined) {
    const names = layouts.map((l) => `${l.fields} (${l.name})`).join(" or ");
    throw new MarketDataError(src.path, record.line, `expected ${names} fields, got ${record.fields.length}`);
  }
  return layout;
}

/** Throws unless `taker` is a `decimalField` ≤ `volume` (takers cannot buy more than was traded). */
function checkTakerBuyVolume(src: CsvSource, line: number, taker: string, volume: string): void {
  decimalField(src, line, taker, TAKER_BUY_VOLUME);
  if (Number(taker) >= Number(volume) && compareDecimals(taker, volume) > 0) {
    throw new MarketDataError(src.path, line, `${TAKER_BUY_VOLUME} ${taker} is above volume ${volume}`);
  }
}

/**
 * Throws unless low ≤ min(open, close) and high ≥ max(open, close), exactly. Fast path: when the doubles are
 * strictly ordered the exact decimals are too (rounding is monotonic); any tie falls back to exact comparison.
 */
function checkRange(
  src: CsvSource,
  line: number,
  open: string,
  high: string,
  low: string,
  close: string,
): void {
  const o = Number(open);
  const c = Number(close);
  if (Number(high) > Math.max(o, c) && Number(low) < Math.min(o, c)) return;
  let reason: string | undefined;
  if (compareDecimals(high, low) < 0) reason = `high ${high} is below low ${low}`;
  else if (compareDecimals(high, open) < 0) reason = `high ${high} is below open ${open}`;
  else if (compareDecimals(high, close) < 0) reason = `high ${high} is below close ${close}`;
  else if (compareDecimals(low, open) > 0) reason = `low ${low} is above open ${open}`;
  else if (compareDecimals(low, close) > 0) reason = `low ${low} is above close ${close}`;
  if (reason !== undefined) throw new MarketDataError(src.path, line, reason);
}
