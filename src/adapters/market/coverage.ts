/**
 * Coverage of a run's market data: per symbol, what the merged stream delivered over the window (bars, gaps,
 * funding settlements, mark-price data) and one-line human warnings for every hole, filled by
 * `archiveMarketEvents` as the stream is consumed.
 */
import type { MarketGap, MarketWindow } from "./types.ts";

/** What the merged stream delivered for one symbol over the window. Times are ms epoch UTC; JSON-safe. */
export interface SymbolCoverage {
  symbol: string;
  /** 1m bars the window holds: minute openTimes m with from ≤ m < to. Always bars + missingBars. */
  expectedBars: number;
  /** 1m bars delivered in the window. */
  bars: number;
  /** `gap` events delivered (start, middle and end holes). */
  gaps: number;
  /** Bars missing in the window, the sum of the gaps' missingBars. */
  missingBars: number;
  /** openTime of the first and last bar delivered, null when none. */
  firstBarOpenTime: number | null;
  lastBarOpenTime: number | null;
  /** `funding` events delivered (one per settlement slot, whatever the number of sources). */
  fundingSettlements: number;
  /** Of those, settlements priced at the last 1m close because no 8h mark-price kline opens at their time. */
  fundingAtLastClose: number;
  /** Settlements in the window with no mark-price kline and no earlier bar: delivered without a price (not charged). */
  fundingSkipped: number;
  /** 8h mark-price klines overlapping the window. */
  markPriceKlines: number;
  /** Bars delivered with their 1m mark-price kline (0 when the symbol has no 1m mark-price files). */
  markBars: number;
  /**
   * Bars delivered without one although the symbol has 1m mark-price files in the window: the venue watched
   * the trade bar there. Always 0 without such files (no mark data is normal, not a hole).
   */
  barsWithoutMark: number;
  /** openTime of the first of those bars, null when none. */
  firstBarWithoutMark: number | null;
}

/** At most this many gaps per symbol are listed one per line in `warnings()`; the rest are summed up. */
const LISTED_GAPS = 10;

/**
 * The coverage report of one merged stream. Pass one to `archiveMarketEvents(files, window, { coverage })`; it
 * is reset when the stream starts and filled as it is consumed, so it is complete once the stream ends (and
 * current while it runs).
 */
export class MarketCoverage {
  private window_: MarketWindow | undefined;
  private readonly bySymbol = new Map<string, SymbolCoverage>();
  private readonly listedGaps = new Map<string, MarketGap[]>();

  /** The stream's window, undefined before the stream started. */
  get window(): MarketWindow | undefined {
    return this.window_;
  }

  /** Per symbol, alphabetical. */
  get symbols(): SymbolCoverage[] {
    return [...this.bySymbol.values()];
  }

  /** Total gaps and missing bars over all symbols. */
  get totals(): {
    bars: number;
    gaps: number;
    missingBars: number;
    fundingSettlements: number;
    barsWithoutMark: number;
  } {
    const t = { bars: 0, gaps: 0, missingBars: 0, fundingSettlements: 0, barsWithoutMark: 0 };
    for (const c of this.bySymbol.values()) {
      t.bars += c.bars;
      t.barsWithoutMark += c.barsWithoutMark;
      t.gaps += c.gaps;
      t.missingBars += c.missingBars;
      t.fundingSettlements += c.fundingSettlements;
    }
    return t;
  }

  /** Starts a report for `symbols` over `window` (called by the merge; forgets any previous run). */
  begin(window: MarketWindow, symbols: readonly string[]): void {
    this.window_ = window;
    this.bySymbol.clear();
    this.listedGaps.clear();
    const expectedBars = (ceilMinute(window.to) - ceilMinute(window.from)) / MINUTE;
    for (const symbol of [...symbols].sort()) {
      this.bySymbol.set(symbol, {
        symbol,
        expectedBars,
        bars: 0,
        gaps: 0,
        missingBars: 0,
        firstBarOpenTime: null,
        lastBarOpenTime: null,
        fundingSettlements: 0,
        fundingAtLastClose: 0,
        fundingSkipped: 0,
        markPriceKlines: 0,
        markBars: 0,
        barsWithoutMark: 0,
        firstBarWithoutMark: null,
      });
      this.listedGaps.set(symbol, []);
    }
  }

  /** The mutable entry of a symbol passed to `begin`; throws a RangeError for any other. */
  of(symbol: string): SymbolCoverage {
    const c = this.bySymbol.get(symbol);
    if (c === undefined) throw new RangeError(`no coverage for ${symbol}: not a symbol of this stream`);
    return c;
  }

  /** Records a delivered gap. */
  addGap(gap: MarketGap): void {
    const c = this.of(gap.symbol);
    c.gaps++;
    c.missingBars += gap.missingBars;
    const listed = this.listedGaps.get(gap.symbol)!;
    if (listed.length < LISTED_GAPS) listed.push(gap);
  }

  /**
   * One line per problem, for stderr: each gap (`ETHUSDT: 14 bars missing 2025-05-06T10:00Z..2025-05-06T10:13Z`,
   * the first 10 per symbol, then a count of the rest), no funding data, skipped settlements, settlements
   * without mark-price data (said only when there is funding data), bars without their 1m mark-price kline
   * (only for a symbol with 1m mark-price files). Empty when the data covers the window.
   */
  warnings(): string[] {
    const w = this.window_;
    if (w === undefined) return [];
    const span = `[${isoMinute(w.from)}, ${isoMinute(w.to)})`;
    const lines: string[] = [];
    for (const c of this.bySymbol.values()) {
      const listed = this.listedGaps.get(c.symbol)!;
      for (const g of listed) {
        const last = g.toOpenTime - MINUTE;
        const where =
          g.missingBars === 1
            ? isoMinute(g.fromOpenTime)
            : `${isoMinute(g.fromOpenTime)}..${isoMinute(last)}`;
        lines.push(`${c.symbol}: ${plural(g.missingBars, "bar")} missing ${where}`);
      }
      if (c.gaps > listed.length) {
        const rest = c.missingBars - listed.reduce((n, g) => n + g.missingBars, 0);
        lines.push(
          `${c.symbol}: ${plural(c.gaps - listed.length, "more gap")} (${plural(rest, "bar")} missing)`,
        );
      }
      if (c.barsWithoutMark > 0) {
        lines.push(
          `${c.symbol}: ${c.barsWithoutMark} of ${c.bars} bars without a 1m mark-price kline (first ` +
            `${isoMinute(c.firstBarWithoutMark!)}): MARK_PRICE triggers and liquidation watched the trade bar there`,
        );
      }
      if (c.fundingSettlements + c.fundingSkipped === 0) {
        lines.push(`${c.symbol}: no funding data in ${span}: funding not charged`);
        continue;
      }
      if (c.fundingSkipped > 0) {
        lines.push(
          `${c.symbol}: ${plural(c.fundingSkipped, "funding settlement")} before the first 1m bar and without a ` +
            "mark-price kline: not charged (strategies see its rate)",
        );
      }
      if (c.markPriceKlines === 0) {
        lines.push(`${c.symbol}: no mark-price data in ${span}: funding priced at the last 1m close`);
      } else if (c.fundingAtLastClose > 0) {
        lines.push(
          `${c.symbol}: ${plural(c.fundingAtLastClose, "funding settlement")} without an 8h mark-price kline: ` +
            "priced at the last 1m close",
        );
      }
    }
    return lines;
  }
}

const MINUTE = 60_000;

/** The first minute boundary ≥ t (ms epoch). */
export function ceilMinute(t: number): number {
  return Math.ceil(t / MINUTE) * MINUTE;
}

/** `2025-05-06T10:00Z`, with seconds and milliseconds only when not zero. */
function isoMinute(t: number): string {
  const iso = new Date(t).toISOString();
  return iso.endsWith(":00.000Z") ? `${iso.slice(0, 16)}Z` : iso;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
