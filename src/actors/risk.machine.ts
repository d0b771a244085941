/**
 * The risk actor, stream `risk-<accountId>`: the limits an account trades under and its trading state
 * (ACTIVE: every order may pass; REDUCING: only reduce-only orders; HALTED: none). The pre-trade risk engine
 * decides changes from its rules; an operator changes it by hand (`perpsource halt`, `POST /control/halt`).
 *
 *   state      event                                   → state
 *   none       RiskLimitsSet                           → ACTIVE
 *   ACTIVE     TradingStateChanged (from ACTIVE, to X) → X        X ∈ {REDUCING, HALTED}
 *   REDUCING   TradingStateChanged (from REDUCING, to X) → X      X ∈ {ACTIVE, HALTED}
 *   HALTED     TradingStateChanged (from HALTED, to X) → X        X ∈ {ACTIVE, REDUCING}
 *   any but none  VenueReconciled                          → same (a record; its state change follows apart)
 */
import { assign, setup } from "xstate";
import type { EventData } from "../events/catalog.ts";

type Ev<T extends "RiskLimitsSet" | "TradingStateChanged" | "VenueReconciled"> = {
  type: T;
  data: EventData<T>;
};
/** The events a risk actor applies. */
export type RiskActorEvent = Ev<"RiskLimitsSet"> | Ev<"TradingStateChanged"> | Ev<"VenueReconciled">;

/** What the risk actor knows: the recorded limits and the last change of state. */
export interface RiskContext {
  limits?: EventData<"RiskLimitsSet">["limits"];
  lastChange?: EventData<"TradingStateChanged">;
  /** The last reconciliation with the venue that changed something. */
  lastReconciliation?: EventData<"VenueReconciled">;
}

type State = EventData<"TradingStateChanged">["to"];

/** Whether `event` is the change `from` → `to`. */
const isChange = (event: RiskActorEvent, from: State, to: State) =>
  event.type === "TradingStateChanged" && event.data.from === from && event.data.to === to;

/** The risk machine (transition table in the header comment). */
export const riskMachine = setup({
  types: { context: {} as RiskContext, events: {} as RiskActorEvent },
  actions: {
    recordLimits: assign(({ event }) =>
      event.type === "RiskLimitsSet" ? { limits: event.data.limits } : {},
    ),
    recordChange: assign(({ event }) =>
      event.type === "TradingStateChanged" ? { lastChange: event.data } : {},
    ),
    recordReconciliation: assign(({ event }) =>
      event.type === "VenueReconciled" ? { lastReconciliation: event.data } : {},
    ),
  },
  guards: {
    ACTIVE_REDUCING: ({ event }) => isChange(event, "ACTIVE", "REDUCING"),
    ACTIVE_HALTED: ({ event }) => isChange(event, "ACTIVE", "HALTED"),
    REDUCING_ACTIVE: ({ event }) => isChange(event, "REDUCING", "ACTIVE"),
    REDUCING_HALTED: ({ event }) => isChange(event, "REDUCING", "HALTED"),
    HALTED_ACTIVE: ({ event }) => isChange(event, "HALTED", "ACTIVE"),
    HALTED_REDUCING: ({ event }) => isChange(event, "HALTED", "REDUCING"),
  },
}).createMachine({
  id: "risk",
  context: {},
  initial: "none",
  states: {
    none: { on: { RiskLimitsSet: { target: "ACTIVE", actions: "recordLimits" } } },
    ACTIVE: {
      on: {
        VenueReconciled: { actions: "recordReconciliation" },
        TradingStateChanged: [
          { guard: "ACTIVE_REDUCING", target: "REDUCING", actions: "recordChange" },
          { guard: "ACTIVE_HALTED", target: "HALTED", actions: "recordChange" },
        ],
      },
    },
    REDUCING: {
      on: {
        VenueReconciled: { actions: "recordReconciliation" },
        TradingStateChanged: [
          { guard: "REDUCING_ACTIVE", target: "ACTIVE", actions: "recordChange" },
          { guard: "REDUCING_HALTED", target: "HALTED", actions: "recordChange" },
        ],
      },
    },
    HALTED: {
      on: {
        VenueReconciled: { actions: "recordReconciliation" },
        TradingStateChanged: [
          { guard: "HALTED_ACTIVE", target: "ACTIVE", actions: "recordChange" },
          { guard: "HALTED_REDUCING", target: "REDUCING", actions: "recordChange" },
        ],
      },
    },
  },
});
