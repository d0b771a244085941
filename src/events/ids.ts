/**
 * Deterministic event ids. An event's id is a UUID (RFC 9562 version 8 layout) whose first 96 bits come from
 * the sha256 of `["<correlationId>","<stream>"]` and whose last 32 bits are the event's revision in its stream, so the
 * same run writes the same ids, every (stream, revision) of a run gets its own id, and a retried append is
 * recognised as a duplicate by every store. The per-stream hash is cached: one hash per stream, not per event.
 */
import { createHash } from "node:crypto";

const streamPrefixes = new Map<string, string>();
const maxCachedStreams = 100_000;

/** The 20 hex digits (with dashes) shared by every event id of `stream` in `correlationId`. */
function streamPrefix(correlationId: string, stream: string): string {
  const key = JSON.stringify([correlationId, stream]);
  let prefix = streamPrefixes.get(key);
  if (prefix === undefined) {
    const h = createHash("sha256").update(key).digest();
    h[6] = (h[6]! & 0x0f) | 0x80; // version 8
    h[8] = (h[8]! & 0x3f) | 0x80; // RFC variant
    const hex = h.subarray(0, 12).toString("hex");
    prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 24)}`;
    if (streamPrefixes.size >= maxCachedStreams) streamPrefixes.clear();
    streamPrefixes.set(key, prefix);
  }
  return prefix;
}

/**
 * The id function of one stream: revision (0 … 2³²−1) → UUID. Same ids as `deterministicEventId`, without a
 * cache lookup per event (an actor keeps one for its stream).
 * @throws RangeError (from the returned function) for a revision outside 0 … 2³²−1.
 */
export function eventIdFactory(correlationId: string, stream: string): (revision: number) => string {
  // The prefix and eight zeros: padding the revision's hex digits with it gives prefix + the 8-digit revision, as
  // one flat string (a concatenation would be a rope, copied again by the first hash or serialisation of the id).
  const padding = `${streamPrefix(correlationId, stream)}00000000`;
  return (revision) => {
    if (!Number.isInteger(revision) || revision < 0 || revision > 0xffffffff) {
      throw new RangeError(`revision ${revision} is outside 0 … 2^32−1`);
    }
    return revision.toString(16).padStart(36, padding);
  };
}

/**
 * UUID for the event at `revision` (0 … 2³²−1) of `stream` in the causal chain `correlationId`.
 * @throws RangeError for a revision outside 0 … 2³²−1.
 */
export function deterministicEventId(correlationId: string, stream: string, revision: number): string {
  return eventIdFactory(correlationId, stream)(revision);
}
