/**
 * Strategies deciding on equity (`inputs().equity`, strategies.md §1.6 "one value per bar for all symbols"): the
 * engine holds their inputs until every symbol's bar of the same close time is recorded, then steps each with one
 * equity — the wallet plus every position's unrealized PnL at the marks of that minute, whichever symbol came
 * first. A minute a symbol misses is released by the next market event (`releaseBefore`), before the venue sees
 * it; inputs held at a checkpoint are part of it, and a restored engine continues to the same log.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SimulatedVenue } from "../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { TradingEngine } from "../src/engine/trading-engine.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import type { Strategy } from "../src/strategies/strategy.ts";
import { bar, T0 } from "./support/scenario.ts";

/** Buys 0.1 ETHUSDT at its first bar, then holds; records the equity it was given at every bar. */
const toy: Strategy<Record<string, never>, { bars: number }> = {
  name: "toy-equity",
  configKey: "toyEquity",
  paramsVersion: 1,
  params: z.strictObject({}),
  inputs: () => ({ intervals: ["1m"], funding: false, equity: true }),
  warmupBars: () => 0,
  symbolSettings: () => ({ leverage: 5, marginType: "CROSSED" as const }),
  init: () => ({ bars: 0 }),
  isWarm: () => true,
  step(state, input, _ctx, position) {
    if (input.kind !== "bar") return { state, decision: { kind: "none" } };
    const factors = { equity: position.equity ?? null, close: input.bar.close };
    if (input.bar.symbol !== "ETHUSDT" || state.bars > 0)
      return { state: { bars: state.bars + 1 }, decision: { kind: "none" }, factors };
    const decision = {
      kind: "target",
      positionAmt: "0.1",
      referencePrice: input.bar.close,
      signal: {},
    } as const;
    return { state: { bars: 1 }, decision, factors };
  },
};

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const eth = (i: number) => bar("ETHUSDT", i, ["2000", "2010", "1990", `${2000 + 10 * i}`]);
const btc = (i: number) => bar("BTCUSDT", i, ["60000", "60100", "59900", `${60000 + i}`]);
type Input = EventData<"BarClosed"> | EventData<"MarketDataGapDetected">;
const btcGap = { symbol: "BTCUSDT", fromOpenTime: T0 + 180_000, toOpenTime: T0 + 240_000, missingBars: 1 };
/**
 * Minutes 0..5 of both symbols, BTCUSDT first in each minute (the archive's order); BTCUSDT misses minute 3,
 * its gap reported right before its next bar (at that bar's openTime), as the archive stream does.
 */
const FEED: Input[] = [0, 1, 2, 3, 4, 5].flatMap((i) =>
  i === 3 ? [eth(i)] : i === 4 ? [btcGap, btc(i), eth(i)] : [btc(i), eth(i)],
);

function engineOn(store: InMemoryEventStore, venue: SimulatedVenue) {
  return new TradingEngine({
    store,
    venue,
    runId: "barrier",
    accountId: "main",
    strategy: toy,
    params: {},
    instrument: getInstrument,
    brackets: () => [],
    symbols: SYMBOLS,
  });
}

/** One market event as the kernel steps it: held inputs out first, then the venue, then the engine. */
async function step(engine: TradingEngine, venue: SimulatedVenue, e: Input) {
  if (!("closeTime" in e)) return engine.onGap(e, e.toOpenTime);
  await engine.releaseBefore(e.closeTime);
  await venue.matchBar(e, engine.onVenueReport);
  await engine.onBar(e);
}

async function readAll(store: InMemoryEventStore) {
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  return events;
}

const venueOf = () => new SimulatedVenue({ takerRate: "0.0005", slippage: "0", instrument: getInstrument });

describe("the equity barrier", () => {
  it("one equity per minute for all symbols, at that minute's marks; a missed minute is released by the next event", async () => {
    const store = new InMemoryEventStore();
    const venue = venueOf();
    const engine = engineOn(store, venue);
    await engine.openAccount("10000", { causationId: "t", eventTime: T0 });
    for (const b of FEED) await step(engine, venue, b);
    const events = await readAll(store);
    const computed = events.filter((e) => e.type === "FactorComputed");
    const rows = computed.map((e) => {
      const d = e.data as EventData<"FactorComputed">;
      return [d.symbol, (d.barOpenTime - T0) / 60_000, d.factors.equity];
    });
    // The entry fills at minute 1's open (2000) with a taker fee of 0.1 (0.1 × 2000 × 0.0005): wallet 9999.9;
    // from then the equity moves with ETHUSDT's close of the same minute, for BTCUSDT's decision too.
    const equity = (i: number) => (i === 0 ? "10000" : String(9999.9 + 0.1 * (2000 + 10 * i - 2000)));
    expect(rows).toEqual([
      ["BTCUSDT", 0, equity(0)],
      ["ETHUSDT", 0, equity(0)],
      ["BTCUSDT", 1, equity(1)],
      ["ETHUSDT", 1, equity(1)],
      ["BTCUSDT", 2, equity(2)],
      ["ETHUSDT", 2, equity(2)],
      ["ETHUSDT", 3, equity(3)],
      ["BTCUSDT", 4, equity(4)],
      ["ETHUSDT", 4, equity(4)],
      ["BTCUSDT", 5, equity(5)],
      ["ETHUSDT", 5, equity(5)],
    ]);
    // Every decision of a minute is appended after both symbols' bars of it: never between them.
    const order = events.filter((e) => e.type === "BarClosed" || e.type === "FactorComputed");
    const labels = order.map(
      (e) => `${e.type === "BarClosed" ? "bar" : "fc"}:${(e.data as { symbol: string }).symbol.slice(0, 3)}`,
    );
    expect(labels.slice(0, 4)).toEqual(["bar:BTC", "bar:ETH", "fc:BTC", "fc:ETH"]);
    // Minute 3 (ETHUSDT alone) is released by the next market event (BTCUSDT's gap), before it is recorded.
    const minute3 = events.findIndex(
      (e) => e.type === "FactorComputed" && (e.data as { barOpenTime: number }).barOpenTime === T0 + 180_000,
    );
    expect(events[minute3 + 1]).toMatchObject({ type: "MarketDataGapDetected", data: btcGap });
  });

  it("inputs held at a checkpoint are in it: a restored engine continues to the same log", async () => {
    const whole = new InMemoryEventStore();
    {
      const venue = venueOf();
      const engine = engineOn(whole, venue);
      await engine.openAccount("10000", { causationId: "t", eventTime: T0 });
      for (const b of FEED) await step(engine, venue, b);
    }
    const store = new InMemoryEventStore();
    const venue = venueOf();
    const first = engineOn(store, venue);
    await first.openAccount("10000", { causationId: "t", eventTime: T0 });
    // Cut after BTCUSDT's bar of minute 2: its input is held, waiting for ETHUSDT's.
    const cut =
      FEED.findIndex(
        (b) =>
          b === FEED.find((x) => "openTime" in x && x.symbol === "BTCUSDT" && x.openTime === T0 + 120_000),
      ) + 1;
    for (const b of FEED.slice(0, cut)) await step(first, venue, b);
    const checkpoint = JSON.parse(JSON.stringify(first.checkpoint()));
    expect(checkpoint.pending).toHaveLength(1);
    const second = engineOn(store, venue);
    second.restore(checkpoint);
    for (const b of FEED.slice(cut)) await step(second, venue, b);
    const strip = (events: RecordedEvent[]) =>
      events.map(({ eventId, type, data, metadata }) => ({ eventId, type, data, metadata }));
    expect(strip(await readAll(store))).toEqual(strip(await readAll(whole)));
  });
});
