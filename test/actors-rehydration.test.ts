/**
 * Event-sourced actors: an actor rehydrated from its stream reaches the same snapshot as the live actor that
 * wrote it (property-tested over random markets); a second writer on the same stream is refused. The order
 * status table is tested in actors-transitions.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { orderMachine } from "../src/actors/order.machine.ts";
import { symbolMachine } from "../src/actors/symbol.machine.ts";
import { tradeMachine } from "../src/actors/trade.machine.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { WrongExpectedRevisionError } from "../src/events/store.ts";
import { bar, runScenario, type ScenarioInput } from "./support/scenario.ts";

const S = "ETHUSDT";
const params = {
  smaShort: 3,
  smaLong: 8,
  pivotLookback: 5,
  tpSlRatio: "1.5",
  cooldownBars: 2,
  marginUsdt: "100",
  leverage: 5,
};

/** A random walk of 1m bars in whole cents around 100 USDT. */
const market = fc
  .array(
    fc.tuple(fc.integer({ min: -60, max: 60 }), fc.nat(40), fc.nat(40), fc.integer({ min: -10, max: 10 })),
    {
      minLength: 20,
      maxLength: 160,
    },
  )
  .map((steps) => {
    let close = 10_000; // cents
    return steps.map(([move, up, down, gap], i): ScenarioInput => {
      const open = close + gap;
      close = Math.max(100, open + move);
      const high = Math.max(open, close) + up;
      const low = Math.max(1, Math.min(open, close) - down);
      const c = (v: number) => (v / 100).toFixed(2);
      return { kind: "bar", bar: bar(S, i, [c(open), c(high), c(low), c(close)]) };
    });
  });

describe("rehydration", () => {
  it("symbol, trade, account and order actors rebuilt from their streams equal the live ones", async () => {
    await fc.assert(
      fc.asyncProperty(market, async (inputs) => {
        const { store, engine } = await runScenario(inputs, { params, slippage: "0.0002" });
        const live = engine.snapshots();
        for (const [stream, machine, input] of [
          [`symbol-${S}`, symbolMachine, undefined],
          [`trade-${S}`, tradeMachine, { symbol: S }],
        ] as const) {
          const actor = await EventSourcedActor.rehydrate(stream, machine, {
            store,
            correlationId: "test-run",
            input,
          });
          expect({ value: actor.snapshot.value, context: actor.snapshot.context }).toEqual(live.get(stream));
        }
        const account = await EventSourcedActor.rehydrate("account-main", accountMachine, {
          store,
          correlationId: "test-run",
        });
        expect({ value: account.snapshot.value, context: account.snapshot.context }).toEqual(
          live.get("account-main"),
        );
        for (const [stream, snap] of live) {
          if (!stream.startsWith("order-")) continue;
          const order = await EventSourcedActor.rehydrate(stream, orderMachine, {
            store,
            correlationId: "test-run",
          });
          expect({ value: order.snapshot.value, context: order.snapshot.context }).toEqual(snap);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("a commit on a stale revision fails and the actor applies nothing", async () => {
    const store = new InMemoryEventStore();
    const a = EventSourcedActor.create("account-x", accountMachine, { store, correlationId: "c" });
    const b = EventSourcedActor.create("account-x", accountMachine, {
      store,
      correlationId: "another-writer",
    });
    const opened = {
      type: "AccountOpened",
      data: { accountId: "x", asset: "USDT", walletBalance: "10" },
    } as const;
    await a.commit([opened], { causationId: "t", eventTime: 1 });
    await expect(
      b.commit([{ ...opened, data: { ...opened.data, walletBalance: "20" } }], {
        causationId: "t",
        eventTime: 1,
      }),
    ).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    expect(b.snapshot.value).toBe("none");
    expect(a.snapshot.context.walletBalance).toBe("10");
  });
});
