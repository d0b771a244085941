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
 */
import { assign, setup } from "xstate";
import type { EventData } from "../events/catalog.ts";

type Ev<T extends "RiskLimitsSet" | "TradingStateChanged"> = { type: T; data: EventData<T> };
/** The events a risk actor applies. */
export type RiskActorEvent = Ev<"RiskLimitsSet"> | Ev<"TradingStateChanged">;

/** What the risk actor knows: the recorded limits and the last change of state. */
export interface RiskContext {
  limits?: EventData<"RiskLimitsSet">["limits"];
  lastChange?: EventData<"TradingStateChanged">;
}

type State = EventData<"TradingStateChanged">["to"];

/** The transition `from` → `target`, taken by a TradingStateChanged that names both. */
const to = (from: State, target: State) => ({
  guard: ({ event }: { event: RiskActorEvent }) =>
    event.type === "TradingStateChanged" && event.data.from === from && event.data.to === target,
  target,
  actions: "recordChange" as const,
});

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
  },
}).createMachine({
  id: "risk",
  context: {},
  initial: "none",
  states: {
    none: { on: { RiskLimitsSet: { target: "ACTIVE", actions: "recordLimits" } } },
    ACTIVE: { on: { TradingStateChanged: [to("ACTIVE", "REDUCING"), to("ACTIVE", "HALTED")] } },
    REDUCING: { on: { TradingStateChanged: [to("REDUCING", "ACTIVE"), to("REDUCING", "HALTED")] } },
    HALTED: { on: { TradingStateChanged: [to("HALTED", "ACTIVE"), to("HALTED", "REDUCING")] } },
  },
});
