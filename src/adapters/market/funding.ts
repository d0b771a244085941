/**
 * Streaming parser for the archive's fundingRate CSVs (binance-usdm.md §6):
 * `calc_time,funding_interval_hours,last_funding_rate`, one row per realized settlement, header optional.
 */
import { checkHeader, integerField, isHeader, LastRowPerTime, rateField, readCsvRecords } from "./csv.ts";
import { type CsvSource, MarketDataError } from "./types.ts";

/** One realized settlement as written in the file. */
export interface FundingRow {
  /** calc_time: ms epoch of the settlement (keeps Binance's ms jitter). */
  fundingTime: number;
  /** Hours per funding interval (a positive integer). */
  fundingIntervalHours: number;
  /** Rate per interval as a ratio (0.0001 = 0.01 %), a signed plain decimal string in canonical form. */
  fundingRate: string;
  /** 1-based line of the file the row was read from (the last one for a repeated calc_time). */
  line: number;
}

const COLUMNS = ["calc_time", "funding_interval_hours", "last_funding_rate"] as const;

/**
 * Reads a fundingRate CSV. Per row: 3 fields, integer calc_time, positive integer funding_interval_hours,
 * signed decimal rate with |rate| < 1 (exponent notation, which the archive uses for tiny rates, is rewritten
 * exactly; every rate is returned in canonical form, see `rateField`). calc_time must increase; a repeated
 * calc_time replaces the previous row.
 * Throws `MarketDataError` (file:line: reason) on the first violation.
 */
export async function* readFundingFile(src: CsvSource): AsyncGenerator<FundingRow> {
  const order = new LastRowPerTime<FundingRow>(src, "calc_time");
  let first = true;
  for await (const record of readCsvRecords(src)) {
    const { fields: f, line } = record;
    if (f.length !== COLUMNS.length) {
      throw new MarketDataError(src.path, line, `expected 3 fields (${COLUMNS.join(",")}), got ${f.length}`);
    }
    if (first) {
      first = false;
      if (isHeader(f)) {
        checkHeader(
          src,
          record,
          COLUMNS.map((name, i) => [i, name] as const),
        );
        continue;
      }
    }
    const fundingTime = integerField(src, line, f[0]!, "calc_time");
    const fundingIntervalHours = intervalHours(src, line, f[1]!);
    const fundingRate = rateField(src, line, f[2]!, "last_funding_rate");
    const final = order.push(fundingTime, { fundingTime, fundingIntervalHours, fundingRate, line }, line);
    if (final !== undefined) yield final;
  }
  const last = order.flush();
  if (last !== undefined) yield last;
}

/** funding_interval_hours: a positive integer (Binance uses 1, 2, 4 or 8); throws `MarketDataError` otherwise. */
function intervalHours(src: CsvSource, line: number, value: string): number {
  const hours = /^\d{1,4}$/.test(value) ? Number(value) : 0;
  if (hours === 0) {
    throw new MarketDataError(src.path, line, `funding_interval_hours "${value}" is not a positive integer`);
  }
  return hours;
}
