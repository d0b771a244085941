/**
 * The trade actor: one per traded symbol, stream `trade-<SYMBOL>`. It records the strategy's decisions and owns
 * the lifecycle of the symbol's one bracketed position (the process the trade manager drives,
 * src/engine/trade-manager.ts).
 *
 *   flat ──EntrySignalled──▶ entryPending ──PositionProtectionRequested──▶ protected ──PositionClosed──▶ flat
 *                               │   └──InvalidRiskAtFill──▶ flattening ──PositionClosed──▶ flat
 *                               │          protected ──PositionUnprotected──▶ flattening
 *                               └──EntryFailed──▶ flat
 *   entryPending ──PositionClosed──▶ flat   (a partly filled entry's position was liquidated)
 *   any state: SignalSuppressed, FactorComputed (recorded, no transition)
 *   flat: TargetPositionSet (a target-position strategy moves its position with MARKET orders; no bracket)
 */
import { assign, setup } from "xstate";
import type { EventData } from "../events/catalog.ts";

type TradeEventType =
  | "FactorComputed"
  | "TargetPositionSet"
  | "EntrySignalled"
  | "SignalSuppressed"
  | "EntryFailed"
  | "PositionProtectionRequested"
  | "InvalidRiskAtFill"
  | "PositionUnprotected"
  | "PositionClosed";
/** The events a trade actor applies. */
export type TradeActorEvent = { [T in TradeEventType]: { type: T; data: EventData<T> } }[TradeEventType];

/** The position being worked on: from the accepted signal until the position is flat again. */
export interface ActiveTrade {
  direction: "LONG" | "SHORT";
  entryClientOrderId: string;
  /** Planned stop from the signal (before the fill). */
  plannedStopPrice: string;
  /** Take-profit distance as a multiple of the risk the fill takes. */
  takeProfitRiskMultiple: string;
  quantity: string;
  entryPrice?: string;
  stopPrice?: string;
  takeProfitPrice?: string;
  stopClientOrderId?: string;
  takeProfitClientOrderId?: string;
  flattenClientOrderId?: string;
}

/** What the trade actor knows. */
export interface TradeContext {
  symbol: string;
  /** Number of accepted signals so far (numbers the clientOrderIds). */
  signals: number;
  /** Suppressed signals so far. */
  suppressedSignals: number;
  /** Orders sent towards target positions so far (numbers their clientOrderIds), and the last one's id. */
  targetOrders: number;
  lastTargetClientOrderId?: string;
  trade?: ActiveTrade;
}

/** The trade machine (transition table in the header comment). Input: the symbol. */
export const tradeMachine = setup({
  types: { context: {} as TradeContext, events: {} as TradeActorEvent, input: {} as { symbol: string } },
  actions: {
    openTrade: assign(({ context, event }) =>
      event.type === "EntrySignalled"
        ? {
            signals: context.signals + 1,
            trade: {
              direction: event.data.direction,
              entryClientOrderId: event.data.entryClientOrderId,
              plannedStopPrice: event.data.stopPrice,
              takeProfitRiskMultiple: event.data.takeProfitRiskMultiple,
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
    recordSuppression: assign(({ context }) => ({ suppressedSignals: context.suppressedSignals + 1 })),
    /** Nothing to keep (the values are in the log), but a transition needs an action to be taken (`can`). */
    recordFactors: assign(() => ({})),
    recordTarget: assign(({ context, event }) => {
      if (event.type !== "TargetPositionSet" || !event.data.clientOrderId) return {};
      const { clientOrderId, secondClientOrderId } = event.data;
      return {
        targetOrders: context.targetOrders + (secondClientOrderId ? 2 : 1),
        lastTargetClientOrderId: secondClientOrderId ?? clientOrderId,
      };
    }),
  },
}).createMachine({
  id: "trade",
  context: ({ input }) => ({ symbol: input.symbol, signals: 0, suppressedSignals: 0, targetOrders: 0 }),
  initial: "flat",
  on: { SignalSuppressed: { actions: "recordSuppression" }, FactorComputed: { actions: "recordFactors" } },
  states: {
    flat: {
      on: {
        EntrySignalled: { target: "entryPending", actions: "openTrade" },
        TargetPositionSet: { actions: "recordTarget" },
      },
    },
    entryPending: {
      on: {
        PositionProtectionRequested: { target: "protected", actions: "protectTrade" },
        InvalidRiskAtFill: { target: "flattening", actions: "flattenTrade" },
        EntryFailed: { target: "flat", actions: "closeTrade" },
        PositionClosed: { target: "flat", actions: "closeTrade" },
      },
    },
    protected: {
      on: {
        PositionUnprotected: { target: "flattening", actions: "unprotectTrade" },
        PositionClosed: { target: "flat", actions: "closeTrade" },
      },
    },
    flattening: { on: { PositionClosed: { target: "flat", actions: "closeTrade" } } },
  },
});

/** The trade actor's state names. */
export type TradeState = "flat" | "entryPending" | "protected" | "flattening";
