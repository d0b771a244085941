/**
 * The decision trace (src/projections/decisions.ts) on logs the real engine writes: toy strategies through the
 * trading engine and the simulated venue (factors → target → an order filled, one denied; factors without a
 * decision; a hold; a decision on a gap; a bracket whose stop and flatten are denied), and a real-data sma-cross
 * backtest, checked against an independent walk up the causation ids of the raw log.
 */
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import { foldProjections } from "../src/engine/log-fold.ts";
import type { DomainEvent, EventData, EventType } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import {
  createProjections,
  type DecisionView,
  type Projections,
  rebuildProjections,
} from "../src/projections/index.ts";
import {
  bracketRun,
  type DecisionRun,
  hedgeFlipRun,
  invalidRiskRun,
  targetRun,
} from "./support/decision-runs.ts";
import { requireRealData } from "./support/real-data.ts";

/** The events of `type` in `log`, in order. */
function ofType<T extends EventType>(log: RecordedEvent[], type: T) {
  return log.filter((e) => e.type === type) as RecordedEvent<Extract<DomainEvent, { type: T }>>[];
}

/**
 * The decision event an event of `log` descends from, found by walking causation ids up the raw log (an
 * independent reference for the projection): a venue's report (venue:trade:…, venue:expired:…) is caused by the
 * OrderSubmitted that opens its order's stream.
 */
function decisionWalker(log: RecordedEvent[]): (event: RecordedEvent) => RecordedEvent | undefined {
  const byId = new Map(log.map((e) => [e.eventId, e]));
  const first = new Map<string, RecordedEvent>();
  for (const e of log) if (!first.has(e.stream)) first.set(e.stream, e);
  return (event) => {
    let e: RecordedEvent | undefined = event;
    while (e && !["TargetPositionSet", "EntrySignalled", "SignalSuppressed"].includes(e.type)) {
      e =
        byId.get(e.metadata.causationId) ?? (e.stream.startsWith("order-") ? first.get(e.stream) : undefined);
      if (e?.type === "OrderSubmitted" && e !== event) e = byId.get(e.metadata.causationId);
    }
    return e;
  };
}

/**
 * Every OrderSubmitted of `log` is in exactly one of `traces`: the one whose decision its causation chain leads
 * to, with the causation id it was submitted with.
 */
function expectEveryOrderTraced(log: RecordedEvent[], p: Projections, traces: DecisionView[]): void {
  const submitted = ofType(log, "OrderSubmitted");
  expect(submitted.length).toBeGreaterThan(0);
  const traced = traces.flatMap((t) => t.orders.map((o) => o.clientOrderId));
  expect(traced.toSorted()).toEqual(submitted.map((e) => e.data.clientOrderId).toSorted());
  expect(new Set(traced).size).toBe(traced.length);
  const decisionAbove = decisionWalker(log);
  for (const order of submitted) {
    const expected = decisionAbove(order);
    expect(expected, order.data.clientOrderId).toBeDefined();
    const trace = p.decisionOf(order.data.clientOrderId)!;
    expect(trace.decision!.eventId).toBe(expected!.eventId);
    expect(trace.orders.find((o) => o.clientOrderId === order.data.clientOrderId)!.causationId).toBe(
      order.metadata.causationId,
    );
  }
}

describe("the decision trace of a target strategy recording factors", () => {
  let run: DecisionRun;
  let p: Projections;
  let traces: DecisionView[];
  beforeAll(async () => {
    run = await targetRun();
    p = await rebuildProjections(run.store.readAll());
    traces = p.decisions().decisions;
  });

  it("keeps one trace per decision step: factors and the decision they caused, or factors alone", () => {
    const factors = ofType(run.events, "FactorComputed");
    const targets = ofType(run.events, "TargetPositionSet");
    expect(factors).toHaveLength(4);
    expect(targets).toHaveLength(4);
    expect(traces.map((t) => [t.factors?.eventId, t.decision?.eventId])).toEqual([
      [factors[0]!.eventId, targets[0]!.eventId],
      [factors[1]!.eventId, targets[1]!.eventId],
      [factors[2]!.eventId, undefined], // the strategy decided nothing: factors alone
      [undefined, targets[2]!.eventId], // a hold without factors
      [factors[3]!.eventId, targets[3]!.eventId],
    ]);
    for (const t of traces) {
      expect(t).toMatchObject({ runId: "targets", symbol: "ETHUSDT", strategy: "toy-scripted" });
      if (t.factors && t.decision) expect(t.factors.position).toBeLessThan(t.decision.position);
    }
    expect(traces[0]!.factors).toMatchObject({
      type: "FactorComputed",
      data: { paramsVersion: 2, factors: { score: 0.5, price: "2001", warm: true } },
    });
    expect(traces[2]!.factors!.data.factors).toEqual({ score: null, price: null, warm: false });
    expect(traces[3]!.decision!.data).toMatchObject({ reason: "band", targetPositionAmt: "1" });
  });

  it("names the market event each decision was made on: the bar it closed, or the gap", () => {
    const bars = ofType(run.events, "BarClosed");
    const [gap] = ofType(run.events, "MarketDataGapDetected");
    expect(traces.map((t) => t.input)).toEqual([
      ...[0, 1, 2, 3].map((i) => ({
        type: "BarClosed",
        eventId: bars[i]!.eventId,
        symbol: "ETHUSDT",
        openTime: bars[i]!.data.openTime,
        closeTime: bars[i]!.data.closeTime,
        close: bars[i]!.data.close,
      })),
      {
        type: "MarketDataGapDetected",
        eventId: gap!.eventId,
        symbol: "ETHUSDT",
        fromOpenTime: gap!.data.fromOpenTime,
        toOpenTime: gap!.data.toOpenTime,
        missingBars: 1,
      },
    ]);
    // each decision's own causation id is its factors' id, or the bar's when it has none
    for (const t of traces) {
      const decision = run.events.find((e) => e.eventId === t.decision?.eventId);
      if (decision) expect(decision.metadata.causationId).toBe(t.factors?.eventId ?? t.input!.eventId);
    }
  });

  it("attaches each order with its request, status, denial and fills with their realized PnL", () => {
    const orders = traces.map((t) =>
      t.orders.map((o) => ({
        clientOrderId: o.clientOrderId,
        request: [o.side, o.type, o.quantity, o.reduceOnly, o.purpose],
        status: o.status,
        deniedBy: o.deniedBy?.rule ?? null,
        fills: o.fills.map((f) => [f.price, f.quantity, f.commission, f.realizedPnl]),
        causedByTheDecision: o.causationId === t.decision!.eventId,
      })),
    );
    expect(orders).toEqual([
      [
        {
          clientOrderId: "ps-ETHUSDT-000001-T",
          request: ["BUY", "MARKET", "1.000", false, "TARGET"],
          status: "FILLED",
          deniedBy: null,
          // bar 1's open, 2001 × 1 × 0.0005 taker fee; opening: no PnL
          fills: [["2001", "1", "1.0005", "0"]],
          causedByTheDecision: true,
        },
      ],
      [
        {
          clientOrderId: "ps-ETHUSDT-000002-T",
          request: ["BUY", "MARKET", "2.000", false, "TARGET"],
          status: "DENIED",
          deniedBy: "maxOrderNotional", // 2 × 2002 = 4004 USDT > 3000
          fills: [],
          causedByTheDecision: true,
        },
      ],
      [],
      [],
      [
        {
          clientOrderId: "ps-ETHUSDT-000003-T",
          request: ["SELL", "MARKET", "1.000", true, "TARGET"],
          status: "FILLED",
          deniedBy: null,
          // bar 6's open (after the gap): closes the long of 2001, realized 1 × (2006 − 2001)
          fills: [["2006", "1", "1.003", "5"]],
          causedByTheDecision: true,
        },
      ],
    ]);
    expect(traces[1]!.orders[0]!.deniedBy).toEqual(
      ofType(run.events, "OrderDenied").map(({ data: { rule, reason, numbers } }) => ({
        rule,
        reason,
        numbers,
      }))[0],
    );
  });

  it("finds the decision behind an order, filters by market time and pages", () => {
    expect(p.decisionOf("ps-ETHUSDT-000002-T")).toEqual(traces[1]);
    expect(p.decisionOf("ps-ETHUSDT-000009-T")).toBeUndefined();
    expect(p.decisions({ clientOrderId: "ps-ETHUSDT-000003-T" })).toEqual({
      total: 1,
      decisions: [traces[4]],
    });
    expect(p.decisions({ clientOrderId: "ps-ETHUSDT-000003-T", symbol: "BTCUSDT" }).total).toBe(0);
    const [t1, t2] = [traces[1]!.time, traces[3]!.time];
    expect(p.decisions({ from: t1, to: t2 }).decisions).toEqual(traces.slice(1, 4));
    expect(p.decisions({ from: t2 + 1 }).decisions).toEqual(traces.slice(4));
    expect(p.decisions({ limit: 2, offset: 1 })).toEqual({ total: 5, decisions: traces.slice(1, 3) });
    expect(p.decisions({ symbol: "BTCUSDT" })).toEqual({ total: 0, decisions: [] });
  });

  it("is in the projections' snapshot without global positions, and not in a backtest's log fold", async () => {
    const snapshot = p.snapshot().decisions;
    expect(snapshot).toHaveLength(5);
    expect(snapshot[0]!.decision).not.toHaveProperty("position");
    expect(snapshot[0]!.factors).not.toHaveProperty("position");
    expect(snapshot[0]).toEqual({
      ...traces[0],
      factors: { ...traces[0]!.factors, position: undefined },
      decision: { ...traces[0]!.decision, position: undefined },
    });
    const fold = foldProjections();
    for (const e of run.events) fold.apply(e);
    expect(fold.decisions()).toEqual({ total: 0, decisions: [] });
    expect(fold.summary()).toEqual(p.summary());
  });
});

describe("the decision trace of a bracket", () => {
  it("follows the entry's fill to its stop-loss, the stop's denial to the flatten, all on the entry's decision", async () => {
    const run = await bracketRun();
    const p = await rebuildProjections(run.store.readAll());
    const { total, decisions } = p.decisions();
    expect(total).toBe(1);
    const [signal] = ofType(run.events, "EntrySignalled");
    const [protection] = ofType(run.events, "PositionProtectionRequested");
    const [unprotected] = ofType(run.events, "PositionUnprotected");
    const trace = decisions[0]!;
    expect(trace.decision?.eventId).toBe(signal!.eventId);
    expect(trace.followUps.map((f) => [f.type, f.eventId])).toEqual([
      ["PositionProtectionRequested", protection!.eventId],
      ["PositionUnprotected", unprotected!.eventId],
    ]);
    expect(
      trace.orders.map((o) => [o.clientOrderId, o.purpose, o.status, o.deniedBy?.rule, o.causationId]),
    ).toEqual([
      ["ps-ETHUSDT-000001-E", "ENTRY", "FILLED", undefined, signal!.eventId],
      ["ps-ETHUSDT-000001-SL", "STOP_LOSS", "DENIED", "tradingStateHalted", protection!.eventId],
      ["ps-ETHUSDT-000001-FL", "FLATTEN", "DENIED", "tradingStateHalted", unprotected!.eventId],
    ]);
    expect(trace.orders[1]).toMatchObject({
      side: "BUY",
      type: "STOP_MARKET",
      triggerPrice: "2300.00",
      reduceOnly: true,
    });
    // why did the flatten exist: the entry's decision, its bar and the follow-ups that led to it
    expect(p.decisionOf("ps-ETHUSDT-000001-FL")).toEqual(trace);
    expect(p.decisionOf("ps-ETHUSDT-000001-SL")).toEqual(trace);
  });
});

describe("the decision trace of an entry filled beyond its stop, and of a hedge-mode flip", () => {
  it("puts the flatten of an invalid risk on the entry's decision, caused by InvalidRiskAtFill", async () => {
    const run = await invalidRiskRun();
    const p = await rebuildProjections(run.store.readAll());
    const [signal] = ofType(run.events, "EntrySignalled");
    const [invalid] = ofType(run.events, "InvalidRiskAtFill");
    const [closed] = ofType(run.events, "PositionClosed");
    const { decisions } = p.decisions();
    expect(decisions).toHaveLength(1);
    expect(decisions[0]!.followUps.map((f) => f.eventId)).toEqual([invalid!.eventId, closed!.eventId]);
    expect(
      decisions[0]!.orders.map((o) => [
        o.clientOrderId,
        o.purpose,
        o.status,
        o.causationId,
        o.fills[0]?.price,
      ]),
    ).toEqual([
      ["ps-ETHUSDT-000001-E", "ENTRY", "FILLED", signal!.eventId, "2001"],
      // sent while the venue matched bar 1, filled at that bar's open too
      ["ps-ETHUSDT-000001-FL", "FLATTEN", "FILLED", invalid!.eventId, "2001"],
    ]);
  });

  it("keeps both orders of a flip (close the LONG, open the SHORT) on the one decision", async () => {
    const run = await hedgeFlipRun();
    const p = await rebuildProjections(run.store.readAll());
    const targets = ofType(run.events, "TargetPositionSet");
    const { decisions } = p.decisions();
    expect(decisions.map((d) => d.decision?.eventId)).toEqual(targets.map((e) => e.eventId));
    const flip = decisions[1]!;
    expect(flip.decision!.data).toMatchObject({
      clientOrderId: "ps-ETHUSDT-000002-T",
      secondClientOrderId: "ps-ETHUSDT-000003-T",
    });
    expect(flip.orders.map((o) => [o.side, o.positionSide, o.quantity, o.causationId])).toEqual([
      ["SELL", "LONG", "1.000", targets[1]!.eventId],
      ["SELL", "SHORT", "0.500", targets[1]!.eventId],
    ]);
    // closing the LONG of 2001 at 2002 realizes 1; opening the SHORT realizes nothing
    expect(flip.orders.map((o) => o.fills.map((f) => f.realizedPnl))).toEqual([["1"], ["0"]]);
    expect(p.decisionOf("ps-ETHUSDT-000003-T")).toEqual(flip);
  });
});

const root = requireRealData("decision traces of sma-cross and multifactor-v2 backtests on real data");

describe.skipIf(!root)("the decision trace of a real-data sma-cross backtest", () => {
  let log: RecordedEvent[];
  let p: Projections;
  let traces: DecisionView[];
  beforeAll(async () => {
    // A max order notional just under the strategy's 10,000 USDT entries (1,000 margin × 10): the entries whose
    // quantity rounds higher are denied, the others trade with their brackets.
    const config = BacktestConfigSchema.parse({
      symbols: ["BTCUSDT"],
      from: "2025-05-05",
      to: "2025-05-25",
      risk: { maxOrderNotional: "9960" },
    });
    const store = new InMemoryEventStore();
    await runBacktest(config, { store, dataRoot: root!, logger: pino({ level: "silent" }) });
    log = [];
    for await (const e of store.readAll()) log.push(e);
    p = createProjections();
    for (const e of log) p.apply(e);
    traces = p.decisions({ limit: Number.MAX_SAFE_INTEGER }).decisions;
  }, 120_000);

  it("has one trace per decision, each on the bar that caused it", () => {
    const decisions = log.filter((e) => e.type === "EntrySignalled" || e.type === "SignalSuppressed");
    expect(ofType(log, "OrderDenied").length).toBeGreaterThan(0);
    expect(ofType(log, "PositionProtectionRequested").length).toBeGreaterThan(0);
    expect(traces.map((t) => t.decision?.eventId)).toEqual(decisions.map((e) => e.eventId));
    const byId = new Map(log.map((e) => [e.eventId, e]));
    for (const t of traces) {
      const cause = byId.get(byId.get(t.decision!.eventId)!.metadata.causationId)!;
      expect(cause.type).toBe("BarClosed");
      const bar = cause.data as EventData<"BarClosed">;
      expect(t.input).toEqual({
        type: "BarClosed",
        eventId: cause.eventId,
        symbol: "BTCUSDT",
        openTime: bar.openTime,
        closeTime: bar.closeTime,
        close: bar.close,
      });
      expect((t.decision!.data as { barOpenTime: number }).barOpenTime).toBe(bar.openTime);
      expect(t.factors).toBeNull(); // sma-cross records no factors
    }
  });

  it("reaches every OrderSubmitted of the run from exactly one decision, the one its causation chain leads to", () => {
    expectEveryOrderTraced(log, p, traces);
  });

  it("puts the bracket on its entry's decision, caused by the protection its fill requested", () => {
    const protections = ofType(log, "PositionProtectionRequested");
    for (const pp of protections) {
      const trace = p.decisionOf(pp.data.entryClientOrderId)!;
      expect(trace.followUps.find((f) => f.type === "PositionProtectionRequested")?.eventId).toBe(pp.eventId);
      for (const exit of [pp.data.stopClientOrderId, pp.data.takeProfitClientOrderId]) {
        const order = trace.orders.find((o) => o.clientOrderId === exit);
        expect(order?.causationId).toBe(pp.eventId);
      }
      // one exit filled, the other canceled as its sibling
      expect(trace.orders.map((o) => o.status).toSorted()).toEqual(["CANCELED", "FILLED", "FILLED"]);
    }
    for (const denied of ofType(log, "OrderDenied")) {
      const trace = p.decisionOf(denied.data.clientOrderId)!;
      expect(trace.orders).toMatchObject([{ status: "DENIED", deniedBy: { rule: denied.data.rule } }]);
      expect(trace.followUps.map((f) => f.type)).toEqual(["EntryFailed"]);
    }
  });

  it("attaches every fill to its order, with its FillBooked's realized PnL", () => {
    const fills = traces.flatMap((t) =>
      t.orders.flatMap((o) => o.fills.map((f) => ({ ...f, id: o.clientOrderId }))),
    );
    const filled = ofType(log, "OrderFilled");
    expect(fills).toHaveLength(filled.length);
    const booked = new Map(
      ofType(log, "FillBooked").map((e) => [`${e.data.clientOrderId}/${e.data.tradeId}`, e.data]),
    );
    for (const { data } of filled) {
      const fill = fills.find((f) => f.id === data.clientOrderId && f.tradeId === data.tradeId)!;
      expect([fill.price, fill.quantity, fill.commission]).toEqual([
        data.price,
        data.quantity,
        data.commission,
      ]);
      expect(fill.realizedPnl).toBe(booked.get(`${data.clientOrderId}/${data.tradeId}`)!.realizedPnl);
    }
    expect(fills.some((f) => f.realizedPnl !== "0")).toBe(true);
  });
});

describe.skipIf(!root)(
  "the decision trace of a real-data multifactor-v2 backtest (FILUSDT + NEARUSDT)",
  () => {
    let log: RecordedEvent[];
    let p: Projections;
    let traces: DecisionView[];
    beforeAll(async () => {
      const config = BacktestConfigSchema.parse({
        strategy: "multifactor-v2",
        symbols: ["FILUSDT", "NEARUSDT"],
        from: "2023-08-01",
        to: "2023-09-30",
      });
      const store = new InMemoryEventStore();
      await runBacktest(config, { store, dataRoot: root!, logger: pino({ level: "silent" }) });
      log = [];
      for await (const e of store.readAll()) log.push(e);
      p = createProjections();
      for (const e of log) p.apply(e);
      traces = p.decisions({ limit: Number.MAX_SAFE_INTEGER }).decisions;
    }, 120_000);

    it("links each hourly FactorComputed to the 1m bar that closed its hour and to the target it caused", () => {
      const factors = ofType(log, "FactorComputed");
      expect(traces.map((t) => t.factors?.eventId)).toEqual(factors.map((e) => e.eventId));
      const byId = new Map(log.map((e) => [e.eventId, e]));
      const symbols = new Set<string>();
      for (const t of traces) {
        symbols.add(t.symbol);
        const computed = byId.get(t.factors!.eventId)!;
        const bar = byId.get(computed.metadata.causationId)!;
        expect(bar.type).toBe("BarClosed");
        expect(t.input).toMatchObject({ type: "BarClosed", eventId: bar.eventId, symbol: t.symbol });
        // the hour [barOpenTime, +1 h) is decided at its last minute's close
        expect((bar.data as EventData<"BarClosed">).closeTime).toBe(
          t.factors!.data.barOpenTime + 3_600_000 - 1,
        );
        expect(t.decision?.type).toBe("TargetPositionSet");
        expect(byId.get(t.decision!.eventId)!.metadata.causationId).toBe(t.factors!.eventId);
        const target = t.decision!.data as EventData<"TargetPositionSet">;
        expect(t.orders.map((o) => o.clientOrderId)).toEqual(
          target.clientOrderId ? [target.clientOrderId] : [],
        );
        if (!target.clientOrderId) expect(target.reason).toBeDefined();
      }
      expect([...symbols].sort()).toEqual(["FILUSDT", "NEARUSDT"]);
    });

    it("reaches every order of the run from exactly one decision, with its fills", () => {
      expectEveryOrderTraced(log, p, traces);
      const fills = traces.flatMap((t) => t.orders.flatMap((o) => o.fills));
      expect(fills).toHaveLength(ofType(log, "OrderFilled").length);
      expect(fills.every((f) => f.realizedPnl !== null)).toBe(true);
    });
  },
);
