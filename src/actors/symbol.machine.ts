/**
 * The symbol actor: one per symbol, stream `symbol-<SYMBOL>`: the market facts the run consumed, in market-time
 * order. Its guards are the feed's invariants, so a hole can never pass silently: each 1m bar opens exactly one
 * minute after the last one, or where the gap recorded since then ends; a gap starts where the next bar was
 * expected; settlements come strictly after the last one.
 *
 *   awaitingData ──BarClosed──▶ streaming
 *   any state: MarketDataGapDetected (from the expected openTime), FundingRateSettled (after the last settlement)
 *   streaming: BarClosed (openTime = the expected one)
 */
import { assign, setup } from "xstate";
import type { EventData } from "../events/catalog.ts";

type SymbolEventType = "BarClosed" | "MarketDataGapDetected" | "FundingRateSettled";
/** The events a symbol actor applies. */
export type SymbolActorEvent = { [T in SymbolEventType]: { type: T; data: EventData<T> } }[SymbolEventType];

/** What the symbol actor knows. Times in ms. */
export interface SymbolContext {
  /** The last closed bar, undefined before the first. */
  lastBar?: EventData<"BarClosed">;
  /** openTime the next bar must have (ms): the last bar's + 1 minute, or the end of the gap since; undefined before any. */
  expectedOpenTime?: number;
  bars: number;
  gaps: number;
  /** fundingTime of the last settlement, undefined before the first. */
  lastFundingTime?: number;
  fundingSettlements: number;
}

/** The symbol machine (transition table in the header comment). */
export const symbolMachine = setup({
  types: { context: {} as SymbolContext, events: {} as SymbolActorEvent },
  guards: {
    expectedBar: ({ context, event }) =>
      event.type === "BarClosed" &&
      (context.expectedOpenTime === undefined || event.data.openTime === context.expectedOpenTime),
    gapFromExpected: ({ context, event }) =>
      event.type === "MarketDataGapDetected" &&
      event.data.toOpenTime > event.data.fromOpenTime &&
      (context.expectedOpenTime === undefined || event.data.fromOpenTime === context.expectedOpenTime),
    afterLastSettlement: ({ context, event }) =>
      event.type === "FundingRateSettled" &&
      (context.lastFundingTime === undefined || event.data.fundingTime > context.lastFundingTime),
  },
  actions: {
    recordBar: assign(({ context, event }) =>
      event.type === "BarClosed"
        ? { lastBar: event.data, bars: context.bars + 1, expectedOpenTime: event.data.openTime + 60_000 }
        : {},
    ),
    recordGap: assign(({ context, event }) =>
      event.type === "MarketDataGapDetected"
        ? { gaps: context.gaps + 1, expectedOpenTime: event.data.toOpenTime }
        : {},
    ),
    recordFunding: assign(({ context, event }) =>
      event.type === "FundingRateSettled"
        ? { lastFundingTime: event.data.fundingTime, fundingSettlements: context.fundingSettlements + 1 }
        : {},
    ),
  },
}).createMachine({
  id: "symbol",
  context: { bars: 0, gaps: 0, fundingSettlements: 0 },
  initial: "awaitingData",
  on: {
    MarketDataGapDetected: { guard: "gapFromExpected", actions: "recordGap" },
    FundingRateSettled: { guard: "afterLastSettlement", actions: "recordFunding" },
  },
  states: {
    awaitingData: { on: { BarClosed: { guard: "expectedBar", target: "streaming", actions: "recordBar" } } },
    streaming: { on: { BarClosed: { guard: "expectedBar", actions: "recordBar" } } },
  },
});
