import { describe, expect, it } from "vitest";
import type { FactorValues } from "../src/strategies/multifactor-v2/factors.ts";
import { asOfFunding } from "../src/strategies/multifactor-v2/funding.ts";
import { FactorStream } from "../src/strategies/multifactor-v2/stream.ts";
import { type HourBar, SymbolFactors } from "../src/strategies/multifactor-v2/symbol-factors.ts";
import { goldenRun } from "./support/multifactor-v2-golden.ts";

const { bars, settlements } = goldenRun(1100);
/** The golden bars as the aggregator emits them: decimal strings (float64 shortest representation). */
const hourBars = (flow: boolean): HourBar[] =>
  bars.map((b) => ({
    openTime: b.openTime,
    closeTime: b.closeTime,
    open: String(b.open),
    close: String(b.close),
    volume: String(b.volume),
    ...(flow ? { takerBuyVolume: String(b.takerBuyVolume) } : {}),
  }));

/** Feeds bars [from, to) with the settlements in market-time order (a settlement before the bar closing after it). */
function feed(
  s: SymbolFactors,
  input: HourBar[],
  from: number,
  to: number,
  next = { settlement: 0 },
): FactorValues[] {
  const out: FactorValues[] = [];
  for (let t = from; t < to; t++) {
    while (
      next.settlement < settlements.length &&
      settlements[next.settlement]!.fundingTime <= input[t]!.closeTime
    )
      s.settle(settlements[next.settlement++]!);
    out.push(s.bar(input[t]!).values);
  }
  return out;
}

/** The reference: a fresh stream over bars [from, to) with F from the whole settlement history. */
function reference(flow: boolean, from: number, to: number): FactorValues[] {
  const stream = new FactorStream(flow);
  return bars
    .slice(from, to)
    .map((b) =>
      stream.push(flow ? b : { ...b, takerBuyVolume: undefined }, asOfFunding(settlements, b.closeTime)),
    );
}

describe("SymbolFactors: settlements, bars and gaps of one symbol in market-time order", () => {
  it("equals the pipeline with the as-of join, flow decided by the data (golden run)", () => {
    for (const flow of [true, false]) {
      const got = feed(new SymbolFactors(), hourBars(flow), 0, 1100);
      expect(got).toEqual(reference(flow, 0, 1100));
      expect(got[978]!.final).toBeCloseTo(flow ? -2.418088369 : -2.246990524, 9);
      expect(got[1000]!.fls === undefined).toBe(!flow);
    }
  });

  it("a gap restarts the warm-up at the next bar: a new anchor, the same values as a fresh stream", () => {
    const s = new SymbolFactors();
    const input = hourBars(true);
    const next = { settlement: 0 };
    feed(s, input, 0, 40, next);
    expect(s.anchor).toBe(bars[0]!.openTime);
    s.gap();
    expect(s.anchor).toBeUndefined();
    const after = feed(s, input, 60, 1100, next);
    expect(s.anchor).toBe(bars[60]!.openTime);
    expect(after).toEqual(reference(true, 60, 1100));
    expect(after.findIndex((v) => v.final !== undefined)).toBe(978);
  });

  it("serialise → restore mid-run continues bit for bit", () => {
    const input = hourBars(true);
    const whole = feed(new SymbolFactors(), input, 0, 1100);
    const first = new SymbolFactors();
    const next = { settlement: 0 };
    const out = feed(first, input, 0, 700, next);
    const second = SymbolFactors.fromJSON(JSON.parse(JSON.stringify(first)));
    out.push(...feed(second, input, 700, 1100, next));
    expect(out).toEqual(whole);
  });

  it("a change of data source (taker-buy volume appears or disappears) restarts the warm-up; malformed decimals throw", () => {
    const s = new SymbolFactors();
    const flow = hourBars(true);
    const noFlow = hourBars(false);
    s.bar(flow[0]!);
    expect(s.bar(flow[1]!).anchor).toBe(flow[0]!.openTime);
    const switched = s.bar(noFlow[2]!);
    expect(switched).toMatchObject({ anchor: noFlow[2]!.openTime, bars: 1 });
    expect(switched.values.br).toBeUndefined();
    expect(s.bar(flow[3]!)).toMatchObject({ anchor: flow[3]!.openTime, bars: 1 });
    expect(() => s.bar({ ...flow[4]!, close: "x" })).toThrow(
      `bar ${flow[4]!.openTime}: close "x" is not a decimal`,
    );
  });
});
