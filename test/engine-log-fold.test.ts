/**
 * The log fold of a fresh backtest (src/engine/log-fold.ts, its hash in a worker thread): whatever the batches its
 * appends come in, it gives the hash, event count, summary and denials of the same log read back (`readBackFold`,
 * what a resumed run uses) — on logs of random markets traded by the engine, with text a line
 * must carry exactly (non-ASCII, a lone surrogate) and a line longer than a chunk.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LogFold, readBackFold } from "../src/engine/log-fold.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { bar, runScenario, type ScenarioInput } from "./support/scenario.ts";

const market = fc
  .array(fc.record({ move: fc.integer({ min: -60, max: 60 }), wick: fc.nat(40) }), {
    minLength: 40,
    maxLength: 160,
  })
  .map((steps) => {
    let close = 10_000;
    const c = (v: number) => (v / 100).toFixed(2);
    return steps.map((s, i): ScenarioInput => {
      const open = close;
      close = Math.max(100, open + s.move);
      const high = Math.max(open, close) + s.wick;
      const low = Math.max(1, Math.min(open, close) - s.wick);
      return { kind: "bar", bar: bar("BTCUSDT", i, [c(open), c(high), c(low), c(close)]) };
    });
  });

/** Feeds `log` to a fold thread in batches of the given sizes (cycled), as a store's appends report them. */
async function foldAsAppended(log: RecordedEvent[], sizes: number[]) {
  const fold = new LogFold();
  for (let i = 0, k = 0; i < log.length; k++) {
    const n = sizes[k % sizes.length]!;
    fold.observe(log.slice(i, i + n));
    i += n;
  }
  return fold.result();
}

describe("log fold", () => {
  it("folds a traded log, in any batches, to the read-back fold", async () => {
    let traded = 0;
    await fc.assert(
      fc.asyncProperty(
        market,
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }),
        async (inputs, sizes) => {
          const { events } = await runScenario(inputs, { params: { smaShort: 3, smaLong: 5 }, margin: true });
          const expected = await readBackFold(events);
          if (expected.summary.fills > 0) traded++;
          expect(await foldAsAppended(events, sizes)).toEqual(expected);
          expect(expected.events).toBe(events.length);
        },
      ),
      { numRuns: 12 },
    );
    expect(traded).toBeGreaterThan(0);
  });

  it("hashes exactly the canonical lines: non-ASCII text, a lone surrogate, a line longer than a chunk", async () => {
    const { events } = await runScenario(fc.sample(market, 1)[0]!);
    const last = events.at(-1)!;
    const checkpoint = (position: number, state: unknown): RecordedEvent => ({
      ...last,
      type: "RunCheckpointed",
      data: { state } as never,
      revision: last.revision + position,
      position: last.position + position,
    });
    const log = [
      ...events,
      checkpoint(1, { note: "é€😀\ud800x" }),
      checkpoint(2, { blob: "x".repeat(600_000) }),
    ];
    const appended = await foldAsAppended(log, [3]);
    expect(appended).toEqual(await readBackFold(log));
    const text = log.map(
      (e) =>
        `${JSON.stringify({ stream: e.stream, revision: e.revision, eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata })}\n`,
    );
    expect(appended.eventLogSha256).toBe(createHash("sha256").update(text.join("")).digest("hex"));
  });

  it("hashes a BarClosed with any of its optional fields (taker-buy volume, mark, live mark kline) as its line", async () => {
    const { events } = await runScenario(fc.sample(market, 1)[0]!);
    const bars = events.filter((e) => e.type === "BarClosed");
    const optional = ["takerBuyVolume", "markPrice", "markOpen", "markHigh", "markLow"] as const;
    // Each bar gets the subset of optional fields its index spells in binary.
    const log = bars.map((e, i) => {
      const data: Record<string, unknown> = { ...(e.data as object) };
      for (const key of optional) delete data[key];
      optional.forEach((key, bit) => {
        if ((i >> bit) & 1) data[key] = `${bit + 1}.5`;
      });
      return { ...e, data } as RecordedEvent;
    });
    expect(log.length).toBeGreaterThanOrEqual(32);
    const text = log.map(
      (e) =>
        `${JSON.stringify({ stream: e.stream, revision: e.revision, eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata })}\n`,
    );
    const appended = await foldAsAppended(log, [1, 7]);
    expect(appended.eventLogSha256).toBe(createHash("sha256").update(text.join("")).digest("hex"));
  });

  it("an empty fold is the hash of nothing; an unreported append marks the fold incomplete", async () => {
    expect((await new LogFold().result()).eventLogSha256).toBe(createHash("sha256").digest("hex"));
    const fold = new LogFold();
    fold.observe(undefined);
    expect(fold.complete).toBe(false);
    await fold.close();
  });
});
