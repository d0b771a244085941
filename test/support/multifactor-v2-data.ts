/**
 * Real FILUSDT-style inputs for multifactor-v2 tests: official 12-column 1m klines read by the project's archive
 * reader (`readKlineFile`, validated OHLCV), their taker-buy column (which `readKlineFile` does not return yet)
 * read with the same CSV reader and field check and joined by open time, aggregated to 1h by the project's
 * aggregator (strategies.md §0), and the official monthly funding settlements (`readFundingFile`).
 */
import { join } from "node:path";
import { decimalField, integerField, isHeader, readCsvRecords } from "../../src/adapters/market/csv.ts";
import { readFundingFile } from "../../src/adapters/market/funding.ts";
import { readKlineFile } from "../../src/adapters/market/klines.ts";
import type { CsvSource } from "../../src/adapters/market/types.ts";
import {
  type IntervalBar,
  initialBarAggregator,
  stepBarAggregator,
} from "../../src/domain/bars/aggregate.ts";
import type { FactorBar } from "../../src/strategies/multifactor-v2/factors.ts";
import type { Settlement } from "../../src/strategies/multifactor-v2/funding.ts";

const source = (root: string, path: string): CsvSource => ({ path, absolutePath: join(root, path) });

/** taker_buy_volume (column 9 of the official layout) by open time. */
async function takerBuyColumn(src: CsvSource): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const { line, fields } of readCsvRecords(src)) {
    if (line === 1 && isHeader(fields)) continue;
    out.set(
      integerField(src, line, fields[0]!, "open_time"),
      decimalField(src, line, fields[9]!, "taker_buy_volume"),
    );
  }
  return out;
}

/** The closed 1h bars of `symbol` over `months` (YYYY-MM) with taker-buy volume; throws on a gap. */
export async function loadHourBars(
  root: string,
  symbol: string,
  months: readonly string[],
): Promise<IntervalBar[]> {
  let state = initialBarAggregator("1h");
  const bars: IntervalBar[] = [];
  for (const month of months) {
    const src = source(root, `futures/um/monthly/klines/${symbol}/1m/${symbol}-1m-${month}.csv`);
    const taker = await takerBuyColumn(src);
    for await (const row of readKlineFile(src)) {
      const takerBuyVolume = taker.get(row.openTime);
      if (takerBuyVolume === undefined)
        throw new Error(`${src.path}: no taker_buy_volume for ${row.openTime}`);
      const step = stepBarAggregator(state, { kind: "bar", bar: { symbol, ...row, takerBuyVolume } });
      state = step.state;
      for (const e of step.emitted) {
        if (e.kind === "gap") throw new Error(`${src.path}: 1h gap ${JSON.stringify(e.gap)}`);
        bars.push(e.bar);
      }
    }
  }
  return bars;
}

/** The settlements of `symbol` over `months`, in time order, rates as float64. */
export async function loadSettlements(
  root: string,
  symbol: string,
  months: readonly string[],
): Promise<Settlement[]> {
  const out: Settlement[] = [];
  for (const month of months) {
    const path = `futures/um/monthly/fundingRate/${symbol}/${symbol}-fundingRate-${month}.csv`;
    for await (const row of readFundingFile(source(root, path)))
      out.push({ fundingTime: row.fundingTime, rate: Number(row.fundingRate) });
  }
  return out;
}

/** The float64 view of an aggregated bar the factor pipeline reads (§0: indicators are float64). */
export function factorBar(bar: IntervalBar, flow: boolean): FactorBar {
  const base = {
    openTime: bar.openTime,
    closeTime: bar.closeTime,
    open: Number(bar.open),
    close: Number(bar.close),
    volume: Number(bar.volume),
  };
  if (!flow) return base;
  if (bar.takerBuyVolume === undefined) throw new Error(`bar ${bar.openTime} has no taker-buy volume`);
  return { ...base, takerBuyVolume: Number(bar.takerBuyVolume) };
}
