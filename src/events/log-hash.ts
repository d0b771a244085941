/**
 * The sha256 of an event log: the canonical JSON of every event (stream, revision, eventId, type, data,
 * metadata) in global order, one line each. Global positions are left out because they are adapter-specific;
 * everything else is content, so the same run gives the same hash in every store.
 */
import { createHash } from "node:crypto";
import type { RecordedEvent } from "./envelope.ts";

/** The canonical one-line form of an event that the log hash covers. */
export function canonicalEventLine(e: RecordedEvent): string {
  return JSON.stringify({
    stream: e.stream,
    revision: e.revision,
    eventId: e.eventId,
    type: e.type,
    data: e.data,
    metadata: e.metadata,
  });
}

/** Streams events into a sha256; `digest()` returns lowercase hex. */
export class EventLogHasher {
  private readonly hash = createHash("sha256");
  count = 0;
  add(event: RecordedEvent): void {
    this.hash.update(canonicalEventLine(event));
    this.hash.update("\n");
    this.count++;
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

/** sha256 (hex) over every event of `events`, in order. */
export async function eventLogSha256(
  events: AsyncIterable<RecordedEvent>,
): Promise<{ sha256: string; events: number }> {
  const hasher = new EventLogHasher();
  for await (const e of events) hasher.add(e);
  return { sha256: hasher.digest(), events: hasher.count };
}
