/**
 * Properties of the simulated venue over random runs: random ETHUSDT 1m bars (with and without a mark-price bar)
 * interleaved with random orders of every type, time in force and flag, and cancels, under random options
 * (intrabar path, fill rule, participation, latency, slippage).
 *
 * - No fill outside its bar's [low, high]: a maker fill lies in [low, high] exactly; a taker fill is the
 *   modelled price × (1 ± slippage), so it is checked against [low × (1 − slippage), high × (1 + slippage)].
 * - An order's cumulative quantity never exceeds its quantity and is the sum of its fills.
 * - A reduce-only or closePosition fill never increases or flips the position.
 * - The venue's positions are the sums of its fills.
 * - Determinism: the same inputs give the same reports and state.
 * - snapshot() → JSON → restore() mid-run continues exactly as the uninterrupted run.
 * - Through OrderExecution, every report is a legal transition of the order machine.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INTRABAR_PATH_MODES } from "../src/adapters/venue/simulated/intrabar-path.ts";
import {
  cancelOrder,
  initialMatchingState,
  type MarkBar,
  type MatchBar,
  type MatchingOptions,
  type MatchingState,
  matchBar,
  submitOrder,
} from "../src/adapters/venue/simulated/matching.ts";
import { isQuietBar } from "../src/adapters/venue/simulated/quiet-bar.ts";
import { SimulatedVenue } from "../src/adapters/venue/simulated/venue.ts";
import { Dec } from "../src/domain/decimal.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import type { OrderRequest, VenueReport } from "../src/engine/venue.ts";
import { order, T0, venueHarness } from "./support/venue-harness.ts";

const SYMBOL = "ETHUSDT";
const TICK = new Dec("0.1");

type Action =
  | { kind: "bar"; move: number; up: number; down: number; close: number; volume: number; mark?: number }
  | {
      kind: "order";
      type: OrderRequest["type"];
      side: "BUY" | "SELL";
      qty: number;
      offset: number;
      offset2: number;
      tif: "GTC" | "IOC" | "FOK" | "GTX" | "GTD";
      reduceOnly: boolean;
      closePosition: boolean;
      mark: boolean;
      priceProtect: boolean;
      callback: number;
      stp: "NONE" | "EXPIRE_TAKER" | "EXPIRE_MAKER" | "EXPIRE_BOTH";
    }
  | { kind: "cancel"; pick: number };

const barAction = fc.record({
  kind: fc.constant("bar" as const),
  // sometimes a gap far past resting orders and triggers
  move: fc.oneof(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -80, max: 80 })),
  up: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 30 })),
  down: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 30 })),
  close: fc.integer({ min: -25, max: 25 }),
  volume: fc.integer({ min: 0, max: 12 }),
  mark: fc.option(fc.integer({ min: -80, max: 80 }), { nil: undefined }),
});
const orderAction = fc.record({
  kind: fc.constant("order" as const),
  type: fc.constantFrom<OrderRequest["type"]>(
    "LIMIT",
    "LIMIT",
    "MARKET",
    "MARKET",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
  ),
  side: fc.constantFrom<"BUY" | "SELL">("BUY", "SELL"),
  qty: fc.integer({ min: 1, max: 6 }),
  offset: fc.integer({ min: -40, max: 40 }),
  offset2: fc.integer({ min: -20, max: 20 }),
  tif: fc.constantFrom("GTC", "IOC", "FOK", "GTX", "GTD"),
  reduceOnly: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  closePosition: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  mark: fc.boolean(),
  priceProtect: fc.boolean(),
  callback: fc.integer({ min: 1, max: 100 }),
  stp: fc.constantFrom("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"),
});
const cancelAction = fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() });
const actions = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: barAction },
    { weight: 4, arbitrary: orderAction },
    { weight: 1, arbitrary: cancelAction },
  ),
  {
    minLength: 20,
    maxLength: 100,
    size: "large",
  },
);

const optionsArb = fc.record({
  intrabarPath: fc.constantFrom(...INTRABAR_PATH_MODES),
  limitFillRule: fc.constantFrom<"through" | "touch">("through", "touch"),
  participationRate: fc.constantFrom<string | undefined>(undefined, "0.3", "1"),
  submitLatencyMs: fc.constantFrom(0, 5000),
  triggerLatencyMs: fc.constantFrom(0, 1000),
  slippage: fc.constantFrom("0", "0.001"),
});
type OptionChoice = typeof optionsArb extends fc.Arbitrary<infer T> ? T : never;

function matchingOptions(o: OptionChoice): MatchingOptions {
  return {
    ...o,
    instrument: getInstrument,
    takerRate: "0.0005",
    makerRate: "0.0002",
    maxOpenConditionalOrders: 200,
    dualSidePosition: false,
  };
}

const clamp = (p: Dec) => Dec.max(60, Dec.min(140, p));

/** Turns actions into concrete bars and orders (prices on a 0.1 grid around the last close). */
function concretise(list: Action[]) {
  let close = new Dec(100);
  let i = 0;
  let n = 0;
  const ids: string[] = [];
  const out: (
    | { kind: "bar"; bar: MatchBar; mark?: MarkBar }
    | { kind: "order"; request: OrderRequest }
    | { kind: "cancel"; id: string }
  )[] = [{ kind: "bar", bar: bar(0, close, close, close, close, "10") }];
  function bar(k: number, o: Dec, h: Dec, l: Dec, c: Dec, volume: string): MatchBar {
    const openTime = T0 + k * 60_000;
    const s = (d: Dec) => d.toFixed(1);
    return {
      symbol: SYMBOL,
      openTime,
      closeTime: openTime + 59_999,
      open: s(o),
      high: s(h),
      low: s(l),
      close: s(c),
      volume,
    };
  }
  for (const a of list) {
    if (a.kind === "bar") {
      i += 1;
      const o = clamp(close.plus(TICK.times(a.move)));
      const c = clamp(o.plus(TICK.times(a.close)));
      const h = Dec.max(o, c).plus(TICK.times(a.up));
      const l = Dec.max(50, Dec.min(o, c).minus(TICK.times(a.down)));
      const b = bar(i, o, h, l, c, String(a.volume));
      const shift = a.mark === undefined ? undefined : TICK.times(a.mark);
      const mark = shift && {
        openTime: b.openTime,
        open: o.plus(shift).toFixed(1),
        high: h.plus(shift).toFixed(1),
        low: l.plus(shift).toFixed(1),
        close: c.plus(shift).toFixed(1),
      };
      out.push(mark ? { kind: "bar", bar: b, mark } : { kind: "bar", bar: b });
      close = c;
    } else if (a.kind === "order") {
      n += 1;
      const id = `o${n}`;
      ids.push(id);
      const p = (off: number) => clamp(close.plus(TICK.times(off))).toFixed(1);
      const r: OrderRequest = order(id, {
        side: a.side,
        type: a.type,
        quantity: new Dec(a.qty).times("0.5").toFixed(),
        reduceOnly: a.reduceOnly,
      });
      if (a.type === "LIMIT" || a.type === "STOP" || a.type === "TAKE_PROFIT") {
        r.price = p(a.type === "LIMIT" ? a.offset : a.offset + a.offset2);
        r.timeInForce = a.tif;
        // more than 600 s ahead (§2.2), expiring within the run
        if (a.tif === "GTD") r.goodTillDate = T0 + (i + 11 + (a.qty % 3)) * 60_000 + 30_000;
      }
      if (a.type !== "LIMIT" && a.type !== "MARKET" && a.type !== "TRAILING_STOP_MARKET")
        r.triggerPrice = p(a.offset);
      if (a.type === "TRAILING_STOP_MARKET") {
        r.callbackRate = new Dec(a.callback).div(10).toFixed();
        if (a.offset2 !== 0) r.activatePrice = p(a.offset2);
      }
      if (a.type !== "LIMIT" && a.type !== "MARKET") {
        r.workingType = a.mark ? "MARK_PRICE" : "CONTRACT_PRICE";
        if (a.type !== "TRAILING_STOP_MARKET") r.priceProtect = a.priceProtect; // not a trailing parameter
      }
      if ((a.type === "STOP_MARKET" || a.type === "TAKE_PROFIT_MARKET") && a.closePosition) {
        delete r.quantity;
        r.reduceOnly = false;
        r.closePosition = true;
      }
      if (a.stp !== "NONE") r.selfTradePreventionMode = a.stp;
      out.push({ kind: "order", request: r });
    } else if (ids.length > 0) {
      out.push({ kind: "cancel", id: ids[a.pick % ids.length]! });
    }
  }
  return out;
}

type Step = ReturnType<typeof concretise>[number];

/** Runs the pure core over `steps`: reports per bar (with the bar), submit results, final state. */
function runPure(steps: Step[], options: MatchingOptions) {
  let state: MatchingState = initialMatchingState();
  const perBar: { bar: MatchBar; reports: VenueReport[] }[] = [];
  const submits: unknown[] = [];
  for (const s of steps) {
    if (s.kind === "bar") {
      const r = matchBar(state, s.bar, s.mark, options);
      state = r.state;
      perBar.push({ bar: s.bar, reports: r.reports });
    } else if (s.kind === "order") {
      const r = submitOrder(state, s.request, options);
      state = r.state;
      submits.push(r.result);
    } else {
      const r = cancelOrder(state, SYMBOL, s.id);
      state = r.state;
      submits.push(r.result);
    }
  }
  return { state, perBar, submits };
}

describe("simulated venue properties", () => {
  it("fills stay inside their bar, never overfill, reduce-only never flips, positions add up", () => {
    fc.assert(
      fc.property(actions, optionsArb, (list, choice) => {
        const options = matchingOptions(choice);
        const steps = concretise(list);
        const requests = new Map(
          steps.flatMap((s) => (s.kind === "order" ? [[s.request.clientOrderId, s.request] as const] : [])),
        );
        const { state, perBar } = runPure(steps, options);
        const slip = new Dec(options.slippage);
        let position = new Dec(0);
        const cumulative = new Map<string, Dec>();
        for (const { bar, reports } of perBar) {
          for (const r of reports) {
            if (r.kind !== "fill") continue;
            const f = r.fill;
            const price = new Dec(f.price);
            const [lo, hi] = f.maker
              ? [new Dec(bar.low), new Dec(bar.high)]
              : [new Dec(bar.low).times(Dec.sub(1, slip)), new Dec(bar.high).times(Dec.add(1, slip))];
            expect(
              price.gte(lo) && price.lte(hi),
              `${f.clientOrderId} at ${f.price} outside [${lo}, ${hi}]`,
            ).toBe(true);
            const req = requests.get(f.clientOrderId)!;
            const cum = (cumulative.get(f.clientOrderId) ?? new Dec(0)).plus(f.quantity);
            cumulative.set(f.clientOrderId, cum);
            expect(cum.toFixed()).toBe(new Dec(f.cumulativeQuantity).toFixed());
            if (req.quantity !== undefined) expect(cum.lte(req.quantity)).toBe(true);
            expect(new Dec(f.quantity).gt(0)).toBe(true);
            const after = position.plus(f.side === "BUY" ? f.quantity : new Dec(f.quantity).neg());
            if (req.reduceOnly || req.closePosition) {
              expect(after.abs().lt(position.abs())).toBe(true);
              expect(after.isZero() || after.isNeg() === position.isNeg()).toBe(true);
            }
            position = after;
          }
        }
        expect(new Dec(state.positions[SYMBOL] ?? "0").toFixed()).toBe(position.toFixed());
        expect(state.bars).toEqual({});
      }),
      { numRuns: 300 },
    );
  });

  it("is deterministic: the same inputs give the same reports and state", () => {
    fc.assert(
      fc.property(actions, optionsArb, (list, choice) => {
        const steps = concretise(list);
        const a = runPure(steps, matchingOptions(choice));
        const b = runPure(steps, matchingOptions(choice));
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      }),
      { numRuns: 100 },
    );
  });

  it("snapshot → JSON → restore mid-run continues as the uninterrupted run", async () => {
    await fc.assert(
      fc.asyncProperty(actions, optionsArb, fc.nat(), async (list, choice, cut) => {
        const steps = concretise(list);
        const k = cut % (steps.length + 1);
        const make = () =>
          new SimulatedVenue({
            ...choice,
            takerRate: "0.0005",
            makerRate: "0.0002",
            instrument: getInstrument,
          });
        const drive = async (venue: SimulatedVenue, part: Step[]) => {
          const out: unknown[] = [];
          for (const s of part) {
            if (s.kind === "bar") await venue.matchBar(s.bar, async (r) => void out.push(r), s.mark);
            else if (s.kind === "order") out.push(await venue.submit(s.request));
            else out.push(await venue.cancel(SYMBOL, s.id));
          }
          return out;
        };
        const whole = make();
        const first = await drive(whole, steps.slice(0, k));
        const rest = await drive(whole, steps.slice(k));
        const before = make();
        expect(await drive(before, steps.slice(0, k))).toEqual(first);
        const resumed = make();
        resumed.restore(JSON.parse(JSON.stringify(before.snapshot())));
        expect(await drive(resumed, steps.slice(k))).toEqual(rest);
        expect(resumed.snapshot()).toEqual(whole.snapshot());
      }),
      { numRuns: 100 },
    );
  });

  it("the venue's quiet-bar shortcut changes nothing: same reports and state as the full match", async () => {
    let quietWithOrders = 0;
    await fc.assert(
      fc.asyncProperty(actions, optionsArb, async (list, choice) => {
        const options = matchingOptions(choice);
        const venue = new SimulatedVenue({
          ...choice,
          takerRate: "0.0005",
          makerRate: "0.0002",
          instrument: getInstrument,
        });
        let state: MatchingState = initialMatchingState();
        for (const s of concretise(list)) {
          if (s.kind === "bar") {
            const quiet = isQuietBar(venue.snapshot(), s.bar, s.mark, options);
            if (quiet && venue.snapshot().orders.length > 0) quietWithOrders++;
            const reports: VenueReport[] = [];
            await venue.matchBar(s.bar, async (r) => void reports.push(r), s.mark);
            const full = matchBar(state, s.bar, s.mark, options);
            state = full.state;
            expect(reports).toEqual(full.reports);
            if (quiet) expect(reports).toEqual([]);
          } else if (s.kind === "order") {
            const r = submitOrder(state, s.request, options);
            state = r.state;
            expect(await venue.submit(s.request)).toEqual(r.result);
          } else {
            const r = cancelOrder(state, SYMBOL, s.id);
            state = r.state;
            expect(await venue.cancel(SYMBOL, s.id)).toEqual(r.result);
          }
          expect(venue.snapshot()).toEqual(state);
        }
      }),
      { numRuns: 150 },
    );
    // The shortcut was taken with working orders (untriggered stops and take-profits out of reach), not only idle.
    expect(quietWithOrders).toBeGreaterThan(20);
  });

  it("every report is a legal transition of the order machine (through OrderExecution)", async () => {
    await fc.assert(
      fc.asyncProperty(actions, optionsArb, async (list, choice) => {
        const h = await venueHarness({ ...choice });
        for (const s of concretise(list)) {
          if (s.kind === "bar") await h.bar(s.bar, s.mark);
          else if (s.kind === "order") await h.submit(s.request);
          else await h.cancel(SYMBOL, s.id);
        }
      }),
      { numRuns: 40 },
    );
  });
});
