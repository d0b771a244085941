/**
 * Incremental aggregation of closed 1m bars into a higher interval (strategies.md §0, Time and bars): pure,
 * deterministic, with a plain-JSON state a strategy snapshot can embed.
 *
 * - Buckets are UTC-aligned (`floor(openTime / interval)`); O = first open, H = max high, L = min low,
 *   C = last close; volume, quoteVolume, trades, takerBuyVolume and takerBuyQuoteVolume are exact sums.
 * - A bucket is emitted when its last minute closes. A hole (a 1m gap event, or bars that skip minutes)
 *   that reaches past a bucket's end emits that bucket at once, built from the minutes present and flagged
 *   `partial` with their count. A bucket with no minute is never emitted: a run of them is an interval gap.
 * - Symbols are independent (keyed by symbol); events of one symbol must come in time order.
 */
import { addToSum, type DecimalSum, formatSum, ZERO_SUM } from "./decimal-sum.ts";
import { BAR_INTERVALS, type BarInterval, MINUTE_MS } from "./intervals.ts";

/**
 * A closed 1m bar (structurally a `Bar` of src/adapters/market/types.ts). Prices in quote asset, volumes in
 * base asset (quote volumes in quote asset), all decimal strings; the optional fields are the official
 * 12-column layout's, summed when present.
 */
export interface MinuteBar {
  symbol: string;
  /** ms epoch, a multiple of 60 000. */
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quoteVolume?: string;
  /** Number of trades. */
  trades?: number;
  takerBuyVolume?: string;
  takerBuyQuoteVolume?: string;
}

/** 1m bars known to be missing: openTimes in [fromOpenTime, toOpenTime) (structurally a `MarketGap`). */
export interface MinuteGap {
  symbol: string;
  fromOpenTime: number;
  toOpenTime: number;
}

/** What the aggregator consumes: the bars and gaps of the market stream (its `MarketEvent`s minus funding). */
export type MinuteEvent = { kind: "bar"; bar: MinuteBar } | { kind: "gap"; gap: MinuteGap };

/** An aggregated bar; closeTime = openTime + interval − 1 even when partial. */
export interface IntervalBar {
  symbol: string;
  interval: BarInterval;
  openTime: number;
  closeTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  /** Sum of the minutes' volumes (canonical decimal string). */
  volume: string;
  /** Present iff every minute carried it; likewise trades, takerBuyVolume, takerBuyQuoteVolume. */
  quoteVolume?: string;
  trades?: number;
  takerBuyVolume?: string;
  takerBuyQuoteVolume?: string;
  /** Number of 1m bars the bucket was built from. */
  minutes: number;
  /** True when some (not all) of the bucket's minutes were present. */
  partial: boolean;
}

/** Whole buckets with no minute present: openTimes in [fromOpenTime, toOpenTime), `missingBars` of them. */
export interface IntervalGap extends MinuteGap {
  interval: BarInterval;
  missingBars: number;
}

/** What the aggregator emits; `time` is a bar's closeTime or a gap's toOpenTime (as in `MarketEvent`). */
export type IntervalEvent =
  | { kind: "bar"; time: number; bar: IntervalBar }
  | { kind: "gap"; time: number; gap: IntervalGap };

/** The bucket being filled: its first open, extremes, last close, minute count and running sums. */
export interface OpenBucket {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  minutes: number;
  volume: DecimalSum;
  quoteVolume?: DecimalSum;
  trades?: number;
  takerBuyVolume?: DecimalSum;
  takerBuyQuoteVolume?: DecimalSum;
}

/** One symbol's progress: `cursor` = openTime of the next minute expected; `bucket` = the open bucket. */
export interface SymbolBuckets {
  cursor: number;
  bucket: OpenBucket | null;
}

/**
 * The aggregator's state: plain JSON (JSON.parse(JSON.stringify(s)) is an equal state; restore untrusted JSON
 * with `parseBarAggregatorState`). Treat as immutable: each step copies the symbols record, O(symbols).
 */
export interface BarAggregatorState {
  interval: BarInterval;
  symbols: Readonly<Record<string, SymbolBuckets>>;
}

/** A step's new state and the events it emitted, in time order per symbol. */
export interface BarStep {
  state: BarAggregatorState;
  emitted: IntervalEvent[];
}

type SumField = "quoteVolume" | "takerBuyVolume" | "takerBuyQuoteVolume";
const SUM_FIELDS: readonly SumField[] = ["quoteVolume", "takerBuyVolume", "takerBuyQuoteVolume"];
/** Largest ms epoch a Date can hold. */
const MAX_DATE_MS = 8.64e15;

/** A state with no symbol seen yet, aggregating into `interval`. */
export function initialBarAggregator(interval: BarInterval): BarAggregatorState {
  if (!Object.hasOwn(BAR_INTERVALS, interval)) throw new RangeError(`unknown bar interval "${interval}"`);
  return { interval, symbols: {} };
}

/**
 * Feeds one 1m bar or gap. Returns the new state (the input is not modified) and what closed: buckets whose
 * last minute this bar is, buckets a hole ended early (partial), and interval gaps. Throws an Error naming the
 * symbol and times when an openTime is not a whole minute, a bar is not after the symbol's previous bar or
 * gap, a gap is empty or overlaps minutes already seen, or a value is not an unsigned decimal. An optional
 * field (quoteVolume, trades, takerBuyVolume, takerBuyQuoteVolume) is on the emitted bar iff every minute of
 * its bucket carried it.
 */
export function stepBarAggregator(state: BarAggregatorState, event: MinuteEvent): BarStep {
  const emitted: IntervalEvent[] = [];
  if (event.kind === "gap") {
    const { symbol, fromOpenTime, toOpenTime } = event.gap;
    checkMinute(symbol, "gap fromOpenTime", fromOpenTime);
    checkMinute(symbol, "gap toOpenTime", toOpenTime);
    if (toOpenTime <= fromOpenTime) {
      throw new Error(`${symbol}: empty gap [${iso(fromOpenTime)}, ${iso(toOpenTime)})`);
    }
    const previous = state.symbols[symbol];
    if (previous !== undefined && fromOpenTime < previous.cursor) {
      throw new Error(
        `${symbol}: gap from ${iso(fromOpenTime)} overlaps minutes already seen (next expected ${iso(previous.cursor)})`,
      );
    }
    const bucket = hole(
      state.interval,
      symbol,
      previous?.bucket ?? null,
      previous?.cursor ?? fromOpenTime,
      toOpenTime,
      emitted,
    );
    return { state: withSymbol(state, symbol, { cursor: toOpenTime, bucket }), emitted };
  }
  const bar = event.bar;
  const { symbol, openTime } = bar;
  checkMinute(symbol, "bar openTime", openTime);
  const previous = state.symbols[symbol];
  let bucket = previous?.bucket ?? null;
  if (previous !== undefined) {
    if (openTime < previous.cursor) {
      throw new Error(
        `${symbol}: bar ${iso(openTime)} is out of order (next expected at or after ${iso(previous.cursor)})`,
      );
    }
    if (openTime > previous.cursor)
      bucket = hole(state.interval, symbol, bucket, previous.cursor, openTime, emitted);
  }
  const intervalMs = BAR_INTERVALS[state.interval];
  const bucketStart = openTime - (openTime % intervalMs);
  if (bucket !== null && bucket.openTime !== bucketStart) {
    throw new Error(`${symbol}: bar ${iso(openTime)} is outside the open bucket ${iso(bucket.openTime)}`);
  }
  try {
    bucket = bucket === null ? startBucket(bucketStart, bar) : addMinute(bucket, bar);
  } catch (error) {
    throw new Error(`${symbol}: bar ${iso(openTime)}: ${(error as Error).message}`, { cause: error });
  }
  if (openTime + MINUTE_MS === bucketStart + intervalMs) {
    emitted.push(closeBucket(state.interval, symbol, bucket));
    bucket = null;
  }
  return { state: withSymbol(state, symbol, { cursor: openTime + MINUTE_MS, bucket }), emitted };
}

/**
 * Emits every open bucket as partial (symbols in alphabetical order) and clears it; for the end of a finite
 * stream whose last buckets will never complete. Cursors are kept, so later bars must still come after them.
 */
export function flushBarAggregator(state: BarAggregatorState): BarStep {
  const emitted: IntervalEvent[] = [];
  let next = state;
  for (const symbol of Object.keys(state.symbols).sort()) {
    const entry = state.symbols[symbol]!;
    if (entry.bucket === null) continue;
    emitted.push(closeBucket(state.interval, symbol, entry.bucket));
    next = withSymbol(next, symbol, { cursor: entry.cursor, bucket: null });
  }
  return { state: next, emitted };
}

/**
 * Minutes [from, to) of `symbol` are missing: emits the open bucket as partial when the hole reaches its end,
 * then the whole buckets inside the hole as one interval gap. Returns the bucket still open.
 */
function hole(
  interval: BarInterval,
  symbol: string,
  bucket: OpenBucket | null,
  from: number,
  to: number,
  emitted: IntervalEvent[],
): OpenBucket | null {
  const intervalMs = BAR_INTERVALS[interval];
  if (bucket !== null && to >= bucket.openTime + intervalMs) {
    emitted.push(closeBucket(interval, symbol, bucket));
    bucket = null;
  }
  const first = from + ((intervalMs - (from % intervalMs)) % intervalMs);
  const last = to - (to % intervalMs);
  if (last > first) {
    const gap: IntervalGap = {
      symbol,
      interval,
      fromOpenTime: first,
      toOpenTime: last,
      missingBars: (last - first) / intervalMs,
    };
    emitted.push({ kind: "gap", time: last, gap });
  }
  return bucket;
}

function startBucket(openTime: number, bar: MinuteBar): OpenBucket {
  const bucket: OpenBucket = {
    openTime,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    minutes: 1,
    volume: addToSum(ZERO_SUM, bar.volume, "volume"),
  };
  for (const field of SUM_FIELDS) {
    const value = bar[field];
    if (value !== undefined) bucket[field] = addToSum(ZERO_SUM, value, field);
  }
  if (bar.trades !== undefined) bucket.trades = checkTrades(bar.trades);
  return bucket;
}

function addMinute(bucket: OpenBucket, bar: MinuteBar): OpenBucket {
  const next: OpenBucket = {
    openTime: bucket.openTime,
    open: bucket.open,
    high: compareDecimals(bar.high, bucket.high) > 0 ? bar.high : bucket.high,
    low: compareDecimals(bar.low, bucket.low) < 0 ? bar.low : bucket.low,
    close: bar.close,
    minutes: bucket.minutes + 1,
    volume: addToSum(bucket.volume, bar.volume, "volume"),
  };
  // An optional field is kept only while every minute so far carried it (a minute without it drops it).
  for (const field of SUM_FIELDS) {
    const sum = bucket[field];
    const value = bar[field];
    if (sum !== undefined && value !== undefined) next[field] = addToSum(sum, value, field);
  }
  if (bucket.trades !== undefined && bar.trades !== undefined) {
    next.trades = bucket.trades + checkTrades(bar.trades);
  }
  return next;
}

function closeBucket(interval: BarInterval, symbol: string, bucket: OpenBucket): IntervalEvent {
  const intervalMs = BAR_INTERVALS[interval];
  const bar: IntervalBar = {
    symbol,
    interval,
    openTime: bucket.openTime,
    closeTime: bucket.openTime + intervalMs - 1,
    open: bucket.open,
    high: bucket.high,
    low: bucket.low,
    close: bucket.close,
    volume: formatSum(bucket.volume),
    minutes: bucket.minutes,
    partial: bucket.minutes < intervalMs / MINUTE_MS,
  };
  for (const field of SUM_FIELDS) {
    const sum = bucket[field];
    if (sum !== undefined) bar[field] = formatSum(sum);
  }
  if (bucket.trades !== undefined) bar.trades = bucket.trades;
  return { kind: "bar", time: bar.closeTime, bar };
}

function withSymbol(state: BarAggregatorState, symbol: string, entry: SymbolBuckets): BarAggregatorState {
  const symbols = { ...state.symbols };
  symbols[symbol] = entry;
  return { interval: state.interval, symbols };
}

function checkMinute(symbol: string, what: string, time: number): void {
  if (!Number.isSafeInteger(time) || time < 0 || time % MINUTE_MS !== 0) {
    throw new Error(`${symbol}: ${what} ${time} is not a whole minute (ms epoch, multiple of 60000)`);
  }
}

function checkTrades(trades: number): number {
  if (!Number.isSafeInteger(trades) || trades < 0) {
    throw new Error(`trades: expected a non-negative integer, got ${trades}`);
  }
  return trades;
}

/**
 * Exact order of two unsigned plain decimal strings (−1, 0, 1), digit by digit without parsing: integer parts
 * by length after leading zeros, then digits; missing fraction digits count as 0.
 */
function compareDecimals(a: string, b: string): number {
  if (a === b) return 0;
  let dotA = a.indexOf(".");
  let dotB = b.indexOf(".");
  if (dotA < 0) dotA = a.length;
  if (dotB < 0) dotB = b.length;
  let startA = 0;
  let startB = 0;
  while (startA < dotA - 1 && a.charCodeAt(startA) === 48) startA++;
  while (startB < dotB - 1 && b.charCodeAt(startB) === 48) startB++;
  if (dotA - startA !== dotB - startB) return dotA - startA < dotB - startB ? -1 : 1;
  for (let i = 0; i < dotA - startA; i++) {
    const diff = a.charCodeAt(startA + i) - b.charCodeAt(startB + i);
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  for (let i = 1; dotA + i < a.length || dotB + i < b.length; i++) {
    const digitA = dotA + i < a.length ? a.charCodeAt(dotA + i) : 48;
    const digitB = dotB + i < b.length ? b.charCodeAt(dotB + i) : 48;
    if (digitA !== digitB) return digitA < digitB ? -1 : 1;
  }
  return 0;
}

function iso(time: number): string {
  return Number.isSafeInteger(time) && time >= 0 && time <= MAX_DATE_MS
    ? `${new Date(time).toISOString()} (${time})`
    : String(time);
}
