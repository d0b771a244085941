/**
 * The account actor: wallet balance, per-symbol leverage and margin type, and positions, stream `account-<id>`.
 * Its events carry the position and walletBalance after each booking (like Binance's ACCOUNT_UPDATE), so applying
 * them is a copy and the arithmetic lives in the decisions (account.decide.ts) that produce them.
 *
 *   state  event                → state  guard
 *   none   AccountOpened        → open
 *   open   SymbolConfigured     → open   the symbol has no position (Binance -4047/-4048 otherwise)
 *          FillBooked           → open
 *          FundingFeeBooked     → open
 *          PositionLiquidated   → open   the liquidated position exists
 */
import { assign, setup } from "xstate";
import type { EventData } from "../events/catalog.ts";

type AccountEventType =
  | "AccountOpened"
  | "SymbolConfigured"
  | "FillBooked"
  | "FundingFeeBooked"
  | "PositionLiquidated";
/** The events an account actor applies. */
export type AccountActorEvent = {
  [T in AccountEventType]: { type: T; data: EventData<T> };
}[AccountEventType];

/** BOTH in one-way mode, LONG or SHORT in hedge mode (binance-usdm.md §4.1). */
export type PositionSide = "BOTH" | "LONG" | "SHORT";

/** A position: signed size in base asset (SHORT side ≤ 0), entry price in quote asset. */
export interface BookedPosition {
  positionAmt: string;
  entryPrice: string;
  /** Margin of an ISOLATED position (USDT, ACCOUNT_UPDATE `iw`); absent for cross margin. */
  isolatedWallet?: string;
}

/** A symbol's leverage (integer) and margin type, as configured at the venue. */
export interface SymbolSettings {
  leverage: number;
  marginType: "ISOLATED" | "CROSSED";
}

/** What the account actor knows. Money in USDT. */
export interface AccountContext {
  accountId: string;
  /** Total wallet balance: cross wallet plus every isolated wallet (Binance's walletBalance). */
  walletBalance: string;
  /** Hedge mode (LONG and SHORT positions per symbol). */
  dualSidePosition: boolean;
  /** Leverage and margin type per configured symbol. */
  settings: Record<string, SymbolSettings>;
  /** Open positions by `positionKey`; a flat position is removed. */
  positions: Record<string, BookedPosition>;
}

/** The key of a position in `AccountContext.positions`: the symbol (BOTH), or `SYMBOL:LONG` / `SYMBOL:SHORT`. */
export function positionKey(symbol: string, positionSide: PositionSide = "BOTH"): string {
  return positionSide === "BOTH" ? symbol : `${symbol}:${positionSide}`;
}

function withPosition(
  positions: Record<string, BookedPosition>,
  key: string,
  p: BookedPosition,
): Record<string, BookedPosition> {
  const next = { ...positions };
  if (/^-?0(\.0+)?$/.test(p.positionAmt)) delete next[key];
  else next[key] = p;
  return next;
}

/** The account machine (transition table in the header comment). */
export const accountMachine = setup({
  types: { context: {} as AccountContext, events: {} as AccountActorEvent },
  actions: {
    open: assign(({ event }) =>
      event.type === "AccountOpened"
        ? {
            accountId: event.data.accountId,
            walletBalance: event.data.walletBalance,
            dualSidePosition: event.data.dualSidePosition ?? false,
            settings: {},
            positions: {},
          }
        : {},
    ),
    configure: assign(({ context, event }) =>
      event.type === "SymbolConfigured"
        ? {
            settings: {
              ...context.settings,
              [event.data.symbol]: { leverage: event.data.leverage, marginType: event.data.marginType },
            },
          }
        : {},
    ),
    bookFill: assign(({ context, event }) => {
      if (event.type !== "FillBooked") return {};
      const { symbol, positionSide, positionAmt, entryPrice, isolatedWallet } = event.data;
      const position: BookedPosition =
        isolatedWallet === undefined
          ? { positionAmt, entryPrice }
          : { positionAmt, entryPrice, isolatedWallet };
      return {
        walletBalance: event.data.walletBalance,
        positions: withPosition(context.positions, positionKey(symbol, positionSide), position),
      };
    }),
    bookFunding: assign(({ context, event }) => {
      if (event.type !== "FundingFeeBooked") return {};
      const { symbol, positionSide, isolatedWallet } = event.data;
      const key = positionKey(symbol, positionSide);
      const position = context.positions[key];
      return {
        walletBalance: event.data.walletBalance,
        positions:
          isolatedWallet === undefined || position === undefined
            ? context.positions
            : { ...context.positions, [key]: { ...position, isolatedWallet } },
      };
    }),
    bookLiquidation: assign(({ context, event }) => {
      if (event.type !== "PositionLiquidated") return {};
      const positions = { ...context.positions };
      delete positions[positionKey(event.data.symbol, event.data.positionSide)];
      return { walletBalance: event.data.walletBalance, positions };
    }),
  },
  guards: {
    /** A symbol's settings change only while it has no position (Binance: -4047/-4048 otherwise, §4.1). */
    symbolIsFlat: ({ context, event }) =>
      event.type === "SymbolConfigured" &&
      !Object.keys(context.positions).some(
        (k) => k === event.data.symbol || k.startsWith(`${event.data.symbol}:`),
      ),
    /** A liquidation closes a position that exists. */
    positionExists: ({ context, event }) =>
      event.type === "PositionLiquidated" &&
      context.positions[positionKey(event.data.symbol, event.data.positionSide)] !== undefined,
  },
}).createMachine({
  id: "account",
  context: { accountId: "", walletBalance: "0", dualSidePosition: false, settings: {}, positions: {} },
  initial: "none",
  states: {
    none: { on: { AccountOpened: { target: "open", actions: "open" } } },
    open: {
      on: {
        SymbolConfigured: { guard: "symbolIsFlat", actions: "configure" },
        FillBooked: { actions: "bookFill" },
        FundingFeeBooked: { actions: "bookFunding" },
        PositionLiquidated: { guard: "positionExists", actions: "bookLiquidation" },
      },
    },
  },
});
