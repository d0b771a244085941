/**
 * Tick matching: the simulated venue's pure core on trades, bookTicker updates and 1 s mark prices
 * (src/adapters/market/ticks.ts) instead of 1m bars. It shares the venue state (`MatchingState`), submit and
 * cancel, and the order bookkeeping of `matching.ts` (the `Matcher`'s fills, fees, reduce-only caps, expiries,
 * self-trade prevention, triggers and priceProtect), so only what differs from bars is stated here. Spec:
 * binance-usdm.md §2.2–2.3 (orders, triggers, trailing stops), §3.1 (statuses, `er`), §4.3 (fees), §4.9 (fills
 * against trades/book, triggers and liquidation against mark); strategies.md §0 "Backtest fills".
 *
 * A tick is processed in steps (`startTick`, `tickStep` until undefined, `endTick`):
 *
 * 1. **Time.** The symbol's clock is the tick's time (trades: trade time; bookTicker: transaction_time; mark:
 *    event_time). Ticks of a symbol must not go back in time. An order submitted at clock t reaches the matching
 *    engine at t + `submitLatencyMs`; a triggered order at the trigger tick's time + `triggerLatencyMs`. An order
 *    arriving at time A meets the market as of A: every tick with time ≤ A has been applied (ticks at the same
 *    ms come first), none after. So at a tick of time t: (a) "before": GTD orders with goodTillDate ≤ t expire,
 *    then orders that arrived before t (workingFrom < t) execute against the market before this tick; (b) the
 *    tick is applied; (c) "after": resting and conditional orders react to it, then orders arriving at t
 *    (workingFrom ≤ t, including reactions to reports with no latency) execute. Reports carry the time of the
 *    tick at which they happen: an order that arrived between two ticks executes at the market before the later
 *    tick, reported at its time.
 * 2. **The market.** A trade sets the last price (CONTRACT_PRICE) and the trade's participation budget; a
 *    bookTicker sets the best bid/ask and their displayed quantities; a mark tick the mark price. The last
 *    price is only ever a trade's price; with no trade yet an order is rejected (-1121, as on bars).
 * 3. **Takers** (MARKET; a LIMIT that crosses on arrival; a triggered …_MARKET, or STOP/TAKE_PROFIT whose limit
 *    crosses) with a book: BUY at the best ask, SELL at the best bid, without slippage (the spread is the cost),
 *    capped by the quantity displayed there minus what our takers already took from this quote (the
 *    participation rate does not apply: the quote shows the liquidity; levels behind the best are unknown to a
 *    bookTicker). A LIMIT crosses when BUY price ≥ ask, SELL price ≤ bid. Without any bookTicker for the symbol:
 *    at the last trade price × (1 ± `slippage`) (a LIMIT capped at its price), capped by the participation budget
 *    of the last trade (none without a rate), as on bars. What a taker does not get works on: a MARKET rest at the
 *    next quote (or trade) with liquidity on its side; a GTC/GTD LIMIT rest likewise takes at later quotes while
 *    it crosses them (the levels behind the best it would have swept are unknown), and rests in the book as a
 *    maker at its price once a quote does not cross it (so no maker fill is at a price the book was already
 *    beyond); IOC expires the rest (er 2); FOK expires unless the displayed quantity covers it all. GTX expires
 *    when it would take against the current book (and is rejected -5022 at submit when it would take then); a
 *    FOK LIMIT is rejected -5021 at submit when it does not cross the book (`submitOrder` compares with the best
 *    ask/bid once a bookTicker is known, and so does its -4131 PERCENT_PRICE check of a MARKET order).
 * 4. **Makers.** A resting LIMIT fills as a maker at its own price (maker fee, no slippage) only on trades, not on
 *    quote updates: a trade goes *through* a resting BUY at L when its price < L (SELL: > L), whoever the
 *    aggressor; with `limitFillRule` "touch" a trade at exactly L also fills it when the aggressor hit that side
 *    (BUY: a seller took, `is_buyer_maker` true; SELL: a buyer took, false), since only then were orders at L
 *    on our side traded. Each trade gives `participationRate` × its qty (floored to the stepSize), shared by our
 *    maker fills on it in submission order; no rate: no cap. The rest works on (PARTIALLY_FILLED). An order that
 *    entered the book at this tick's "after" phase does not fill on this tick's trade (it came after it).
 * 5. **Off-market prints.** Every row of a trades file is a trade: the archive layout has no trade type, so an
 *    insurance-fund print (binance-usdm.md §6 `@trade` `X` = INSURANCE_FUND, e.g. BTCUSDT id 3535191080 of
 *    2023-04-04, 0.001 BTC at 28 722.5, about 2 % above the market) sets the last price and fills resting LIMITs
 *    it goes through, like any trade. The book cannot tell it apart either: in the captures thousands of
 *    ordinary prints lie a few ticks beyond the latest bookTicker (the two streams are not in lock-step), so a
 *    "print outside the quote" filter would drop real trades. Such a print is also in the 1m kline's high/low
 *    the bar matching uses (UNCONFIRMED for Binance's klines). A participation rate bounds the effect: with
 *    r < 1, a one-lot print (0.001 BTC) gives floor(r × 0.001) = 0 to our makers.
 * 6. **Triggers** (binance-usdm.md §2.3): a conditional order watching MARK_PRICE checks its condition on each
 *    mark tick once the symbol has had one, else (and CONTRACT_PRICE always) on each trade; book ticks trigger
 *    nothing. The `triggering` report records the watched price and which price it was; the triggered order
 *    then executes as a taker against the current book (3), or rests. priceProtect compares the triggering mark
 *    with the last trade price (as on bars, §8 item 5). When several orders trigger or fill on one tick, stop
 *    types come first, then submission order, one per step.
 * 7. **Trailing stops**: the extreme (SELL highest, BUY lowest) starts at the watched price at placement and is
 *    updated at each watched tick (trade, or mark for MARK_PRICE with marks) before the check; a SELL is active
 *    once highest ≥ activatePrice and triggers when the price ≤ highest × (1 − callbackRate / 100); a BUY
 *    mirrors it. The trigger's watched price is that tick's price.
 * 8. **Liquidation** is the venue's (`SimulatedVenue.matchTick`, with liquidation.ts): once a tick that moves
 *    the mark is applied (a mark tick; a trade while the symbol has no mark), on the move from the previous mark
 *    to this one as if it were a bar's mark path (filled at the liquidation price, or at the previous mark when
 *    it was already beyond). The intrabar path options do not apply to ticks.
 */

import { fillPriceWithSlippage } from "../../../domain/accounting.ts";
import { canonical, Dec, floorToStep } from "../../../domain/decimal.ts";
import type { Tick } from "../../market/ticks.ts";
import {
  type BarProgress,
  checkSteps,
  crosses,
  firesUpward,
  type Hit,
  type MatchBar,
  Matcher,
  type MatchingOptions,
  type MatchingState,
  STOP_TYPES,
  type StepResult,
  triggerValue,
  type WorkingOrder,
} from "./matching.ts";

/** The market of a symbol as tick matching knows it (JSON, part of `MatchingState.ticks`). Base-asset quantities. */
export interface TickMarket {
  /** Latest bookTicker: best bid/ask and the quantity left there after our taker fills on that quote. */
  bid?: string;
  bidQty?: string;
  ask?: string;
  askQty?: string;
  /** Participation budget left of the latest trade; absent = no cap (no rate) or no trade yet. */
  tradeLeft?: string;
}

function clone(s: MatchingState): MatchingState {
  return {
    ...s,
    orders: [...s.orders],
    positions: { ...s.positions },
    lastPrice: { ...s.lastPrice },
    markPrice: { ...s.markPrice },
    clock: { ...s.clock },
    bars: { ...s.bars },
    ticks: { ...s.ticks },
  };
}

/**
 * Opens `tick` for matching (the "before" phase): the symbol's clock becomes the tick's time.
 * @throws Error when a bar or tick of the symbol is already open, or the tick is before the symbol's clock.
 */
export function startTick(state: MatchingState, tick: Tick): MatchingState {
  const { symbol, time } = tick;
  if (state.bars[symbol])
    throw new Error(`tick ${symbol}@${time}: a bar or tick of ${symbol} is already open`);
  const clock = state.clock[symbol];
  if (clock !== undefined && time < clock)
    throw new Error(
      `tick ${symbol}@${time}: before the symbol's clock ${clock} (ticks must be in time order)`,
    );
  const next = clone(state);
  const progress: BarProgress = {
    openTime: time,
    phase: "open",
    pos: 0,
    price: state.lastPrice[symbol] ?? "0",
  };
  next.bars[symbol] = progress;
  next.clock[symbol] = time;
  return next;
}

/** Closes `tick`: drops this tick's entry marks; the clock stays at the tick's time. */
export function endTick(state: MatchingState, tick: Tick): MatchingState {
  const next = clone(state);
  delete next.bars[tick.symbol];
  next.orders = state.orders.map((o) => {
    if (o.request.symbol !== tick.symbol || !o.entered) return o;
    const u = { ...o };
    delete u.entered;
    return u;
  });
  return next;
}

/**
 * Moves the clock of `symbol` to `time` when it is behind (the close of a minute matched on ticks: orders sent at
 * the bar's close are submitted then). Never moves it back.
 */
export function advanceClock(state: MatchingState, symbol: string, time: number): MatchingState {
  if ((state.clock[symbol] ?? Number.NEGATIVE_INFINITY) >= time) return state;
  return { ...state, clock: { ...state.clock, [symbol]: time } };
}

/**
 * The next thing that happens on the open tick of `tick.symbol` (an execution, trigger or expiry; or the tick
 * being applied to the market, a step of its own without reports), or undefined when nothing more happens.
 * Callers hand the reports on before the next step, so orders submitted or canceled in reaction take part.
 * @throws Error when `startTick` was not called.
 */
export function tickStep(state: MatchingState, tick: Tick, options: MatchingOptions): StepResult | undefined {
  const progress = state.bars[tick.symbol];
  if (!progress || progress.openTime !== tick.time)
    throw new Error(`tick ${tick.symbol}@${tick.time}: startTick was not called`);
  const m = new TickMatcher(state, tick, options);
  if (progress.phase === "open") {
    if (m.beforeStep()) return m.result();
    m.apply();
    return m.result();
  }
  return m.afterStep() ? m.result() : undefined;
}

/** Matches one tick without reactions (`startTick`, every `tickStep`, `endTick`): for tests and tools. */
export function matchTick(state: MatchingState, tick: Tick, options: MatchingOptions): StepResult {
  let s = startTick(state, tick);
  const reports: StepResult["reports"] = [];
  let steps = 0;
  for (let r = tickStep(s, tick, options); r; r = tickStep(s, tick, options)) {
    checkSteps(++steps, tickBar(tick, s));
    s = r.state;
    reports.push(...r.reports);
  }
  return { state: endTick(s, tick), reports };
}

/** The tick as the `Matcher` sees a bar: one instant (openTime = closeTime = the tick's time). */
export function tickBar(tick: Tick, state: MatchingState): MatchBar {
  const p = state.lastPrice[tick.symbol] ?? "0";
  return {
    symbol: tick.symbol,
    openTime: tick.time,
    closeTime: tick.time,
    open: p,
    high: p,
    low: p,
    close: p,
  };
}

/** Whether a conditional order watches the mark price now (MARK_PRICE and a mark known for its symbol). */
function onMark(s: MatchingState, o: WorkingOrder): boolean {
  return o.request.workingType === "MARK_PRICE" && s.markPrice[o.request.symbol] !== undefined;
}

/** One tick-matching step on a cloned state: the bar `Matcher`'s bookkeeping with the rules of the module comment. */
class TickMatcher extends Matcher {
  constructor(
    state: MatchingState,
    private readonly tick: Tick,
    options: MatchingOptions,
  ) {
    super(state, tickBar(tick, state), undefined, options);
  }

  private get symbol(): string {
    return this.tick.symbol;
  }

  private get time(): number {
    return this.tick.time;
  }

  private market(): TickMarket | undefined {
    return this.view.ticks?.[this.symbol];
  }

  private setMarket(u: TickMarket): void {
    const s = this.s;
    s.ticks = { ...s.ticks, [this.symbol]: u };
  }

  /** Tick budgets are kept in `TickMarket`, not in the bar progress: the `Matcher`'s `fill` must not spend one. */
  protected override budgetLeft(): Dec | undefined {
    return undefined;
  }

  /** The quantity a taker of `side` may take now (undefined: no cap), see rule 3. */
  private takerLiquidity(side: "BUY" | "SELL"): Dec | undefined {
    const m = this.market();
    if (m?.ask !== undefined) return new Dec(side === "BUY" ? m.askQty! : m.bidQty!);
    return m?.tradeLeft === undefined ? undefined : new Dec(m.tradeLeft);
  }

  private spendTaker(side: "BUY" | "SELL", qty: Dec): void {
    const m = this.market()!;
    if (m.ask !== undefined) {
      if (side === "BUY") this.setMarket({ ...m, askQty: canonical(new Dec(m.askQty!).minus(qty)) });
      else this.setMarket({ ...m, bidQty: canonical(new Dec(m.bidQty!).minus(qty)) });
    } else if (m.tradeLeft !== undefined)
      this.setMarket({ ...m, tradeLeft: canonical(new Dec(m.tradeLeft).minus(qty)) });
  }

  /** The price a taker of `side` meets: the best ask/bid, or the last trade price; and whether it is a quote. */
  private touch(side: "BUY" | "SELL"): { price: string; quote: boolean } | undefined {
    const m = this.market();
    if (m?.ask !== undefined) return { price: side === "BUY" ? m.ask : m.bid!, quote: true };
    const last = this.view.lastPrice[this.symbol];
    return last === undefined ? undefined : { price: last, quote: false };
  }

  /**
   * A pending order that can execute now: arrived (workingFrom before t, or at t) and, when it would take (MARKET,
   * or a GTC/GTD LIMIT crossing the market), with liquidity on its side.
   */
  private nextPending(strictlyBefore: boolean): WorkingOrder | undefined {
    for (const o of this.view.orders) {
      const r = o.request;
      if (r.symbol !== this.symbol || o.stage !== "pending") continue;
      if (strictlyBefore ? o.workingFrom >= this.time : o.workingFrom > this.time) continue;
      const touch = this.touch(r.side);
      if (!touch) continue;
      const takes = (o.actualType ?? r.type) === "MARKET" || crosses(r.side, r.price!, touch.price);
      const waits = r.timeInForce !== "IOC" && r.timeInForce !== "FOK"; // those expire at once instead
      if (takes && waits && this.takerLiquidity(r.side)?.lte(0)) continue;
      return o;
    }
    return undefined;
  }

  /** The "before" phase: GTD expiries, then orders that arrived before this tick. False when there is none. */
  beforeStep(): boolean {
    for (const o of this.view.orders) {
      const r = o.request;
      if (r.symbol === this.symbol && r.timeInForce === "GTD" && r.goodTillDate! <= this.time) {
        this.expire(o, `GTD order expired at goodTillDate ${r.goodTillDate}`, this.time);
        return true;
      }
    }
    const next = this.nextPending(true);
    if (!next) return false;
    this.arrive(next, this.touch(next.request.side)!.price, this.time);
    return true;
  }

  /** Applies the tick to the market (rule 2) and updates the trailing extremes (rule 7); enters "after". */
  apply(): void {
    const t = this.tick;
    const s = this.s;
    s.bars[this.symbol] = { ...this.progress, phase: "path", pos: 1 };
    const m = this.market() ?? {};
    if (t.kind === "trade") {
      s.lastPrice[this.symbol] = t.price;
      const rate = this.o.participationRate;
      const u: TickMarket = { ...m };
      if (rate === undefined) delete u.tradeLeft;
      else
        u.tradeLeft = canonical(
          floorToStep(new Dec(t.qty).times(rate), this.o.instrument(this.symbol).stepSize),
        );
      this.setMarket(u);
    } else if (t.kind === "book") {
      this.setMarket({ ...m, bid: t.bidPrice, bidQty: t.bidQty, ask: t.askPrice, askQty: t.askQty });
    } else s.markPrice[this.symbol] = t.markPrice;
    if (t.kind === "book") return;
    s.orders = s.orders.map((o) => {
      if (o.request.symbol !== this.symbol || o.stage !== "algo" || o.request.type !== "TRAILING_STOP_MARKET")
        return o;
      if (o.workingFrom > this.time || !this.watches(o)) return o;
      const p = this.watchedNow(o);
      const sell = o.request.side === "SELL";
      const better = sell ? Number(p) > Number(o.extreme) : Number(p) < Number(o.extreme);
      return better ? { ...o, extreme: p } : o;
    });
  }

  /** Whether this tick is the price `o` watches (rule 6). */
  private watches(o: WorkingOrder): boolean {
    return onMark(this.view, o) ? this.tick.kind === "mark" : this.tick.kind === "trade";
  }

  private watchedNow(o: WorkingOrder): string {
    return onMark(this.view, o) ? this.view.markPrice[this.symbol]! : this.view.lastPrice[this.symbol]!;
  }

  /** The "after" phase: the first trigger or maker fill (stops first, then submission order), then arrivals. */
  afterStep(): boolean {
    let best: Hit | undefined;
    const orders = this.view.orders;
    for (let index = 0; index < orders.length; index++) {
      const o = orders[index]!;
      if (o.request.symbol !== this.symbol || o.workingFrom > this.time) continue;
      const hit =
        o.stage === "algo"
          ? this.conditionHit(o, index)
          : o.stage === "book"
            ? this.makerHit(o, index)
            : undefined;
      if (hit && (!best || (hit.stop !== best.stop ? hit.stop : hit.index < best.index))) best = hit;
    }
    if (best) {
      if (best.order.stage === "algo") this.trigger(best);
      else this.fillAsMaker(best);
      return true;
    }
    const next = this.nextPending(false);
    if (!next) return false;
    this.arrive(next, this.touch(next.request.side)!.price, this.time);
    return true;
  }

  private conditionHit(o: WorkingOrder, index: number): Hit | undefined {
    if (!this.watches(o)) return undefined;
    const r = o.request;
    const watched = this.watchedNow(o);
    const p = Number(watched);
    let fires: boolean;
    if (r.type === "TRAILING_STOP_MARKET") {
      const sell = r.side === "SELL";
      const ex = new Dec(o.extreme!);
      const active = sell ? ex.gte(o.activatePrice!) : ex.lte(o.activatePrice!);
      const rate = new Dec(r.callbackRate!).div(100);
      const level = ex.times(sell ? new Dec(1).minus(rate) : new Dec(1).plus(rate));
      fires = active && (sell ? level.gte(watched) : level.lte(watched));
    } else {
      const trigger = triggerValue(r);
      fires = firesUpward(r) ? p >= trigger : p <= trigger;
    }
    if (!fires) return undefined;
    return {
      order: o,
      pos: 0,
      stop: STOP_TYPES.has(r.type),
      index,
      price: this.view.lastPrice[this.symbol]!,
      triggeredAt: watched,
      workingType: onMark(this.view, o) ? "MARK_PRICE" : "CONTRACT_PRICE",
    };
  }

  /** A resting LIMIT this trade goes through (rule 4), if the trade's participation budget is not spent. */
  private makerHit(o: WorkingOrder, index: number): Hit | undefined {
    const t = this.tick;
    if (t.kind !== "trade") return undefined;
    if (o.entered && o.entered.openTime === this.time && o.entered.pos > 0) return undefined;
    const left = this.market()?.tradeLeft;
    if (left !== undefined && new Dec(left).lte(0)) return undefined;
    const limit = o.request.price!;
    const buy = o.request.side === "BUY";
    const p = Number(t.price);
    const L = Number(limit);
    const through = buy ? p < L : p > L;
    const touched =
      this.o.limitFillRule === "touch" && new Dec(t.price).eq(limit) && (buy ? t.buyerMaker : !t.buyerMaker);
    return through || touched ? { order: o, pos: 0, stop: false, index, price: limit } : undefined;
  }

  private fillAsMaker(hit: Hit): void {
    const w = this.wanted(hit.order);
    if ("expire" in w) {
      this.expire(hit.order, w.expire, this.time, 4);
      return;
    }
    const m = this.market();
    const left = m?.tradeLeft === undefined ? undefined : new Dec(m.tradeLeft);
    const qty = left === undefined ? w.qty : Dec.min(w.qty, left);
    this.fill(hit.order, hit.price, qty, true, this.time);
    if (left !== undefined) this.setMarket({ ...this.market()!, tradeLeft: canonical(left.minus(qty)) });
  }

  /**
   * A regular order reaches the matching engine now (rule 3): MARKET takes; a LIMIT takes when it crosses the
   * book (or the last trade), else rests (IOC/FOK expire); GTX expires when it would take. `p` is unused: the
   * book decides.
   */
  protected override arrive(o: WorkingOrder, _p: string, time: number): void {
    const touch = this.touch(o.request.side);
    if (!touch) return; // no price yet: stays pending (only reachable for a triggered order, which has one)
    const { side } = o.request;
    const taker = touch.quote ? touch.price : fillPriceWithSlippage(touch.price, side, this.o.slippage);
    this.arriveAt(o, taker, touch.price, time);
  }

  /** A taker execution at `price`, capped by the taker liquidity of its side (rule 3). */
  protected override take(o: WorkingOrder, price: string, model: string, time: number): void {
    const r = o.request;
    const tif = r.timeInForce;
    const w = this.wanted(o);
    if ("expire" in w) {
      this.expire(o, w.expire, time, 4);
      return;
    }
    if (this.selfTrade(o, model, time)) return;
    const liquidity = this.takerLiquidity(r.side);
    const qty = liquidity === undefined ? w.qty : Dec.max(0, Dec.min(w.qty, liquidity));
    if (tif === "FOK" && qty.lt(w.qty)) {
      this.expire(o, "FOK order could not be filled completely at the best price", time);
      return;
    }
    if (qty.isZero()) {
      if (tif === "IOC") {
        this.expire(o, "IOC order not filled: no quantity at the best price", time, 2);
        return;
      }
      const current = this.current(o);
      this.replace(current, { ...current, stage: "pending" });
      return;
    }
    const rest = this.fill(o, price, qty, false, time);
    this.spendTaker(r.side, qty);
    if (rest && tif === "IOC") this.expire(rest, "IOC order: the rest is canceled", time, 2);
    // a MARKET or crossing LIMIT rest stays pending: it takes again at the next quote with liquidity on its
    // side while it crosses, and a LIMIT rests in the book once a quote does not cross it (`arrive`)
  }
}
