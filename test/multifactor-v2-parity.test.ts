import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FACTOR_NAMES,
  type FactorBar,
  type FactorValues,
  HOUR_MS,
} from "../src/strategies/multifactor-v2/factors.ts";
import { asOfFunding, type Settlement } from "../src/strategies/multifactor-v2/funding.ts";
import { FactorStream } from "../src/strategies/multifactor-v2/stream.ts";
import { batchFactors, type TieSite } from "./support/multifactor-v2-batch.ts";
import { factorBar, loadHourBars, loadSettlements } from "./support/multifactor-v2-data.ts";
import { goldenRun, T0 } from "./support/multifactor-v2-golden.ts";
import { requireRealData } from "./support/real-data.ts";

type Name = (typeof FACTOR_NAMES)[number];

/** What a flipped strict comparison at a site can change, from its bar on (strategies.md §0 tie rule). */
const REFINED: Name[] = ["fwf", "conv", "sm", "st", "chg", "final"];
const COMBINED: Name[] = ["perfF", "perfM", "perfL", "wF", "wM", "wL", "raw", "tf", ...REFINED];
const DOWNSTREAM: Record<TieSite, Name[]> = {
  ext: ["ext", "emf", ...REFINED],
  ff: ["ff", "fs", ...COMBINED],
  mrs: ["mrs", ...COMBINED],
  flt: ["flt", "fls", ...COMBINED],
  tf: ["tf", ...REFINED],
  final: ["final"],
};

/** The output of each site's own comparison. */
const DIRECT: Record<TieSite, Name> = {
  ext: "ext",
  ff: "ff",
  mrs: "mrs",
  flt: "flt",
  tf: "tf",
  final: "final",
};

/**
 * §0's agreement rule, |a − b| ≤ 1e-9 · max(1, |b|), widened to 1e-3 · the component's scale over the run for
 * large-valued components (volumes). The absolute floor of 1e-9 matters: a component that is exactly 0 in batch
 * may be a rounding residue (1e-17, or a subnormal) in the stream.
 */
const within = (a: number | undefined, b: number | undefined, scale: number) =>
  a === undefined || b === undefined
    ? a === b
    : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b), 1e-3 * scale);

/**
 * Asserts streaming = batch bar by bar for every component: both undefined, or `within` tolerance. A strict
 * comparison whose operands agree to that tolerance may flip (§0): where a site's own output differs at one
 * of its near-tie bars, that flip is accepted and the site's downstream components are not compared from that
 * bar on. Returns how many values were compared and how many flips were accepted.
 */
function expectParity(stream: FactorValues[], batch: ReturnType<typeof batchFactors>) {
  const scales = new Map<Name, number>(
    FACTOR_NAMES.map((n) => [n, Math.max(0, ...batch.values.map((v) => Math.abs(v[n] ?? 0)))]),
  );
  const excludedFrom = new Map<Name, number>();
  let flips = 0;
  for (const [site, bars] of batch.ties) {
    const direct = DIRECT[site];
    const flip = bars.find((t) => !within(stream[t]![direct], batch.values[t]![direct], scales.get(direct)!));
    if (flip === undefined) continue;
    flips++;
    for (const name of DOWNSTREAM[site])
      excludedFrom.set(name, Math.min(excludedFrom.get(name) ?? Infinity, flip));
  }
  let compared = 0;
  for (const name of FACTOR_NAMES) {
    const until = excludedFrom.get(name) ?? stream.length;
    for (let t = 0; t < until; t++) {
      const a = stream[t]![name];
      const b = batch.values[t]![name];
      if (!within(a, b, scales.get(name)!)) expect.fail(`${name} at ${t}: stream ${a} vs batch ${b}`);
      if (b !== undefined) compared++;
    }
  }
  return { compared, flips };
}

function runStream(bars: readonly FactorBar[], funding: readonly (number | undefined)[], flow: boolean) {
  const s = new FactorStream(flow);
  return bars.map((b, t) => s.push(b, funding[t]));
}

/** Random hourly bars: a random walk with occasional jumps, zero volumes, and step-function funding. */
const market = fc
  .record({
    extra: fc.integer({ min: 1000, max: 1100 }),
    seed: fc.integer({ min: 1, max: 2147483646 }),
    firstSettlement: fc.integer({ min: 0, max: 200 }),
    fundingLevels: fc.array(
      fc.oneof(fc.constant(0.0001), fc.double({ min: -0.003, max: 0.003, noNaN: true })),
      {
        minLength: 1,
        maxLength: 6,
      },
    ),
    vol: fc.double({ min: 0.001, max: 0.03, noNaN: true }),
  })
  .map(({ extra, seed, firstSettlement, fundingLevels, vol }) => {
    // Enough bars past the first settlement for the final value (§1.5: 979 bars once funding is known).
    const n = extra + firstSettlement;
    let x = seed;
    const u = () => {
      x = (16807 * x) % 2147483647;
      return x / 2147483647;
    };
    const bars: FactorBar[] = [];
    const settlements: Settlement[] = [];
    let close = 10 + 100 * u();
    for (let t = 0; t < n; t++) {
      const open = close;
      const jump = u() < 0.01 ? 0.2 * (u() - 0.5) : 0;
      close = open * (1 + vol * (u() - 0.5) + jump);
      const volume = u() < 0.03 ? 0 : 1000 * u() ** 2;
      const openTime = T0 + t * HOUR_MS;
      bars.push({
        openTime,
        closeTime: openTime + HOUR_MS - 1,
        open,
        close,
        volume,
        takerBuyVolume: volume * u(),
      });
      if (t >= firstSettlement && t % 8 === 0)
        settlements.push({
          fundingTime: openTime + 3,
          rate: fundingLevels[Math.floor(u() * fundingLevels.length)]!,
        });
    }
    const funding = bars.map((b) => asOfFunding(settlements, b.closeTime));
    return { bars, funding };
  });

describe("multifactor-v2: streaming = batch (strategies.md §0, §1.4)", () => {
  it("on random bars, with and without flow, for every component", () => {
    fc.assert(
      fc.property(market, fc.boolean(), ({ bars, funding }, flow) => {
        const stream = runStream(bars, funding, flow);
        const { flips } = expectParity(stream, batchFactors(bars, funding, flow));
        // Without an accepted flip, every component was compared up to the final value (valid from bar 978).
        if (flips === 0) expect(stream.at(-1)!.final).toBeDefined();
      }),
      { numRuns: 10 },
    );
  });

  it("agrees to 1e-13 with batch on the golden run of §1.7 vector 15 (§0: ~1e-13 on the golden vectors)", () => {
    const { bars, settlements } = goldenRun();
    const funding = bars.map((b) => asOfFunding(settlements, b.closeTime));
    for (const flow of [true, false]) {
      const stream = runStream(bars, funding, flow);
      const batch = batchFactors(bars, funding, flow);
      expect([...batch.ties.keys()]).toEqual([]);
      for (const name of FACTOR_NAMES)
        for (let t = 0; t < bars.length; t++) {
          const a = stream[t]![name];
          const b = batch.values[t]![name];
          if (b === undefined || a === undefined) expect(a, `${name} at ${t}`).toBe(b);
          else if (Math.abs(a - b) > 1e-13 * Math.max(1, Math.abs(b)))
            expect.fail(`${name} at ${t}: ${a} vs ${b}`);
        }
    }
  });

  it("serialise → restore mid-stream gives the uninterrupted stream bit for bit", () => {
    fc.assert(
      fc.property(market, fc.boolean(), fc.nat(), ({ bars, funding }, flow, cut) => {
        const at = cut % bars.length;
        const whole = runStream(bars, funding, flow);
        const first = new FactorStream(flow);
        const out = bars.slice(0, at).map((b, t) => first.push(b, funding[t]));
        const second = FactorStream.fromJSON(JSON.parse(JSON.stringify(first)));
        expect(second.anchor).toBe(first.anchor);
        for (let t = at; t < bars.length; t++) out.push(second.push(bars[t]!, funding[t]));
        expect(out).toEqual(whole);
      }),
      { numRuns: 8 },
    );
  });

  it("refuses bars that do not follow, missing taker data with flow, and malformed snapshots", () => {
    const bar = (t: number, extra: Partial<FactorBar> = {}): FactorBar => ({
      openTime: T0 + t * HOUR_MS,
      closeTime: T0 + (t + 1) * HOUR_MS - 1,
      open: 1,
      close: 1,
      volume: 1,
      takerBuyVolume: 0.5,
      ...extra,
    });
    const s = new FactorStream(true);
    s.push(bar(0), undefined);
    expect(() => s.push(bar(2), undefined)).toThrow(/does not follow .*a gap restarts the warm-up/);
    expect(() => s.push(bar(1, { takerBuyVolume: undefined }), undefined)).toThrow(
      /takerBuyVolume undefined is required/,
    );
    expect(() => new FactorStream(false).push(bar(0, { close: Number.NaN }), undefined)).toThrow(
      /close NaN is invalid/,
    );
    const json = JSON.parse(JSON.stringify(new FactorStream(true)));
    json.structures.qFz.period = 100;
    expect(() => FactorStream.fromJSON(json)).toThrow(
      "FactorStream.structures.qFz.period: expected 240, got 100",
    );
    delete json.structures.sdSt;
    expect(() => FactorStream.fromJSON(json)).toThrow(/structures.(qFz|sdSt)/);
  });
});

const root = requireRealData("multifactor-v2 parity on FILUSDT 2023-08..09");
describe.skipIf(!root)(
  "multifactor-v2 on real FILUSDT 1h bars (2023-08..09, official 12-column files)",
  () => {
    it("streaming = batch for every component at every bar, with taker flow and without", async () => {
      const hours = await loadHourBars(root!, "FILUSDT", ["2023-08", "2023-09"]);
      const settlements = await loadSettlements(root!, "FILUSDT", ["2023-07", "2023-08", "2023-09"]);
      expect(hours).toHaveLength(61 * 24);
      expect(hours.every((b) => b.takerBuyVolume !== undefined && !b.partial)).toBe(true);
      const funding = hours.map((b) => asOfFunding(settlements, b.closeTime));
      expect(funding.every((f) => f !== undefined)).toBe(true);
      for (const flow of [true, false]) {
        const bars = hours.map((b) => factorBar(b, flow));
        const stream = runStream(bars, funding, flow);
        const batch = batchFactors(bars, funding, flow);
        // 1464 bars pass the 979-bar warm-up (§1.5): every component is valid by the end.
        const last = stream.at(-1)!;
        for (const name of FACTOR_NAMES)
          if (flow || !["br", "dollarDelta", "brz", "dz", "fc", "flt", "vz", "fls", "perfL"].includes(name))
            expect(last[name], name).toBeDefined();
        // No near-tie in these months, so every valid value of every component is compared.
        expect([...batch.ties.keys()]).toEqual([]);
        const defined = batch.values.reduce((n, v) => n + Object.keys(v).length, 0);
        expect(expectParity(stream, batch)).toEqual({ compared: defined, flips: 0 });
      }
    });
  },
);
