/**
 * The multifactor-v2 strategy module on the golden run (strategies.md §1.7 vector 15), stepped as the kernel
 * steps it: no decision before the first valid final value (bar 978, §1.5); from then one target per 1h bar
 * sized by §1.6 with its factors recorded; a gap (§0, §1.6) restarts the warm-up and sends an open position's
 * target to 0 until a new warm-up completes; a checkpoint (snapshotState → JSON → restoreState) continues
 * identically.
 */
import { describe, expect, it } from "vitest";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { type MultifactorState, multifactorV2 } from "../src/strategies/multifactor-v2/index.ts";
import type { MultifactorParams } from "../src/strategies/multifactor-v2/params.ts";
import type {
  PositionView,
  StrategyContext,
  StrategyInput,
  StrategyStep,
} from "../src/strategies/strategy.ts";
import { goldenRun } from "./support/multifactor-v2-golden.ts";

const { bars, settlements } = goldenRun(1100);
const ctx: StrategyContext<MultifactorParams> = {
  params: multifactorV2.params.parse({}),
  instrument: bundledInstrumentCatalog().get("FILUSDT"),
  symbols: 2,
  brackets: bundledLeverageBracketCatalog().get("FILUSDT").brackets,
};

/** The golden bars and settlements as strategy inputs, in market-time order. */
function inputs(): StrategyInput[] {
  const out: StrategyInput[] = [];
  let s = 0;
  for (const b of bars) {
    while (s < settlements.length && settlements[s]!.fundingTime <= b.closeTime) {
      const { fundingTime, rate } = settlements[s++]!;
      out.push({
        kind: "funding",
        funding: { symbol: "FILUSDT", fundingTime, fundingRate: String(rate), fundingIntervalHours: 8 },
      });
    }
    out.push({
      kind: "bar",
      bar: {
        symbol: "FILUSDT",
        interval: "1h",
        openTime: b.openTime,
        closeTime: b.closeTime,
        open: String(b.open),
        high: String(b.high),
        low: String(b.low),
        close: String(b.close),
        volume: String(b.volume),
        takerBuyVolume: String(b.takerBuyVolume),
      },
    });
  }
  return out;
}

const flat: PositionView = { open: false, positionAmt: "0", equity: "10000" };

function run(state: MultifactorState, feed: readonly StrategyInput[], position = flat) {
  const steps: StrategyStep<MultifactorState>[] = [];
  for (const input of feed) {
    const step = multifactorV2.step(state, input, ctx, position);
    state = step.state;
    steps.push(step);
  }
  return { state, steps };
}

describe("multifactor-v2, the strategy module", () => {
  it("decides from the first valid final value on, one target per bar, sized by §1.6", () => {
    const { steps } = run(multifactorV2.init(ctx), inputs());
    const decided = steps.filter((s) => s.decision.kind !== "none");
    // Bars 978..1099 decide: 122 targets, each with its factors.
    expect(decided).toHaveLength(122);
    const first = decided[0]!;
    expect(first.factors).toMatchObject({ bars: 979, anchor: bars[0]!.openTime, flow: true });
    expect(first.factors!.final).toBeCloseTo(-2.418088369, 9);
    // target = 10000 · clip(−2.418 · 0.2, −1, 1) · 5 / 2 = −12090.44… USDT: a SELL from flat.
    expect(Number(first.factors!.targetNotional)).toBeCloseTo(10000 * -2.418088369 * 0.2 * 2.5, 3);
    expect(first.factors).toMatchObject({ decision: "order", side: "SELL", reduceOnly: false });
    expect(first.decision).toMatchObject({ kind: "target", positionAmt: `-${first.factors!.quantity}` });
  });

  it("a gap restarts the warm-up and closes an open position until it is warm again", () => {
    const feed = inputs();
    const gapAt = feed.findIndex((i) => i.kind === "bar" && i.bar.openTime === bars[1000]!.openTime);
    const before = run(multifactorV2.init(ctx), feed.slice(0, gapAt));
    expect(multifactorV2.isWarm(before.state, ctx.params)).toBe(true);
    const gap: StrategyInput = {
      kind: "gap",
      gap: {
        symbol: "FILUSDT",
        fromOpenTime: bars[1000]!.openTime,
        toOpenTime: bars[1001]!.openTime,
        missingBars: 1,
      },
    };
    const short: PositionView = { open: true, positionAmt: "-1500.3", equity: "9800" };
    const after = run(before.state, [gap, ...feed.slice(gapAt + 1, gapAt + 6)], short);
    expect(after.steps[0]!.decision).toEqual({ kind: "none" });
    expect(multifactorV2.isWarm(after.state, ctx.params)).toBe(false);
    const closes = after.steps.slice(1).filter((s) => s.decision.kind !== "none");
    expect(closes.length).toBeGreaterThan(0);
    for (const s of closes) {
      expect(s.decision).toMatchObject({ kind: "target", positionAmt: "0" });
      expect(s.factors).toMatchObject({ decision: "warmingUp", final: null, bars: expect.any(Number) });
    }
    expect(closes[0]!.factors!.anchor).toBe(bars[1001]!.openTime);
    // Flat during the new warm-up: nothing to decide, nothing recorded.
    const idle = run(after.state, feed.slice(gapAt + 6, gapAt + 20));
    expect(idle.steps.every((s) => s.decision.kind === "none" && s.factors === undefined)).toBe(true);
  });

  it("a checkpoint through JSON continues as the uninterrupted state", () => {
    const feed = inputs();
    const whole = run(multifactorV2.init(ctx), feed);
    const cut = 1500;
    const first = run(multifactorV2.init(ctx), feed.slice(0, cut));
    const json = JSON.parse(JSON.stringify(multifactorV2.snapshotState!(first.state)));
    const resumed = run(multifactorV2.restoreState!(json, ctx), feed.slice(cut));
    expect([...first.steps, ...resumed.steps].map((s) => [s.decision, s.factors])).toEqual(
      whole.steps.map((s) => [s.decision, s.factors]),
    );
  });
});
