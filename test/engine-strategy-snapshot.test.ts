/**
 * Strategy checkpoints are copies (`Strategy.snapshotState`/`restoreState`, `StrategyActor.persist`/`restore`):
 * a strategy whose state is a mutable object changed in place (as multifactor-v2's factor structures are) runs
 * on real FILUSDT 1m bars aggregated to 1h; a checkpoint taken mid-hour must not change under later steps, and
 * restoring it — in memory, through JSON, or twice — continues with the same decisions and the same final state.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { archiveMarketEvents, discoverArchive } from "../src/adapters/market/archive.ts";
import type { MarketEvent } from "../src/adapters/market/types.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { type PersistedStrategy, StrategyActor, type TimedDecision } from "../src/engine/strategy-actor.ts";
import type { Strategy, StrategyInput } from "../src/strategies/strategy.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("strategy snapshots on FILUSDT 2023-08-01..02");

/** A mutable state: arrays pushed to in place. */
class Tape {
  constructor(
    readonly closes: string[] = [],
    readonly takers: string[] = [],
    public gaps = 0,
  ) {}
}
interface TapeJson {
  closes: string[];
  takers: string[];
  gaps: number;
}

const tapeBase: Strategy<Record<string, never>, Tape> = {
  name: "tape",
  configKey: "tape",
  paramsVersion: 1,
  params: z.object({}).strict(),
  inputs: () => ({ intervals: ["1h"], funding: false }),
  warmupBars: () => 3,
  symbolSettings: () => ({ leverage: 1, marginType: "ISOLATED" }),
  init: () => new Tape(),
  isWarm: (state) => state.closes.length >= 3,
  step(state, input) {
    if (input.kind === "gap") {
      state.gaps++;
      return { state, decision: { kind: "none" } };
    }
    if (input.kind !== "bar") return { state, decision: { kind: "none" } };
    // In place, like the streaming factor structures: the returned state is the same object.
    state.closes.push(input.bar.close);
    state.takers.push(input.bar.takerBuyVolume ?? "none");
    return {
      state,
      decision: {
        kind: "target",
        positionAmt: "0",
        referencePrice: input.bar.close,
        signal: { bars: state.closes.length, history: state.closes.join("|"), taker: state.takers.at(-1)! },
      },
    };
  },
};

/** The same strategy with snapshot hooks (what a mutable-state strategy must declare). */
const tape: Strategy<Record<string, never>, Tape> = {
  ...tapeBase,
  snapshotState: (state): TapeJson => ({
    closes: [...state.closes],
    takers: [...state.takers],
    gaps: state.gaps,
  }),
  restoreState: (json) => {
    const j = json as TapeJson;
    return new Tape([...j.closes], [...j.takers], j.gaps);
  },
};

/** The archive stream's bars and gaps. */
type MinuteEvent = Exclude<MarketEvent, { kind: "funding" }>;

async function filMinutes(): Promise<MinuteEvent[]> {
  const window = { from: Date.parse("2023-08-01"), to: Date.parse("2023-08-02") };
  const files = await discoverArchive(root!, { symbols: ["FILUSDT"], ...window });
  const events: MinuteEvent[] = [];
  for await (const e of archiveMarketEvents(files, window)) if (e.kind !== "funding") events.push(e);
  return events;
}

const flat = { open: false, positionAmt: "0" };
const actorOf = (s: Strategy<Record<string, never>, Tape>) =>
  new StrategyActor(s, "FILUSDT", {
    params: {},
    instrument: bundledInstrumentCatalog().get("FILUSDT"),
    symbols: 1,
    brackets: [],
  });

function feed(actor: StrategyActor, events: readonly MinuteEvent[]): TimedDecision[] {
  const out: TimedDecision[] = [];
  for (const e of events) {
    const input: StrategyInput = e.kind === "bar" ? { kind: "bar", bar: e.bar } : { kind: "gap", gap: e.gap };
    out.push(...actor.step(input, flat, e.time));
  }
  return out;
}

describe.skipIf(!root)("strategy checkpoints", () => {
  it("a checkpoint taken mid-run is unaffected by later steps and restores to the same continuation", async () => {
    const minutes = await filMinutes();
    expect(minutes).toHaveLength(1440);
    const cut = 5 * 60 + 30; // mid-hour: the 1h aggregator holds an open bucket too
    const before = minutes.slice(0, cut);
    const after = minutes.slice(cut);

    const original = actorOf(tape);
    feed(original, before);
    const checkpoint: PersistedStrategy = original.persist();
    const frozen = JSON.stringify(checkpoint);
    expect((JSON.parse(frozen) as PersistedStrategy).state).toMatchObject({ closes: { length: 5 } });

    const continued = feed(original, after);
    expect(continued).toHaveLength(24 - 5);
    expect(JSON.stringify(checkpoint)).toBe(frozen);

    const fromMemory = actorOf(tape);
    fromMemory.restore(checkpoint);
    const fromJson = actorOf(tape);
    fromJson.restore(JSON.parse(frozen) as PersistedStrategy);
    expect(feed(fromMemory, after)).toEqual(continued);
    // The restored actor stepped on: the checkpoint it came from still did not move, so it restores again.
    expect(JSON.stringify(checkpoint)).toBe(frozen);
    expect(feed(fromJson, after)).toEqual(continued);
    const again = actorOf(tape);
    again.restore(checkpoint);
    expect(feed(again, after)).toEqual(continued);

    const final = JSON.stringify(original.persist());
    for (const actor of [fromMemory, fromJson, again]) expect(JSON.stringify(actor.persist())).toBe(final);
    // Real flow reached the strategy on every hour.
    const last = continued.at(-1)!.decision;
    expect(last.kind === "target" && last.signal.taker).toMatch(/^\d+(\.\d+)?$/);
  });

  it("without the hooks a mutable state leaks into the checkpoint (why the hooks exist)", async () => {
    const minutes = await filMinutes();
    const actor = actorOf(tapeBase);
    feed(actor, minutes.slice(0, 120));
    const checkpoint = actor.persist();
    const frozen = JSON.stringify(checkpoint);
    feed(actor, minutes.slice(120, 240));
    expect(JSON.stringify(checkpoint)).not.toBe(frozen);
  });
});
