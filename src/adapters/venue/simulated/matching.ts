/**
 * The simulated venue's matching core: pure functions from (state, order or bar, options) to (state, reports).
 * No I/O, no Promises, no clock: market time comes from the bars. The state is JSON (a checkpoint's part).
 * `venue.ts` wraps it in the `Venue` port. Spec: binance-usdm.md §1.2 filters, §2.2–2.4 orders, §3.1 statuses and
 * expiry reasons `er`, §4.2–4.4 positions, fees, funding; strategies.md §0 "Backtest fills".
 *
 * The assumptions, in the order a bar is processed (`startBar`, `matchStep` until undefined, `endBar`):
 *
 * 1. **Time.** Each symbol has a market clock: a bar's openTime while it is being matched, its closeTime after.
 *    An order submitted at clock t reaches the matching engine (the algo service for a conditional order) at
 *    t + `submitLatencyMs`, and takes part from the first bar whose openTime is at or after that time (1m bars
 *    know no price between two opens, so latency has a resolution of one bar: 0–1 ms changes nothing, more
 *    delays the order by a bar). A triggered order reaches the matching engine at the trigger bar's openTime +
 *    `triggerLatencyMs`: with 0 it executes at the trigger, else at the next bar's open.
 * 2. **GTD.** An order with timeInForce GTD whose goodTillDate ≤ the bar's closeTime is expired at the bar's
 *    open (it does not trade in the bar in which it expires).
 * 3. **At the open** (in submission order, including orders submitted meanwhile by reactions to reports):
 *    MARKET orders (and the unfilled rest of MARKET orders and of triggered …_MARKET orders) fill as takers at
 *    the open × (1 ± `slippage`) (BUY +, SELL −). A LIMIT order arrives: if it crosses the open (BUY price ≥ open,
 *    SELL price ≤ open) it is a taker at the open ± slippage, capped at its price; a GTX (post-only) that would
 *    take expires; IOC fills what it can and expires the rest (er 2); FOK fills completely or expires; what is
 *    not filled of a GTC/GTD order rests in the book as a maker.
 * 4. **Along the bar** (`intrabar-path.ts`): conditional orders trigger (binance-usdm.md §2.3: STOP/STOP_MARKET
 *    BUY when the price ≥ triggerPrice, SELL ≤; TAKE_PROFIT(_MARKET) the reverse) on the price their workingType
 *    watches: the mark-price bar when one is given to `startBar` and workingType is MARK_PRICE, else the trade
 *    bar (CONTRACT_PRICE; the report says which). A trigger reports `triggering` (at the watched price), then
 *    `triggered` with a new matching-engine order id (MARKET for …_MARKET and trailing stops, LIMIT for STOP and
 *    TAKE_PROFIT), then executes like a regular order arriving at the trigger's price: the trigger price, or the
 *    start (the open) when the bar starts beyond it (a gap); slippage applies to takers. On the mark price the
 *    fill is at the trigger price clamped to the trade bar's [low, high] (at the trade open on a gap).
 *    Resting LIMIT orders fill as makers (maker fee, no slippage) at their price when the market trades through
 *    it (`limitFillRule` "through": BUY when the price goes below it, SELL above; "touch": reaching it is
 *    enough); when the whole bar lies beyond the price (a gap through it) the fill is at the bar's worst price for
 *    the order that is still at or better than its limit (BUY min(price, high), SELL max(price, low)), so no
 *    fill lies outside the bar's [low, high].
 * 5. **Trailing stops** (TRAILING_STOP_MARKET): the extreme is tracked from placement (starting at the last
 *    price then); a SELL is active once the highest price ≥ activatePrice (default: the last price at
 *    placement) and triggers when the price ≤ highest × (1 − callbackRate / 100); a BUY mirrors it with the
 *    lowest price. The trigger price is that level, or the price at the start of the walk on a gap. Along the
 *    path the extreme is updated at each point, so a SELL can activate on a bar's high and trigger on its low.
 * 6. **priceProtect**: at trigger, with a mark bar, |mark − last| / mark > the symbol's triggerProtect rejects the
 *    order (`rejected`, -2010), where mark is the triggering mark price and last the modelled trade price (the
 *    denominator is an assumption: binance-usdm.md §8 item 5 is UNCONFIRMED). Without mark data both are the same
 *    price and it never fires.
 * 7. **Reduce-only and closePosition** never increase or flip the venue's position: the fill is capped at the
 *    position (closePosition: the whole position at trigger), and the order is complete when the position is
 *    closed; with nothing to reduce the order expires (er 4, §3.1). A reduce-only LIMIT or MARKET submitted
 *    with nothing to reduce is rejected at once (-2022 REDUCE_ONLY_REJECT, §5.2); a conditional one is checked
 *    only at trigger (the Algo service does no position check before triggering, §2.4).
 *    **Hedge mode** (`dualSidePosition`, §4.1): the venue keeps one position per (symbol, positionSide), keyed
 *    like the account (`positionKey`: `SYMBOL:LONG` ≥ 0, `SYMBOL:SHORT` ≤ 0). BUY/LONG and SELL/SHORT open or add;
 *    SELL/LONG and BUY/SHORT close (`closingOrder`): Binance forbids reduceOnly there (-1106, validate.ts) since
 *    the position side makes them closes, and the venue treats them exactly as reduce-only orders above (capped at
 *    their side's position, never flipping it; -2022 at submit with nothing to close; er 4 at fill time). A side
 *    never becomes negative for LONG or positive for SHORT.
 * 8. **Participation**: with `participationRate` r, our fills in one bar of a symbol total at most
 *    r × the bar's volume, floored to the symbol's stepSize (shared by the orders in the order they execute).
 *    What is left works on (PARTIALLY_FILLED): MARKET remainders at the next open, LIMIT remainders in the book;
 *    IOC remainders expire (er 2); a FOK that cannot fill completely expires. No rate: no cap.
 * 9. **Self-trade prevention**: a taker order of ours (MARKET, crossing LIMIT, triggered order; timeInForce GTC,
 *    IOC or GTD or none) that would trade with a resting LIMIT of ours on the other side (BUY at p against a SELL
 *    resting at ≤ p, SELL against a BUY at ≥ p) applies the taker's selfTradePreventionMode: EXPIRE_TAKER expires
 *    the taker, EXPIRE_MAKER the resting orders, EXPIRE_BOTH both; er 1 (3 for an IOC taker), which the order
 *    machine maps to EXPIRED_IN_MATCH. NONE or absent: no prevention (Binance's default is UNCONFIRMED, §8
 *    item 20).
 * 10. **Fees**: commission = price × quantity × (`makerRate` for maker fills, else `takerRate`), USDT (§4.3).
 *
 * Submit checks, in order: -4116 a clientOrderId already working; -1121 no price yet; the stateless checks
 * (`parameterViolation`: `validateOrder` with the venue's mark, last price and clock — parameters, filters,
 * -2021 on the watched price, …); then those that need the venue's state: -2022 a reduce-only LIMIT/MARKET with
 * nothing to reduce; -2025 MAX_NUM_ORDERS (per symbol, algo orders included, when the instrument's limit > 0);
 * -4045 more than `maxOpenConditionalOrders` untriggered conditional orders across all symbols (§1.2: 200);
 * -4131 a MARKET order whose price (the last price; on ticks with a book the best ask/bid) is outside
 * PERCENT_PRICE around the mark (only when a mark price is known); -5022 a GTX order that would take at the last
 * price (on ticks: against the best ask/bid); -5021 a FOK LIMIT that would not take there (Binance rejects a FOK
 * that cannot fill at once; one accepted here that cannot fill completely at its arrival, the next open, expires
 * instead).
 */

import { positionKey } from "../../../actors/account.machine.ts";
import { isConditionalType } from "../../../actors/order.machine.ts";
import { commission, fillPriceWithSlippage, fundingFee } from "../../../domain/accounting.ts";
import { canonical, Dec, floorToStep, toDec } from "../../../domain/decimal.ts";
import type { Instrument } from "../../../domain/instruments.ts";
import { closingOrder } from "../../../domain/orders/closing.ts";
import { validateOrder } from "../../../domain/orders/validate.ts";
import type { CancelResult, OrderRequest, SubmitResult, VenueReport } from "../../../engine/venue.ts";
import {
  firstHit,
  type IntrabarPath,
  type IntrabarPathMode,
  intrabarPath,
  type Ohlc,
  valueAt,
} from "./intrabar-path.ts";
import type { TickMarket } from "./tick-matching.ts";

/** How the simulated venue matches (see the module comment for each rule). Rates and ratios are decimal strings. */
export interface MatchingOptions {
  instrument: (symbol: string) => Instrument;
  /** Commission rate of taker fills (ratio, 0.0005 = 0.05 %). */
  takerRate: string;
  /** Commission rate of maker fills (ratio). */
  makerRate: string;
  /** Slippage of taker fills (ratio): BUY × (1 + slippage), SELL × (1 − slippage). */
  slippage: string;
  intrabarPath: IntrabarPathMode;
  /** Whether a resting LIMIT fills when the market trades through its price ("through") or reaches it ("touch"). */
  limitFillRule: "through" | "touch";
  /** Max share of a bar's volume our fills may take (ratio); undefined = no cap. */
  participationRate: string | undefined;
  /** Market time (ms) from submit to the matching engine. */
  submitLatencyMs: number;
  /** Market time (ms) from a trigger to the regular order in the matching engine. */
  triggerLatencyMs: number;
  /** Untriggered conditional orders across all symbols (binance-usdm.md §1.2: 200). */
  maxOpenConditionalOrders: number;
  /** Hedge mode (binance-usdm.md §4.1): positions per (symbol, LONG/SHORT); false = one-way (BOTH). */
  dualSidePosition: boolean;
}

/** A bar as the matching core sees it: prices as decimal strings, times in ms, volume in base asset. */
export interface MatchBar extends Ohlc {
  symbol: string;
  openTime: number;
  closeTime: number;
  /** Needed only with a participation rate. */
  volume?: string;
}

/** The 1m mark-price bar of the same minute (quote asset). */
export interface MarkBar extends Ohlc {
  openTime: number;
}

/**
 * Where an order is: `algo` an untriggered conditional order in the algo service; `pending` a regular order
 * waiting for a bar's open (MARKET, a LIMIT not yet arrived, a triggered order delayed by latency, the rest of a
 * MARKET order); `book` a LIMIT resting in the book as a maker.
 */
export type OrderStage = "algo" | "pending" | "book";

/** A working order. Quantities in base asset, prices in quote asset, as decimal strings. */
export interface WorkingOrder {
  request: OrderRequest;
  stage: OrderStage;
  /** Market time (ms) from which the order takes part (see "Time"). */
  workingFrom: number;
  /** Cumulative filled quantity. */
  executedQty: string;
  /** The regular order's type once triggered (…_MARKET → MARKET, STOP/TAKE_PROFIT → LIMIT). */
  actualType?: "MARKET" | "LIMIT";
  /** Trailing stop: effective activatePrice and the extreme (SELL highest, BUY lowest) since placement. */
  activatePrice?: string;
  extreme?: string;
  /** Set while the bar in which the order was placed or entered the book is being matched. */
  entered?: { openTime: number; pos: number; price: string };
}

/** Progress of the bar being matched on a symbol. */
export interface BarProgress {
  openTime: number;
  phase: "open" | "path";
  /** Path position and trade price of the last execution (path modes). */
  pos: number;
  price: string;
  /** Participation left in this bar (base asset); absent = no cap. */
  budget?: string;
}

/** The venue's whole state (JSON). */
export interface MatchingState {
  /** Working orders in submission order. */
  orders: WorkingOrder[];
  /**
   * Signed position per `positionKey(symbol, positionSide)` (base asset): the symbol in one-way mode,
   * `SYMBOL:LONG` / `SYMBOL:SHORT` in hedge mode.
   */
  positions: Record<string, string>;
  /** Last trade price per symbol (a bar's open while it is matched, its close after). */
  lastPrice: Record<string, string>;
  /** Last mark price per symbol (from mark bars), when known. */
  markPrice: Record<string, string>;
  /** Market clock per symbol (ms). */
  clock: Record<string, number>;
  /** The bar being matched per symbol (empty between bars). */
  bars: Record<string, BarProgress>;
  orderSeq: number;
  tradeSeq: number;
  /** Tick matching only (tick-matching.ts): the book and trade liquidity per symbol; absent on bars. */
  ticks?: Record<string, TickMarket>;
}

/** An empty venue (of either position mode: its keys and orders say which, `SimulatedVenue.restore`). */
export function initialMatchingState(): MatchingState {
  return {
    orders: [],
    positions: {},
    lastPrice: {},
    markPrice: {},
    clock: {},
    bars: {},
    orderSeq: 0,
    tradeSeq: 0,
  };
}

function clone(s: MatchingState): MatchingState {
  return {
    orders: [...s.orders],
    positions: { ...s.positions },
    lastPrice: { ...s.lastPrice },
    markPrice: { ...s.markPrice },
    clock: { ...s.clock },
    bars: { ...s.bars },
    orderSeq: s.orderSeq,
    tradeSeq: s.tradeSeq,
    ...(s.ticks && { ticks: { ...s.ticks } }),
  };
}

export const STOP_TYPES: ReadonlySet<string> = new Set(["STOP", "STOP_MARKET", "TRAILING_STOP_MARKET"]);
const ONE = new Dec(1);

/** Whether a conditional order fires on a rise (BUY stop, SELL take-profit) rather than a fall. */
export function firesUpward(r: OrderRequest): boolean {
  return (r.type === "STOP" || r.type === "STOP_MARKET") === (r.side === "BUY");
}

const triggers = new WeakMap<OrderRequest, number>();

/** An order's trigger price as a number (for comparisons; memoised per request object). */
export function triggerValue(r: OrderRequest): number {
  let v = triggers.get(r);
  if (v === undefined) {
    v = Number(r.triggerPrice);
    triggers.set(r, v);
  }
  return v;
}

/** The order's own quantity (closePosition: none). */
function orderQty(r: OrderRequest): Dec | undefined {
  return r.quantity === undefined ? undefined : new Dec(r.quantity);
}

/** The watched price of a conditional order now: the mark when it watches MARK_PRICE and one is known. */
function watchedPrice(s: MatchingState, r: OrderRequest): string {
  const last = s.lastPrice[r.symbol]!;
  return r.workingType === "MARK_PRICE" ? (s.markPrice[r.symbol] ?? last) : last;
}

// ── submit and cancel ─────────────────────────────────────────────────────────────────────────────────

type Rejection = { code: number; reason: string };

/**
 * The stateless parameter and filter check (`validateOrder`, src/domain/orders/validate.ts: every type's
 * parameters, precision, LOT_SIZE / MARKET_LOT_SIZE, PRICE_FILTER, PERCENT_PRICE for LIMIT prices, MIN_NOTIONAL,
 * callbackRate, GTD bounds, -2021 on the watched price, the position side against the account's mode, -4061): its
 * first violation, the venue's answer.
 */
export function parameterViolation(
  order: OrderRequest,
  ctx: {
    instrument: Instrument;
    markPrice: string;
    lastPrice: string;
    now: number;
    dualSidePosition: boolean;
  },
): Rejection | undefined {
  const first = validateOrder(order, ctx)[0];
  return first && { code: first.code, reason: first.message };
}

function reject(code: number, reason: string): { accepted: false; code: number; reason: string } {
  return { accepted: false, code, reason };
}

/** The venue's signed position the order acts on (its positionSide's; "0" when flat), base asset. */
function positionOf(s: MatchingState, r: OrderRequest): string {
  return s.positions[positionKey(r.symbol, r.positionSide)] ?? "0";
}

/** Whether a BUY/SELL of `side` reduces the signed position `amt`. */
function reduces(amt: Dec, side: "BUY" | "SELL"): boolean {
  if (amt.isZero()) return false; // decimal.js: 0 is positive
  return amt.isNeg() ? side === "BUY" : side === "SELL";
}

/** Whether a LIMIT of `side` at `price` would take at market price `p` (BUY price ≥ p, SELL price ≤ p). */
export function crosses(side: "BUY" | "SELL", price: string, p: string): boolean {
  return side === "BUY" ? Number(price) >= Number(p) : Number(price) <= Number(p);
}

/**
 * The price a taker of `side` meets now: the best ask (BUY) or bid (SELL) when tick matching knows the book of
 * `symbol`, else the last price `last`.
 */
function counterPrice(s: MatchingState, symbol: string, side: "BUY" | "SELL", last: string): string {
  const book = s.ticks?.[symbol];
  return (side === "BUY" ? book?.ask : book?.bid) ?? last;
}

/**
 * Submits `order` (venue-side checks in the module comment). On acceptance the order works with the next
 * sequence number as its id (the algoId of a conditional order).
 */
export function submitOrder(
  state: MatchingState,
  order: OrderRequest,
  options: MatchingOptions,
): { state: MatchingState; result: SubmitResult } {
  const no = (code: number, reason: string) => ({ state, result: reject(code, reason) });
  const { symbol } = order;
  if (state.orders.some((o) => o.request.clientOrderId === order.clientOrderId))
    return no(-4116, "ClientOrderId is duplicated.");
  const last = state.lastPrice[symbol];
  if (last === undefined) return no(-1121, `no market price yet for ${symbol}`);
  const instrument = options.instrument(symbol);
  const mark = state.markPrice[symbol];
  const invalid = parameterViolation(order, {
    instrument,
    markPrice: mark ?? last,
    lastPrice: last,
    now: state.clock[symbol] ?? 0,
    dualSidePosition: options.dualSidePosition,
  });
  if (invalid) return no(invalid.code, invalid.reason);
  const conditional = isConditionalType(order.type);
  const position = new Dec(positionOf(state, order));
  if (!conditional && closingOrder(order) && !reduces(position, order.side))
    return no(-2022, "ReduceOnly Order is rejected.");
  if (instrument.maxNumOrders > 0) {
    const open = state.orders.filter((o) => o.request.symbol === symbol).length;
    if (open >= instrument.maxNumOrders)
      return no(-2025, `Reach max open order limit (${instrument.maxNumOrders}).`);
  }
  if (conditional) {
    const algo = state.orders.filter((o) => o.stage === "algo").length;
    if (algo >= options.maxOpenConditionalOrders)
      return no(-4045, `Reach max stop order limit (${options.maxOpenConditionalOrders}).`);
  }
  const taker = counterPrice(state, symbol, order.side, last);
  if (order.type === "MARKET" && mark !== undefined) {
    const m = new Dec(mark);
    const outside =
      order.side === "BUY"
        ? new Dec(taker).gt(m.times(instrument.multiplierUp))
        : new Dec(taker).lt(m.times(instrument.multiplierDown));
    if (outside)
      return no(-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit.");
  }
  if (order.type === "LIMIT" && order.timeInForce === "GTX" && crosses(order.side, order.price!, taker))
    return no(
      -5022,
      "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    );
  if (order.type === "LIMIT" && order.timeInForce === "FOK" && !crosses(order.side, order.price!, taker))
    return no(-5021, "Due to the order could not be filled immediately, the FOK order has been rejected.");
  let activatePrice: string | undefined;
  let extreme: string | undefined;
  if (order.type === "TRAILING_STOP_MARKET") {
    // -2021 for an activatePrice on the wrong side is validateOrder's; the default is the latest price
    extreme = watchedPrice(state, order);
    activatePrice = order.activatePrice ?? extreme;
  }
  const next = clone(state);
  next.orderSeq += 1;
  const bar = state.bars[symbol];
  const w: WorkingOrder = {
    request: order,
    stage: conditional ? "algo" : "pending",
    workingFrom: (state.clock[symbol] ?? 0) + options.submitLatencyMs,
    executedQty: "0",
  };
  if (activatePrice !== undefined) w.activatePrice = activatePrice;
  if (extreme !== undefined) w.extreme = extreme;
  if (bar) w.entered = { openTime: bar.openTime, pos: bar.pos, price: bar.price };
  next.orders.push(w);
  return { state: next, result: { accepted: true, orderId: String(next.orderSeq) } };
}

/** Cancels a working order; -2011 when `clientOrderId` is not working on `symbol`. */
export function cancelOrder(
  state: MatchingState,
  symbol: string,
  clientOrderId: string,
): { state: MatchingState; result: CancelResult } {
  const i = state.orders.findIndex((o) => o.request.clientOrderId === clientOrderId);
  if (i < 0 || state.orders[i]!.request.symbol !== symbol)
    return { state, result: { canceled: false, code: -2011, reason: "Unknown order sent." } };
  const next = clone(state);
  next.orders.splice(i, 1);
  return { state: next, result: { canceled: true } };
}

// ── bars ──────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Opens `bar` for matching: the clock is its openTime, the last price its open (the mark's open when `mark` is
 * given), the participation budget `participationRate × volume`.
 * @throws Error when a bar of the symbol is already open, the mark bar is of another minute, or a participation
 * rate is set and the bar has no volume.
 */
export function startBar(
  state: MatchingState,
  bar: MatchBar,
  mark: MarkBar | undefined,
  options: MatchingOptions,
): MatchingState {
  if (state.bars[bar.symbol]) throw new Error(`bar ${bar.symbol}@${bar.openTime}: a bar is already open`);
  if (mark && mark.openTime !== bar.openTime)
    throw new Error(`mark bar ${bar.symbol}@${mark.openTime} does not match bar openTime ${bar.openTime}`);
  const next = clone(state);
  const progress: BarProgress = { openTime: bar.openTime, phase: "open", pos: 0, price: bar.open };
  if (options.participationRate !== undefined) {
    if (bar.volume === undefined)
      throw new Error(`bar ${bar.symbol}@${bar.openTime}: a participation rate needs the bar's volume`);
    const cap = toDec(bar.volume, "bar.volume").times(options.participationRate);
    progress.budget = canonical(floorToStep(cap, options.instrument(bar.symbol).stepSize));
  }
  next.bars[bar.symbol] = progress;
  next.clock[bar.symbol] = bar.openTime;
  next.lastPrice[bar.symbol] = bar.open;
  if (mark) next.markPrice[bar.symbol] = mark.open;
  return next;
}

/**
 * Closes `bar`: trailing stops keep the extreme of the path they saw, the last price becomes the close (the
 * mark's close), the clock the closeTime.
 */
export function endBar(
  state: MatchingState,
  bar: MatchBar,
  mark: MarkBar | undefined,
  options: MatchingOptions,
): MatchingState {
  const next = clone(state);
  delete next.bars[bar.symbol];
  next.orders = state.orders.map((o) => {
    if (o.request.symbol !== bar.symbol) return o;
    let u = o;
    if (o.stage === "algo" && o.request.type === "TRAILING_STOP_MARKET" && o.workingFrom <= bar.openTime) {
      const { path, from, start } = trailingWalk(o, bar, mark, options);
      u = { ...o, extreme: walkExtreme(path, from, start, o).extreme };
    }
    if (u.entered) {
      u = { ...u };
      delete u.entered;
    }
    return u;
  });
  next.lastPrice[bar.symbol] = bar.close;
  if (mark) next.markPrice[bar.symbol] = mark.close;
  next.clock[bar.symbol] = bar.closeTime;
  return next;
}

/** One matching step's result: the new state and its reports, in order. */
export interface StepResult {
  state: MatchingState;
  reports: VenueReport[];
}

/**
 * The next thing that happens on the open bar of `bar.symbol` (one order's execution, trigger or expiry), or
 * undefined when nothing more happens in this bar. Callers hand the reports on before the next step, so that
 * orders submitted or canceled in reaction take part.
 */
export function matchStep(
  state: MatchingState,
  bar: MatchBar,
  mark: MarkBar | undefined,
  options: MatchingOptions,
): StepResult | undefined {
  const progress = state.bars[bar.symbol];
  if (!progress) throw new Error(`bar ${bar.symbol}@${bar.openTime}: startBar was not called`);
  if (!state.orders.some((o) => o.request.symbol === bar.symbol)) return undefined;
  const m = new Matcher(state, bar, mark, options);
  if (progress.phase === "open") {
    if (m.openStep()) return m.result();
    // stopFirst has no cursor: position 1 only marks "after the open" (a LIMIT entering the book then waits).
    const pos = options.intrabarPath === "stopFirst" ? 1 : 0;
    m.s.bars[bar.symbol] = { ...progress, phase: "path", pos, price: bar.open };
    return m.result(); // the end of the open phase is a step of its own: the venue checks liquidation here
  }
  return m.pathStep() ? m.result() : undefined;
}

/** Matches a whole bar without reactions (`startBar`, every `matchStep`, `endBar`): for tests and tools. */
export function matchBar(
  state: MatchingState,
  bar: MatchBar,
  mark: MarkBar | undefined,
  options: MatchingOptions,
): StepResult {
  let s = startBar(state, bar, mark, options);
  const reports: VenueReport[] = [];
  let steps = 0;
  for (let r = matchStep(s, bar, mark, options); r; r = matchStep(s, bar, mark, options)) {
    checkSteps(++steps, bar);
    s = r.state;
    reports.push(...r.reports);
  }
  return { state: endBar(s, bar, mark, options), reports };
}

/** Every step ends or changes an order, so a bar takes at most a few steps per order: more is a bug. */
export const MAX_STEPS_PER_BAR = 100_000;

/** @throws Error when a bar has taken more than MAX_STEPS_PER_BAR matching steps. */
export function checkSteps(steps: number, bar: MatchBar): void {
  if (steps > MAX_STEPS_PER_BAR)
    throw new Error(
      `bar ${bar.symbol}@${bar.openTime}: matching did not settle after ${MAX_STEPS_PER_BAR} steps`,
    );
}

/**
 * The funding reports of a settlement on the venue's positions in the symbol (binance-usdm.md §4.4): one per open
 * position, each charged on its own amount (one-way: the BOTH position; hedge mode: LONG, then SHORT, each
 * report naming its positionSide). Empty when the symbol is flat.
 */
export function fundingReports(
  state: MatchingState,
  s: { symbol: string; fundingTime: number; fundingRate: string; markPrice: string },
): VenueReport[] {
  const reports: VenueReport[] = [];
  for (const side of ["BOTH", "LONG", "SHORT"] as const) {
    const amt = state.positions[positionKey(s.symbol, side)];
    if (amt === undefined || new Dec(amt).isZero()) continue;
    reports.push({
      kind: "funding",
      time: s.fundingTime,
      funding: {
        symbol: s.symbol,
        ...(side === "BOTH" ? {} : { positionSide: side }),
        fundingTime: s.fundingTime,
        fundingRate: s.fundingRate,
        markPrice: s.markPrice,
        positionAmt: amt,
        fundingFee: fundingFee(amt, s.markPrice, s.fundingRate),
      },
    });
  }
  return reports;
}

// ── trailing stops ────────────────────────────────────────────────────────────────────────────────────

interface Walk {
  path: IntrabarPath;
  from: number;
  start: { value: number; price: string };
}

/** The path, start position and start price a trailing stop walks in this bar. */
function trailingWalk(
  o: WorkingOrder,
  bar: MatchBar,
  mark: MarkBar | undefined,
  options: MatchingOptions,
): Walk {
  const onMark = o.request.workingType === "MARK_PRICE" && mark !== undefined;
  const mode = options.intrabarPath === "stopFirst" ? "barDirection" : options.intrabarPath;
  const path = intrabarPath(onMark ? mark : bar, mode);
  const entered = o.entered && o.entered.openTime === bar.openTime && mode === options.intrabarPath;
  if (entered && o.entered!.pos > 0) {
    const from = o.entered!.pos;
    // on the mark path: the last mark point passed (an exact price) stands for the mark at entry
    const price = onMark ? path.prices[Math.floor(from)]! : o.entered!.price;
    return { path, from, start: { value: Number(price), price } };
  }
  return { path, from: 0, start: { value: path.values[0]!, price: path.prices[0]! } };
}

interface TrailingResult {
  extreme: string;
  hit?: { pos: number; atStart: boolean; price: string };
}

/**
 * Walks a trailing stop along `path` from `from` (binance-usdm.md §2.3): updates its extreme at each point and
 * finds where the price first retraces callbackRate % from it once activated.
 */
function walkExtreme(
  path: IntrabarPath,
  from: number,
  start: Walk["start"],
  o: WorkingOrder,
): TrailingResult {
  const sell = o.request.side === "SELL";
  const rate = new Dec(o.request.callbackRate!).div(100);
  const activate = Number(o.activatePrice);
  let ex = { value: Number(o.extreme), price: o.extreme! };
  const better = (v: number) => (sell ? v > ex.value : v < ex.value);
  const levelOf = () => {
    const price = canonical(new Dec(ex.price).times(sell ? ONE.minus(rate) : ONE.plus(rate)));
    return { price, value: Number(price) };
  };
  const active = () => (sell ? ex.value >= activate : ex.value <= activate);
  const beyond = (v: number, level: number) => (sell ? v <= level : v >= level);
  if (better(start.value)) ex = { ...start };
  if (active() && beyond(start.value, levelOf().value))
    return { extreme: ex.price, hit: { pos: from, atStart: true, price: start.price } };
  const v = path.values;
  for (let k = Math.floor(from); k < v.length - 1; k++) {
    const b = v[k + 1]!;
    if (better(b)) {
      ex = { value: b, price: path.prices[k + 1]! };
      continue;
    }
    if (!active()) continue;
    const level = levelOf();
    if (beyond(b, level.value)) {
      const f = v[k] === b ? 0 : (level.value - v[k]!) / (b - v[k]!);
      const pos = Math.max(from, k + Math.min(1, Math.max(0, f)));
      return { extreme: ex.price, hit: { pos, atStart: false, price: level.price } };
    }
  }
  return { extreme: ex.price };
}

// ── the matcher: one step on a cloned state ───────────────────────────────────────────────────────────

export interface Hit {
  order: WorkingOrder;
  /** Ordering key: path position (stopFirst: 0 stops, 1 the rest), then stops first, then submission order. */
  pos: number;
  stop: boolean;
  index: number;
  /** The modelled trade price the order executes at (before slippage). */
  price: string;
  /** Conditional orders: the watched price at trigger and which price it was. */
  triggeredAt?: string;
  workingType?: "MARK_PRICE" | "CONTRACT_PRICE";
  /** Path position and trade price to move the cursor to (path modes). */
  cursor?: { pos: number; price: string };
}

/**
 * One matching step. Reads go through `view` (the state as it is now); the first write (`s`) clones the state,
 * so a step that finds nothing to do allocates nothing.
 */
export class Matcher {
  readonly reports: VenueReport[] = [];
  private owned = false;
  private tradePath?: IntrabarPath;
  private markTradePath?: IntrabarPath;

  constructor(
    protected view: MatchingState,
    protected readonly bar: MatchBar,
    private readonly mark: MarkBar | undefined,
    protected readonly o: MatchingOptions,
  ) {}

  /** The state to write to (cloned at the first write). */
  get s(): MatchingState {
    if (!this.owned) {
      this.view = clone(this.view);
      this.owned = true;
    }
    return this.view;
  }

  private get mode(): IntrabarPathMode {
    return this.o.intrabarPath === "stopFirst" ? "barDirection" : this.o.intrabarPath;
  }

  private get path(): IntrabarPath {
    this.tradePath ??= intrabarPath(this.bar, this.mode);
    return this.tradePath;
  }

  private get markPath(): IntrabarPath | undefined {
    if (!this.mark) return undefined;
    this.markTradePath ??= intrabarPath(this.mark, this.mode);
    return this.markTradePath;
  }

  result(): StepResult {
    return { state: this.view, reports: this.reports };
  }

  protected get progress(): BarProgress {
    return this.view.bars[this.bar.symbol]!;
  }

  private mine(): WorkingOrder[] {
    return this.view.orders.filter((o) => o.request.symbol === this.bar.symbol);
  }

  /** The open phase: GTD expiries, then the next order arriving at the open. False when there is none. */
  openStep(): boolean {
    const { bar } = this;
    let next: WorkingOrder | undefined;
    let exhausted: boolean | undefined;
    for (const o of this.view.orders) {
      const r = o.request;
      if (r.symbol !== bar.symbol) continue;
      if (r.timeInForce === "GTD" && r.goodTillDate! <= bar.closeTime) {
        this.expire(o, `GTD order expired at goodTillDate ${r.goodTillDate}`, bar.openTime);
        return true;
      }
      if (next || o.stage !== "pending" || o.workingFrom > bar.openTime) continue;
      exhausted ??= this.budgetLeft()?.isZero() ?? false;
      if (!(exhausted && (o.actualType ?? r.type) === "MARKET")) next = o;
    }
    if (!next) return false;
    this.arrive(next, bar.open, bar.openTime);
    return true;
  }

  /** The path phase: the earliest hit along the bar, executed. False when nothing more happens. */
  pathStep(): boolean {
    let best: Hit | undefined;
    const orders = this.view.orders;
    for (let index = 0; index < orders.length; index++) {
      const o = orders[index]!;
      if (o.request.symbol !== this.bar.symbol || o.workingFrom > this.bar.openTime) continue;
      const hit =
        o.stage === "algo"
          ? this.triggerHit(o, index)
          : o.stage === "book"
            ? this.bookHit(o, index)
            : undefined;
      if (hit && (!best || before(hit, best))) best = hit;
    }
    if (!best) return false;
    if (best.cursor && this.o.intrabarPath !== "stopFirst") {
      this.s.bars[this.bar.symbol] = { ...this.progress, pos: best.cursor.pos, price: best.cursor.price };
      this.s.lastPrice[this.bar.symbol] = best.cursor.price;
    }
    if (best.order.stage === "algo") this.trigger(best);
    else this.makerFill(best);
    return true;
  }

  /** Start position and trade price of a walk in this bar: the cursor (path modes; every hit left is at or after it), or the open. */
  private startOf(): { from: number; price: string } {
    if (this.o.intrabarPath === "stopFirst") return { from: 0, price: this.bar.open };
    return { from: this.progress.pos, price: this.progress.price };
  }

  private triggerHit(o: WorkingOrder, index: number): Hit | undefined {
    const r = o.request;
    const stop = STOP_TYPES.has(r.type);
    const onMark = r.workingType === "MARK_PRICE" && this.markPath !== undefined;
    const workingType = onMark ? "MARK_PRICE" : "CONTRACT_PRICE";
    if (r.type === "TRAILING_STOP_MARKET") {
      const walk = trailingWalk(o, this.bar, this.mark, this.o);
      const hit = walkExtreme(walk.path, walk.from, walk.start, o).hit;
      if (!hit) return undefined;
      return this.conditionalHit(o, index, stop, hit.pos, hit.atStart, hit.price, workingType);
    }
    const trigger = triggerValue(r);
    const up = firesUpward(r);
    if (this.o.intrabarPath === "stopFirst") {
      const range = onMark ? this.mark! : this.bar;
      if (!(up ? Number(range.high) >= trigger : Number(range.low) <= trigger)) return undefined;
      const path = onMark ? this.markPath! : this.path;
      const open = path.values[0]!;
      const gapped = up ? open >= trigger : open <= trigger;
      return this.conditionalHit(
        o,
        index,
        stop,
        0,
        gapped,
        gapped ? path.prices[0]! : r.triggerPrice!,
        workingType,
      );
    }
    const path = onMark ? this.markPath! : this.path;
    const { from, price } = this.startOf();
    const startValue = onMark ? valueAt(path, from) : Number(price);
    const hit = firstHit(path, from, startValue, { dir: up ? "up" : "down", level: trigger, strict: false });
    if (!hit) return undefined;
    const at = hit.atStart
      ? onMark
        ? from === 0
          ? path.prices[0]!
          : r.triggerPrice!
        : price
      : r.triggerPrice!;
    return this.conditionalHit(o, index, stop, hit.pos, hit.atStart, at, workingType);
  }

  /** A conditional order's hit: the watched price `at`, and the trade price it executes at. */
  private conditionalHit(
    o: WorkingOrder,
    index: number,
    stop: boolean,
    pos: number,
    atStart: boolean,
    at: string,
    workingType: "MARK_PRICE" | "CONTRACT_PRICE",
  ): Hit {
    let price = at;
    if (workingType === "MARK_PRICE") {
      if (atStart && pos === 0) price = this.bar.open;
      else {
        const v = Number(at);
        price = v > Number(this.bar.high) ? this.bar.high : v < Number(this.bar.low) ? this.bar.low : at;
      }
    }
    const stopFirst = this.o.intrabarPath === "stopFirst";
    return {
      order: o,
      pos: stopFirst ? (stop ? 0 : 1) : pos,
      stop,
      index,
      price,
      triggeredAt: at,
      workingType,
      cursor: { pos, price: workingType === "MARK_PRICE" ? price : at },
    };
  }

  private bookHit(o: WorkingOrder, index: number): Hit | undefined {
    if (this.budgetLeft()?.isZero()) return undefined;
    const r = o.request;
    const limit = r.price!;
    const L = Number(limit);
    const strict = this.o.limitFillRule === "through";
    const buy = r.side === "BUY";
    const { bar } = this;
    const price = buy ? (Number(bar.high) < L ? bar.high : limit) : Number(bar.low) > L ? bar.low : limit;
    if (this.o.intrabarPath === "stopFirst") {
      if (o.entered && o.entered.openTime === bar.openTime && o.entered.pos > 0) return undefined;
      const lo = Number(bar.low);
      const hi = Number(bar.high);
      const reached = buy ? (strict ? lo < L : lo <= L) : strict ? hi > L : hi >= L;
      return reached ? { order: o, pos: 1, stop: false, index, price } : undefined;
    }
    const { from, price: startPrice } = this.startOf();
    const hit = firstHit(this.path, from, Number(startPrice), { dir: buy ? "down" : "up", level: L, strict });
    if (!hit) return undefined;
    return {
      order: o,
      pos: hit.pos,
      stop: false,
      index,
      price,
      cursor: { pos: hit.pos, price: hit.atStart ? startPrice : limit },
    };
  }

  // ── executions ──

  protected replace(o: WorkingOrder, u: WorkingOrder): void {
    const i = this.s.orders.indexOf(o);
    if (i < 0) throw new Error(`matching: order ${o.request.clientOrderId} is not the working one`);
    this.s.orders[i] = u;
  }

  private remove(o: WorkingOrder): void {
    this.s.orders = this.s.orders.filter((x) => x.request.clientOrderId !== o.request.clientOrderId);
  }

  protected expire(o: WorkingOrder, reason: string, time: number, expiryReason?: number): void {
    this.remove(o);
    const { symbol, clientOrderId } = o.request;
    this.reports.push(
      expiryReason === undefined
        ? { kind: "expired", time, symbol, clientOrderId, reason }
        : { kind: "expired", time, symbol, clientOrderId, reason, expiryReason },
    );
  }

  protected budgetLeft(): Dec | undefined {
    const b = this.progress.budget;
    return b === undefined ? undefined : new Dec(b);
  }

  protected trigger(hit: Hit): void {
    const { order } = hit;
    const r = order.request;
    const time = this.bar.closeTime;
    const { symbol, clientOrderId } = r;
    this.reports.push({
      kind: "triggering",
      time,
      symbol,
      clientOrderId,
      workingType: hit.workingType!,
      triggeredAt: hit.triggeredAt!,
    });
    if (r.priceProtect && hit.workingType === "MARK_PRICE") {
      const m = new Dec(hit.triggeredAt!);
      const ratio = m.minus(hit.price).abs().div(m);
      const limit = this.o.instrument(symbol).triggerProtect;
      if (ratio.gt(limit)) {
        this.remove(order);
        const reason = `priceProtect: |mark − last| / mark = ${canonical(ratio.toDecimalPlaces(8))} > triggerProtect ${limit}`;
        this.reports.push({ kind: "rejected", time, symbol, clientOrderId, code: -2010, reason });
        return;
      }
    }
    this.s.orderSeq += 1;
    const actualType = r.type === "STOP" || r.type === "TAKE_PROFIT" ? "LIMIT" : "MARKET";
    this.reports.push({
      kind: "triggered",
      time,
      symbol,
      clientOrderId,
      orderId: String(this.s.orderSeq),
      actualType,
    });
    const triggered: WorkingOrder = { ...order, stage: "pending", actualType };
    this.replace(order, triggered);
    if (this.o.triggerLatencyMs > 0) {
      this.replace(triggered, { ...triggered, workingFrom: this.bar.openTime + this.o.triggerLatencyMs });
      return;
    }
    this.arrive(triggered, hit.price, time);
  }

  /**
   * A regular order reaches the matching engine at trade price `p`: MARKET takes; LIMIT takes when it crosses
   * `p` (capped at its price), else rests (IOC/FOK expire, GTX expires when it would take).
   */
  protected arrive(o: WorkingOrder, p: string, time: number): void {
    this.arriveAt(o, fillPriceWithSlippage(p, o.request.side, this.o.slippage), p, time);
  }

  /**
   * `arrive` once the taker price is known: a MARKET takes at `taker`; a LIMIT that crosses the market price
   * `p` takes at `taker` capped at its price, else rests or expires by its time in force (GTX, IOC, FOK).
   */
  protected arriveAt(o: WorkingOrder, taker: string, p: string, time: number): void {
    const r = o.request;
    const type = o.actualType ?? r.type;
    if (type === "MARKET") {
      this.take(o, taker, p, time);
      return;
    }
    const limit = r.price!;
    const tif = r.timeInForce ?? "GTC";
    const cross = crosses(r.side, limit, p);
    if (cross && tif === "GTX") {
      this.expire(o, "post-only (GTX) order would take liquidity", time);
      return;
    }
    if (!cross) {
      if (tif === "IOC") {
        this.expire(o, "IOC order not filled: it does not cross the market", time, 2);
        return;
      }
      if (tif === "FOK") {
        this.expire(o, "FOK order not filled: it does not cross the market", time);
        return;
      }
      this.toBook(o);
      return;
    }
    const capped = r.side === "BUY" ? Dec.min(taker, limit) : Dec.max(taker, limit);
    this.take(o, canonical(capped), p, time);
  }

  protected toBook(o: WorkingOrder): void {
    const current = this.current(o);
    const { pos, price } = this.progress;
    const u: WorkingOrder = {
      ...current,
      stage: "book",
      entered: { openTime: this.bar.openTime, pos, price },
    };
    this.replace(current, u);
  }

  /** Quantity the order may fill now (reduce-only / closePosition capped at the position), or why none. */
  protected wanted(o: WorkingOrder): { qty: Dec } | { expire: string } {
    const r = o.request;
    const position = new Dec(positionOf(this.view, r));
    const total = orderQty(r);
    let want = total === undefined ? position.abs() : total.minus(o.executedQty);
    if (closingOrder(r)) {
      if (!reduces(position, r.side))
        return {
          expire: r.closePosition
            ? "closePosition order: no position to close"
            : r.reduceOnly
              ? "reduce-only order would not reduce the position"
              : `closing order: no ${r.positionSide} position to close`,
        };
      want = Dec.min(want, position.abs());
    }
    if (want.lte(0)) return { expire: "nothing left to fill" };
    return { qty: want };
  }

  /** A taker execution at `price` (slippage included); `model` is the unslipped price (for STP). */
  protected take(o: WorkingOrder, price: string, model: string, time: number): void {
    const r = o.request;
    const tif = r.timeInForce;
    const w = this.wanted(o);
    if ("expire" in w) {
      this.expire(o, w.expire, time, 4);
      return;
    }
    if (this.selfTrade(o, model, time)) return;
    const budget = this.budgetLeft();
    const qty = budget === undefined ? w.qty : Dec.min(w.qty, budget);
    if (tif === "FOK" && qty.lt(w.qty)) {
      this.expire(o, "FOK order could not be filled completely", time);
      return;
    }
    if (qty.isZero()) {
      if (tif === "IOC") {
        this.expire(o, "IOC order not filled: no volume left in the bar", time, 2);
        return;
      }
      const current = this.current(o);
      if ((current.actualType ?? r.type) === "LIMIT") this.toBook(current);
      else this.replace(current, { ...current, stage: "pending" });
      return;
    }
    const rest = this.fill(o, price, qty, false, time);
    if (!rest) return;
    if (tif === "IOC") {
      this.expire(rest, "IOC order: the rest is canceled", time, 2);
      return;
    }
    if ((rest.actualType ?? r.type) === "LIMIT") this.toBook(rest);
  }

  protected current(o: WorkingOrder): WorkingOrder {
    return this.view.orders.find((x) => x.request.clientOrderId === o.request.clientOrderId)!;
  }

  /** A resting LIMIT trades as a maker at `hit.price`. */
  private makerFill(hit: Hit): void {
    const time = this.bar.closeTime;
    const w = this.wanted(hit.order);
    if ("expire" in w) {
      this.expire(hit.order, w.expire, time, 4);
      return;
    }
    const budget = this.budgetLeft();
    const qty = budget === undefined ? w.qty : Dec.min(w.qty, budget);
    this.fill(hit.order, hit.price, qty, true, time);
  }

  /**
   * Books a fill of `qty` (> 0) at `price` on the venue's position and reports it. Returns the order as it
   * still works (the rest), or undefined when complete.
   */
  protected fill(
    o: WorkingOrder,
    price: string,
    qty: Dec,
    maker: boolean,
    time: number,
  ): WorkingOrder | undefined {
    const r = o.request;
    const position = new Dec(positionOf(this.s, r));
    const after = position.plus(r.side === "BUY" ? qty : qty.neg());
    this.s.positions[positionKey(r.symbol, r.positionSide)] = canonical(after);
    const budget = this.budgetLeft();
    if (budget !== undefined)
      this.s.bars[r.symbol] = { ...this.progress, budget: canonical(budget.minus(qty)) };
    const cumulative = qty.plus(o.executedQty);
    const total = orderQty(r);
    const closing = closingOrder(r) && after.isZero();
    const done = closing || (total !== undefined && cumulative.gte(total));
    this.s.tradeSeq += 1;
    const quantity = canonical(qty);
    this.reports.push({
      kind: "fill",
      time,
      fill: {
        symbol: r.symbol,
        clientOrderId: r.clientOrderId,
        tradeId: String(this.s.tradeSeq),
        side: r.side,
        price,
        quantity,
        cumulativeQuantity: canonical(cumulative),
        status: done ? "FILLED" : "PARTIALLY_FILLED",
        maker,
        commission: commission(price, quantity, maker ? this.o.makerRate : this.o.takerRate),
      },
    });
    const current = this.current(o);
    if (done) {
      this.remove(current);
      return undefined;
    }
    const rest: WorkingOrder = { ...current, executedQty: canonical(cumulative) };
    this.replace(current, rest);
    return rest;
  }

  /**
   * Self-trade prevention for taker `o` at model price `p` against our resting LIMITs on the other side.
   * @returns true when the taker was expired.
   */
  protected selfTrade(o: WorkingOrder, p: string, time: number): boolean {
    const r = o.request;
    const mode = r.selfTradePreventionMode ?? "NONE";
    const tif = r.timeInForce;
    if (mode === "NONE" || tif === "FOK" || tif === "GTX") return false;
    const v = Number(p);
    const makers = this.mine().filter(
      (m) =>
        m.stage === "book" &&
        m.request.side !== r.side &&
        (r.side === "BUY" ? Number(m.request.price) <= v : Number(m.request.price) >= v),
    );
    if (makers.length === 0) return false;
    if (mode === "EXPIRE_MAKER" || mode === "EXPIRE_BOTH") {
      for (const m of makers)
        this.expire(m, `self-trade prevention (${mode}) against ${r.clientOrderId}`, time, 1);
    }
    if (mode === "EXPIRE_TAKER" || mode === "EXPIRE_BOTH") {
      this.expire(
        o,
        `self-trade prevention (${mode}) against ${makers[0]!.request.clientOrderId}`,
        time,
        tif === "IOC" ? 3 : 1,
      );
      return true;
    }
    return false;
  }
}

/** Whether hit `a` happens before `b`: path position, then stop-type first, then submission order. */
function before(a: Hit, b: Hit): boolean {
  if (a.pos !== b.pos) return a.pos < b.pos;
  if (a.stop !== b.stop) return a.stop;
  return a.index < b.index;
}
