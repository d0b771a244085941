/**
 * The log audit: folds a log, in global order, through the machine of each event's aggregate (by stream
 * category), so a log that breaks a machine — a tampered or foreign store — is named at the first offending
 * event instead of being folded into the projections. Pure: no I/O.
 */
import { type AnyActorRef, type AnyStateMachine, createActor } from "xstate";
import type { RecordedEvent } from "../events/envelope.ts";
import { type StreamCategory, streamCategory } from "../events/streams.ts";
import { accountMachine } from "./account.machine.ts";
import { IllegalTransitionError } from "./illegal-transition.ts";
import { orderMachine } from "./order.machine.ts";
import { riskMachine } from "./risk.machine.ts";
import { runMachine } from "./run.machine.ts";
import { symbolMachine } from "./symbol.machine.ts";
import { tradeMachine } from "./trade.machine.ts";

/** Each stream category's machine and the input of a new actor for one of its streams. */
const aggregates: Record<StreamCategory, { machine: AnyStateMachine; input?: (id: string) => unknown }> = {
  symbol: { machine: symbolMachine },
  trade: { machine: tradeMachine, input: (symbol) => ({ symbol }) },
  order: { machine: orderMachine },
  account: { machine: accountMachine },
  risk: { machine: riskMachine },
  run: { machine: runMachine },
};

/** Checks each event of a log against its aggregate's machine. Feed every event, in global order. */
export class LogAudit {
  private readonly actors = new Map<string, AnyActorRef>();

  /**
   * Applies `e` to its stream's machine.
   * @throws IllegalTransitionError (with the event's position) when the machine would not take it, including an
   *   event on a stream of no known aggregate (state `"unknown stream"`).
   */
  check(e: RecordedEvent): void {
    let actor = this.actors.get(e.stream);
    if (actor === undefined) {
      const category = streamCategory(e.stream);
      if (category === undefined)
        throw new IllegalTransitionError(e.stream, '"unknown stream"', e.type, e.position);
      const { machine, input } = aggregates[category];
      actor = createActor(machine, { input: input?.(e.stream.slice(category.length + 1)) } as never).start();
      this.actors.set(e.stream, actor);
    }
    const event = { type: e.type, data: e.data };
    const snapshot = actor.getSnapshot();
    if (!snapshot.can(event)) {
      throw new IllegalTransitionError(e.stream, JSON.stringify(snapshot.value), e.type, e.position);
    }
    actor.send(event);
  }
}
