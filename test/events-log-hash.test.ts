import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { canonicalEventLine, EventLogHasher } from "../src/events/log-hash.ts";
import { WorkerLogHasher } from "../src/events/log-hash-worker.ts";

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

  it("hashes in a worker thread to the same digest", async () => {
    const samples = fc.sample(recorded, 300);
    const bar = {
      ...samples[0]!,
      type: "BarClosed",
      data: {
        symbol: "FILUSDT",
        interval: "1m",
        openTime: 0,
        closeTime: 59_999,
        open: "1",
        high: "2",
        low: "0.5",
        close: "1.5",
        volume: "3",
      },
    } as RecordedEvent;
    // Long enough to be posted in several chunks.
    const log = Array.from({ length: 40 }, () => [
      ...samples.map((e) => ({ ...e, type: "OrderAccepted" })),
      bar,
    ]).flat() as RecordedEvent[];
    const inProcess = new EventLogHasher();
    const inWorker = new WorkerLogHasher();
    for (const e of log) {
      inProcess.add(e);
      inWorker.addValidated(e);
    }
    expect(inWorker.count).toBe(log.length);
    expect(await inWorker.digest()).toBe(inProcess.digest());
    // Non-ASCII text (a lone surrogate too) and a line longer than a chunk.
    const odd = [
      { ...bar, type: "OrderAccepted", data: { clientOrderId: "é€😀\ud800x", orderId: "1" } },
      { ...bar, type: "RunCheckpointed", data: { state: { blob: "x".repeat(400_000) } } },
    ] as RecordedEvent[];
    const a = new EventLogHasher();
    const b = new WorkerLogHasher();
    for (const e of [...odd, ...log.slice(0, 50), ...odd]) {
      a.add(e);
      b.addValidated(e);
    }
    expect(await b.digest()).toBe(a.digest());
    const empty = new WorkerLogHasher();
    expect(await empty.digest()).toBe(new EventLogHasher().digest());
  });
});
