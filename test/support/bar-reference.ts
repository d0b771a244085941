/**
 * Batch reference for the 1m → interval aggregation (strategies.md §0), written independently of
 * src/domain/bars: group the bars by (symbol, floor(openTime / interval)), sums and extremes with decimal.js;
 * runs of whole buckets without a minute inside the covered span are gaps.
 */
import type { IntervalBar, IntervalGap, MinuteBar } from "../../src/domain/bars/aggregate.ts";
import { BAR_INTERVALS, type BarInterval } from "../../src/domain/bars/intervals.ts";
import { canonical, Dec } from "../../src/domain/decimal.ts";

/** Per symbol: the aggregated bars by openTime and the gaps between them. */
export interface ReferenceSeries {
  bars: IntervalBar[];
  gaps: IntervalGap[];
}

/**
 * Aggregates `bars` (one symbol, ascending openTime) into `interval`. Gaps are the runs of empty buckets lying
 * wholly inside [coveredFrom, coveredTo) (ms epoch; the span the input accounts for, bars or announced gaps).
 */
export function referenceAggregate(
  symbol: string,
  bars: readonly MinuteBar[],
  interval: BarInterval,
  coveredFrom: number,
  coveredTo: number,
): ReferenceSeries {
  const ms = BAR_INTERVALS[interval];
  const groups = new Map<number, MinuteBar[]>();
  for (const bar of bars) {
    const key = Math.floor(bar.openTime / ms) * ms;
    const group = groups.get(key) ?? [];
    group.push(bar);
    groups.set(key, group);
  }
  const out: IntervalBar[] = [];
  for (const [openTime, group] of [...groups].sort((a, b) => a[0] - b[0])) {
    const sum = (pick: (b: MinuteBar) => string | undefined): string | undefined =>
      group.every((b) => pick(b) !== undefined)
        ? canonical(group.reduce((acc, b) => acc.plus(pick(b)!), new Dec(0)))
        : undefined;
    const bar: IntervalBar = {
      symbol,
      interval,
      openTime,
      closeTime: openTime + ms - 1,
      open: group[0]!.open,
      high: group.reduce((m, b) => (new Dec(b.high).gt(m) ? b.high : m), group[0]!.high),
      low: group.reduce((m, b) => (new Dec(b.low).lt(m) ? b.low : m), group[0]!.low),
      close: group.at(-1)!.close,
      volume: sum((b) => b.volume)!,
      minutes: group.length,
      partial: group.length < ms / 60_000,
    };
    const optional = {
      quoteVolume: sum((b) => b.quoteVolume),
      trades: group.every((b) => b.trades !== undefined)
        ? group.reduce((acc, b) => acc + b.trades!, 0)
        : undefined,
      takerBuyVolume: sum((b) => b.takerBuyVolume),
      takerBuyQuoteVolume: sum((b) => b.takerBuyQuoteVolume),
    };
    for (const [key, value] of Object.entries(optional)) {
      if (value !== undefined) Object.assign(bar, { [key]: value });
    }
    out.push(bar);
  }
  const gaps: IntervalGap[] = [];
  let run: number | undefined;
  for (let b = Math.ceil(coveredFrom / ms) * ms; b + ms <= coveredTo + ms; b += ms) {
    const empty = b + ms <= coveredTo && !groups.has(b);
    if (empty && run === undefined) run = b;
    if (!empty && run !== undefined) {
      gaps.push({ symbol, interval, fromOpenTime: run, toOpenTime: b, missingBars: (b - run) / ms });
      run = undefined;
    }
  }
  return { bars: out, gaps };
}
