/**
 * The symbol actor: one per symbol, stream `symbol-<SYMBOL>`: the market facts the run consumed, in market-time
 * order. Its guards are the feed's invariants: bars strictly after the last one, a gap only between the last bar
 * and a later one, settlements strictly after the last one.
 *
 *   awaitingData ──BarClosed──▶ streaming
 *   any state: MarketDataGapDetected (after the last bar), FundingRateSettled (after the last settlement)
 *   streaming: BarClosed (openTime > the last bar's)
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
    afterLastBar: ({ context, event }) =>
      event.type === "BarClosed" &&
      (context.lastBar === undefined || event.data.openTime > context.lastBar.openTime),
    gapAfterLastBar: ({ context, event }) =>
      event.type === "MarketDataGapDetected" &&
      event.data.toOpenTime > event.data.fromOpenTime &&
      (context.lastBar === undefined || event.data.fromOpenTime > context.lastBar.openTime),
    afterLastSettlement: ({ context, event }) =>
      event.type === "FundingRateSettled" &&
      (context.lastFundingTime === undefined || event.data.fundingTime > context.lastFundingTime),
  },
  actions: {
    recordBar: assign(({ context, event }) =>
      event.type === "BarClosed" ? { lastBar: event.data, bars: context.bars + 1 } : {},
    ),
    recordGap: assign(({ context }) => ({ gaps: context.gaps + 1 })),
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
    MarketDataGapDetected: { guard: "gapAfterLastBar", actions: "recordGap" },
    FundingRateSettled: { guard: "afterLastSettlement", actions: "recordFunding" },
  },
  states: {
    awaitingData: { on: { BarClosed: { guard: "afterLastBar", target: "streaming", actions: "recordBar" } } },
    streaming: { on: { BarClosed: { guard: "afterLastBar", actions: "recordBar" } } },
  },
});
