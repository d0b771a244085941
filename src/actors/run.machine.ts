/**
 * The run actor, stream `run-<runId>`: one run's configuration and its end.
 *
 *   none ──RunStarted──▶ started ──RunCompleted──▶ completed
 *   started: RunCheckpointed (the last one is kept), WarmUpRecorded (a live run's warm-up inputs)
 */
import { assign, setup } from "xstate";
import type { EventData } from "../events/catalog.ts";

type Ev<T extends "RunStarted" | "RunCheckpointed" | "WarmUpRecorded" | "RunCompleted"> = {
  type: T;
  data: EventData<T>;
};
/** The events a run actor applies. */
export type RunActorEvent =
  | Ev<"RunStarted">
  | Ev<"RunCheckpointed">
  | Ev<"WarmUpRecorded">
  | Ev<"RunCompleted">;

/** What the run actor knows. */
export interface RunContext {
  started?: EventData<"RunStarted">;
  lastCheckpoint?: EventData<"RunCheckpointed">;
  completed?: EventData<"RunCompleted">;
}

/** The run machine (transition table in the header comment). */
export const runMachine = setup({
  types: { context: {} as RunContext, events: {} as RunActorEvent },
  actions: {
    start: assign(({ event }) => (event.type === "RunStarted" ? { started: event.data } : {})),
    checkpoint: assign(({ event }) =>
      event.type === "RunCheckpointed" ? { lastCheckpoint: event.data } : {},
    ),
    /** Nothing to keep (a replay reads the inputs from the log); an action, so that XState takes the event. */
    warmUp: assign(() => ({})),
    complete: assign(({ event }) => (event.type === "RunCompleted" ? { completed: event.data } : {})),
  },
}).createMachine({
  id: "run",
  context: {},
  initial: "none",
  states: {
    none: { on: { RunStarted: { target: "started", actions: "start" } } },
    started: {
      on: {
        RunCheckpointed: { actions: "checkpoint" },
        WarmUpRecorded: { actions: "warmUp" },
        RunCompleted: { target: "completed", actions: "complete" },
      },
    },
    completed: { type: "final" },
  },
});
