/**
 * CSV reading and field validation shared by the archive parsers (klines, funding, mark-price klines).
 * Streaming through csv-parse; every error is a `MarketDataError` naming the file and the 1-based physical line.
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { CsvError, parse } from "csv-parse";
import { Decimal } from "decimal.js";
import { type CsvSource, MarketDataError } from "./types.ts";

/** One CSV record and the 1-based physical line it was read from. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Yields the records of a CSV file in order. Quoting is off, so one record is exactly one physical line and
 * `line` counts lines; blank lines are skipped; a UTF-8 BOM is dropped; `\n` and `\r\n` endings are accepted.
 * A file whose name ends in `.gz` is gunzipped on the fly (node:zlib, streaming).
 * Throws the fs error when the file cannot be read, `MarketDataError` when csv-parse rejects the input or the
 * gzip stream is corrupt or truncated (at the line after the last one read).
 */
export async function* readCsvRecords(src: CsvSource): AsyncGenerator<CsvRecord> {
  const input = createReadStream(src.absolutePath);
  const parser = parse({ quote: false, relax_column_count: true, bom: true });
  input.on("error", (err) => parser.destroy(err));
  let gunzip: ReturnType<typeof createGunzip> | undefined;
  if (src.absolutePath.endsWith(".gz")) {
    gunzip = createGunzip();
    gunzip.on("error", (err) => parser.destroy(new GzipError(err.message)));
    input.pipe(gunzip).pipe(parser);
  } else input.pipe(parser);
  let line = 0;
  try {
    for await (const fields of parser as AsyncIterable<string[]>) {
      line++;
      if (fields.length === 1 && fields[0] === "") continue;
      yield { line, fields };
    }
  } catch (err) {
    if (err instanceof CsvError) throw new MarketDataError(src.path, line + 1, err.message);
    if (err instanceof GzipError) throw new MarketDataError(src.path, line + 1, `gzip: ${err.message}`);
    throw err;
  } finally {
    input.destroy();
    gunzip?.destroy();
    parser.destroy();
  }
}

/** A zlib error of a `.gz` file, told apart from fs errors. */
class GzipError extends Error {}

/** Archive rule (binance-usdm.md §6): the first line is a header iff its first field is not numeric. */
export function isHeader(fields: readonly string[]): boolean {
  return !SIGNED_DECIMAL.test(fields[0] ?? "");
}

/**
 * Throws `MarketDataError` unless the header names `expected` at the given column indexes (other columns, such
 * as the archive's `quote_volume` or `ignore`, are not checked).
 */
export function checkHeader(
  src: CsvSource,
  record: CsvRecord,
  expected: readonly (readonly [index: number, name: string])[],
): void {
  for (const [index, name] of expected) {
    if (record.fields[index] !== name) {
      throw new MarketDataError(
        src.path,
        record.line,
        `unexpected header "${record.fields.join(",")}": column ${index + 1} must be "${name}"`,
      );
    }
  }
}

const SIGNED_DECIMAL = /^-?\d+(\.\d+)?$/;
const UNSIGNED_DECIMAL = /^\d+(\.\d+)?$/;
const ZERO = /^-?0+(\.0+)?$/;
const INTEGER = /^\d{1,16}$/;

/**
 * Overflow bound of every decimal field: at most 15 integer digits (< 10^15), so the integer part stays exact
 * in a float64 (2^53 ≈ 9.007·10^15, used by the fast comparisons and the indicators); real prices are below
 * 10^7 and real 1m volumes far below 10^15. Fraction digits are bounded too (Binance writes at most 8).
 */
export const MAX_INTEGER_DIGITS = 15;
/** See `MAX_INTEGER_DIGITS`. */
export const MAX_FRACTION_DIGITS = 18;

const BOUNDED = `\\d{1,${MAX_INTEGER_DIGITS}}(\\.\\d{1,${MAX_FRACTION_DIGITS}})?$`;
const BOUNDED_UNSIGNED = new RegExp(`^${BOUNDED}`);
const BOUNDED_SIGNED = new RegExp(`^-?${BOUNDED}`);

/** Parses a non-negative integer field (ms epoch, hours); throws `MarketDataError` otherwise. */
export function integerField(src: CsvSource, line: number, value: string, column: string): number {
  const n = Number(value);
  if (!INTEGER.test(value) || !Number.isSafeInteger(n)) {
    throw new MarketDataError(src.path, line, `${column} "${value}" is not a non-negative integer`);
  }
  return n;
}

/**
 * Checks a decimal field and returns it unchanged: plain digits with an optional fraction (no exponent, no
 * NaN/Infinity, not empty), no sign unless `signed`, within `MAX_INTEGER_DIGITS`/`MAX_FRACTION_DIGITS`.
 * Throws `MarketDataError` (file:line, the column and the value) otherwise.
 */
export function decimalField(
  src: CsvSource,
  line: number,
  value: string,
  column: string,
  signed = false,
): string {
  if ((signed ? BOUNDED_SIGNED : BOUNDED_UNSIGNED).test(value)) return value;
  if (!(signed ? SIGNED_DECIMAL : UNSIGNED_DECIMAL).test(value)) {
    const expected = signed ? "a decimal like -0.0001" : "a non-negative decimal like 123.45";
    throw new MarketDataError(src.path, line, `${column} "${value}" is not ${expected} (no exponent)`);
  }
  const [integer, fraction = ""] = value.replace("-", "").split(".") as [string, string?];
  const reason =
    integer.length > MAX_INTEGER_DIGITS
      ? `has ${integer.length} integer digits, more than the ${MAX_INTEGER_DIGITS} any real value has (overflow)`
      : `has ${fraction.length} fraction digits, more than ${MAX_FRACTION_DIGITS}`;
  throw new MarketDataError(src.path, line, `${column} "${value}" ${reason}`);
}

/**
 * A price field: a `decimalField` that is also positive. Throws `MarketDataError` for zero ("0", "0.00").
 * Cheap per row: only a value starting with "0" is tested for zero.
 */
export function priceField(src: CsvSource, line: number, value: string, column: string): string {
  decimalField(src, line, value, column);
  if (value.charCodeAt(0) === 48 && ZERO.test(value)) {
    throw new MarketDataError(src.path, line, `${column} "${value}" is zero: prices must be positive`);
  }
  return value;
}

const SCIENTIFIC = /^-?\d+(\.\d+)?[eE][-+]?\d{1,3}$/;

/**
 * A funding rate (ratio per interval): a signed decimal, also accepted in exponent notation (the archive's
 * fundingRate files write tiny rates that way, e.g. "-2.50000000000000e-7", "0E-8"), returned in canonical
 * form (exact, no float: no exponent, no trailing fraction zeros, no "-0"), so one rate has one spelling
 * whatever the source ("0.00010000" and "0.0001" → "0.0001"). The rewritten value must be within the
 * `decimalField` bounds and strictly between −1 and 1 (Binance caps rates at a few percent per interval; a
 * rate of 100 % cannot be real). Throws `MarketDataError` otherwise.
 */
export function rateField(src: CsvSource, line: number, value: string, column: string): string {
  const notRate = () =>
    new MarketDataError(src.path, line, `${column} "${value}" is not a funding rate: |rate| must be < 1`);
  if (SCIENTIFIC.test(value)) {
    const rate = new Decimal(value);
    if (rate.abs().gte(1)) throw notRate();
    if (rate.decimalPlaces() > MAX_FRACTION_DIGITS) {
      throw new MarketDataError(
        src.path,
        line,
        `${column} "${value}" has ${rate.decimalPlaces()} fraction digits, more than ${MAX_FRACTION_DIGITS}`,
      );
    }
    return canonicalDecimal(rate.toFixed());
  }
  const rate = canonicalDecimal(decimalField(src, line, value, column, true));
  if (!/^-?0(\.|$)/.test(rate)) throw notRate();
  return rate;
}

/** A valid plain decimal string without leading integer zeros, trailing fraction zeros or a negative zero. */
export function canonicalDecimal(value: string): string {
  const negative = value.startsWith("-");
  let [integer, fraction = ""] = (negative ? value.slice(1) : value).split(".") as [string, string?];
  integer = integer.replace(/^0+(?=\d)/, "");
  fraction = fraction.replace(/0+$/, "");
  const abs = fraction === "" ? integer : `${integer}.${fraction}`;
  return negative && abs !== "0" ? `-${abs}` : abs;
}

/** True for a decimal string equal to zero ("0", "0.000"). */
export function isZeroDecimal(value: string): boolean {
  return ZERO.test(value);
}

/**
 * Exact comparison of two valid decimal strings: −1, 0 or 1. Float comparison decides when the doubles differ
 * (rounding is monotonic, so a strict float order implies the same exact order); equal doubles fall back to
 * decimal.js, so "1.00000000000000001" < "1.00000000000000002" is still seen.
 */
export function compareDecimals(a: string, b: string): number {
  if (a === b) return 0;
  const fa = Number(a);
  const fb = Number(b);
  if (fa !== fb) return fa < fb ? -1 : 1;
  return new Decimal(a).comparedTo(b);
}

/**
 * Enforces strictly increasing times within a file, where a repeated time replaces the previous row (the last
 * row wins, strategies.md §2.4 vector 4). `push` returns the row that is now final, if any; `flush` the last.
 */
export class LastRowPerTime<T> {
  private time = Number.NEGATIVE_INFINITY;
  private row: T | undefined;

  constructor(
    private readonly src: CsvSource,
    private readonly column: string,
  ) {}

  /** Accepts the row at `time` read from `line`; throws `MarketDataError` if time decreases. */
  push(time: number, row: T, line: number): T | undefined {
    if (time < this.time) {
      throw new MarketDataError(
        this.src.path,
        line,
        `${this.column} ${time} is before the previous row's ${this.time} (rows must be in time order)`,
      );
    }
    const final = time === this.time ? undefined : this.row;
    this.time = time;
    this.row = row;
    return final;
  }

  /** The last pending row, at end of file. */
  flush(): T | undefined {
    return this.row;
  }
}
