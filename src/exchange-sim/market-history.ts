/**
 * What the replay has published so far, per symbol: closed 1m bars (with their 1m mark-price klines), funding
 * settlements and the current mark price, plus the next settlement the replay sees coming. The public REST
 * routes answer from it, so they never show a bar or a settlement after the exchange clock.
 */
import type { Bar, FundingSettlement, MarkPriceKline } from "../adapters/market/types.ts";

/** A published 1m bar and its mark-price kline of the same minute (when the archive has one). */
export interface PublishedBar {
  bar: Bar;
  mark?: MarkPriceKline;
}

/** The next funding settlement of a symbol, as the markPrice stream and premiumIndex announce it. */
export interface UpcomingFunding {
  /** The settlement slot: its fundingTime rounded to the minute, ms epoch (Binance's `nextFundingTime`). */
  time: number;
  /** The rate that will settle there (Binance's estimate `r`; the archive knows the realized one). */
  rate: string;
}

/** A window query of the REST routes: ms epochs, both inclusive, and the most items to return. */
export interface WindowQuery {
  startTime?: number;
  endTime?: number;
  limit: number;
}

const MINUTE_MS = 60_000;

/** Published market data of the replayed symbols. */
export class MarketHistory {
  readonly #bars = new Map<string, PublishedBar[]>();
  readonly #funding = new Map<string, FundingSettlement[]>();
  readonly #mark = new Map<string, string>();
  readonly #upcoming = new Map<string, UpcomingFunding | undefined>();

  constructor(readonly symbols: readonly string[]) {
    for (const s of symbols) {
      this.#bars.set(s, []);
      this.#funding.set(s, []);
    }
  }

  /** Whether `symbol` is replayed. */
  has(symbol: string): boolean {
    return this.#bars.has(symbol);
  }

  /**
   * Records a published bar; its mark kline's close (else the bar's close) becomes the symbol's mark price.
   * @throws Error for a symbol that is not replayed or a bar not after the symbol's last one.
   */
  addBar(bar: Bar, mark?: MarkPriceKline): void {
    const bars = this.#barsOf(bar.symbol);
    const last = bars.at(-1);
    if (last !== undefined && bar.openTime <= last.bar.openTime)
      throw new Error(`bar ${bar.symbol} ${bar.openTime} is not after the last one (${last.bar.openTime})`);
    bars.push(mark === undefined ? { bar } : { bar, mark });
    this.#mark.set(bar.symbol, mark?.close ?? bar.close);
  }

  /** Sets the mark price before the symbol's first bar (the open of its first bar or mark kline). */
  seedMark(symbol: string, price: string): void {
    if (!this.#mark.has(symbol)) this.#mark.set(symbol, price);
  }

  /** Records a published funding settlement. */
  addFunding(settlement: FundingSettlement): void {
    this.#fundingOf(settlement.symbol).push(settlement);
  }

  /** Sets the next settlement the replay sees coming for `symbol` (undefined: none in sight). */
  setUpcomingFunding(symbol: string, next: UpcomingFunding | undefined): void {
    this.#upcoming.set(symbol, next);
  }

  /** The current mark price of `symbol` (decimal string), or undefined before anything was seen of it. */
  markPrice(symbol: string): string | undefined {
    return this.#mark.get(symbol);
  }

  /**
   * The funding announcement at `now`: the upcoming settlement when the replay sees one; else the slot one
   * interval after the last settlement (or the next 8 h boundary) with the last settled rate (or "0").
   */
  fundingAnnouncement(symbol: string, now: number): UpcomingFunding {
    const upcoming = this.#upcoming.get(symbol);
    if (upcoming !== undefined) return upcoming;
    const last = this.#fundingOf(symbol).at(-1);
    if (last === undefined) return { time: Math.floor(now / EIGHT_HOURS_MS + 1) * EIGHT_HOURS_MS, rate: "0" };
    return { time: slotOf(last.fundingTime) + last.fundingIntervalHours * 3_600_000, rate: last.fundingRate };
  }

  /**
   * Published bars of `symbol` in openTime order, as Binance's klines endpoint picks them: openTime within
   * [startTime, endTime]; the first `limit` from startTime when it is given, else the last `limit` up to endTime.
   */
  bars(symbol: string, q: WindowQuery): PublishedBar[] {
    return pick(this.#barsOf(symbol), (b) => b.bar.openTime, q);
  }

  /** Published settlements of `symbol` in time order, picked like `bars` by fundingTime. */
  funding(symbol: string, q: WindowQuery): FundingSettlement[] {
    return pick(this.#fundingOf(symbol), (f) => f.fundingTime, q);
  }

  #barsOf(symbol: string): PublishedBar[] {
    const bars = this.#bars.get(symbol);
    if (bars === undefined) throw new Error(`symbol ${symbol} is not replayed`);
    return bars;
  }

  #fundingOf(symbol: string): FundingSettlement[] {
    const funding = this.#funding.get(symbol);
    if (funding === undefined) throw new Error(`symbol ${symbol} is not replayed`);
    return funding;
  }
}

const EIGHT_HOURS_MS = 8 * 3_600_000;

/** A settlement's slot: its time (with Binance's ms of jitter) rounded to the minute. */
export function slotOf(fundingTime: number): number {
  return Math.round(fundingTime / MINUTE_MS) * MINUTE_MS;
}

/** Items of a time-ordered array within [startTime, endTime]: the first `limit` from startTime, else the last. */
function pick<T>(items: readonly T[], timeOf: (item: T) => number, q: WindowQuery): T[] {
  const from = q.startTime === undefined ? 0 : lowerBound(items, timeOf, q.startTime);
  const to = q.endTime === undefined ? items.length : lowerBound(items, timeOf, q.endTime + 1);
  if (from >= to) return [];
  return q.startTime !== undefined
    ? items.slice(from, Math.min(to, from + q.limit))
    : items.slice(Math.max(from, to - q.limit), to);
}

/** The first index whose time is ≥ `time` (items sorted by time). */
function lowerBound<T>(items: readonly T[], timeOf: (item: T) => number, time: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (timeOf(items[mid]!) < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
