/**
 * The symbol actor: one per traded symbol, stream `symbol-<SYMBOL>`. It consumes closed bars, runs sma-cross
 * (strategies.md §2) through its incremental indicators, and owns the lifecycle of the symbol's one position.
 *
 *   flat ──EntrySignalled──▶ entryPending ──PositionProtectionRequested──▶ protected ──PositionClosed──▶ flat
 *                               │   └──InvalidRiskAtFill──▶ flattening ──PositionClosed──▶ flat
 *                               │          protected ──PositionUnprotected──▶ flattening
 *                               └──EntryFailed──▶ flat
 *   any state: BarClosed (indicators step), MarketDataGapDetected (warm-up restarts), FundingRateSettled,
 *              SignalSuppressed (recorded, no transition)
 */
import { assign, setup } from "xstate";
import type { Instrument } from "../domain/instruments.ts";
import {
  initialSmaCrossState,
  resetSmaCross,
  type SmaCrossParams,
  type SmaCrossState,
  stepSmaCross,
} from "../domain/strategies/sma-cross.ts";
import type { EventData } from "../events/catalog.ts";

type SymbolEventType =
  | "BarClosed"
  | "MarketDataGapDetected"
  | "FundingRateSettled"
  | "EntrySignalled"
  | "SignalSuppressed"
  | "EntryFailed"
  | "PositionProtectionRequested"
  | "InvalidRiskAtFill"
  | "PositionUnprotected"
  | "PositionClosed";
/** The events a symbol actor applies. */
export type SymbolActorEvent = { [T in SymbolEventType]: { type: T; data: EventData<T> } }[SymbolEventType];

/** The position being worked on: from the accepted signal until the position is flat again. */
export interface ActiveTrade {
  direction: "LONG" | "SHORT";
  entryClientOrderId: string;
  /** Planned structural stop from the signal (before the fill). */
  plannedStopPrice: string;
  quantity: string;
  entryPrice?: string;
  stopPrice?: string;
  takeProfitPrice?: string;
  stopClientOrderId?: string;
  takeProfitClientOrderId?: string;
  flattenClientOrderId?: string;
}

/** What the symbol actor knows. */
export interface SymbolContext {
  symbol: string;
  params: SmaCrossParams;
  instrument: Instrument;
  strategy: SmaCrossState;
  /** Number of accepted signals so far (numbers the clientOrderIds). */
  signals: number;
  /** Suppressed crossovers so far. */
  suppressedSignals: number;
  /** fundingTime of the last settlement recorded (ms), undefined before the first. */
  lastFundingTime?: number;
  trade?: ActiveTrade;
}

/** Input of a new symbol actor. */
export interface SymbolInput {
  symbol: string;
  params: SmaCrossParams;
  instrument: Instrument;
}

/** The symbol machine (transition table in the header comment). */
export const symbolMachine = setup({
  types: { context: {} as SymbolContext, events: {} as SymbolActorEvent, input: {} as SymbolInput },
  actions: {
    stepIndicators: assign(({ context, event }, params: { positionOpen: boolean }) =>
      event.type === "BarClosed"
        ? {
            strategy: stepSmaCross(context.strategy, event.data, {
              params: context.params,
              instrument: context.instrument,
              positionOpen: params.positionOpen,
            }).state,
          }
        : {},
    ),
    restartWarmUp: assign(({ context }) => ({ strategy: resetSmaCross(context.strategy) })),
    openTrade: assign(({ context, event }) =>
      event.type === "EntrySignalled"
        ? {
            signals: context.signals + 1,
            trade: {
              direction: event.data.direction,
              entryClientOrderId: event.data.entryClientOrderId,
              plannedStopPrice: event.data.stopPrice,
              quantity: event.data.quantity,
            },
          }
        : {},
    ),
    protectTrade: assign(({ context, event }) =>
      event.type === "PositionProtectionRequested" && context.trade
        ? {
            trade: {
              ...context.trade,
              entryPrice: event.data.entryPrice,
              quantity: event.data.quantity,
              stopPrice: event.data.stopPrice,
              takeProfitPrice: event.data.takeProfitPrice,
              stopClientOrderId: event.data.stopClientOrderId,
              takeProfitClientOrderId: event.data.takeProfitClientOrderId,
            },
          }
        : {},
    ),
    flattenTrade: assign(({ context, event }) =>
      event.type === "InvalidRiskAtFill" && context.trade
        ? {
            trade: {
              ...context.trade,
              entryPrice: event.data.entryPrice,
              flattenClientOrderId: event.data.flattenClientOrderId,
            },
          }
        : {},
    ),
    unprotectTrade: assign(({ context, event }) =>
      event.type === "PositionUnprotected" && context.trade
        ? { trade: { ...context.trade, flattenClientOrderId: event.data.flattenClientOrderId } }
        : {},
    ),
    closeTrade: assign({ trade: undefined }),
    recordFunding: assign(({ event }) =>
      event.type === "FundingRateSettled" ? { lastFundingTime: event.data.fundingTime } : {},
    ),
    recordSuppression: assign(({ context }) => ({ suppressedSignals: context.suppressedSignals + 1 })),
  },
}).createMachine({
  id: "symbol",
  context: ({ input }) => ({
    symbol: input.symbol,
    params: input.params,
    instrument: input.instrument,
    strategy: initialSmaCrossState(input.params),
    signals: 0,
    suppressedSignals: 0,
  }),
  initial: "flat",
  on: {
    MarketDataGapDetected: { actions: "restartWarmUp" },
    FundingRateSettled: { actions: "recordFunding" },
    SignalSuppressed: { actions: "recordSuppression" },
  },
  states: {
    flat: {
      on: {
        BarClosed: { actions: { type: "stepIndicators", params: { positionOpen: false } } },
        EntrySignalled: { target: "entryPending", actions: "openTrade" },
      },
    },
    entryPending: {
      on: {
        BarClosed: { actions: { type: "stepIndicators", params: { positionOpen: true } } },
        PositionProtectionRequested: { target: "protected", actions: "protectTrade" },
        InvalidRiskAtFill: { target: "flattening", actions: "flattenTrade" },
        EntryFailed: { target: "flat", actions: "closeTrade" },
      },
    },
    protected: {
      on: {
        BarClosed: { actions: { type: "stepIndicators", params: { positionOpen: true } } },
        PositionUnprotected: { target: "flattening", actions: "unprotectTrade" },
        PositionClosed: { target: "flat", actions: "closeTrade" },
      },
    },
    flattening: {
      on: {
        BarClosed: { actions: { type: "stepIndicators", params: { positionOpen: true } } },
        PositionClosed: { target: "flat", actions: "closeTrade" },
      },
    },
  },
});

/** The symbol actor's state names. */
export type SymbolState = "flat" | "entryPending" | "protected" | "flattening";
