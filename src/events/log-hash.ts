/**
 * The sha256 of an event log: the canonical JSON of every event (stream, revision, eventId, type, data,
 * metadata) in global order, one line each. Global positions are left out because they are adapter-specific;
 * everything else is content, so the same run gives the same hash in every store.
 */
import { createHash } from "node:crypto";
import { validatedDataJson, validatedMetadataJson } from "./catalog-fast.ts";
import type { RecordedEvent } from "./envelope.ts";

/**
 * The canonical one-line form of an event that the log hash covers: the JSON of `{ stream, revision, eventId,
 * type, data, metadata }` in that key order (built piecewise, the same text as `JSON.stringify` of that object).
 */
export function canonicalEventLine(e: RecordedEvent): string {
  return (
    `{"stream":${JSON.stringify(e.stream)},"revision":${JSON.stringify(e.revision)},` +
    `"eventId":${JSON.stringify(e.eventId)},"type":${JSON.stringify(e.type)},` +
    `"data":${JSON.stringify(e.data)},"metadata":${JSON.stringify(e.metadata)}}`
  );
}

/**
 * `canonicalEventLine` of an event whose data and metadata passed the catalog (every event a store accepted or
 * reads back): the same text, written faster (see `validatedDataJson`).
 */
export function validatedEventLine(e: RecordedEvent): string {
  return (
    `{"stream":${JSON.stringify(e.stream)},"revision":${e.revision},"eventId":${JSON.stringify(e.eventId)},` +
    `"type":"${e.type}","data":${validatedDataJson(e.type, e.data)},` +
    `"metadata":${validatedMetadataJson(e.metadata)}}`
  );
}

/** Lines are hashed in chunks of about this many UTF-16 units (one `update` per chunk, not per event). */
const CHUNK = 1 << 16;

/** Streams events into a sha256; `digest()` returns lowercase hex (then the hasher is spent). */
export class EventLogHasher {
  private readonly hash = createHash("sha256");
  private pending = "";
  count = 0;
  add(event: RecordedEvent): void {
    this.addLine(canonicalEventLine(event));
  }
  /** `add` for an event whose data and metadata passed the catalog (see `validatedEventLine`). */
  addValidated(event: RecordedEvent): void {
    this.addLine(validatedEventLine(event));
  }
  private addLine(line: string): void {
    this.pending += `${line}\n`;
    if (this.pending.length >= CHUNK) {
      this.hash.update(this.pending);
      this.pending = "";
    }
    this.count++;
  }
  digest(): string {
    this.hash.update(this.pending);
    this.pending = "";
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
