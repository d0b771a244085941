/**
 * The in-memory store's event-id index (src/adapters/store/id-index.ts) against a `Map`: over any sequence of
 * ids (many sharing a stream's prefix, as deterministic ids do, repeats included, across several growths of the
 * table), `find` gives the log index the Map gives, or −1 for an id not added.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventIdIndex, hashEventId } from "../src/adapters/store/id-index.ts";
import { deterministicEventId } from "../src/events/ids.ts";

/** An id of one of a few streams (ids of a stream share 28 of their 36 characters) at a small revision. */
const id = fc
  .tuple(fc.constantFrom("symbol-BTCUSDT", "symbol-ETHUSDT", "account-main", "order-x"), fc.nat(5_000))
  .map(([stream, revision]) => deterministicEventId("run-1", stream, revision));

describe("EventIdIndex", () => {
  it("finds exactly the ids added, at their log index, like a Map", () => {
    fc.assert(
      fc.property(fc.array(id, { maxLength: 3_000 }), (ids) => {
        const log: string[] = [];
        const index = new EventIdIndex((i) => log[i]!);
        const model = new Map<string, number>();
        for (const x of ids) {
          const h = hashEventId(x);
          expect(index.find(x, h)).toBe(model.get(x) ?? -1);
          if (model.has(x)) continue;
          index.add(h, log.length);
          model.set(x, log.length);
          log.push(x);
        }
        for (const [x, at] of model) expect(index.find(x, hashEventId(x))).toBe(at);
      }),
      { numRuns: 30 },
    );
  });

  it("keeps its answers for 200,000 ids of one stream (consecutive revisions)", () => {
    const log: string[] = [];
    const index = new EventIdIndex((i) => log[i]!);
    for (let r = 0; r < 200_000; r++) {
      const x = deterministicEventId("run-1", "symbol-FILUSDT", r);
      index.add(hashEventId(x), log.length);
      log.push(x);
    }
    for (const r of [0, 1, 65_535, 65_536, 199_999]) {
      const x = deterministicEventId("run-1", "symbol-FILUSDT", r);
      expect(index.find(x, hashEventId(x))).toBe(r);
    }
    const absent = deterministicEventId("run-1", "symbol-FILUSDT", 200_000);
    expect(index.find(absent, hashEventId(absent))).toBe(-1);
  });
});
