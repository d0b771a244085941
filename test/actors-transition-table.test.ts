/**
 * The transition tables derived from the machines (src/actors/transition-table.ts) against XState itself:
 * random sequences of events, legal and illegal, drawn from pools that reach every state of every machine
 * and offer every event type there (foreign types and failing guards included).
 * At every step the table must answer `snapshot.can(event)` and reach XState's state value and context (same
 * key order); the EventSourcedActor that runs on the table must persist exactly XState's snapshot.
 */

import { getShortestPaths } from "@xstate/graph";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AnyStateMachine, createActor, setup } from "xstate";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { IllegalTransitionError } from "../src/actors/illegal-transition.ts";
import { orderMachine } from "../src/actors/order.machine.ts";
import { riskMachine } from "../src/actors/risk.machine.ts";
import { runMachine } from "../src/actors/run.machine.ts";
import { symbolMachine } from "../src/actors/symbol.machine.ts";
import { tradeMachine } from "../src/actors/trade.machine.ts";
import { transitionTable } from "../src/actors/transition-table.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";

const S = "BTCUSDT";
const T = 1_746_316_800_000;
const M = 60_000;
type Ev = { type: string; data: Record<string, unknown> };

const foreign: Ev = { type: "OrderAccepted", data: { clientOrderId: "ps-BTCUSDT-1-E", orderId: "1" } };
const minutes = [0, 1, 2, 3, 5, 6];

const symbolPool: Ev[] = [
  ...minutes.map((k) => ({
    type: "BarClosed",
    data: {
      symbol: S,
      interval: "1m",
      openTime: T + k * M,
      closeTime: T + k * M + 59_999,
      open: "1",
      high: "2",
      low: "0.5",
      close: "1.5",
      volume: "3",
    },
  })),
  ...minutes.flatMap((a) =>
    minutes.map((b) => ({
      type: "MarketDataGapDetected",
      data: { symbol: S, fromOpenTime: T + a * M, toOpenTime: T + b * M, missingBars: Math.max(1, b - a) },
    })),
  ),
  ...minutes.map((k) => ({
    type: "FundingRateSettled",
    data: {
      symbol: S,
      fundingTime: T + k * M + 3,
      fundingRate: "0.0001",
      fundingIntervalHours: 8,
      markPrice: "1",
      markPriceSource: "lastClose",
    },
  })),
  foreign,
];

const fillBooked = (symbol: string, positionAmt: string): Ev => ({
  type: "FillBooked",
  data: {
    symbol,
    clientOrderId: "ps-X-1-E",
    tradeId: "t1",
    side: "BUY",
    price: "2",
    quantity: "1",
    commission: "0.001",
    realizedPnl: "0",
    positionAmt,
    entryPrice: "2",
    walletBalance: "99.999",
  },
});
const accountPool: Ev[] = [
  { type: "AccountOpened", data: { accountId: "main", asset: "USDT", walletBalance: "100" } },
  fillBooked(S, "1"),
  fillBooked(S, "0"),
  fillBooked("ETHUSDT", "-2"),
  {
    type: "FundingFeeBooked",
    data: {
      symbol: S,
      fundingTime: T,
      fundingRate: "0.0001",
      markPrice: "2",
      positionAmt: "1",
      fundingFee: "-0.0002",
      walletBalance: "99.9988",
    },
  },
  symbolPool[0]!,
];

const tradePool: Ev[] = [
  {
    type: "EntrySignalled",
    data: {
      symbol: S,
      strategy: "sma-cross",
      paramsVersion: 1,
      direction: "LONG",
      barOpenTime: T,
      referencePrice: "2",
      stopPrice: "1",
      takeProfitRiskMultiple: "3",
      quantity: "1",
      entryClientOrderId: "ps-BTCUSDT-1-E",
      signal: { smaShort: 1.5 },
    },
  },
  {
    type: "PositionProtectionRequested",
    data: {
      symbol: S,
      direction: "LONG",
      entryClientOrderId: "ps-BTCUSDT-1-E",
      entryPrice: "2",
      quantity: "1",
      stopPrice: "1",
      takeProfitPrice: "5",
      stopClientOrderId: "ps-BTCUSDT-1-SL",
      takeProfitClientOrderId: "ps-BTCUSDT-1-TP",
    },
  },
  {
    type: "InvalidRiskAtFill",
    data: {
      symbol: S,
      direction: "LONG",
      entryClientOrderId: "ps-BTCUSDT-1-E",
      entryPrice: "0.5",
      stopPrice: "1",
      flattenClientOrderId: "ps-BTCUSDT-1-FL",
    },
  },
  { type: "EntryFailed", data: { symbol: S, entryClientOrderId: "ps-BTCUSDT-1-E", reason: "rejected" } },
  {
    type: "PositionUnprotected",
    data: { symbol: S, reason: "stop rejected", flattenClientOrderId: "ps-BTCUSDT-1-FL" },
  },
  {
    type: "PositionClosed",
    data: { symbol: S, exitClientOrderId: "ps-BTCUSDT-1-TP", exitPurpose: "TAKE_PROFIT" },
  },
  {
    type: "SignalSuppressed",
    data: { symbol: S, strategy: "sma-cross", direction: "SHORT", barOpenTime: T, reason: "cooldown" },
  },
  ...[undefined, "ps-BTCUSDT-T1"].map((clientOrderId) => ({
    type: "TargetPositionSet",
    data: {
      symbol: S,
      strategy: "toy",
      paramsVersion: 1,
      barOpenTime: T,
      targetPositionAmt: "1",
      positionAmt: "0",
      referencePrice: "2",
      ...(clientOrderId ? { clientOrderId } : { reason: "atTarget" }),
      signal: {},
    },
  })),
  foreign,
];

const ID = "ps-BTCUSDT-1-E";
const orderFill = (cumulativeQuantity: string, status: string): Ev => ({
  type: "OrderFilled",
  data: {
    clientOrderId: ID,
    symbol: S,
    side: "BUY",
    tradeId: `t${cumulativeQuantity}`,
    price: "2",
    quantity: "1",
    cumulativeQuantity,
    commission: "0.001",
    commissionAsset: "USDT",
    maker: false,
    status,
  },
});
const orderPool: Ev[] = [
  {
    type: "OrderSubmitted",
    data: {
      clientOrderId: ID,
      symbol: S,
      side: "BUY",
      type: "MARKET",
      purpose: "ENTRY",
      positionSide: "BOTH",
      quantity: "2",
      reduceOnly: false,
    },
  },
  {
    type: "OrderSubmitted",
    data: {
      clientOrderId: ID,
      symbol: S,
      side: "SELL",
      type: "STOP_MARKET",
      purpose: "STOP_LOSS",
      positionSide: "BOTH",
      quantity: "2",
      reduceOnly: true,
      triggerPrice: "1.5",
    },
  },
  foreign,
  { type: "OrderAccepted", data: { clientOrderId: ID, orderId: "7" } },
  { type: "OrderRejected", data: { clientOrderId: ID, code: -4164, reason: "min notional" } },
  { type: "OrderDenied", data: { clientOrderId: ID, symbol: S, rule: "r", reason: "x", numbers: {} } },
  { type: "OrderCanceled", data: { clientOrderId: ID, reason: "user" } },
  { type: "OrderExpired", data: { clientOrderId: ID, reason: "reduce-only" } },
  { type: "OrderExpired", data: { clientOrderId: ID, reason: "stp", expiryReason: 1 } },
  { type: "OrderTriggering", data: { clientOrderId: ID, workingType: "CONTRACT_PRICE", triggeredAt: "1.5" } },
  { type: "OrderTriggered", data: { clientOrderId: ID, orderId: "8", actualType: "MARKET" } },
  orderFill("1", "PARTIALLY_FILLED"),
  orderFill("2", "FILLED"),
  symbolPool[0]!,
];

const runPool: Ev[] = [
  {
    type: "RunStarted",
    data: {
      runId: "bt-1",
      mode: "backtest",
      strategy: "sma-cross",
      symbols: [S],
      from: T,
      to: T + M,
      config: {},
      manifest: [],
    },
  },
  {
    type: "RunCheckpointed",
    data: { runId: "bt-1", marketEvents: 5, cursor: { time: T, kind: "bar", symbol: S }, state: { a: 1 } },
  },
  { type: "RunCompleted", data: { runId: "bt-1", bars: 1, fundingSettlements: 0 } },
  symbolPool[0]!,
];

const riskPool: Ev[] = [
  { type: "RiskLimitsSet", data: { accountId: "main", limits: { maxDrawdown: "0.15" } } },
  ...(["ACTIVE", "REDUCING", "HALTED"] as const).flatMap((from) =>
    (["ACTIVE", "REDUCING", "HALTED"] as const).map(
      (to): Ev => ({
        type: "TradingStateChanged",
        data: { accountId: "main", from, to, by: "operator", reason: "test" },
      }),
    ),
  ),
  {
    type: "VenueReconciled",
    data: {
      accountId: "main",
      trigger: "periodic",
      recovered: 0,
      discrepancies: [{ kind: "walletMismatch", detail: "USDT wallet: engine 1, venue 2" }],
    },
  },
  foreign,
];

const machines: { name: string; machine: AnyStateMachine; pool: Ev[]; input?: unknown }[] = [
  { name: "risk", machine: riskMachine, pool: riskPool },
  { name: "symbol", machine: symbolMachine, pool: symbolPool },
  { name: "account", machine: accountMachine, pool: accountPool },
  { name: "trade", machine: tradeMachine, pool: tradePool, input: { symbol: S } },
  { name: "order", machine: orderMachine, pool: orderPool },
  { name: "run", machine: runMachine, pool: runPool },
];

describe("transition tables derived from the machines", () => {
  it("cover every machine of the kernel, and no machine with more than they replicate", () => {
    for (const { machine } of machines) expect(transitionTable(machine)).toBeDefined();
    const withEntry = setup({}).createMachine({
      initial: "a",
      states: { a: { entry: () => {}, on: { go: { target: "b" } } }, b: {} },
    });
    const withAlways = setup({}).createMachine({
      initial: "a",
      states: { a: { always: { target: "b" } }, b: {} },
    });
    const nested = setup({}).createMachine({
      initial: "a",
      states: { a: { initial: "x", states: { x: {} } } },
    });
    const wildcard = setup({}).createMachine({
      initial: "a",
      states: { a: { on: { "*": { target: "a" } } } },
    });
    const inlineGuard = setup({}).createMachine({
      initial: "a",
      states: { a: { on: { go: { guard: () => true, target: "a" } } } },
    });
    for (const machine of [withEntry, withAlways, nested, wildcard, inlineGuard]) {
      expect(transitionTable(machine)).toBeUndefined();
    }
  });

  for (const { name, machine, pool, input } of machines) {
    it(`${name}: the same answers, states and contexts as XState on random legal and illegal sequences`, () => {
      const table = transitionTable(machine)!;
      const statesSeen = new Set<string>();
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.constantFrom(...pool.keys()), fc.boolean()), { minLength: 10, maxLength: 60 }),
          (steps) => {
            const xs = createActor(machine, { input } as never);
            xs.start();
            const host = EventSourcedActor.create(`${name}-t`, machine, {
              store: new InMemoryEventStore(),
              correlationId: "run-t",
              input,
            });
            let state = {
              value: xs.getSnapshot().value as string,
              context: xs.getSnapshot().context as Record<string, unknown>,
            };
            let revision = -1;
            for (const [i, look] of steps) {
              const event = pool[i]!;
              const snapshot = xs.getSnapshot();
              const can = snapshot.can(event as never);
              const next = table.next(state, event);
              statesSeen.add(state.value);
              expect(next !== undefined).toBe(can);
              const recorded = { ...event, revision: revision + 1, position: revision + 2 } as RecordedEvent;
              if (!can) {
                expect(() => host.applyRecorded(recorded)).toThrow(IllegalTransitionError);
                continue;
              }
              xs.send(event as never);
              host.applyRecorded(recorded);
              revision++;
              state = next!;
              expect(state.value).toBe(xs.getSnapshot().value);
              expect(JSON.stringify(state.context)).toBe(JSON.stringify(xs.getSnapshot().context));
              expect(state.context).toStrictEqual(xs.getSnapshot().context);
              if (look) {
                // The actor on the table persists XState's snapshot (it syncs only when read).
                expect(JSON.stringify(host.persist().snapshot)).toBe(
                  JSON.stringify(xs.getPersistedSnapshot()),
                );
                expect(host.snapshot.value).toBe(xs.getSnapshot().value);
              }
            }
            expect(JSON.stringify(host.persist().snapshot)).toBe(JSON.stringify(xs.getPersistedSnapshot()));
          },
        ),
        { numRuns: 300 },
      );
      expect(statesSeen.size).toBeGreaterThan(1);
    });

    it(`${name}: every state reachable with the pool, offered every event of the pool, answers as XState`, () => {
      const table = transitionTable(machine)!;
      // One path per state value and kind of order (a conditional order's NEW differs from a regular one's).
      const paths = getShortestPaths(machine, {
        events: pool as never,
        input,
        serializeState: (snap: { value: unknown; context: unknown }) =>
          JSON.stringify(snap.value) +
          JSON.stringify((snap.context as { request?: { type?: string } }).request?.type ?? ""),
      } as never);
      const reached = new Set<string>();
      for (const path of paths) {
        const xs = createActor(machine, { input } as never).start();
        for (const step of path.steps)
          if (!step.event.type.startsWith("xstate.")) xs.send(step.event as never);
        const at = xs.getSnapshot();
        const state = { value: at.value as string, context: at.context as Record<string, unknown> };
        reached.add(state.value);
        for (const event of pool) {
          const can = at.can(event as never);
          const next = table.next(state, event);
          expect(next !== undefined, `${state.value} × ${event.type}`).toBe(can);
          if (!can) continue;
          const after = createActor(machine, { input, snapshot: xs.getPersistedSnapshot() } as never).start();
          after.send(event as never);
          expect(next!.value).toBe(after.getSnapshot().value);
          expect(JSON.stringify(next!.context)).toBe(JSON.stringify(after.getSnapshot().context));
        }
      }
      expect([...reached].sort()).toEqual(Object.keys(machine.root.states).sort());
    });
  }
});
