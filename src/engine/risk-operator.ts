/**
 * The operator's hand on a store: halt or resume the trading of the run it records, without the run's process
 * (`perpsource halt|resume --store …`, POST /control/halt|resume). It appends a TradingStateChanged by
 * "operator" to the run's risk stream `risk-<accountId>`, checked by the risk machine and with optimistic
 * concurrency on the stream's revision, like any actor's commit; a run in progress reads it before its next
 * order or change of state (src/engine/risk-engine.ts). The event's market time is that of the store's last
 * event (the run's clock when the operator acted); its correlation id is the run's.
 */
import { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import { riskMachine } from "../actors/risk.machine.ts";
import type { EventData } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import { readRecordedRun } from "./recorded-run.ts";
import { OPERATOR } from "./risk-engine.ts";

/** What an operator's change came to: the change appended, or the state it already was in. */
export type OperatorOutcome =
  | { changed: true; change: EventData<"TradingStateChanged">; stream: string; revision: number }
  | { changed: false; state: "ACTIVE" | "REDUCING" | "HALTED"; stream: string };

/** The store's run has no risk stream (recorded before the risk engine): nothing to halt. */
export class NoRiskStreamError extends Error {
  override name = "NoRiskStreamError";
  /** The HTTP status of this error on the control routes (409 Conflict). */
  readonly statusCode = 409;
}

/**
 * Moves the trading state of the run recorded in `store` to `to` by hand (HALTED: halt; ACTIVE: resume), with
 * `reason`. Already in that state: nothing is appended.
 * @throws NoRecordedRunError when the store holds no run; NoRiskStreamError when its run has no risk stream;
 *   WrongExpectedRevisionError when another writer appended to the risk stream meanwhile (try again).
 */
export async function operatorChangeTradingState(
  store: EventStore,
  to: "HALTED" | "ACTIVE",
  reason: string,
): Promise<OperatorOutcome> {
  const { started, config } = await readRecordedRun(store);
  const stream = streams.risk(config.accountId);
  const actor = await EventSourcedActor.rehydrate(stream, riskMachine, {
    store,
    correlationId: started.runId,
  });
  const from = actor.snapshot.value as string;
  if (from === "none") {
    throw new NoRiskStreamError(
      `run ${started.runId} has no risk stream ${stream} (recorded before the risk engine): nothing to ${to === "HALTED" ? "halt" : "resume"}`,
    );
  }
  if (from === to) return { changed: false, state: to, stream };
  const last = await lastEvent(store);
  const change: EventData<"TradingStateChanged"> = {
    accountId: config.accountId,
    from: from as "ACTIVE" | "REDUCING" | "HALTED",
    to,
    by: OPERATOR,
    reason,
  };
  await actor.commit([{ type: "TradingStateChanged", data: change }], {
    causationId: `${OPERATOR}:${to === "HALTED" ? "halt" : "resume"}`,
    eventTime: last?.metadata.eventTime ?? started.from,
  });
  await store.flush();
  return { changed: true, change, stream, revision: actor.streamRevision };
}

/** The last event of the global log (a galloping then binary search on `readAll({ after, limit: 1 })`). */
async function lastEvent(store: EventStore): Promise<RecordedEvent | undefined> {
  const after = async (position: number): Promise<RecordedEvent | undefined> => {
    for await (const e of store.readAll({ after: position, limit: 1 })) return e;
    return undefined;
  };
  let last = await after(0);
  if (last === undefined) return undefined;
  // Find a position past the end, doubling from the first event's.
  let lo = last.position;
  let hi = Math.max(1, lo) * 2;
  for (let e = await after(hi); e !== undefined; e = await after(hi)) {
    last = e;
    lo = e.position;
    hi = lo * 2;
  }
  // The last event is after lo and at or before hi: narrow down.
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const e = await after(mid);
    if (e === undefined) hi = mid;
    else {
      last = e;
      lo = e.position;
    }
  }
  return (await after(lo)) ?? last;
}
