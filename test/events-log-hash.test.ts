import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { canonicalEventLine, EventLogHasher } from "../src/events/log-hash.ts";

const recorded = fc.record({
  eventId: fc.uuid(),
  type: fc.constantFrom("BarClosed", "OrderFilled", "RunCheckpointed"),
  data: fc.dictionary(fc.string(), fc.jsonValue()),
  metadata: fc.record({
    correlationId: fc.string({ minLength: 1 }),
    causationId: fc.string({ minLength: 1 }),
    eventTime: fc.nat(),
  }),
  stream: fc.string({ minLength: 1 }),
  revision: fc.nat(),
  position: fc.nat(),
}) as fc.Arbitrary<RecordedEvent>;

describe("event log hash", () => {
  it("writes each event as the JSON of { stream, revision, eventId, type, data, metadata }", () => {
    fc.assert(
      fc.property(recorded, (e) => {
        const { stream, revision, eventId, type, data, metadata } = e;
        expect(canonicalEventLine(e)).toBe(
          JSON.stringify({ stream, revision, eventId, type, data, metadata }),
        );
      }),
    );
  });

  it("hashes the lines of every event, one per line, however they are chunked", () => {
    fc.assert(
      fc.property(
        fc.array(recorded, { maxLength: 40 }),
        fc.integer({ min: 1, max: 3000 }),
        (events, copies) => {
          // Repeating the events makes logs longer than the hasher's chunk.
          const log = Array.from({ length: copies }, () => events).flat();
          const hasher = new EventLogHasher();
          for (const e of log) hasher.add(e);
          const expected = createHash("sha256")
            .update(log.map((e) => `${canonicalEventLine(e)}\n`).join(""))
            .digest("hex");
          expect(hasher.count).toBe(log.length);
          expect(hasher.digest()).toBe(expected);
        },
      ),
      { numRuns: 30 },
    );
  });
});
