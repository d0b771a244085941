import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EVENT_ID, isEventId } from "../src/adapters/store/append-support.ts";
import { deterministicEventId, eventIdFactory } from "../src/events/ids.ts";

describe("deterministicEventId", () => {
  it("is a version-8 RFC-variant UUID, the same for the same inputs", () => {
    const id = deterministicEventId("run-1", "symbol-BTCUSDT", 7);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicEventId("run-1", "symbol-BTCUSDT", 7)).toBe(id);
  });

  it("differs for any other stream, revision or correlation id", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.nat(),
        fc.string(),
        fc.string(),
        fc.nat(),
        (c1, s1, r1, c2, s2, r2) => {
          fc.pre(c1 !== c2 || s1 !== s2 || r1 !== r2);
          expect(deterministicEventId(c1, s1, r1)).not.toBe(deterministicEventId(c2, s2, r2));
        },
      ),
    );
  });

  it("rejects revisions that do not fit 32 bits", () => {
    expect(() => deterministicEventId("c", "s", -1)).toThrow(RangeError);
    expect(() => deterministicEventId("c", "s", 2 ** 32)).toThrow(RangeError);
  });
});

describe("eventIdFactory", () => {
  it("gives the stream's 28-character prefix and the revision as 8 hex digits", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.nat(0xffffffff), fc.nat(0xffffffff), (c, s, r, q) => {
        const id = eventIdFactory(c, s);
        expect(id(r)).toBe(deterministicEventId(c, s, r));
        expect(id(r)).toBe(id(q).slice(0, 28) + r.toString(16).padStart(8, "0"));
        expect(isEventId(id(r))).toBe(true);
      }),
    );
  });
});

describe("isEventId", () => {
  it("answers what EVENT_ID answers", () => {
    const hex = fc.constantFrom(..."0123456789abcdefABCDEFg-xz ");
    const id = fc.oneof(
      fc.uuid().map((u) => u.toLowerCase()),
      fc.uuid(),
      fc.array(hex, { minLength: 34, maxLength: 38 }).map((cs) => cs.join("")),
      fc
        .tuple(fc.uuid(), fc.nat(35), hex)
        .map(([u, i, c]) => u.toLowerCase().slice(0, i) + c + u.toLowerCase().slice(i + 1)),
      fc.string(),
    );
    fc.assert(
      fc.property(id, (s) => {
        expect(isEventId(s)).toBe(EVENT_ID.test(s));
      }),
      { numRuns: 5000 },
    );
  });

  it("answers what EVENT_ID answers for ids of one stream, broken ones among them (the head it remembers)", () => {
    const hex = fc.constantFrom(..."0123456789abcdefABCDEFg-xz ");
    const head = fc.uuid().map((u) => u.toLowerCase().slice(0, 28));
    // Runs of ids sharing a head, a character of the tail sometimes replaced: only tails differ within a run.
    const run = fc.tuple(
      head,
      fc.array(fc.tuple(fc.nat(0xffffffff), fc.option(fc.tuple(fc.nat(7), hex))), { maxLength: 20 }),
    );
    fc.assert(
      fc.property(fc.array(run, { maxLength: 5 }), (runs) => {
        for (const [h, tails] of runs) {
          for (const [revision, broken] of tails) {
            let tail = revision.toString(16).padStart(8, "0");
            if (broken) tail = tail.slice(0, broken[0]) + broken[1] + tail.slice(broken[0] + 1);
            expect(isEventId(h + tail)).toBe(EVENT_ID.test(h + tail));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
