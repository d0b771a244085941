/**
 * The alert rules (src/alerts/rules.ts) on logs written by the real engine and stores: an operator's halt and
 * resume through `operatorChangeTradingState`; rejection bursts on OrderRejected/OrderDenied read back from a
 * store; liquidations, margin calls and drawdown thresholds over random markets run through the trading engine
 * and the simulated venue (fast-check), checked against the projections folded independently; the stream-outage
 * watch.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { runMachine } from "../src/actors/run.machine.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import {
  type Alert,
  AlertRules,
  type AlertRulesConfig,
  alertText,
  StreamWatch,
} from "../src/alerts/rules.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { Dec } from "../src/domain/decimal.ts";
import { RiskEngine } from "../src/engine/risk-engine.ts";
import { operatorChangeTradingState } from "../src/engine/risk-operator.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import type { EventStore } from "../src/events/store.ts";
import { createProjections } from "../src/projections/index.ts";
import { FIXTURE_START, FixtureEvents } from "./support/events.ts";
import { bar, runScenario, type ScenarioInput, T0 } from "./support/scenario.ts";

const RULES: AlertRulesConfig = {
  rejectionBurst: { count: 3, windowMs: 60_000 },
  drawdownThresholds: ["0.05", "0.1", "0.2"],
  marginCallRatio: "0.8",
};

async function readLog(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  return events;
}

function fold(events: readonly RecordedEvent[], config = RULES): Alert[] {
  const rules = new AlertRules(config);
  return events.flatMap((e) => rules.apply(e));
}

/** RunStarted, AccountOpened and RiskLimitsSet of run `runId` at `t0`, as a run writes them. */
async function recordRun(store: EventStore, runId: string, t0: number): Promise<void> {
  const deps = { store, correlationId: runId };
  const config = BacktestConfigSchema.parse({});
  await EventSourcedActor.create(`run-${runId}`, runMachine, deps).commit(
    [
      {
        type: "RunStarted",
        data: {
          runId,
          mode: "paper",
          strategy: "sma-cross",
          symbols: ["BTCUSDT"],
          from: t0,
          to: t0 + 86_400_000,
          config: config as unknown as Record<string, unknown>,
          manifest: [],
        },
      },
    ],
    { causationId: "test", eventTime: t0 },
  );
  await EventSourcedActor.create("account-main", accountMachine, deps).commit(
    [{ type: "AccountOpened", data: { accountId: "main", asset: "USDT", walletBalance: "10000" } }],
    { causationId: "test", eventTime: t0 },
  );
  const view = () => ({ walletBalance: "10000", positions: {}, openOrders: [] });
  await new RiskEngine({ store, runId, accountId: "main", limits: {}, view }).start({
    causationId: "test",
    eventTime: t0 + 1,
  });
}

describe("trading-state changes", () => {
  it("halt, resume, halt again: three alerts with three keys, so dedupe never hides a second halt", async () => {
    const store = new InMemoryEventStore();
    await recordRun(store, "run-flap", T0);
    await operatorChangeTradingState(store, "HALTED", "first");
    await operatorChangeTradingState(store, "ACTIVE", "fixed");
    await operatorChangeTradingState(store, "HALTED", "again");
    const alerts = fold(await readLog(store));
    expect(alerts.map((a) => a.title)).toEqual([
      "Trading HALTED (was ACTIVE) by operator",
      "Trading ACTIVE (was HALTED) by operator",
      "Trading HALTED (was ACTIVE) by operator",
    ]);
    expect(new Set(alerts.map((a) => a.key)).size).toBe(3);
  });

  it("an operator's halt is one critical alert naming the operator and the reason; the resume an info one", async () => {
    const store = new InMemoryEventStore();
    await recordRun(store, "run-halt", T0);
    await operatorChangeTradingState(store, "HALTED", "runaway strategy");
    await operatorChangeTradingState(store, "ACTIVE", "fixed");
    const events = await readLog(store);
    const alerts = fold(events);
    const changes = events.filter((e) => e.type === "TradingStateChanged");
    expect(changes).toHaveLength(2);
    expect(alerts).toEqual([
      {
        key: `tradingState:main:HALTED:${changes[0]!.eventId}`,
        kind: "tradingState",
        severity: "critical",
        title: "Trading HALTED (was ACTIVE) by operator",
        text: "reason: runaway strategy\naccount: main",
        at: changes[0]!.metadata.eventTime,
        position: changes[0]!.position,
        runId: "run-halt",
        data: { accountId: "main", from: "ACTIVE", to: "HALTED", by: "operator", reason: "runaway strategy" },
      },
      expect.objectContaining({
        key: `tradingState:main:ACTIVE:${changes[1]!.eventId}`,
        severity: "info",
        title: "Trading ACTIVE (was HALTED) by operator",
        position: changes[1]!.position,
      }),
    ]);
    expect(alertText(alerts[0]!)).toBe(
      [
        "🔴 Trading HALTED (was ACTIVE) by operator",
        "reason: runaway strategy",
        "account: main",
        `at: ${new Date(changes[0]!.metadata.eventTime).toISOString()}`,
        "run: run-halt",
      ].join("\n"),
    );
  });
});

describe("rejection bursts", () => {
  /** Appends an entry order and its rejection (or denial) per item, `ms` after the start; folds the log. */
  async function rejections(items: readonly { ms: number; code?: number; rule?: string }[]) {
    const store = new InMemoryEventStore();
    const fx = new FixtureEvents("burst");
    for (const [i, item] of items.entries()) {
      const id = `ps-BTCUSDT-${String(i + 1).padStart(6, "0")}-E`;
      const at = FIXTURE_START + item.ms;
      const end =
        item.rule === undefined
          ? fx.event(
              "OrderRejected",
              { clientOrderId: id, code: item.code ?? -2019, reason: "Margin is insufficient." },
              at,
            )
          : fx.event(
              "OrderDenied",
              { clientOrderId: id, symbol: "BTCUSDT", rule: item.rule, reason: "too large", numbers: {} },
              at,
            );
      await store.append(fx.orderStream(id), [fx.entrySubmitted(id, at), end], "noStream");
    }
    return fold(await readLog(store));
  }

  it("count rejections of one code within the window alert once; another code or a later burst alerts again", async () => {
    const alerts = await rejections([
      { ms: 0, code: -2019 },
      { ms: 30_000, code: -2019 },
      { ms: 36_000, code: -1111 },
      { ms: 54_000, code: -2019 }, // third -2019 within 60 s: burst
      { ms: 57_000, code: -2019 }, // still the same burst
      { ms: 180_000, code: -2019 }, // window emptied: a new count starts
      { ms: 186_000, code: -2019 },
      { ms: 192_000, code: -2019 }, // second burst
    ]);
    expect(alerts.map((a) => [a.key, a.data["count"], a.at - FIXTURE_START])).toEqual([
      ["rejections:code:-2019", 3, 54_000],
      ["rejections:code:-2019", 3, 192_000],
    ]);
    expect(alerts[0]).toMatchObject({ kind: "rejectionBurst", severity: "warning" });
  });

  it("rejections spread wider than the window never alert; denials count by rule", async () => {
    expect(await rejections([0, 30_000, 60_000, 90_000].map((ms) => ({ ms })))).toEqual([]);
    const denied = await rejections([0, 6_000, 12_000].map((ms) => ({ ms, rule: "maxOrderNotional" })));
    expect(denied.map((a) => a.key)).toEqual(["rejections:rule:maxOrderNotional"]);
  });

  it("property: a burst alert fires exactly when the window's count reaches count from below", async () => {
    await fc.assert(
      fc.asyncProperty(
        // gaps of 0–90 s, window edges drawn often (two 30 s gaps span exactly the 60 s window)
        fc.array(fc.oneof(fc.integer({ min: 0, max: 90_000 }), fc.constantFrom(0, 30_000, 60_000)), {
          minLength: 1,
          maxLength: 25,
        }),
        async (gaps) => {
          let t = 0;
          const times = gaps.map((g) => (t += g));
          const alerts = await rejections(times.map((ms) => ({ ms })));
          // Reference: the count of rejections in (t − 60 s, t] at each one; an alert where it is ≥ 3 and the
          // previous one's count was below 3 (a burst lasts while the counts stay at 3 or more).
          const counts = times.map((ti, i) => times.slice(0, i + 1).filter((tj) => tj > ti - 60_000).length);
          const expected = times.filter((_, i) => counts[i]! >= 3 && (i === 0 || counts[i - 1]! < 3));
          expect(alerts.map((a) => a.at - FIXTURE_START)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

/** Random walks (as in engine-liquidation-properties) traded by sma-cross at high leverage on a thin wallet. */
const market = fc
  .array(fc.record({ move: fc.integer({ min: -150, max: 120 }), wick: fc.nat(80) }), {
    minLength: 30,
    maxLength: 120,
  })
  .map((steps) => {
    let close = 10_000;
    const c = (v: number) => (v / 100).toFixed(2);
    return steps.map((step, i): ScenarioInput => {
      const open = close;
      close = Math.max(1000, open + step.move);
      const high = Math.max(open, close) + step.wick;
      const low = Math.max(100, Math.min(open, close) - step.wick);
      return { kind: "bar", bar: bar("ETHUSDT", i, [c(open), c(high), c(low), c(close)]) };
    });
  });

describe("liquidations, margin calls and drawdowns on engine logs", () => {
  it("property: one alert per liquidation; margin calls and drawdown crossings match the projections", async () => {
    const seen = { liquidations: 0, marginCalls: 0, drawdowns: 0 };
    await fc.assert(
      fc.asyncProperty(
        market,
        fc.constantFrom("ISOLATED" as const, "CROSSED" as const),
        async (inputs, marginType) => {
          const { events } = await runScenario(inputs, {
            params: {
              smaShort: 3,
              smaLong: 8,
              pivotLookback: 5,
              tpSlRatio: "1.5",
              cooldownBars: 1,
              marginUsdt: "300",
              leverage: 50,
              marginType,
            },
            initialBalance: "1000",
            slippage: "0.0001",
            margin: true,
          });
          const config: AlertRulesConfig = {
            ...RULES,
            drawdownThresholds: ["0.01", "0.05", "0.3"],
            marginCallRatio: "0.5",
          };
          const rules = new AlertRules(config);
          const projections = createProjections();
          let peak: Dec | null = null;
          const crossed = new Set<string>();
          const calls = new Set<string>();
          for (const e of events) {
            const alerts = rules.apply(e);
            projections.apply(e);
            const kinds = (kind: Alert["kind"]) => alerts.filter((a) => a.kind === kind);
            // Liquidations: one critical alert at each PositionLiquidated, none elsewhere.
            expect(kinds("liquidation").length).toBe(e.type === "PositionLiquidated" ? 1 : 0);
            if (e.type === "PositionLiquidated") {
              seen.liquidations += 1;
              const d = e.data as EventData<"PositionLiquidated">;
              expect(kinds("liquidation")[0]).toMatchObject({
                severity: "critical",
                position: e.position,
                data: { symbol: d.symbol },
              });
            }
            const marks = ["BarClosed", "FillBooked", "FundingFeeBooked", "PositionLiquidated"].includes(
              e.type,
            );
            // Margin calls: a position whose ratio reached 0.5, once until it falls below again.
            const expectedCalls: string[] = [];
            if (marks) {
              const open = projections.positions().filter((p) => p.side !== "FLAT");
              for (const p of open) {
                const high = p.marginRatio !== null && new Dec(p.marginRatio).gte("0.5");
                if (high && !calls.has(p.symbol)) expectedCalls.push(p.symbol);
                if (high) calls.add(p.symbol);
                else calls.delete(p.symbol);
              }
              for (const s of calls) if (!open.some((p) => p.symbol === s)) calls.delete(s);
            }
            expect(kinds("marginCall").map((a) => a.data["symbol"])).toEqual(expectedCalls);
            seen.marginCalls += expectedCalls.length;
            // Drawdowns: equity at its running peak re-arms; each threshold alerts once below peak × (1 − t).
            const expectedDrawdowns: string[] = [];
            const pnl = projections.pnl();
            if (marks && pnl.initialBalance !== null) {
              const equity = new Dec(pnl.equity);
              if (peak === null || equity.gte(peak)) {
                peak = equity;
                crossed.clear();
              } else {
                for (const t of config.drawdownThresholds) {
                  if (!crossed.has(t) && equity.lte(peak.times(new Dec(1).minus(t)))) {
                    crossed.add(t);
                    expectedDrawdowns.push(t);
                  }
                }
              }
            }
            const drawdowns = kinds("drawdown");
            expect(drawdowns.map((a) => a.data["threshold"])).toEqual(expectedDrawdowns);
            for (const a of drawdowns) {
              expect(new Dec(a.data["drawdown"] as string).gte(a.data["threshold"] as string)).toBe(true);
              expect(a.data["equity"]).toBe(pnl.equity);
            }
            seen.drawdowns += drawdowns.length;
          }
          // Deterministic: the same log folds to the same alerts.
          expect(fold(events, config)).toEqual(fold(events, config));
          // A log replayed up to a point (alerting starts there) alerts after it as the whole fold does, margin
          // calls aside (their state is rebuilt at the next mark).
          const k = Math.floor(events.length / 2);
          const split = new AlertRules(config);
          for (const e of events.slice(0, k)) split.replay(e);
          const whole = new AlertRules(config);
          const notMargin = (a: Alert) => a.kind !== "marginCall";
          const expectedAfter = events.flatMap((e, i) => {
            const alerts = whole.apply(e);
            return i < k ? [] : alerts;
          });
          expect(
            events
              .slice(k)
              .flatMap((e) => split.apply(e))
              .filter(notMargin),
          ).toEqual(expectedAfter.filter(notMargin));
        },
      ),
      { numRuns: 40, seed: 20251128 },
    );
    // The markets must exercise every rule.
    expect(seen.liquidations).toBeGreaterThan(0);
    expect(seen.marginCalls).toBeGreaterThan(0);
    expect(seen.drawdowns).toBeGreaterThan(0);
  });
});

describe("reconciliation and gaps", () => {
  it("VenueReconciled with discrepancies is a warning keyed by their kinds; without, no alert; a gap names its bars", async () => {
    const store = new InMemoryEventStore();
    const fx = new FixtureEvents("recon");
    const at = FIXTURE_START;
    await store.append(
      "risk-main",
      [
        fx.event(
          "VenueReconciled",
          { accountId: "main", trigger: "periodic", recovered: 2, discrepancies: [] },
          at,
        ),
        fx.event(
          "VenueReconciled",
          {
            accountId: "main",
            trigger: "resync",
            recovered: 0,
            discrepancies: [
              { kind: "positionMismatch", detail: "BTCUSDT: log 0.01, venue 0.02" },
              { kind: "orderNotAtVenue", detail: "ps-BTCUSDT-000001-SL is not open at the venue" },
            ],
          },
          at + 1,
        ),
      ],
      "noStream",
    );
    await store.append(
      fx.symbolStream(),
      [
        fx.barClosed(0),
        fx.event(
          "MarketDataGapDetected",
          { symbol: "BTCUSDT", fromOpenTime: at + 60_000, toOpenTime: at + 240_000, missingBars: 3 },
          at + 299_999,
        ),
        fx.barClosed(4),
      ],
      "noStream",
    );
    const alerts = fold(await readLog(store));
    expect(alerts.map((a) => [a.kind, a.key, a.severity, a.title])).toEqual([
      [
        "reconciliation",
        "reconciliation:main:orderNotAtVenue,positionMismatch",
        "warning",
        "Reconciliation found 2 discrepancies",
      ],
      ["marketDataGap", "gap:BTCUSDT", "warning", "BTCUSDT: 3 bars missing"],
    ]);
    expect(alerts[0]!.text).toBe(
      "trigger: resync\npositionMismatch: BTCUSDT: log 0.01, venue 0.02\norderNotAtVenue: ps-BTCUSDT-000001-SL is not open at the venue",
    );
  });
});

describe("StreamWatch", () => {
  it("alerts once an outage lasts downMs, once per outage, and says when it is back", () => {
    const watch = new StreamWatch(30_000);
    expect(watch.check(1_000)).toEqual([]);
    watch.down(10_000);
    watch.down(15_000); // a second drop during the outage keeps its start
    expect(watch.check(39_999)).toEqual([]);
    const [down] = watch.check(40_000);
    expect(down).toMatchObject({
      key: "stream:down",
      kind: "streamDown",
      severity: "critical",
      at: 40_000,
      data: { downSince: 10_000, downMs: 30_000 },
    });
    expect(watch.check(90_000)).toEqual([]);
    expect(watch.up(95_000)).toEqual([
      expect.objectContaining({ kind: "streamUp", data: { downSince: 10_000, downMs: 85_000 } }),
    ]);
    // A short outage: no alert, down or up.
    watch.down(100_000);
    expect(watch.check(120_000)).toEqual([]);
    expect(watch.up(125_000)).toEqual([]);
    expect(watch.check(200_000)).toEqual([]);
  });

  it("refuses bad limits", () => {
    expect(() => new StreamWatch(0)).toThrow(RangeError);
    expect(() => new AlertRules({ ...RULES, drawdownThresholds: ["1.5"] })).toThrow(
      /drawdownThresholds must be in \(0, 1\), got 1.5/,
    );
    expect(() => new AlertRules({ ...RULES, rejectionBurst: { count: 0, windowMs: 1 } })).toThrow(RangeError);
  });
});
