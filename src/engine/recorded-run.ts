/**
 * A run recorded in a store: its RunStarted (configuration and input manifest), whether it completed, its last
 * checkpoint, and its input files checked against the manifest's sha256. Shared by `replay --verify` and
 * `backtest --resume`.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import type { ArchiveFile } from "../adapters/market/types.ts";
import { type BacktestConfig, BacktestConfigSchema } from "../config/schema.ts";
import type { EventData } from "../events/catalog.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";

/** What a store records about its run. */
export interface RecordedRun {
  started: EventData<"RunStarted">;
  /** The validated configuration of RunStarted. */
  config: BacktestConfig;
  /** The last RunCheckpointed, if any. */
  lastCheckpoint?: EventData<"RunCheckpointed">;
  completed?: EventData<"RunCompleted">;
}

/** The store records no run: it is empty, or its first event is not RunStarted (409 on the control routes). */
export class NoRecordedRunError extends Error {
  override name = "NoRecordedRunError";
  /** The HTTP status of this error (409 Conflict: the request is fine, the store holds nothing to act on). */
  readonly statusCode = 409;
}

/**
 * Reads the run recorded in `store`: RunStarted must be its first event.
 * @throws NoRecordedRunError when the store is empty or its first event is not RunStarted; ZodError for an
 *   invalid config.
 */
export async function readRecordedRun(store: EventStore): Promise<RecordedRun> {
  let first: RecordedEvent | undefined;
  for await (const e of store.readAll({ limit: 1 })) first = e;
  if (first === undefined) throw new NoRecordedRunError("the store is empty: it holds no run");
  if (first.type !== "RunStarted") {
    throw new NoRecordedRunError(
      `the store's first event is ${first.type} in ${first.stream}, not RunStarted: not a recorded run`,
    );
  }
  const started = first.data as EventData<"RunStarted">;
  const run: RecordedRun = { started, config: BacktestConfigSchema.parse(started.config) };
  for await (const e of store.readStream(streams.run(started.runId))) {
    if (e.type === "RunCheckpointed") run.lastCheckpoint = e.data as EventData<"RunCheckpointed">;
    if (e.type === "RunCompleted") run.completed = e.data as EventData<"RunCompleted">;
  }
  return run;
}

/** The run's input files under `dataRoot`, and what is wrong with them (missing, changed). */
export async function recordedInputs(
  started: EventData<"RunStarted">,
  dataRoot: string,
): Promise<{ files: ArchiveFile[]; problems: string[] }> {
  const files: ArchiveFile[] = [];
  const problems: string[] = [];
  for (const entry of started.manifest) {
    const absolutePath = join(dataRoot, entry.path);
    let actual: string;
    try {
      actual = await sha256File(absolutePath);
    } catch {
      problems.push(`input file ${entry.path} is missing under ${dataRoot}`);
      continue;
    }
    if (actual !== entry.sha256)
      problems.push(`input file ${entry.path} changed: sha256 ${actual} ≠ recorded ${entry.sha256}`);
    files.push({ ...entry, absolutePath });
  }
  return { files, problems };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
