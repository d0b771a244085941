import { describe, expect, it } from "vitest";
import { initialBarAggregator, type MinuteBar, stepBarAggregator } from "../src/domain/bars/aggregate.ts";
import {
  type FactorBar,
  type FactorValues,
  HOUR_MS,
  WARMUP_BARS,
} from "../src/strategies/multifactor-v2/factors.ts";
import {
  buyRatio,
  convictionScale,
  dollarDelta,
  dynamicWeights,
  forwardScore,
  hysteresis,
  meanReversionSignal,
  riskScale,
  trendFilter,
  volumeScale,
} from "../src/strategies/multifactor-v2/formulas.ts";
import { AsOfFunding, asOfFunding } from "../src/strategies/multifactor-v2/funding.ts";
import { FactorStream } from "../src/strategies/multifactor-v2/stream.ts";
import { goldenRun, T0 } from "./support/multifactor-v2-golden.ts";

/** strategies.md §1.7: |a − b| ≤ 1e-9 · max(1, |b|) (printed values are rounded to the digits shown). */
function near(a: number | undefined, b: number, what = "") {
  expect(a, what).toBeDefined();
  expect(Math.abs(a! - b), `${what}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));
}

describe("strategies.md §1.7 vectors 4–6: bars, taker flow, as-of funding", () => {
  it("vector 4: 60 minutes aggregate into one 1h bar with taker-buy volume; br and D", () => {
    let state = initialBarAggregator("1h");
    const emitted = [];
    for (let k = 0; k < 60; k++) {
      const volume = 1 + (k % 3);
      const bar: MinuteBar = {
        symbol: "TESTUSDT",
        openTime: T0 + k * 60_000,
        open: (100 + 0.01 * k).toFixed(2),
        close: (100 + 0.01 * (k + 1)).toFixed(2),
        high: (100 + 0.01 * (k + 1) + 0.005).toFixed(3),
        low: (100 + 0.01 * k - 0.005).toFixed(3),
        volume: String(volume),
        takerBuyVolume: (0.6 * volume).toFixed(1),
      };
      const step = stepBarAggregator(state, { kind: "bar", bar });
      state = step.state;
      emitted.push(...step.emitted);
    }
    expect(emitted).toHaveLength(1);
    const bar = emitted[0]!.kind === "bar" ? emitted[0]!.bar : undefined;
    // Prices keep the minutes' decimal strings; compare their values.
    const { open, high, low, close, volume } = bar!;
    expect([open, high, low, close].map(Number)).toEqual([100, 100.605, 99.995, 100.6]);
    expect(volume).toBe("120");
    expect(bar?.takerBuyVolume).toBe("72");
    near(buyRatio(Number(bar!.volume), Number(bar!.takerBuyVolume)), 0.6);
    near(
      dollarDelta(Number(bar!.open), Number(bar!.close), Number(bar!.volume), Number(bar!.takerBuyVolume)),
      2407.2,
    );
  });

  it("vector 5: dollar-volume delta; br = 0.5 when V = 0", () => {
    expect(dollarDelta(100, 102, 10, 6)).toBe(202.0);
    expect(dollarDelta(50000, 50000, 2, 0.5)).toBe(-50000.0);
    expect(buyRatio(0, 0)).toBe(0.5);
  });

  it("vector 6: F_t = the latest settlement at or before the bar's close", () => {
    const day = T0;
    const h = (n: number) => day + n * HOUR_MS;
    const settlements = [
      { fundingTime: h(0) + 3, rate: 0.0001 },
      { fundingTime: h(8) + 4, rate: 0.00025 },
      { fundingTime: h(16) + 2, rate: -0.0001 },
    ];
    const close = (openHour: number) => h(openHour) + HOUR_MS - 1;
    const cases: [number, number | undefined][] = [
      [-1, undefined], // the bar 23:00 of the day before closes before the first known settlement
      [7, 0.0001],
      [8, 0.00025],
      [15, 0.00025],
      [16, -0.0001],
    ];
    for (const [hour, want] of cases)
      expect(asOfFunding(settlements, close(hour)), `bar ${hour}:00`).toBe(want);
    // Streaming: settlements arrive in market time, a settlement before the bars it applies to.
    const live = new AsOfFunding();
    expect(live.rateAt(close(-1))).toBeUndefined();
    live.settle(settlements[0]!);
    expect(live.rateAt(close(7))).toBe(0.0001);
    live.settle(settlements[1]!);
    expect(live.rateAt(close(8))).toBe(0.00025);
    live.settle(settlements[2]!);
    const restored = AsOfFunding.fromJSON(JSON.parse(JSON.stringify(live)));
    expect(restored.rateAt(close(15))).toBe(0.00025);
    expect(restored.rateAt(close(16))).toBe(-0.0001);
    expect(() => live.settle(settlements[0]!)).toThrow(/is not after/);
  });
});

/** Flat bars (close 100, volume 1) from T0 with funding `f(t)`, through a no-flow stream. */
function runFunding(funding: (t: number) => number, n: number): FactorValues[] {
  const s = new FactorStream(false);
  return Array.from({ length: n }, (_, t) => {
    const openTime = T0 + t * HOUR_MS;
    const bar: FactorBar = { openTime, closeTime: openTime + HOUR_MS - 1, open: 100, close: 100, volume: 1 };
    return s.push(bar, funding(t));
  });
}

describe("strategies.md §1.7 vectors 7–13: formulas", () => {
  it("vector 7: funding z-score after a step (sample SD) and on a constant window (exactly 0)", () => {
    const step = runFunding((t) => (t < 143 ? 0.0001 : 0.00012), 144);
    expect(step[142]!.fz).toBeUndefined();
    near(step[143]!.fz, 143 / 12);
    near(step[143]!.fz, 11.9166666667);
    const flat = runFunding(() => 0.0001, 144);
    expect(Object.is(flat[143]!.fz, 0)).toBe(true);
  });

  it("vector 8: forward-scored performance S_{t−24} · r24_t", () => {
    near(forwardScore(0.5, 105 / 100 - 1), 0.025);
  });

  it("vector 9: dynamic weights, the raw combination and the no-flow renormalisation", () => {
    const cases: [[number, number, number | undefined], [number, number, number]][] = [
      [
        [0.001, -0.002, 0.001],
        [0.5243902484, 0.2439024836, 0.231707268],
      ],
      [
        [0, 0, 0],
        [0.5, 0.3, 0.2],
      ],
      [
        [1e-7, 0, 0],
        [0.5454545455, 0.2727272727, 0.1818181818],
      ],
      [
        [0, -1, 0],
        [0.5263157895, 0.2631578947, 0.2105263158],
      ],
      [
        [1, 1, 1],
        [0.4782608696, 0.3043478261, 0.2173913043],
      ],
      [
        [-2, 1, 1],
        [0.4250000002, 0.3374999999, 0.2374999999],
      ],
      [
        [0.001, -0.002, undefined],
        [0.6874999349, 0.3125000651, 0],
      ],
    ];
    for (const [[f, m, l], want] of cases) {
      const w = dynamicWeights(f, m, l);
      near(w.f, want[0], `ŵ_f of ${[f, m, l]}`);
      near(w.m, want[1], `ŵ_m of ${[f, m, l]}`);
      near(w.l, want[2], `ŵ_l of ${[f, m, l]}`);
    }
    const w = dynamicWeights(0.001, -0.002, 0.001);
    near(w.f * 0.8 + w.m * -0.5 + w.l * 0.3, 0.3670731373);
  });

  it("vector 10: risk scale from vrs and C / Max_240(C)", () => {
    const cases: [number, number, number][] = [
      [0, 1.0, 1.0],
      [0.5, 0.9, 0.728],
      [2, 0.75, 0.43],
      [-1, 1.0, 0.6888888889],
      [0, 0.75, 0.85],
      [2, 1.0, 0.58],
      [0.5, 0.8, 0.656],
    ];
    for (const [vrs, ratio, want] of cases) near(riskScale(vrs, ratio), want, `vrs ${vrs}, ratio ${ratio}`);
  });

  it("vector 11: trend filter, trend damping, MR threshold, MR example, volume scale", () => {
    near(trendFilter(0.05, -0.3), 0.85);
    expect(trendFilter(0.05, 0.3)).toBe(1.0);
    near(trendFilter(-0.08, 0.3), 0.76);
    expect(trendFilter(0.02, -0.3)).toBe(1.0);
    expect(trendFilter(-0.02, 0.3)).toBe(1.0);
    // 1 − min(5|tr|, 0.8) through the MR signal (rz −10 passes every threshold): 0.10 → 0.5, 0.04 → 0.8.
    near(meanReversionSignal(-10, 0, 0.1, 1) / 10, 0.5);
    near(meanReversionSignal(-10, 0, -0.04, 1) / 10, 0.8);
    // Thresholds 1.8 + 0.3|vrs| are strict: vrs 0 → 1.8, ±1 → 2.1, ±2 → 2.4.
    for (const [vrs, thr] of [
      [0, 1.8],
      [1, 2.1],
      [-1, 2.1],
      [2, 2.4],
      [-2, 2.4],
    ] as const) {
      expect(meanReversionSignal(thr, vrs, 0, 1), `rz = threshold ${thr}`).toBe(0);
      expect(meanReversionSignal(-thr, vrs, 0, 1), `rz = −threshold ${thr}`).toBe(0);
      near(meanReversionSignal(thr + 1e-9, vrs, 0, 1), -(thr + 1e-9));
    }
    near(meanReversionSignal(2.5, -1, 0.05, 1.0), -1.875);
    expect(meanReversionSignal(2.5, -1, 0.05, 0.8)).toBe(0);
    near(volumeScale(-2), 0.8);
    near(volumeScale(0.5), 1.1);
    near(volumeScale(2), 1.3);
  });

  it("vector 12: conviction scale", () => {
    const cases: [number, number][] = [
      [0.5, 0.3535533906],
      [1.0, 1.0],
      [1.2, 1.314534138],
      [1.31, 1.4993635316],
      [1.3103706972, 1.5],
      [3, 1.5],
    ];
    for (const [ratio, want] of cases) {
      near(convictionScale(ratio, 1), want, `ratio ${ratio}`);
      near(convictionScale(-2 * ratio, 2), want, `ratio ${ratio}, negative fwf`);
    }
    expect(0 * convictionScale(0, 0)).toBe(0);
    expect(convictionScale(1e-6, 0)).toBe(1.5);
  });

  it("vector 13: hysteresis", () => {
    const st = [1.0, 1.1, 1.3, 1.25, 0.9, 0.95];
    let prev: number | undefined;
    const final = st.map((x) => {
      prev = hysteresis(prev, x, 0.2);
      return prev;
    });
    expect(final).toEqual([1.0, 1.0, 1.3, 1.3, 0.9, 0.9]);
  });
});

describe("strategies.md §1.7 vector 15: the golden run", () => {
  const { bars, settlements } = goldenRun();
  const funding = bars.map((b) => asOfFunding(settlements, b.closeTime));
  const run = (flow: boolean) => {
    const s = new FactorStream(flow);
    return bars.map((b, t) => s.push(b, funding[t]));
  };
  const flow = run(true);
  const noFlow = run(false);

  it("reproduces the generator's checks", () => {
    expect(bars[1]!.close).toBe(100.01753253565985);
    expect(bars[2]!.close).toBe(99.92684347367121);
    expect(bars[1]!.takerBuyVolume).toBe(575.4315350671731);
  });

  const table: [number, boolean, number[]][] = [
    // t, flow, ŵ_f, ŵ_m, ŵ_l, fs, mrs, fls (NaN: unavailable), raw, st, chg, final
    [
      978,
      true,
      [
        0.502705139, 0.27705957, 0.220235291, -2.116803631, 1.387231415, 0, -0.679782324, -2.418088369,
        0.417674236, -2.418088369,
      ],
    ],
    [
      979,
      true,
      [
        0.503657748, 0.276689731, 0.219652521, -2.060051998, 1.655283511, 0, -0.579561201, -2.21575811,
        0.421878523, -2.418088369,
      ],
    ],
    [
      1000,
      true,
      [
        0.520568443, 0.269950369, 0.209481188, -0.868425099, 0, 0.445831581, -0.358681372, -1.929051204,
        0.179824211, -1.929051204,
      ],
    ],
    [
      1100,
      true,
      [
        0.512342494, 0.277289238, 0.210368268, -0.03546261, 0, 0.53277051, 0.093909008, 0.059535299,
        0.327449596, 0.040096416,
      ],
    ],
    [
      1299,
      true,
      [
        0.421888275, 0.327286819, 0.250824906, 0.008107185, 0, 0, 0.003420326, 0.033671799, 0.028394647,
        0.05241843,
      ],
    ],
    [
      978,
      false,
      [
        0.644487378,
        0.355512622,
        0,
        -2.116803631,
        1.387231415,
        Number.NaN,
        -0.871074944,
        -2.246990524,
        0.382723731,
        -2.246990524,
      ],
    ],
    [
      1100,
      false,
      [
        0.647441827,
        0.352558173,
        0,
        -0.03546261,
        0,
        Number.NaN,
        -0.022959977,
        -0.183158214,
        0.34021433,
        -0.293244855,
      ],
    ],
    [
      1299,
      false,
      [
        0.560396487,
        0.439603513,
        0,
        0.008107185,
        0,
        Number.NaN,
        0.004543238,
        0.057507258,
        0.032847317,
        0.089443738,
      ],
    ],
  ];
  const keys = ["wF", "wM", "wL", "fs", "mrs", "fls", "raw", "st", "chg", "final"] as const;

  it("matches the flow and no-flow tables", () => {
    for (const [t, withFlow, row] of table) {
      const v = (withFlow ? flow : noFlow)[t]!;
      keys.forEach((k, i) => {
        if (Number.isNaN(row[i])) expect(v[k], `t ${t} ${k}`).toBeUndefined();
        else near(v[k], row[i]!, `t ${t} flow ${withFlow} ${k}`);
      });
    }
  });

  it("matches the further checks at t = 978 and the held-bar count", () => {
    const v = flow[978]!;
    near(v.r24, -0.01311127525);
    near(v.vrs, -0.227394660282);
    near(v.tr, -0.056729131621);
    expect(v.emf).toBe(0.3);
    near(v.risk, 0.788678122744);
    near(v.fwf, -0.160838834067);
    near(v.conv, -0.077786491784);
    near(v.sm, -0.141682660359);
    let held = 0;
    for (let t = 979; t <= 1299; t++) if (flow[t]!.final === flow[t - 1]!.final) held++;
    expect(held).toBe(230);
  });

  it("§1.5 warm-up: first valid index of each component, with and without flow", () => {
    const first = (values: FactorValues[], k: keyof FactorValues) =>
      values.findIndex((v) => v[k] !== undefined);
    const want: [keyof FactorValues, number][] = [
      ["r24", 24],
      ["vol72", 95],
      ["vrs", 334],
      ["tr", 167],
      ["emf", 143],
      ["fs", 382],
      ["mrs", 334],
      ["risk", 334],
      ["perfM", 549],
      ["perfF", 597],
      ["wF", 597],
      ["raw", 597],
      ["fwf", 597],
      ["conv", 836],
      ["sm", 836],
      ["st", 955],
      ["chg", 978],
      ["final", 978],
    ];
    for (const values of [flow, noFlow])
      for (const [k, t] of want) expect(first(values, k), `${k} (flow ${values === flow})`).toBe(t);
    expect(first(flow, "fls")).toBe(358);
    expect(first(flow, "perfL")).toBe(573);
    expect(first(noFlow, "fls")).toBe(-1);
    expect(first(noFlow, "perfL")).toBe(-1);
    // The first valid final value needs WARMUP_BARS closed bars, with or without flow.
    expect(first(flow, "final") + 1).toBe(WARMUP_BARS);
    expect(first(noFlow, "final") + 1).toBe(WARMUP_BARS);
  });
});
