/**
 * Closed 1m bars built from a symbol's trades (for windows that have trades but no kline file, e.g. the
 * WebSocket captures). Pure and streaming: one minute in memory.
 *
 * Fields filled, per UTC minute that has at least one trade: `symbol`; `openTime` = the trade time floored to the
 * minute; `open` / `close` = the price of its first / last trade (input order); `high` / `low` = its highest /
 * lowest price (the first spelling among equal values); `volume` = Σ qty and `takerBuyVolume` = Σ qty of the
 * trades whose buyer took liquidity (`buyerMaker` false), exact decimal sums; `trades` = the number of trades.
 * Not filled: `quoteVolume` and `takerBuyQuoteVolume` (the archive's quote_qty is not carried by the trade).
 * A minute without trades has no bar: the consumer reports it as a gap, as for kline files. Every trade is
 * counted, off-market prints included (an insurance-fund print is in the trade stream like any other,
 * src/adapters/venue/simulated/tick-matching.ts rule 5).
 */

import type { MinuteBar } from "./aggregate.ts";
import { addToSum, type DecimalSum, formatSum, ZERO_SUM } from "./decimal-sum.ts";
import { MINUTE_MS } from "./intervals.ts";

/** A trade as the builder needs it: time in ms epoch, price in quote asset, qty in base asset (decimal strings). */
export interface BarTrade {
  time: number;
  price: string;
  qty: string;
  /** True when the buyer was the maker (a seller took liquidity). */
  buyerMaker: boolean;
}

interface Building {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: DecimalSum;
  takerBuy: DecimalSum;
  trades: number;
}

/** Builds the 1m bars of one symbol from its trades, pushed in time order. */
export class MinuteBarBuilder {
  private bar: Building | undefined;

  constructor(readonly symbol: string) {}

  /**
   * Adds `trade`; returns the bar of the previous minute when this trade starts a new one.
   * @throws Error when the trade is before the current minute (trades must come in time order) or its qty is
   * not an unsigned decimal.
   */
  push(trade: BarTrade): MinuteBar | undefined {
    const openTime = Math.floor(trade.time / MINUTE_MS) * MINUTE_MS;
    const b = this.bar;
    if (b && openTime < b.openTime)
      throw new Error(
        `trades of ${this.symbol}: trade at ${trade.time} is before the minute ${b.openTime} being built (trades must be in time order)`,
      );
    if (b && openTime === b.openTime) {
      const p = Number(trade.price);
      if (p > Number(b.high)) b.high = trade.price;
      if (p < Number(b.low)) b.low = trade.price;
      b.close = trade.price;
      this.add(b, trade);
      return undefined;
    }
    const done = this.flush();
    const next: Building = {
      openTime,
      open: trade.price,
      high: trade.price,
      low: trade.price,
      close: trade.price,
      volume: ZERO_SUM,
      takerBuy: ZERO_SUM,
      trades: 0,
    };
    this.add(next, trade);
    this.bar = next;
    return done;
  }

  /** The bar being built, if any (at the end of the trades); the builder is then empty. */
  flush(): MinuteBar | undefined {
    const b = this.bar;
    if (!b) return undefined;
    this.bar = undefined;
    return {
      symbol: this.symbol,
      openTime: b.openTime,
      open: b.open,
      high: b.high,
      low: b.low,
      close: b.close,
      volume: formatSum(b.volume),
      trades: b.trades,
      takerBuyVolume: formatSum(b.takerBuy),
    };
  }

  private add(b: Building, t: BarTrade): void {
    b.volume = addToSum(b.volume, t.qty, `trade qty at ${t.time}`);
    if (!t.buyerMaker) b.takerBuy = addToSum(b.takerBuy, t.qty, `trade qty at ${t.time}`);
    b.trades += 1;
  }
}

/** The 1m bars of `symbol` built from `trades` (in time order), as a stream. See the module comment. */
export async function* minuteBarsFromTrades(
  symbol: string,
  trades: AsyncIterable<BarTrade>,
): AsyncGenerator<MinuteBar> {
  const builder = new MinuteBarBuilder(symbol);
  for await (const t of trades) {
    const bar = builder.push(t);
    if (bar) yield bar;
  }
  const last = builder.flush();
  if (last) yield last;
}
