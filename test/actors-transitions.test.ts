/**
 * Decide, validate, append, apply: an event an aggregate's machine would not take is never written, on every
 * store. Three angles: paths generated from the machine definitions (@xstate/graph) reaching every state, then
 * every event type tried in each (an independent transition table is the oracle); a model-based fast-check run
 * of legal and illegal order commands through the real store; a tampered log refused on rehydration.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getShortestPaths } from "@xstate/graph";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { AnyStateMachine } from "xstate";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { IllegalTransitionError } from "../src/actors/illegal-transition.ts";
import { LogAudit } from "../src/actors/log-audit.ts";
import { type OrderStatus, orderMachine } from "../src/actors/order.machine.ts";
import { riskMachine } from "../src/actors/risk.machine.ts";
import { runMachine } from "../src/actors/run.machine.ts";
import { symbolMachine } from "../src/actors/symbol.machine.ts";
import { EventStoreDbEventStore } from "../src/adapters/store/eventstoredb.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import type { DomainEvent } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import type { EventStore } from "../src/events/store.ts";
import { startEsdbDouble } from "./support/esdb-grpc-double.ts";
import { runScenario, vector8 } from "./support/scenario.ts";

const S = "BTCUSDT";
const ID = "ps-BTCUSDT-000001-E";
const meta = { causationId: "test", eventTime: 1_746_316_800_000 };

const fill = (quantity: string, cumulativeQuantity: string, status: "FILLED" | "PARTIALLY_FILLED") =>
  ({
    type: "OrderFilled",
    data: {
      clientOrderId: ID,
      symbol: S,
      side: "BUY",
      tradeId: `t${cumulativeQuantity}`,
      price: "94512.3",
      quantity,
      cumulativeQuantity,
      commission: "0.05",
      commissionAsset: "USDT",
      maker: false,
      status,
    },
  }) as const satisfies DomainEvent;

/** One sample of every event type an aggregate might be offered (foreign types included). */
const samples = {
  OrderSubmitted: {
    type: "OrderSubmitted",
    data: {
      clientOrderId: ID,
      symbol: S,
      side: "BUY",
      type: "MARKET",
      purpose: "ENTRY",
      positionSide: "BOTH",
      quantity: "0.002",
      reduceOnly: false,
    },
  },
  ConditionalSubmitted: {
    type: "OrderSubmitted",
    data: {
      clientOrderId: ID,
      symbol: S,
      side: "SELL",
      type: "STOP_MARKET",
      purpose: "STOP_LOSS",
      positionSide: "BOTH",
      quantity: "0.002",
      reduceOnly: true,
      triggerPrice: "93000",
      workingType: "CONTRACT_PRICE",
    },
  },
  OrderAccepted: { type: "OrderAccepted", data: { clientOrderId: ID, orderId: "8389765" } },
  OrderDenied: {
    type: "OrderDenied",
    data: { clientOrderId: ID, symbol: S, rule: "tradingState", reason: "HALTED", numbers: {} },
  },
  OrderTriggering: {
    type: "OrderTriggering",
    data: { clientOrderId: ID, workingType: "CONTRACT_PRICE", triggeredAt: "92990" },
  },
  OrderTriggered: {
    type: "OrderTriggered",
    data: { clientOrderId: ID, orderId: "8389770", actualType: "MARKET" },
  },
  StpExpired: {
    type: "OrderExpired",
    data: { clientOrderId: ID, reason: "self-trade prevention", expiryReason: 1 },
  },
  OrderRejected: { type: "OrderRejected", data: { clientOrderId: ID, code: -4164, reason: "min notional" } },
  OrderCanceled: { type: "OrderCanceled", data: { clientOrderId: ID, reason: "user" } },
  OrderExpired: { type: "OrderExpired", data: { clientOrderId: ID, reason: "reduce-only" } },
  PartialFill: fill("0.001", "0.001", "PARTIALLY_FILLED"),
  FinalFill: fill("0.001", "0.002", "FILLED"),
  BarClosed: {
    type: "BarClosed",
    data: {
      symbol: S,
      interval: "1m",
      openTime: 1_746_316_800_000,
      closeTime: 1_746_316_859_999,
      open: "94500",
      high: "94600",
      low: "94400",
      close: "94550",
      volume: "12.5",
    },
  },
  AccountOpened: {
    type: "AccountOpened",
    data: { accountId: "main", asset: "USDT", walletBalance: "10000" },
  },
  FillBooked: {
    type: "FillBooked",
    data: {
      symbol: S,
      clientOrderId: ID,
      tradeId: "t1",
      side: "BUY",
      price: "94512.3",
      quantity: "0.002",
      commission: "0.0945123",
      realizedPnl: "0",
      positionAmt: "0.002",
      entryPrice: "94512.3",
      walletBalance: "9999.9054877",
    },
  },
  FundingFeeBooked: {
    type: "FundingFeeBooked",
    data: {
      symbol: S,
      fundingTime: 1_746_345_600_003,
      fundingRate: "0.0001",
      markPrice: "94500",
      positionAmt: "0.002",
      fundingFee: "-0.0189",
      walletBalance: "9999.8865877",
    },
  },
  RunStarted: {
    type: "RunStarted",
    data: {
      runId: "bt-1",
      mode: "backtest",
      strategy: "sma-cross",
      symbols: [S],
      from: 1_746_316_800_000,
      to: 1_746_403_200_000,
      config: {},
      manifest: [],
      instruments: { source: "bundled", snapshotDate: "2025-12-24" },
    },
  },
  RunCompleted: { type: "RunCompleted", data: { runId: "bt-1", bars: 1440, fundingSettlements: 3 } },
  RiskLimitsSet: { type: "RiskLimitsSet", data: { accountId: "main", limits: { maxDrawdown: "0.15" } } },
  VenueReconciled: {
    type: "VenueReconciled",
    data: {
      accountId: "main",
      trigger: "resync",
      recovered: 1,
      discrepancies: [
        { kind: "unknownOrder", detail: "unknown order web_1 (BTCUSDT BUY LIMIT 0.01 @ 90000)" },
      ],
    },
  },
  ...stateChanges(),
} satisfies Record<string, DomainEvent>;
type Sample = keyof typeof samples;

/** One TradingStateChanged sample per (from, to) pair, named like ActiveToHalted. */
function stateChanges() {
  const states = ["ACTIVE", "REDUCING", "HALTED"] as const;
  const name = (s: string) => s[0] + s.slice(1).toLowerCase();
  const out: Record<string, DomainEvent> = {};
  for (const from of states)
    for (const to of states)
      if (from !== to)
        out[`${name(from)}To${name(to)}`] = {
          type: "TradingStateChanged",
          data: { accountId: "main", from, to, by: "operator", reason: "test" },
        };
  return out as Record<
    | "ActiveToReducing"
    | "ActiveToHalted"
    | "ReducingToActive"
    | "ReducingToHalted"
    | "HaltedToActive"
    | "HaltedToReducing",
    DomainEvent
  >;
}

/**
 * The transition tables, written out independently of the machines (binance-usdm.md §3.1 for orders): state →
 * sample → next state. Anything not listed must be refused.
 */
const submitted = { OrderSubmitted: "PENDING_NEW", ConditionalSubmitted: "PENDING_NEW" } as const;
const pendingNew = {
  OrderAccepted: "NEW",
  OrderRejected: "REJECTED",
  OrderDenied: "DENIED",
  OrderCanceled: "CANCELED",
} as const;
const working = {
  PartialFill: "PARTIALLY_FILLED",
  FinalFill: "FILLED",
  OrderCanceled: "CANCELED",
  OrderExpired: "EXPIRED",
  StpExpired: "EXPIRED_IN_MATCH",
} as const;
const finals = { FILLED: {}, CANCELED: {}, EXPIRED: {}, EXPIRED_IN_MATCH: {}, REJECTED: {}, DENIED: {} };

const tables: Record<
  string,
  {
    machine: AnyStateMachine;
    table: Record<string, Partial<Record<Sample, string>>>;
    /** Samples left out of path generation (the other kind of order). */
    exclude?: Sample[];
  }
> = {
  order: {
    machine: orderMachine,
    exclude: ["ConditionalSubmitted"],
    table: {
      NONE: submitted,
      PENDING_NEW: pendingNew,
      NEW: working,
      PARTIALLY_FILLED: working,
      ...finals,
    },
  },
  "conditional order": {
    machine: orderMachine,
    exclude: ["OrderSubmitted"],
    table: {
      NONE: submitted,
      PENDING_NEW: pendingNew,
      NEW: {
        OrderTriggering: "TRIGGERING",
        OrderCanceled: "CANCELED",
        OrderExpired: "EXPIRED",
        StpExpired: "EXPIRED_IN_MATCH",
      },
      TRIGGERING: {
        OrderTriggered: "TRIGGERED",
        OrderRejected: "REJECTED",
        OrderExpired: "EXPIRED",
        StpExpired: "EXPIRED",
      },
      TRIGGERED: working,
      PARTIALLY_FILLED: working,
      ...finals,
    },
  },
  risk: {
    machine: riskMachine,
    table: {
      none: { RiskLimitsSet: "ACTIVE" },
      ACTIVE: { ActiveToReducing: "REDUCING", ActiveToHalted: "HALTED", VenueReconciled: "ACTIVE" },
      REDUCING: { ReducingToActive: "ACTIVE", ReducingToHalted: "HALTED", VenueReconciled: "REDUCING" },
      HALTED: { HaltedToActive: "ACTIVE", HaltedToReducing: "REDUCING", VenueReconciled: "HALTED" },
    },
  },
  account: {
    machine: accountMachine,
    table: {
      none: { AccountOpened: "open" },
      open: { FillBooked: "open", FundingFeeBooked: "open" },
    },
  },
  run: {
    machine: runMachine,
    table: {
      none: { RunStarted: "started" },
      started: { RunCompleted: "completed" },
      completed: {},
    },
  },
};

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const storeFactories: Record<string, () => Promise<EventStore>> = {
  memory: async () => new InMemoryEventStore(),
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), "ps-transitions-"));
    dirs.push(dir);
    const store = SqliteEventStore.open(join(dir, "events.sqlite"));
    cleanups.push(() => store.close());
    return store;
  },
  "eventstoredb (gRPC double)": async () => {
    const double = await startEsdbDouble();
    const store = await EventStoreDbEventStore.connect(double.connectionString);
    cleanups.push(async () => {
      await store.close();
      await double.stop();
    });
    return store;
  },
};

async function streamTypes(store: EventStore, stream: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.readStream(stream)) out.push(e.type);
  return out;
}

describe.each(Object.keys(storeFactories))("every state × event pair on the %s store", (storeName) => {
  it.each(Object.keys(tables))(
    "%s machine: paths from its definition, every event tried in every state",
    async (name) => {
      const { machine, table, exclude = [] } = tables[name]!;
      const store = await storeFactories[storeName]!();
      const paths = getShortestPaths(machine, {
        events: (Object.keys(samples) as Sample[])
          .filter((k) => !exclude.includes(k))
          .map((k) => samples[k]) as never,
        serializeState: (s) => JSON.stringify(s.value),
      });
      const reached = new Set(paths.map((p) => p.state.value as string));
      expect([...reached].sort()).toEqual(Object.keys(table).sort());
      let streamNo = 0;
      for (const path of paths) {
        const from = path.state.value as string;
        for (const sample of Object.keys(samples) as Sample[]) {
          const stream = `${name.replace(/\W/g, "")}-${storeName.replace(/\W/g, "")}-${streamNo++}`;
          const actor = EventSourcedActor.create(stream, machine, { store, correlationId: "c" });
          for (const step of path.steps) {
            if (!step.event.type.startsWith("xstate.")) await actor.commit([step.event as DomainEvent], meta);
          }
          const before = await streamTypes(store, stream);
          const expected = table[from]![sample];
          const attempt = actor.commit([samples[sample]], meta);
          if (expected === undefined) {
            const error = await attempt.then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(error, `${from} × ${sample} must be refused`).toBeInstanceOf(IllegalTransitionError);
            expect((error as IllegalTransitionError).eventType).toBe(samples[sample].type);
            expect(await streamTypes(store, stream)).toEqual(before);
            expect(actor.snapshot.value).toBe(from);
          } else {
            await attempt;
            expect(actor.snapshot.value, `${from} × ${sample}`).toBe(expected);
            expect(await streamTypes(store, stream)).toEqual([...before, samples[sample].type]);
          }
        }
      }
    },
  );
});

describe("order commands through the real store (model-based)", () => {
  type Model = { status: OrderStatus; executed: number; stored: string[] };
  type Real = { store: EventStore; actor: EventSourcedActor<typeof orderMachine> };
  const table = tables.order!.table;

  /** Commits one sample; legal ones must be stored and applied, illegal ones refused with nothing written. */
  class Offer implements fc.AsyncCommand<Model, Real> {
    constructor(readonly sample: Sample) {}
    check = () => true;
    async run(m: Model, r: Real) {
      let event: DomainEvent = samples[this.sample];
      let next = table[m.status]![this.sample] as OrderStatus | undefined;
      if (this.sample === "PartialFill" || this.sample === "FinalFill") {
        // Fills follow the model so cumulative quantities stay consistent: 0.001 more, or the rest of 0.002.
        const cumulative = this.sample === "FinalFill" ? 0.002 : m.executed + 0.001;
        const completes = cumulative > 0.0015;
        const quantity = (cumulative - m.executed).toFixed(3);
        event = fill(quantity, cumulative.toFixed(3), completes ? "FILLED" : "PARTIALLY_FILLED");
        next = table[m.status]![completes ? "FinalFill" : "PartialFill"] as OrderStatus | undefined;
      }
      const attempt = r.actor.commit([event], meta);
      if (next === undefined) {
        await expect(attempt).rejects.toBeInstanceOf(IllegalTransitionError);
      } else {
        await attempt;
        m.status = next;
        m.stored.push(event.type);
        if (event.type === "OrderFilled") m.executed = Number(event.data.cumulativeQuantity);
      }
      expect(r.actor.snapshot.value).toBe(m.status);
      expect(await streamTypes(r.store, r.actor.stream)).toEqual(m.stored);
    }
    toString = () => this.sample;
  }

  it.each(["memory", "sqlite"])(
    "legal commands are stored and applied, illegal ones refused (%s)",
    async (name) => {
      const order: Sample[] = [
        "OrderSubmitted",
        "OrderAccepted",
        "OrderRejected",
        "OrderCanceled",
        "OrderExpired",
        "PartialFill",
        "FinalFill",
        "BarClosed",
        "AccountOpened",
      ];
      let n = 0;
      const store = await storeFactories[name]!();
      await fc.assert(
        fc.asyncProperty(
          fc.commands(
            order.map((s) => fc.constant(new Offer(s))),
            { maxCommands: 14 },
          ),
          async (cmds) => {
            const actor = EventSourcedActor.create(`order-model-${n++}`, orderMachine, {
              store,
              correlationId: "c",
            });
            await fc.asyncModelRun(
              () => ({
                model: { status: "NONE" as OrderStatus, executed: 0, stored: [] },
                real: { store, actor },
              }),
              cmds,
            );
          },
        ),
        { numRuns: 150 },
      );
    },
  );
});

describe("a stored log that breaks a machine", () => {
  it("is refused on rehydration, naming the event's position", async () => {
    const store = new InMemoryEventStore();
    const stream = `order-${ID}`;
    const ids = ["00000000-0000-8000-8000-000000000001", "00000000-0000-8000-8000-000000000002"];
    const envelope = (i: number, e: DomainEvent) => ({
      eventId: ids[i]!,
      type: e.type,
      data: e.data,
      metadata: { correlationId: "c", ...meta },
    });
    // Written past the actor (as a foreign writer would): a fill straight after the submit.
    await store.append(
      stream,
      [envelope(0, samples.OrderSubmitted), envelope(1, samples.FinalFill)],
      "noStream",
    );
    const error = await EventSourcedActor.rehydrate(stream, orderMachine, {
      store,
      correlationId: "c",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect(error).toMatchObject({ stream, state: '"PENDING_NEW"', eventType: "OrderFilled", position: 2 });
  });
});

describe("the log audit", () => {
  it("passes a real engine log and names the first event that breaks a machine", async () => {
    const { events } = await runScenario(vector8.inputs(["100.2", "103.5", "100.1", "103"]), vector8.options);
    const audit = new LogAudit();
    for (const e of events) audit.check(e);
    expect(events.some((e) => e.type === "OrderFilled")).toBe(true);

    // Tampering: a bar written to an order stream, an acceptance after the order filled, a bar out of order.
    const filled = events.find((e) => e.type === "OrderFilled")!;
    const bar = events.find((e) => e.type === "BarClosed")!;
    const tampered: [RecordedEvent, string][] = [
      [{ ...bar, stream: filled.stream, position: 999 }, '"FILLED"'],
      [
        { ...events.find((e) => e.type === "OrderAccepted")!, stream: filled.stream, position: 999 },
        '"FILLED"',
      ],
      [{ ...bar, position: 999 }, '"streaming"'],
      [{ ...bar, stream: "positions-BTCUSDT", position: 999 }, '"unknown stream"'],
    ];
    for (const [event, state] of tampered) {
      const fresh = new LogAudit();
      for (const e of events) fresh.check(e);
      expect(() => fresh.check(event)).toThrow(IllegalTransitionError);
      expect(() => fresh.check(event)).toThrow(`in state ${state} (event at log position 999)`);
    }
  });
});

describe("the symbol actor's market invariants", () => {
  const minute = (i: number) => ({
    type: "BarClosed" as const,
    data: { ...samples.BarClosed.data, openTime: T + i * 60_000, closeTime: T + i * 60_000 + 59_999 },
  });
  const T = samples.BarClosed.data.openTime;

  it("refuses a bar that skips a minute unless a gap from the expected minute was recorded", async () => {
    const store = new InMemoryEventStore();
    const symbol = EventSourcedActor.create("symbol-BTCUSDT", symbolMachine, { store, correlationId: "c" });
    await symbol.commit([minute(0), minute(1)], meta);
    await expect(symbol.commit([minute(3)], meta)).rejects.toBeInstanceOf(IllegalTransitionError);
    await expect(symbol.commit([minute(1)], meta)).rejects.toBeInstanceOf(IllegalTransitionError);
    const gap = (from: number, to: number) => ({
      type: "MarketDataGapDetected" as const,
      data: {
        symbol: S,
        fromOpenTime: T + from * 60_000,
        toOpenTime: T + to * 60_000,
        missingBars: to - from,
      },
    });
    await expect(symbol.commit([gap(3, 5)], meta)).rejects.toBeInstanceOf(IllegalTransitionError);
    await symbol.commit([gap(2, 5), minute(5)], meta);
    expect(symbol.snapshot.context).toMatchObject({ bars: 3, gaps: 1, expectedOpenTime: T + 6 * 60_000 });
    expect(await streamTypes(store, "symbol-BTCUSDT")).toEqual([
      "BarClosed",
      "BarClosed",
      "MarketDataGapDetected",
      "BarClosed",
    ]);
  });
});
