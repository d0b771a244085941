/**
 * The dashboard's per-symbol series, folded from the log with each entry's global position so any earlier state
 * can be read back (`upTo`: the state after every event with position ≤ upTo): the 1m bars (BarClosed) for the
 * price chart, the fills (FillBooked, PositionLiquidated) for its entry and exit markers and the fills table, and
 * PnL per symbol (realized, fees, funding paid and received; binance-usdm.md §4.4 for funding). Pure: no I/O, no
 * clock; money stays in exact decimal strings.
 */
import { Dec } from "../domain/decimal.ts";
import type { EventData } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import { formatUnits, toUnits } from "./fixed-point.ts";

/** Decimals of the fixed-point volume sums (kline volumes have at most 8). */
const VOLUME_SCALE = 18;

/** One OHLCV bar: `time` is its openTime (ms, UTC); prices and volume are decimal strings. */
export interface BarPoint {
  time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

/** A fill booked to the account (or a liquidation's close), newest first in `fills()`. USDT unless stated. */
export interface FillPoint {
  /** Global position of the FillBooked (or PositionLiquidated) event. */
  position: number;
  /** Market time, ms. */
  time: number;
  symbol: string;
  clientOrderId: string;
  /** The venue's trade id; the order id for a liquidation. */
  tradeId: string;
  side: "BUY" | "SELL";
  price: string;
  /** Base asset. */
  quantity: string;
  commission: string;
  realizedPnl: string;
  /** Signed position after the fill, base asset. */
  positionAmt: string;
  liquidation: boolean;
}

/** The account's PnL on one symbol (USDT decimal strings). */
export interface SymbolPnl {
  symbol: string;
  /** Σ realizedPnl of its fills and liquidations. */
  realizedPnl: string;
  /** Σ commission of its fills. */
  fees: string;
  /** Σ clearance fees of its liquidations (binance-usdm.md §4.8). */
  liquidationFees: string;
  /** Σ −fundingFee over the payments that cost the account (≥ 0). */
  fundingPaid: string;
  /** Σ fundingFee over the payments it received (≥ 0). */
  fundingReceived: string;
  /** realizedPnl − fees − liquidationFees + fundingReceived − fundingPaid. */
  netPnl: string;
  fills: number;
  fundingPayments: number;
}

/** What `bars()` returns: the bars of `interval`, merged further when more than `maxPoints`. */
export interface BarsView {
  /** Bars of the interval before downsampling. */
  totalBars: number;
  /** How many interval bars each returned bar merges (1: none). */
  barsPerPoint: number;
  bars: BarPoint[];
}

interface StoredBar extends BarPoint {
  position: number;
}
interface FundingEntry {
  position: number;
  symbol: string;
  fee: string;
}
interface LiquidationFee {
  position: number;
  symbol: string;
  fee: string;
}

/** Initial capacity of the position/time index, grown by doubling. */
const INITIAL_EVENTS = 1_024;

/** The fold; `apply` takes events in global order. */
export class MarketSeries {
  private readonly barsBySymbol = new Map<string, StoredBar[]>();
  private readonly fillList: FillPoint[] = [];
  private readonly fundingList: FundingEntry[] = [];
  private readonly liquidationFees: LiquidationFee[] = [];
  private positions = new Float64Array(INITIAL_EVENTS);
  private times = new Float64Array(INITIAL_EVENTS);
  private count = 0;

  /** Folds one event (any type; those without a series only extend the position/time index). */
  apply(event: RecordedEvent): void {
    this.index(event.position, event.metadata.eventTime);
    const { position } = event;
    const time = event.metadata.eventTime;
    switch (event.type) {
      case "BarClosed": {
        const b = event.data as EventData<"BarClosed">;
        let list = this.barsBySymbol.get(b.symbol);
        if (list === undefined) {
          list = [];
          this.barsBySymbol.set(b.symbol, list);
        }
        const { open, high, low, close, volume } = b;
        list.push({ position, time: b.openTime, open, high, low, close, volume });
        break;
      }
      case "FillBooked": {
        const f = event.data as EventData<"FillBooked">;
        this.fillList.push({
          position,
          time,
          symbol: f.symbol,
          clientOrderId: f.clientOrderId,
          tradeId: f.tradeId,
          side: f.side,
          price: f.price,
          quantity: f.quantity,
          commission: f.commission,
          realizedPnl: f.realizedPnl,
          positionAmt: f.positionAmt,
          liquidation: false,
        });
        break;
      }
      case "PositionLiquidated": {
        const l = event.data as EventData<"PositionLiquidated">;
        const amt = new Dec(l.positionAmt);
        this.fillList.push({
          position,
          time,
          symbol: l.symbol,
          clientOrderId: l.clientOrderId,
          tradeId: l.clientOrderId,
          side: amt.isNegative() ? "BUY" : "SELL",
          price: l.price,
          quantity: amt.abs().toFixed(),
          commission: "0",
          realizedPnl: l.realizedPnl,
          positionAmt: "0",
          liquidation: true,
        });
        this.liquidationFees.push({ position, symbol: l.symbol, fee: l.clearanceFee });
        break;
      }
      case "FundingFeeBooked": {
        const f = event.data as EventData<"FundingFeeBooked">;
        this.fundingList.push({ position, symbol: f.symbol, fee: f.fundingFee });
        break;
      }
    }
  }

  /** Global position of the last event folded, or null before any. */
  lastPosition(): number | null {
    return this.count === 0 ? null : this.positions[this.count - 1]!;
  }

  /** The last folded position ≤ `position`, or null when every folded event lies after it. */
  positionAtOrBefore(position: number): number | null {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.positions[mid]! <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? null : this.positions[lo - 1]!;
  }

  /**
   * The position a market time `time` (ms) shows: that of the last event (in log order) whose eventTime ≤ time,
   * so every event at or before `time` is included; null when there is none.
   */
  positionAtTime(time: number): number | null {
    for (let i = this.count - 1; i >= 0; i--) if (this.times[i]! <= time) return this.positions[i]!;
    return null;
  }

  /** Every symbol with bars, fills or funding, sorted. */
  symbols(): string[] {
    const all = new Set([
      ...this.barsBySymbol.keys(),
      ...this.fillList.map((f) => f.symbol),
      ...this.fundingList.map((f) => f.symbol),
    ]);
    return [...all].sort();
  }

  /**
   * The bars of `symbol` folded up to position `upTo` (null: none; undefined: all), aggregated into UTC-aligned
   * buckets of `intervalMs` (open of the first, highest high, lowest low, close of the last, Σ volume), then, when
   * more than `maxPoints` remain, merged `barsPerPoint` at a time (the same OHLCV rule) so the highs and lows
   * survive downsampling.
   */
  bars(symbol: string, intervalMs: number, maxPoints: number, upTo?: number | null): BarsView {
    const stored = this.barsBySymbol.get(symbol) ?? [];
    const end = upTo === undefined ? stored.length : upTo === null ? 0 : countUpTo(stored, upTo);
    const intervalBars: BarPoint[] = [];
    let bucket: BarMerge | undefined;
    for (let i = 0; i < end; i++) {
      const bar = stored[i]!;
      const start = bar.time - (bar.time % intervalMs);
      if (bucket?.time === start) bucket.add(bar);
      else {
        if (bucket) intervalBars.push(bucket.bar());
        bucket = new BarMerge(bar, start);
      }
    }
    if (bucket) intervalBars.push(bucket.bar());
    const barsPerPoint = Math.max(1, Math.ceil(intervalBars.length / maxPoints));
    if (barsPerPoint === 1) return { totalBars: intervalBars.length, barsPerPoint, bars: intervalBars };
    const bars: BarPoint[] = [];
    for (let i = 0; i < intervalBars.length; i += barsPerPoint) {
      const group = new BarMerge(intervalBars[i]!, intervalBars[i]!.time);
      for (let j = i + 1; j < Math.min(i + barsPerPoint, intervalBars.length); j++)
        group.add(intervalBars[j]!);
      bars.push(group.bar());
    }
    return { totalBars: intervalBars.length, barsPerPoint, bars };
  }

  /** Fills folded up to `upTo` (see `bars`), of `symbol` when given, newest first: `limit` after skipping `offset`. */
  fills(query: { symbol?: string | undefined; limit: number; offset: number; upTo?: number | null }): {
    total: number;
    fills: FillPoint[];
  } {
    const { symbol, limit, offset, upTo } = query;
    const end =
      upTo === undefined ? this.fillList.length : upTo === null ? 0 : countUpTo(this.fillList, upTo);
    const matching = this.fillList.slice(0, end).filter((f) => symbol === undefined || f.symbol === symbol);
    matching.reverse();
    return { total: matching.length, fills: matching.slice(offset, offset + limit) };
  }

  /** PnL per symbol folded up to `upTo` (see `bars`), sorted by symbol. */
  symbolPnl(upTo?: number | null): SymbolPnl[] {
    const within = (position: number) => upTo === undefined || (upTo !== null && position <= upTo);
    const sums = new Map<
      string,
      { realized: Dec; fees: Dec; liq: Dec; paid: Dec; received: Dec; fills: number; funding: number }
    >();
    const of = (symbol: string) => {
      let s = sums.get(symbol);
      if (s === undefined) {
        const zero = new Dec(0);
        s = { realized: zero, fees: zero, liq: zero, paid: zero, received: zero, fills: 0, funding: 0 };
        sums.set(symbol, s);
      }
      return s;
    };
    for (const f of this.fillList) {
      if (!within(f.position)) break;
      const s = of(f.symbol);
      s.realized = s.realized.plus(f.realizedPnl);
      s.fees = s.fees.plus(f.commission);
      if (!f.liquidation) s.fills++;
    }
    for (const l of this.liquidationFees) {
      if (!within(l.position)) break;
      const s = of(l.symbol);
      s.liq = s.liq.plus(l.fee);
    }
    for (const f of this.fundingList) {
      if (!within(f.position)) break;
      const s = of(f.symbol);
      const fee = new Dec(f.fee);
      if (fee.isNegative()) s.paid = s.paid.minus(fee);
      else s.received = s.received.plus(fee);
      s.funding++;
    }
    return [...sums.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([symbol, s]) => ({
        symbol,
        realizedPnl: s.realized.toFixed(),
        fees: s.fees.toFixed(),
        liquidationFees: s.liq.toFixed(),
        fundingPaid: s.paid.toFixed(),
        fundingReceived: s.received.toFixed(),
        netPnl: s.realized.minus(s.fees).minus(s.liq).plus(s.received).minus(s.paid).toFixed(),
        fills: s.fills,
        fundingPayments: s.funding,
      }));
  }

  private index(position: number, time: number): void {
    if (this.count === this.positions.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.positions = grow(this.positions);
      this.times = grow(this.times);
    }
    this.positions[this.count] = position;
    this.times[this.count] = time;
    this.count++;
  }
}

/** How many entries of `list` (in position order) have position ≤ upTo (binary search). */
function countUpTo(list: readonly { position: number }[], upTo: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.position <= upTo) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Consecutive bars merged into one: open of the first, the highest high and lowest low (the strings of the bars
 * that hold them), close of the last, Σ volume (exact, in fixed point; canonical once two bars are merged, else the
 * bar's own string). Highs and lows are compared as doubles: exact for decimal strings of at most 15 significant
 * digits, as kline prices are (distinct such decimals are distinct doubles, in the same order).
 */
class BarMerge {
  private open: string;
  private high: string;
  private low: string;
  private close: string;
  private highValue: number;
  private lowValue: number;
  private volume: string;
  private volumeUnits: bigint | undefined;

  /** Starts with `first`, the merged bar's time being `time`. */
  constructor(
    first: BarPoint,
    readonly time: number,
  ) {
    this.open = first.open;
    this.high = first.high;
    this.low = first.low;
    this.close = first.close;
    this.highValue = Number(first.high);
    this.lowValue = Number(first.low);
    this.volume = first.volume;
  }

  /** Merges the next bar. */
  add(bar: BarPoint): void {
    const high = Number(bar.high);
    const low = Number(bar.low);
    if (high > this.highValue) [this.high, this.highValue] = [bar.high, high];
    if (low < this.lowValue) [this.low, this.lowValue] = [bar.low, low];
    this.close = bar.close;
    this.volumeUnits =
      (this.volumeUnits ?? toUnits(this.volume, VOLUME_SCALE)) + toUnits(bar.volume, VOLUME_SCALE);
  }

  bar(): BarPoint {
    const volume = this.volumeUnits === undefined ? this.volume : formatUnits(this.volumeUnits, VOLUME_SCALE);
    return { time: this.time, open: this.open, high: this.high, low: this.low, close: this.close, volume };
  }
}
