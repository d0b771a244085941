import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deterministicEventId } from "../src/events/ids.ts";

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
