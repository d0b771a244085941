/**
 * Deterministic event ids. An event's id is a UUID (RFC 9562 version 8 layout) derived from the sha256 of
 * `correlationId/stream/revision`, so the same run writes the same ids, and a retried append is recognised as
 * a duplicate by every store.
 */
import { createHash } from "node:crypto";

/** UUID for the event at `revision` of `stream` in the causal chain `correlationId`. */
export function deterministicEventId(correlationId: string, stream: string, revision: number): string {
  const h = createHash("sha256").update(`${correlationId}/${stream}/${revision}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC variant
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
