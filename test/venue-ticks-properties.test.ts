/**
 * Properties of tick matching (src/adapters/venue/simulated/tick-matching.ts) over random ETHUSDT tick streams
 * (trades, bookTicker updates, mark prices; with and without a book) interleaved with random orders of every
 * type and cancels, under random options (fill rule, participation, latency, slippage):
 *
 * - No fill outside [min, max] of the trade, bid and ask prices applied so far (× (1 ± slippage) for a taker
 *   at the last trade price when there is no book).
 * - An order's cumulative quantity never exceeds its quantity and is the sum of its fills.
 * - Participation: our maker fills on one trade total at most floor(rate × its qty); without a book, our taker
 *   fills against a trade's budget count too.
 * - Takers never take more than the quantity a bookTicker displayed at its best price.
 * - Determinism: the same inputs give the same reports and state, also when the state went through JSON (a
 *   checkpoint) between two items.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Tick } from "../src/adapters/market/ticks.ts";
import {
  cancelOrder,
  initialMatchingState,
  type MatchingOptions,
  type MatchingState,
  submitOrder,
} from "../src/adapters/venue/simulated/matching.ts";
import { endTick, startTick, tickStep } from "../src/adapters/venue/simulated/tick-matching.ts";
import { Dec, floorToStep } from "../src/domain/decimal.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import { order, T0 } from "./support/venue-harness.ts";

const SYMBOL = "ETHUSDT";
const STEP = getInstrument(SYMBOL).stepSize;
const GRID = new Dec("0.05");

const tickAction = fc.record({
  kind: fc.constantFrom("trade", "trade", "trade", "book", "book", "mark"),
  move: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -30, max: 30 })),
  spread: fc.integer({ min: 1, max: 4 }),
  qty: fc.constantFrom("0.001", "0.2", "1", "3", "7.5"),
  buyerMaker: fc.boolean(),
  dt: fc.constantFrom(0, 1, 7, 250),
});
const orderAction = fc.record({
  kind: fc.constant("order" as const),
  type: fc.constantFrom<OrderRequest["type"]>(
    "LIMIT",
    "LIMIT",
    "LIMIT",
    "MARKET",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
  ),
  side: fc.constantFrom<"BUY" | "SELL">("BUY", "SELL"),
  qty: fc.integer({ min: 1, max: 8 }),
  offset: fc.integer({ min: -40, max: 40 }),
  offset2: fc.integer({ min: -10, max: 10 }),
  tif: fc.constantFrom("GTC", "IOC", "FOK", "GTX"),
  reduceOnly: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  mark: fc.boolean(),
  callback: fc.integer({ min: 1, max: 50 }),
});
const cancelAction = fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() });
const actions = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: tickAction.map((t) => ({ ...t, tick: true as const })) },
    { weight: 3, arbitrary: orderAction },
    { weight: 1, arbitrary: cancelAction },
  ),
  { minLength: 20, maxLength: 120 },
);
const optionsArb = fc.record({
  limitFillRule: fc.constantFrom<"through" | "touch">("through", "touch"),
  participationRate: fc.constantFrom<string | undefined>(undefined, "0.3", "1"),
  submitLatencyMs: fc.constantFrom(0, 5, 300),
  triggerLatencyMs: fc.constantFrom(0, 100),
  slippage: fc.constantFrom("0", "0.001"),
  withBook: fc.boolean(),
});
type OptionChoice = typeof optionsArb extends fc.Arbitrary<infer T> ? T : never;
type Action = typeof actions extends fc.Arbitrary<(infer A)[]> ? A : never;
type Item =
  | { kind: "tick"; tick: Tick }
  | { kind: "order"; request: OrderRequest }
  | { kind: "cancel"; id: string };

function matchingOptions(o: OptionChoice): MatchingOptions {
  return {
    instrument: getInstrument,
    takerRate: "0.0005",
    makerRate: "0.0002",
    slippage: o.slippage,
    intrabarPath: "stopFirst",
    limitFillRule: o.limitFillRule,
    participationRate: o.participationRate,
    submitLatencyMs: o.submitLatencyMs,
    triggerLatencyMs: o.triggerLatencyMs,
    maxOpenConditionalOrders: 200,
    dualSidePosition: false,
  };
}

const clamp = (p: Dec) => Dec.max(60, Dec.min(140, p));

/** Turns actions into ticks (prices on a 0.05 grid, a random walk from 100) and orders around the last price. */
function concretise(list: Action[], withBook: boolean): Item[] {
  let price = new Dec(100);
  let time = T0;
  let id = 0;
  let n = 0;
  const ids: string[] = [];
  const out: Item[] = [
    {
      kind: "tick",
      tick: { kind: "trade", symbol: SYMBOL, time, id: id++, price: "100", qty: "1", buyerMaker: true },
    },
  ];
  for (const a of list) {
    if ("tick" in a) {
      time += a.dt;
      price = clamp(price.plus(GRID.times(a.move)));
      const p = price.toFixed(2);
      if (a.kind === "trade")
        out.push({
          kind: "tick",
          tick: {
            kind: "trade",
            symbol: SYMBOL,
            time,
            id: id++,
            price: p,
            qty: a.qty,
            buyerMaker: a.buyerMaker,
          },
        });
      else if (a.kind === "book" && withBook)
        out.push({
          kind: "tick",
          tick: {
            kind: "book",
            symbol: SYMBOL,
            time,
            updateId: id++,
            bidPrice: price.minus(GRID.times(a.spread)).toFixed(2),
            bidQty: a.qty,
            askPrice: p,
            askQty: a.qty,
          },
        });
      else if (a.kind === "mark")
        out.push({
          kind: "tick",
          tick: { kind: "mark", symbol: SYMBOL, time, markPrice: price.plus("0.013").toFixed(3) },
        });
    } else if (a.kind === "order") {
      n += 1;
      const cid = `o${n}`;
      ids.push(cid);
      const at = (off: number) => clamp(price.plus(GRID.times(off))).toFixed(2);
      const r = order(cid, {
        side: a.side,
        type: a.type,
        quantity: new Dec(a.qty).times("0.5").toFixed(),
        reduceOnly: a.reduceOnly,
      });
      if (a.type === "LIMIT" || a.type === "STOP") {
        r.price = at(a.type === "LIMIT" ? a.offset : a.offset + a.offset2);
        r.timeInForce = a.tif;
      }
      if (a.type === "STOP" || a.type === "STOP_MARKET" || a.type === "TAKE_PROFIT_MARKET")
        r.triggerPrice = at(a.offset);
      if (a.type === "TRAILING_STOP_MARKET") {
        r.callbackRate = new Dec(a.callback).div(10).toFixed();
        if (a.offset2 !== 0) r.activatePrice = at(a.offset2);
      }
      if (a.type !== "LIMIT" && a.type !== "MARKET") r.workingType = a.mark ? "MARK_PRICE" : "CONTRACT_PRICE";
      out.push({ kind: "order", request: r });
    } else if (ids.length > 0) {
      out.push({ kind: "cancel", id: ids[a.pick % ids.length]! });
    }
  }
  return out;
}

interface Fill {
  clientOrderId: string;
  price: string;
  quantity: string;
  cumulativeQuantity: string;
  maker: boolean;
}

/** Runs the items through the pure core, checking the per-step properties; returns the reports and final state. */
function run(items: Item[], o: OptionChoice, cut = -1) {
  const options = matchingOptions(o);
  let state: MatchingState = initialMatchingState();
  const reports: VenueReport[] = [];
  const requests = new Map<string, OrderRequest>();
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  // the market our fills are attributed to: the latest quote and trade applied, with what our fills used of them
  let quote: { displayed: { BUY: Dec; SELL: Dec }; used: { BUY: Dec; SELL: Dec } } | undefined;
  let trade: { budget: Dec | undefined; used: Dec } | undefined;
  const slip = Number(o.slippage);
  for (const [k, item] of items.entries()) {
    // a checkpoint: the state through JSON, as the backtest stores and restores it
    if (k === cut) state = JSON.parse(JSON.stringify(state)) as MatchingState;
    if (item.kind === "order") {
      const r = submitOrder(state, item.request, options);
      state = r.state;
      if (r.result.accepted) requests.set(item.request.clientOrderId, item.request);
      continue;
    }
    if (item.kind === "cancel") {
      state = cancelOrder(state, SYMBOL, item.id).state;
      continue;
    }
    const t = item.tick;
    state = startTick(state, t);
    for (let steps = 0; ; steps++) {
      expect(steps).toBeLessThan(10_000);
      const phase = state.bars[SYMBOL]!.phase;
      const r = tickStep(state, t, options);
      if (!r) break;
      state = r.state;
      if (phase === "open" && state.bars[SYMBOL]!.phase === "path") {
        // the tick was applied
        if (t.kind === "trade") {
          lo = Math.min(lo, Number(t.price));
          hi = Math.max(hi, Number(t.price));
          const budget =
            o.participationRate === undefined
              ? undefined
              : floorToStep(new Dec(t.qty).times(o.participationRate), STEP);
          trade = { budget, used: new Dec(0) };
        } else if (t.kind === "book") {
          lo = Math.min(lo, Number(t.bidPrice));
          hi = Math.max(hi, Number(t.askPrice));
          quote = {
            displayed: { BUY: new Dec(t.askQty), SELL: new Dec(t.bidQty) },
            used: { BUY: new Dec(0), SELL: new Dec(0) },
          };
        }
      }
      for (const rep of r.reports) {
        reports.push(rep);
        if (rep.kind !== "fill") continue;
        const f = rep.fill as Fill & { side: "BUY" | "SELL" };
        const p = Number(f.price);
        const taker = !f.maker;
        const widen = taker && !quote ? slip : 0;
        expect(p).toBeGreaterThanOrEqual(lo * (1 - widen) - 1e-9);
        expect(p).toBeLessThanOrEqual(hi * (1 + widen) + 1e-9);
        const qty = new Dec(f.quantity);
        if (taker && quote) {
          quote.used[f.side] = quote.used[f.side].plus(qty);
          expect(quote.used[f.side].lte(quote.displayed[f.side])).toBe(true);
        } else if (trade) {
          // makers fill only on a trade, in its "after" phase: the trade just applied
          if (f.maker) expect(t.kind).toBe("trade");
          trade.used = trade.used.plus(qty);
          if (trade.budget !== undefined) expect(trade.used.lte(trade.budget)).toBe(true);
        }
        const req = requests.get(f.clientOrderId)!;
        if (req.quantity !== undefined) expect(new Dec(f.cumulativeQuantity).lte(req.quantity)).toBe(true);
      }
    }
    state = endTick(state, t);
  }
  return { reports, state };
}

describe("tick matching properties", () => {
  it("fills inside the prices seen, within the order's quantity, the participation and the displayed quantity; deterministic across a checkpoint", () => {
    fc.assert(
      fc.property(actions, optionsArb, fc.nat(), (list, o, cutAt) => {
        const items = concretise(list, o.withBook);
        const first = run(items, o);
        const sums = new Map<string, Dec>();
        for (const r of first.reports) {
          if (r.kind !== "fill") continue;
          const sum = (sums.get(r.fill.clientOrderId) ?? new Dec(0)).plus(r.fill.quantity);
          sums.set(r.fill.clientOrderId, sum);
          expect(new Dec(r.fill.cumulativeQuantity).eq(sum)).toBe(true);
        }
        const again = run(items, o, cutAt % items.length);
        expect(JSON.stringify(again)).toBe(JSON.stringify(first));
      }),
      { numRuns: 300 },
    );
  });
});
