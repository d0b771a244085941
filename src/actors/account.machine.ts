/**
 * The account actor: wallet balance and one-way positions, stream `account-<id>`. Its events carry the
 * position and walletBalance after each booking (like Binance's ACCOUNT_UPDATE), so applying them is a copy and
 * the arithmetic lives in the decisions (account.decide.ts) that produce them.
 *
 *   (none) ──AccountOpened──▶ open ──FillBooked | FundingFeeBooked──▶ open
 */
import { assign, setup } from "xstate";
import type { EventData } from "../events/catalog.ts";

type Ev<T extends "AccountOpened" | "FillBooked" | "FundingFeeBooked"> = { type: T; data: EventData<T> };
/** The events an account actor applies. */
export type AccountActorEvent = Ev<"AccountOpened"> | Ev<"FillBooked"> | Ev<"FundingFeeBooked">;

/** A one-way (BOTH) position: signed size in base asset, entry price in quote asset. */
export interface BookedPosition {
  positionAmt: string;
  entryPrice: string;
}

/** What the account actor knows. Money in USDT. */
export interface AccountContext {
  accountId: string;
  walletBalance: string;
  /** Open positions by symbol; a flat symbol is removed. */
  positions: Record<string, BookedPosition>;
}

function withPosition(
  positions: Record<string, BookedPosition>,
  symbol: string,
  p: BookedPosition,
): Record<string, BookedPosition> {
  const next = { ...positions };
  if (/^-?0(\.0+)?$/.test(p.positionAmt)) delete next[symbol];
  else next[symbol] = p;
  return next;
}

/** The account machine (transition table in the header comment). */
export const accountMachine = setup({
  types: { context: {} as AccountContext, events: {} as AccountActorEvent },
  actions: {
    open: assign(({ event }) =>
      event.type === "AccountOpened"
        ? { accountId: event.data.accountId, walletBalance: event.data.walletBalance, positions: {} }
        : {},
    ),
    bookFill: assign(({ context, event }) =>
      event.type === "FillBooked"
        ? {
            walletBalance: event.data.walletBalance,
            positions: withPosition(context.positions, event.data.symbol, {
              positionAmt: event.data.positionAmt,
              entryPrice: event.data.entryPrice,
            }),
          }
        : {},
    ),
    bookFunding: assign(({ event }) =>
      event.type === "FundingFeeBooked" ? { walletBalance: event.data.walletBalance } : {},
    ),
  },
}).createMachine({
  id: "account",
  context: { accountId: "", walletBalance: "0", positions: {} },
  initial: "none",
  states: {
    none: { on: { AccountOpened: { target: "open", actions: "open" } } },
    open: {
      on: {
        FillBooked: { actions: "bookFill" },
        FundingFeeBooked: { actions: "bookFunding" },
      },
    },
  },
});
