/**
 * Market data as read from the Binance data archive (binance-usdm.md §6): closed 1m bars, realized funding
 * settlements and the gaps between bars. Prices and quantities are the decimal strings exactly as written in
 * the files (never floats); times are ms since the Unix epoch, UTC.
 */

/** A closed 1m kline. Prices in quote asset (USDT), volume in base asset. */
export interface Bar {
  symbol: string;
  interval: "1m";
  /** ms epoch of the bar's first millisecond. */
  openTime: number;
  /** ms epoch of the bar's last millisecond: openTime + 59 999. */
  closeTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  /**
   * Volume bought by takers (base asset): the official 12-column layout's `taker_buy_volume`. Absent (never "0")
   * when the source has no such column (OHLCV files, bars built from trades).
   */
  takerBuyVolume?: string;
}

/** A realized funding settlement (binance-usdm.md §4.4); a positive fundingRate means longs pay shorts. */
export interface FundingSettlement {
  symbol: string;
  /** ms epoch of the settlement, with Binance's few ms of jitter (e.g. 08:00:00.003). */
  fundingTime: number;
  /** Rate per funding interval as a ratio (0.0001 = 0.01 %). */
  fundingRate: string;
  /** Length of the funding interval, hours (usually 8). */
  fundingIntervalHours: number;
  /**
   * Mark price the payment is computed at (quote asset). Absent (with `markPriceSource`) when nothing prices the
   * settlement — before the symbol's first bar, without a mark-price kline: it is then not charged and not
   * recorded, and only strategies learn its rate (an as-of funding join needs it).
   */
  markPrice?: string;
  /**
   * `markPriceKline`: open of the 8h mark-price kline opening at fundingTime floored to the minute;
   * `lastClose`: close of the symbol's latest 1m bar with closeTime < fundingTime (no mark kline available).
   */
  markPriceSource?: "markPriceKline" | "lastClose";
}

/** A settlement with its mark price: one the venue charges and the log records. */
export type PricedFundingSettlement = FundingSettlement &
  Required<Pick<FundingSettlement, "markPrice" | "markPriceSource">>;

/** Whether `funding` has a mark price (see `FundingSettlement.markPrice`). */
export function isPriced(funding: FundingSettlement): funding is PricedFundingSettlement {
  return funding.markPrice !== undefined && funding.markPriceSource !== undefined;
}

/**
 * A mark-price kline (binance-usdm.md §4.1 mark price; the archive's markPriceKlines): ms epoch of its first
 * millisecond, prices in quote asset (USDT). The 8h ones price funding settlements; the 1m ones travel with the
 * trade bar of the same minute to the simulated venue (MARK_PRICE triggers, liquidation).
 */
export interface MarkPriceKline {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
}

/**
 * 1m bars of a symbol missing in the window (before its first bar, between two bars, or after its last bar):
 * reported, never filled.
 */
export interface MarketGap {
  symbol: string;
  /** openTime of the first missing bar (ms epoch). */
  fromOpenTime: number;
  /**
   * openTime just after the last missing bar (ms epoch): the bar that arrived after the gap, or for a hole at
   * the end of the window the first minute ≥ the window's end.
   */
  toOpenTime: number;
  /** Number of missing bars: (toOpenTime − fromOpenTime) / interval. */
  missingBars: number;
}

/**
 * One item of the merged market stream. `time` (ms epoch) orders the stream: a bar's closeTime, a settlement's
 * fundingTime, a gap's toOpenTime (the window end for a hole at the end).
 */
export type MarketEvent =
  /** `mark`: the 1m mark-price kline of the bar's minute, when the symbol has 1m mark-price files holding it. */
  | { kind: "bar"; time: number; bar: Bar; mark?: MarkPriceKline }
  | { kind: "funding"; time: number; funding: FundingSettlement }
  | { kind: "gap"; time: number; gap: MarketGap };

/** A half-open time window [from, to), ms epoch UTC. */
export interface MarketWindow {
  from: number;
  to: number;
}

/** The tick data types a backtest's venue can match on (`--ticks`; src/adapters/market/ticks.ts). */
export type TickKind = "trades" | "bookTicker" | "markPrice1s";

/** The archive data types `data fetch` downloads (bars, funding, mark prices). */
export type FetchableKind = "klines" | "fundingRate" | "markPriceKlines";

/** The archive data types perpsource reads: the fetchable ones, and ticks. */
export type ArchiveKind = FetchableKind | TickKind;

/** Whether `kind` is a tick data type. */
export function isTickKind(kind: ArchiveKind): kind is TickKind {
  return kind === "trades" || kind === "bookTicker" || kind === "markPrice1s";
}

/** A CSV file of the local archive, as found by `discoverArchive`; also the run manifest entry. */
export interface ArchiveFile {
  /** Path relative to the data root, forward slashes (e.g. `futures/um/monthly/klines/BTCUSDT/1m/…csv`). */
  path: string;
  absolutePath: string;
  kind: ArchiveKind;
  symbol: string;
  /** SHA-256 of the file's bytes, lower-case hex. */
  sha256: string;
  /** File size in bytes. */
  bytes: number;
}

/** A CSV file to read: `path` names it in error messages, `absolutePath` is opened. */
export interface CsvSource {
  path: string;
  absolutePath: string;
}

/** Malformed market data: names the file, the 1-based physical line and what is wrong. */
export class MarketDataError extends Error {
  override readonly name = "MarketDataError";

  constructor(
    /** The file, as given in `CsvSource.path`. */
    readonly file: string,
    /** 1-based physical line number. */
    readonly line: number,
    /** What is wrong with the line. */
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}
