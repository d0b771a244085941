/**
 * CSV reading and field validation shared by the archive parsers (klines, funding, mark-price klines).
 * Streaming through csv-parse; every error is a `MarketDataError` naming the file and the 1-based physical line.
 */
import { createReadStream } from "node:fs";
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
 * Throws the fs error when the file cannot be read, `MarketDataError` when csv-parse rejects the input.
 */
export async function* readCsvRecords(src: CsvSource): AsyncGenerator<CsvRecord> {
  const input = createReadStream(src.absolutePath);
  const parser = parse({ quote: false, relax_column_count: true, bom: true });
  input.on("error", (err) => parser.destroy(err));
  input.pipe(parser);
  let line = 0;
  try {
    for await (const fields of parser as AsyncIterable<string[]>) {
      line++;
      if (fields.length === 1 && fields[0] === "") continue;
      yield { line, fields };
    }
  } catch (err) {
    if (err instanceof CsvError) throw new MarketDataError(src.path, line + 1, err.message);
    throw err;
  } finally {
    input.destroy();
    parser.destroy();
  }
}

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
const ZERO = /^0+(\.0+)?$/;
const INTEGER = /^\d{1,16}$/;

/** Parses a non-negative integer field (ms epoch, hours); throws `MarketDataError` otherwise. */
export function integerField(src: CsvSource, line: number, value: string, column: string): number {
  const n = Number(value);
  if (!INTEGER.test(value) || !Number.isSafeInteger(n)) {
    throw new MarketDataError(src.path, line, `${column} "${value}" is not a non-negative integer`);
  }
  return n;
}

/** Checks a decimal field (no exponent, no sign unless `signed`, not empty) and returns it unchanged. */
export function decimalField(
  src: CsvSource,
  line: number,
  value: string,
  column: string,
  signed = false,
): string {
  if (!(signed ? SIGNED_DECIMAL : UNSIGNED_DECIMAL).test(value)) {
    const expected = signed ? "a decimal like -0.0001" : "a non-negative decimal like 123.45";
    throw new MarketDataError(src.path, line, `${column} "${value}" is not ${expected} (no exponent)`);
  }
  return value;
}

const SCIENTIFIC = /^-?\d+(\.\d+)?[eE][-+]?\d{1,3}$/;

/**
 * Like a signed `decimalField`, but also accepts exponent notation and rewrites it exactly (decimal.js, no
 * float) as a plain decimal: "-2.50000000000000e-7" → "-0.00000025". The archive's fundingRate files write
 * tiny rates that way; other values are returned unchanged.
 */
export function rateField(src: CsvSource, line: number, value: string, column: string): string {
  if (SCIENTIFIC.test(value)) return new Decimal(value).toFixed();
  return decimalField(src, line, value, column, true);
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
