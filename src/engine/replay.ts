/**
 * `replay --verify`: proves a stored run is what its recorded inputs produce. It rebuilds every projection from
 * the stored log, re-runs the run into an in-memory store, and compares the two logs event by event and the two
 * sets of projections. A backtest is re-run from its RunStarted configuration and manifest (after checking each
 * input file's sha256); a live run (paper, testnet, live) from the inputs its log recorded (live-replay.ts).
 * Replay never sends orders: the re-run uses the simulated venue, or for testnet and live the recorded venue,
 * which answers from the log.
 */
import type { Logger } from "pino";
import { InMemoryEventStore } from "../adapters/store/memory.ts";
import { bundledInstrumentCatalog, type InstrumentCatalog } from "../domain/instruments.catalog.ts";
import {
  bundledLeverageBracketCatalog,
  type LeverageBracketCatalog,
} from "../domain/margin/brackets.catalog.ts";
import type { EventData } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import { canonicalEventLine, EventLogHasher } from "../events/log-hash.ts";
import type { EventStore } from "../events/store.ts";
import { createProjections } from "../projections/index.ts";
import { executeBacktest } from "./backtest.ts";
import { RerunError, rerunLive } from "./live-replay.ts";
import type { LiveMode } from "./live-run.ts";
import { readRecordedInputs } from "./recorded-inputs.ts";
import { readRecordedRun, recordedInputs } from "./recorded-run.ts";

/** The verdict of a replay. `differences` lists the first mismatches found (at most `maxDifferences`). */
export interface ReplayReport {
  ok: boolean;
  runId: string;
  events: number;
  eventLogSha256: string;
  /** sha256 of the re-run's log; equal to eventLogSha256 when ok. */
  replayedSha256: string;
  differences: string[];
}

const maxDifferences = 20;

/** Describes how two canonical event lines differ (which top-level part). */
function describeDifference(stored: RecordedEvent, replayed: RecordedEvent): string {
  const a = JSON.parse(canonicalEventLine(stored)) as Record<string, unknown>;
  const b = JSON.parse(canonicalEventLine(replayed)) as Record<string, unknown>;
  const parts = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return `event #${stored.position} ${stored.stream}@${stored.revision} (${stored.type}) differs from the re-run in ${parts.join(", ")}`;
}

/** Compares two JSON-able objects key by key; returns the paths that differ. */
function diffObjects(a: unknown, b: unknown, path: string, out: string[]): void {
  if (out.length >= maxDifferences) return;
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      diffObjects((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, out);
    }
    return;
  }
  out.push(
    `projection ${path} differs: stored ${JSON.stringify(a)?.slice(0, 120)} vs re-run ${JSON.stringify(b)?.slice(0, 120)}`,
  );
}

/** How the replay reaches the run's catalogs and inputs. */
export interface ReplayDeps {
  /** Where a backtest's input files are (unused by live runs, whose inputs are in the log). */
  dataRoot: string;
  logger: Logger;
  instruments?: InstrumentCatalog;
  brackets?: LeverageBracketCatalog;
}

/**
 * Verifies the run recorded in `store`: a backtest against its inputs under `deps.dataRoot`, a live run (paper,
 * testnet, live) against the inputs its log recorded (src/engine/live-replay.ts).
 * @throws Error when the store holds no run or the recorded configuration is invalid.
 */
export async function verifyReplay(store: EventStore, deps: ReplayDeps): Promise<ReplayReport> {
  const recorded = await readRecordedRun(store);
  const run = recorded.started;
  const live = run.mode !== "backtest";
  const { files, problems } = live ? { files: [], problems: [] } : await recordedInputs(run, deps.dataRoot);
  const differences: string[] = [...problems];
  const { instruments: catalog, brackets } = replayCatalogs(run, deps, differences);

  const stored = createProjections({ marketSeries: false });
  const storedHash = new EventLogHasher();
  let lastEventTime: number | undefined;
  for await (const e of store.readAll()) {
    stored.apply(e);
    storedHash.add(e);
    lastEventTime = e.metadata.eventTime;
  }
  const eventLogSha256 = storedHash.digest();
  // A live run without --until never completes: what it recorded so far is verified.
  if (!recorded.completed && !live) {
    differences.unshift(
      `run incomplete: ${storedHash.count} events, last at ${new Date(lastEventTime ?? 0).toISOString()} ` +
        "(the run was interrupted: continue it with backtest --resume)",
    );
  }
  if (differences.length > 0) {
    return {
      ok: false,
      runId: run.runId,
      events: storedHash.count,
      eventLogSha256,
      replayedSha256: "",
      differences,
    };
  }

  deps.logger.info({ runId: run.runId, mode: run.mode, files: files.length }, "re-running the recorded run");
  const rerunStore = new InMemoryEventStore();
  let failure: string | undefined;
  if (live) {
    const inputs = await readRecordedInputs(store, run.mode);
    try {
      await rerunLive({
        started: run,
        completed: recorded.completed !== undefined,
        inputs,
        mode: run.mode as LiveMode,
        config: recorded.config,
        store: rerunStore,
        logger: deps.logger,
        instruments: catalog,
        brackets,
      });
    } catch (error) {
      if (!(error instanceof RerunError)) throw error;
      // An input the engine cannot take (e.g. an altered fill larger than its order): name it, after the
      // differences of the events the re-run wrote before (the first of them names the altered input).
      const at = error.ordinal === undefined ? undefined : await eventAt(store, error.ordinal);
      const input = at ? ` handling event #${at.position} ${at.stream}@${at.revision} (${at.type})` : "";
      failure = `the re-run failed${input}: ${error.message}`;
    }
  } else {
    await executeBacktest(recorded.config, files, {
      store: rerunStore,
      dataRoot: deps.dataRoot,
      logger: deps.logger,
      instruments: catalog,
      brackets,
    });
  }

  const replayed = createProjections({ marketSeries: false });
  const replayedHash = new EventLogHasher();
  const causes = live ? new InputTrail() : undefined;
  const storedIter = store.readAll()[Symbol.asyncIterator]();
  for await (const r of rerunStore.readAll()) {
    replayed.apply(r);
    replayedHash.add(r);
    const s = await storedIter.next();
    if (s.done) {
      if (differences.length < maxDifferences)
        differences.push(
          `the re-run has more events than the store (from ${r.stream}@${r.revision} ${r.type})`,
        );
      continue;
    }
    causes?.add(s.value);
    if (differences.length < maxDifferences && canonicalEventLine(s.value) !== canonicalEventLine(r)) {
      differences.push(describeDifference(s.value, r) + (causes?.inputOf(s.value) ?? ""));
    }
  }
  const extra = await storedIter.next();
  if (!extra.done && differences.length < maxDifferences)
    differences.push(
      `the store has more events than the re-run (from ${extra.value.stream}@${extra.value.revision})`,
    );
  await storedIter.return?.();
  await rerunStore.close();

  if (failure === undefined) diffObjects(stored.snapshot(), replayed.snapshot(), "projections", differences);
  else differences.push(failure);
  const replayedSha256 = replayedHash.digest();
  return {
    ok: differences.length === 0 && replayedSha256 === eventLogSha256,
    runId: run.runId,
    events: storedHash.count,
    eventLogSha256,
    replayedSha256,
    differences,
  };
}

/** The `ordinal`-th event (0-based) of the store's log. */
async function eventAt(store: EventStore, ordinal: number): Promise<RecordedEvent | undefined> {
  let n = 0;
  for await (const e of store.readAll()) if (n++ === ordinal) return e;
  return undefined;
}

/**
 * The catalogs a replay re-runs with (the given ones, else the bundled ones); a snapshot other than the run's is
 * added to `differences`.
 */
export function replayCatalogs(
  run: EventData<"RunStarted">,
  deps: Pick<ReplayDeps, "instruments" | "brackets">,
  differences: string[],
): { instruments: InstrumentCatalog; brackets: LeverageBracketCatalog } {
  const catalog = deps.instruments ?? bundledInstrumentCatalog();
  if (run.instruments && run.instruments.snapshotDate !== catalog.snapshotDate) {
    differences.push(
      `instruments: the run used the exchangeInfo snapshot of ${run.instruments.snapshotDate} (${run.instruments.source}), ` +
        `this process has the one of ${catalog.snapshotDate} (${catalog.source}): pass --instruments FILE`,
    );
  }
  const brackets = deps.brackets ?? bundledLeverageBracketCatalog();
  if (run.brackets && run.brackets.snapshotDate !== brackets.snapshotDate) {
    differences.push(
      `brackets: the run used the leverage brackets of ${run.brackets.snapshotDate} (${run.brackets.source}), ` +
        `this process has the ones of ${brackets.snapshotDate} (${brackets.source}): pass --brackets FILE`,
    );
  }
  return { instruments: catalog, brackets };
}

/**
 * Which recorded input caused each event of a live log: the causation chain up to an event caused by an input
 * (`bar:`, `gap:`, `funding:`, `venue:`, `operator:`), or, for what no input caused (a checkpoint), the last
 * input before it. Names the input of a difference, which is the altered event when an input was altered.
 */
class InputTrail {
  private readonly events = new Map<string, { label: string; cause: string }>();
  private lastInput: string | undefined;

  add(e: RecordedEvent): void {
    const label = `event #${e.position} ${e.stream}@${e.revision} (${e.type})`;
    const cause = e.metadata.causationId;
    this.events.set(e.eventId, { label, cause });
    if (INPUT_CAUSE.test(cause)) this.lastInput = label;
  }

  /** `; its input: …` for `e` (added before), or "" when `e` is its own input. */
  inputOf(e: RecordedEvent): string {
    let cause = e.metadata.causationId;
    let label = `event #${e.position} ${e.stream}@${e.revision} (${e.type})`;
    for (let up = this.events.get(cause); up; up = this.events.get(cause)) {
      label = up.label;
      cause = up.cause;
    }
    const input = INPUT_CAUSE.test(cause) ? label : this.lastInput;
    return input === undefined || input.startsWith(`event #${e.position} `) ? "" : `; its input: ${input}`;
  }
}

const INPUT_CAUSE = /^(bar|gap|funding|venue|operator):/;
