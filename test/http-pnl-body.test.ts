import { describe, expect, it } from "vitest";
import { pnlBody } from "../src/adapters/http/pnl-body.ts";
import { PnlResponse } from "../src/adapters/http/schemas.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { rebuildProjections } from "../src/projections/index.ts";
import { writeLargeRun } from "./support/large-log.ts";

describe("pnlBody", () => {
  it("serialises in chunks to the JSON of the PnL and the whole curve, or its downsampled view", async () => {
    const store = new InMemoryEventStore();
    await writeLargeRun(store, { minutes: 9_000, completed: true }); // 9,000 points: three chunks
    const projections = await rebuildProjections(store.readAll());
    const full = (await pnlBody(projections, { interval: "1m", maxPoints: 10_000 })).toString();
    expect(full).toBe(
      JSON.stringify({
        ...projections.pnl(),
        interval: "1m",
        equityCurve: { points: projections.equityCurve(), totalPoints: 9_000, downsampled: false },
      }),
    );
    const from = projections.equityCurve()[100]!.time;
    const small = PnlResponse.parse(
      JSON.parse((await pnlBody(projections, { interval: "5m", from, maxPoints: 50 })).toString()),
    );
    // minutes 100 … 8,999 fall in the 5-minute buckets 20 … 1,799
    expect(small.equityCurve).toMatchObject({ totalPoints: 1_780, downsampled: true });
    expect(small.equityCurve.points.length).toBeLessThanOrEqual(50);
    expect(small.equityCurve.points[0]!.time).toBeGreaterThanOrEqual(from);
    await store.close();
  });
});
