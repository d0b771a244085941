/**
 * Drives the trading engine and the simulated venue over hand-made bars and funding settlements, in memory,
 * exactly as a backtest does (venue matching first, then the bar close).
 */
import { marginedPositions } from "../../src/actors/account.decide.ts";
import { InMemoryEventStore } from "../../src/adapters/store/memory.ts";
import { SimulatedVenue } from "../../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../../src/domain/instruments.ts";
import { bundledLeverageBracketCatalog } from "../../src/domain/margin/brackets.catalog.ts";
import { TradingEngine } from "../../src/engine/trading-engine.ts";
import type { EventData } from "../../src/events/catalog.ts";
import type { RecordedEvent } from "../../src/events/envelope.ts";
import { smaCross } from "../../src/strategies/sma-cross/index.ts";
import type { SmaCrossConfig } from "../../src/strategies/sma-cross/params.ts";

/** 2024-01-01 00:00 UTC. */
export const T0 = 1704067200000;

/** A closed 1m bar `i` minutes after `t0`. */
export function bar(
  symbol: string,
  i: number,
  [open, high, low, close]: [string, string, string, string],
  t0 = T0,
): EventData<"BarClosed"> {
  const openTime = t0 + i * 60_000;
  return {
    symbol,
    interval: "1m",
    openTime,
    closeTime: openTime + 59_999,
    open,
    high,
    low,
    close,
    volume: "1",
  };
}

export type ScenarioInput =
  | { kind: "bar"; bar: EventData<"BarClosed"> }
  | { kind: "funding"; funding: EventData<"FundingRateSettled"> };

export interface ScenarioOptions {
  params?: Partial<SmaCrossConfig>;
  takerRate?: string;
  slippage?: string;
  initialBalance?: string;
  runId?: string;
  /**
   * The venue checks margin at submit and liquidates, against the booked account and the bundled brackets, as a
   * backtest's does.
   */
  margin?: boolean;
  /** Hedge mode (`dualSidePosition`): the venue and the engine trade LONG and SHORT positions per symbol. */
  dualSidePosition?: boolean;
}

/** Runs `inputs` through a fresh engine; returns the store, the engine, the venue and the whole log. */
export async function runScenario(inputs: ScenarioInput[], options: ScenarioOptions = {}) {
  const store = new InMemoryEventStore();
  const brackets = bundledLeverageBracketCatalog();
  const venue: SimulatedVenue = new SimulatedVenue({
    takerRate: options.takerRate ?? "0.0005",
    slippage: options.slippage ?? "0",
    instrument: getInstrument,
    ...(options.dualSidePosition ? { dualSidePosition: true } : {}),
    ...(options.margin
      ? {
          margin: {
            account: () => ({
              walletBalance: engine.accountState.walletBalance,
              positions: marginedPositions(engine.accountState),
              settings: engine.accountState.settings,
            }),
            brackets: (symbol: string) => brackets.get(symbol).brackets,
          },
        }
      : {}),
  });
  const params = smaCross.params.parse({ marginUsdt: "1000", ...options.params });
  const symbols = [...new Set(inputs.map((i) => (i.kind === "bar" ? i.bar.symbol : undefined)))].filter(
    (s): s is string => s !== undefined,
  );

  const engine: TradingEngine = new TradingEngine({
    store,
    venue,
    runId: options.runId ?? "test-run",
    accountId: "main",
    strategy: smaCross,
    params,
    instrument: getInstrument,
    brackets: () => [],
    symbols,
    ...(options.dualSidePosition ? { dualSidePosition: true } : {}),
  });
  await engine.openAccount(options.initialBalance ?? "10000", {
    causationId: "test",
    eventTime: T0,
  });
  for (const input of inputs) {
    if (input.kind === "bar") {
      await venue.matchBar(input.bar, engine.onVenueReport);
      await engine.onBar(input.bar);
    } else {
      await engine.onFundingRate(input.funding);
      await venue.settleFunding(input.funding, engine.onVenueReport);
    }
  }
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  return { store, engine, venue, events, params };
}

/** The data of every event of `type` in `events`. */
export function dataOf<T extends RecordedEvent["type"]>(events: RecordedEvent[], type: T) {
  return events.filter((e) => e.type === type).map((e) => e.data as EventData<T>);
}

type Ohlc = [string, string, string, string];

/**
 * strategies.md §2.4 vector 8 as bars (SMA 3/5, margin 50, leverage 10, fee 0.04 %, slippage 0.01 %): bars 0..5
 * make a LONG crossover at bar 5 (close 100) whose lowest prior low is 99; bar 6 opens at 100, so the entry
 * fills at 100.01 and the take-profit is 103.04. `inputs(exit)` appends bar 7 with the given OHLC.
 */
export const vector8 = {
  symbol: "ETHUSDT", // tick 0.01, step 0.001
  options: {
    params: {
      smaShort: 3,
      smaLong: 5,
      pivotLookback: 5,
      tpSlRatio: "3",
      cooldownBars: 0,
      marginUsdt: "50",
      leverage: 10,
    },
    takerRate: "0.0004",
    slippage: "0.0001",
    initialBalance: "1000",
  } satisfies ScenarioOptions,
  bars: [
    ["101", "101.1", "100.9", "101"],
    ["101", "101", "99.4", "99.5"],
    ["99.5", "99.6", "99.3", "99.4"],
    ["99.4", "99.5", "99.2", "99.3"],
    ["99.3", "99.4", "99", "99.2"],
    ["99.2", "100.1", "99.1", "100"],
    ["100", "100.5", "99.5", "100.2"],
  ] as Ohlc[],
  inputs(exit?: Ohlc): ScenarioInput[] {
    return [...this.bars, ...(exit ? [exit] : [])].map((ohlc, i) => ({
      kind: "bar",
      bar: bar(this.symbol, i, ohlc),
    }));
  },
};
