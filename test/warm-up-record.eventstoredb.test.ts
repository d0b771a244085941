/**
 * A 979-hour warm-up in an EventStoreDB store (the in-process gRPC double, which caps an append at 1 MiB as the
 * server's default MaxAppendSize does): one WarmUpRecorded holding a symbol's 58,740 bars would be refused, so
 * `recordWarmUp` writes consecutive parts, one append each, which read back into exactly the inputs it fed.
 */
import { afterEach, describe, expect, it } from "vitest";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { runMachine } from "../src/actors/run.machine.ts";
import { isPriced, type MarketEvent } from "../src/adapters/market/types.ts";
import { EventStoreDbEventStore } from "../src/adapters/store/eventstoredb.ts";
import type { TradingEngine } from "../src/engine/trading-engine.ts";
import { recordWarmUp, WARM_UP_EVENT_BYTES, warmUpEvents } from "../src/engine/warm-up-record.ts";
import type { EventData } from "../src/events/catalog.ts";
import { streams } from "../src/events/streams.ts";
import { type EsdbDouble, startEsdbDouble } from "./support/esdb-grpc-double.ts";

const HOUR = 3_600_000;
const FROM = Date.parse("2023-08-02T05:00:00Z");
const TO = FROM + 979 * HOUR;
const RUN = "paper-0123456789abcdef";

/** 58,740 1m bars of FILUSDT-like prices with taker volumes, and a settlement every 8 h from 8 h before. */
function history(): MarketEvent[] {
  const events: MarketEvent[] = [];
  for (let t = FROM - 5 * HOUR; t < TO; t += 8 * HOUR)
    events.push({
      kind: "funding",
      time: t,
      funding: {
        symbol: "FILUSDT",
        fundingTime: t,
        fundingRate: `-0.0000${(t / HOUR) % 97}`,
        fundingIntervalHours: 8,
        markPrice: "4.2",
        markPriceSource: "markPriceKline",
      },
    });
  for (let i = 0, t = FROM; t < TO; i++, t += 60_000) {
    const p = (4000 + (i % 977)) / 1000;
    events.push({
      kind: "bar",
      time: t + 59_999,
      bar: {
        symbol: "FILUSDT",
        interval: "1m",
        openTime: t,
        closeTime: t + 59_999,
        open: p.toFixed(3),
        high: (p + 0.004).toFixed(3),
        low: (p - 0.003).toFixed(3),
        close: (p + 0.001).toFixed(3),
        volume: `${12_345 + (i % 9_999)}.${i % 10}`,
        takerBuyVolume: `${6_000 + (i % 5_000)}.${i % 7}`,
      },
    });
  }
  return events.sort((a, b) => a.time - b.time || (a.kind === "funding" ? -1 : 1));
}

const doubles: EsdbDouble[] = [];
const stores: EventStoreDbEventStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const double of doubles.splice(0)) await double.stop();
});

describe("a 979-hour warm-up in EventStoreDB", () => {
  it("is written in parts under the 1 MiB append limit, which read back into the inputs it fed", async () => {
    const double = await startEsdbDouble();
    doubles.push(double);
    const store = await EventStoreDbEventStore.connect(double.connectionString);
    stores.push(store);
    const run = EventSourcedActor.create(streams.run(RUN), runMachine, { store, correlationId: RUN });
    const cause = { causationId: `run:${RUN}`, eventTime: TO };
    await run.commit(
      [
        {
          type: "RunStarted",
          data: {
            runId: RUN,
            mode: "paper",
            strategy: "sma-cross",
            symbols: ["FILUSDT"],
            from: TO,
            to: TO,
            config: {},
            manifest: [],
          },
        },
      ],
      cause,
    );
    const inputs = history();
    expect(inputs.filter((e) => e.kind === "bar")).toHaveLength(58_740);

    // As one event, the warm-up is more than EventStoreDB takes in one write.
    const whole = [...inputs];
    const wholeEvent = {
      type: "WarmUpRecorded" as const,
      data: {
        runId: RUN,
        symbol: "FILUSDT",
        from: FROM,
        to: TO,
        inputs: whole.map((e) =>
          e.kind === "bar"
            ? ([
                e.bar.openTime,
                e.bar.open,
                e.bar.high,
                e.bar.low,
                e.bar.close,
                e.bar.volume,
                e.bar.takerBuyVolume!,
              ] as [number, string, string, string, string, string, string])
            : (() => {
                const { funding } = e as MarketEvent & { kind: "funding" };
                if (!isPriced(funding)) throw new Error("the live history prices every settlement");
                const { symbol: _, ...settlement } = funding;
                return settlement;
              })(),
        ),
      },
    };
    expect(JSON.stringify(wholeEvent.data).length).toBeGreaterThan(1_048_576);
    const probe = EventSourcedActor.create(streams.run("probe"), runMachine, {
      store,
      correlationId: "probe",
    });
    await probe.commit(
      [{ type: "RunStarted", data: { ...(await firstData(store)), runId: "probe" } }],
      cause,
    );
    await expect(probe.commit([wholeEvent], cause)).rejects.toThrow(
      /append to stream run-probe failed: .*maximum append size \(1048576 bytes\)/,
    );

    const fed: MarketEvent[] = [];
    const engine = {
      warmUp: (input: { kind: string }, time: number) => fed.push({ ...input, time } as MarketEvent),
    } as unknown as TradingEngine;
    await recordWarmUp({
      run,
      engine,
      runId: RUN,
      symbols: ["FILUSDT"],
      window: { from: FROM, to: TO },
      history: (async function* () {
        yield* inputs;
      })(),
      cause,
    });
    const parts: EventData<"WarmUpRecorded">[] = [];
    for await (const e of store.readStream(streams.run(RUN)))
      if (e.type === "WarmUpRecorded") parts.push(e.data as EventData<"WarmUpRecorded">);
    expect(parts.length).toBeGreaterThan(6);
    for (const part of parts)
      expect(JSON.stringify(part.inputs).length).toBeLessThanOrEqual(WARM_UP_EVENT_BYTES);
    const readBack = parts.flatMap(warmUpEvents);
    expect(readBack).toEqual(inputs);
    expect(fed).toEqual(inputs);
  }, 120_000);
});

/** The RunStarted data of the store's first run. */
async function firstData(store: EventStoreDbEventStore): Promise<EventData<"RunStarted">> {
  for await (const e of store.readAll())
    if (e.type === "RunStarted") return e.data as EventData<"RunStarted">;
  throw new Error("no RunStarted");
}
