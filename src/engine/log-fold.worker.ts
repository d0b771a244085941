/**
 * The thread of `LogFoldThread` (log-fold.ts): hashes every text chunk it receives (UTF-8, the log hash's
 * lines), parses each line back into its event and applies it to the projections; `null` asks for the result.
 * Global positions are not in the lines: a fresh run's log starts at position 1, so the n-th line is at n.
 */
import { createHash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import type { RecordedEvent } from "../events/envelope.ts";
import { foldProjections, logFoldResult } from "./log-fold.ts";

const port = parentPort!;
const hash = createHash("sha256");
const projections = foldProjections();
let events = 0;

port.on("message", (chunk: string | null) => {
  if (chunk === null) {
    port.postMessage(logFoldResult(projections, hash.digest("hex"), events));
    return;
  }
  hash.update(chunk, "utf8");
  let start = 0;
  for (let end = chunk.indexOf("\n"); end >= 0; end = chunk.indexOf("\n", start)) {
    const e = JSON.parse(chunk.slice(start, end)) as Omit<RecordedEvent, "position">;
    projections.apply({ ...e, position: ++events } as RecordedEvent);
    start = end + 1;
  }
});
