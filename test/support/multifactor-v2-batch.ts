/**
 * Batch reference of multifactor-v2 (strategies.md §0 rolling primitives, §1.4 A–I), for tests only: every
 * series is a whole array and every window is recomputed from scratch (plain sums, two-pass sample SD, sorting
 * for quantiles), the straightforward transcription of the formulas. Window constants are written out from the
 * spec here, independently of the streaming pipeline. It also records, per bar, the strict comparisons whose
 * operands agree to §0's tolerance, |a − b| ≤ 1e-9 · max(1, |a|, |b|): streaming and batch may fall on either
 * side there (a tie). The absolute floor matters for comparisons against 0, whose operand can be rounding noise.
 */
import type { FactorBar, FactorValues } from "../../src/strategies/multifactor-v2/factors.ts";
import {
  buyRatio,
  clip,
  convictionScale,
  dollarDelta,
  dynamicWeights,
  EPS,
  extremeMoveFilter,
  trendFilter,
  volumeScale,
} from "../../src/strategies/multifactor-v2/formulas.ts";

type S = (number | undefined)[];

/** The window x_{t−n+1..t} when all n are valid, else undefined. */
function win(x: S, t: number, n: number): number[] | undefined {
  if (t - n + 1 < 0) return undefined;
  const w = x.slice(t - n + 1, t + 1);
  return w.every((v) => v !== undefined) ? (w as number[]) : undefined;
}
const constant = (w: number[]) => w.every((v) => Object.is(v, w[0]));
const mapT = (len: number, f: (t: number) => number | undefined): S =>
  Array.from({ length: len }, (_, t) => f(t));

export function sma(x: S, n: number): S {
  return mapT(x.length, (t) => {
    const w = win(x, t, n);
    if (!w) return undefined;
    return constant(w) ? w[0] : w.reduce((a, b) => a + b, 0) / n;
  });
}
export function sumN(x: S, n: number): S {
  return mapT(x.length, (t) => win(x, t, n)?.reduce((a, b) => a + b, 0));
}
export function sd(x: S, n: number): S {
  return mapT(x.length, (t) => {
    const w = win(x, t, n);
    if (!w) return undefined;
    if (constant(w)) return 0;
    const m = w.reduce((a, b) => a + b, 0) / n;
    return Math.sqrt(w.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1));
  });
}
export function quantile(x: S, n: number, q: number): S {
  return mapT(x.length, (t) => {
    const w = win(x, t, n);
    if (!w) return undefined;
    const v = [...w].sort((a, b) => a - b);
    const h = (n - 1) * q;
    const lo = Math.floor(h);
    return h === lo ? v[lo] : v[lo]! + (v[lo + 1]! - v[lo]!) * (h - lo);
  });
}
export function maxN(x: S, n: number): S {
  return mapT(x.length, (t) => {
    const w = win(x, t, n);
    return w ? Math.max(...w) : undefined;
  });
}
export function ewma(x: S, span: number): S {
  const a = 2 / (span + 1);
  let y: number | undefined;
  return x.map((v) => {
    if (v === undefined) return y === undefined ? undefined : Number.NaN;
    y = y === undefined ? v : (1 - a) * y + a * v;
    return y;
  });
}
const lag = (x: S, k: number): S => mapT(x.length, (t) => (t - k >= 0 ? x[t - k] : undefined));
const zip = (xs: S[], f: (...v: number[]) => number): S =>
  mapT(xs[0]!.length, (t) => (xs.every((x) => x[t] !== undefined) ? f(...xs.map((x) => x[t]!)) : undefined));

/** Strict comparison sites of §1.4 and the components a flip at one of them can change (from that bar on). */
export type TieSite = "ext" | "ff" | "mrs" | "flt" | "tf" | "final";

/** The batch result: one FactorValues per bar, and the near-tie bars per site. */
export interface BatchResult {
  values: FactorValues[];
  ties: Map<TieSite, number[]>;
}

/** Batch §1.4 over `bars` (consecutive hours from the anchor) with as-of `funding[t]`. */
export function batchFactors(bars: readonly FactorBar[], funding: S, flow: boolean): BatchResult {
  const len = bars.length;
  const ties = new Map<TieSite, number[]>();
  const gt = (site: TieSite, t: number, a: number, b: number) => {
    if (Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)))
      ties.set(site, [...(ties.get(site) ?? []), t]);
    return a > b;
  };
  const O = bars.map((b) => b.open);
  const C = bars.map((b) => b.close);
  const V = bars.map((b) => b.volume);
  const c24 = lag(C, 24);
  const r24 = zip([C, c24], (c, p) => c / p - 1);
  const vol72 = sd(r24, 72);
  const volRegime = zip([vol72, sma(vol72, 240)], (v, m) => clip(v / Math.max(m, EPS) - 1, -2, 2));
  const vrs = ewma(volRegime, 36);
  const trendRatio = zip([sma(C, 24), sma(C, 168)], (a, b) => clip(a / b - 1, -0.1, 0.1));
  const tr = ewma(trendRatio, 24);
  const rvr = zip([r24, lag(vol72, 1)], (r, v) => r / Math.max(v, EPS));
  const ext = mapT(len, (t) =>
    rvr[t] === undefined ? undefined : gt("ext", t, Math.abs(rvr[t]!), 2.5) ? 1 : 0,
  );
  const emf = sumN(ext, 48).map((n) => (n === undefined ? undefined : extremeMoveFilter(n)));

  const fz = zip([funding, sma(funding, 144), sd(funding, 144)], (f, m, s) => (f - m) / Math.max(s, EPS));
  const fthr = quantile(
    fz.map((v) => (v === undefined ? undefined : Math.abs(v))),
    240,
    0.7,
  );
  const ff = mapT(len, (t) =>
    fz[t] === undefined || fthr[t] === undefined
      ? undefined
      : gt("ff", t, Math.abs(fz[t]!), fthr[t]!)
        ? -fz[t]!
        : 0,
  );
  const fs = ewma(ff, 18);

  const rz = zip([r24, sd(r24, 96)], (r, s) => r / Math.max(s, EPS));
  const volRatio = zip([V, sma(V, 72)], (v, m) => v / Math.max(m, EPS));
  const mrs = mapT(len, (t) => {
    if ([rz, vrs, tr, volRatio].some((x) => x[t] === undefined)) return undefined;
    const pass = gt("mrs", t, Math.abs(rz[t]!), 1.8 + 0.3 * Math.abs(vrs[t]!));
    const volOk = gt("mrs", t, volRatio[t]!, 0.8);
    return pass && volOk ? -rz[t]! * (1 - Math.min(5 * Math.abs(tr[t]!), 0.8)) : 0;
  });

  const none: S = mapT(len, () => undefined);
  let br = none;
  let D = none;
  let brz = none;
  let dz = none;
  let fc = none;
  let flt = none;
  let vz = none;
  let fls = none;
  if (flow) {
    const TB = bars.map((b) => b.takerBuyVolume!);
    br = zip([V, TB], buyRatio);
    D = zip([O, C, V, TB], dollarDelta);
    const z = (x: S) => zip([x, sma(x, 120), sd(x, 120)], (v, m, s) => (v - m) / Math.max(s, EPS));
    brz = z(br);
    dz = z(D);
    vz = z(V);
    fc = ewma(
      zip([brz, dz], (a, b) => 0.7 * a + 0.3 * b),
      12,
    );
    const q = quantile(
      fc.map((v) => (v === undefined ? undefined : Math.abs(v))),
      240,
      0.75,
    );
    flt = mapT(len, (t) =>
      fc[t] === undefined || q[t] === undefined
        ? undefined
        : gt("flt", t, Math.abs(fc[t]!), q[t]!)
          ? fc[t]!
          : 0,
    );
    fls = zip([flt, vz], (f, v) => f * volumeScale(v));
  }

  const drawdownRatio = zip([C, maxN(C, 240)], (c, m) => c / m);
  const risk = zip([vrs, drawdownRatio], (v, d) => {
    const sev = clip(d - 1, -0.25, 0) / -0.25;
    return 0.7 * clip(1 / (1 + 0.8 * Math.abs(v)), 0.4, 1.2) + 0.3 * clip(1 - 0.6 * sev, 0.5, 1.0);
  });
  const perf = (sig: S) =>
    ewma(
      sma(
        zip([lag(sig, 24), r24], (s, r) => s * r) /* perfRaw, §1.3 correction 3 */,
        192,
      ),
      60,
    );
  const perfF = perf(fs);
  const perfM = perf(mrs);
  const perfL = flow ? perf(fls) : none;
  const weights = mapT(len, () => undefined as number | undefined).map((_, t) => {
    if (perfF[t] === undefined || perfM[t] === undefined || (flow && perfL[t] === undefined))
      return undefined;
    return dynamicWeights(perfF[t]!, perfM[t]!, flow ? perfL[t] : undefined);
  });
  const wF = weights.map((w) => w?.f);
  const wM = weights.map((w) => w?.m);
  const wL = weights.map((w) => w?.l);
  const raw = mapT(len, (t) => {
    const w = weights[t];
    if (!w || fs[t] === undefined || mrs[t] === undefined || (flow && fls[t] === undefined)) return undefined;
    return w.f * fs[t]! + w.m * mrs[t]! + (flow ? w.l * fls[t]! : 0);
  });
  const tf = mapT(len, (t) => {
    if (tr[t] === undefined || raw[t] === undefined) return undefined;
    gt("tf", t, tr[t]!, 0.02);
    gt("tf", t, -0.02, tr[t]!);
    gt("tf", t, raw[t]!, 0); // the sign of raw: a near-zero raw is rounding noise on either side
    return trendFilter(tr[t]!, raw[t]!);
  });
  const fwf = zip([raw, tf, risk, emf], (r, f, k, e) => r * f * k * e);
  const qf = quantile(
    fwf.map((v) => (v === undefined ? undefined : Math.abs(v))),
    240,
    0.75,
  );
  const conv = zip([fwf, qf], (f, q) => f * convictionScale(f, q));
  const sm = ewma(conv, 18);
  const st = zip([sm, sd(sm, 120)], (s, d) => s / Math.max(d, EPS));
  const chg = sd(st, 24).map((v) => (v === undefined ? undefined : 0.4 * v));
  const final: S = [];
  let prev: number | undefined;
  for (let t = 0; t < len; t++) {
    if (st[t] === undefined || chg[t] === undefined) final.push(undefined);
    else {
      prev = prev === undefined || gt("final", t, Math.abs(st[t]! - prev), chg[t]!) ? st[t]! : prev;
      final.push(prev);
    }
  }
  const series: Record<string, S> = {
    r24,
    vol72,
    volRegime,
    vrs,
    trendRatio,
    tr,
    rvr,
    ext,
    emf,
    funding,
    fz,
    fthr,
    ff,
    fs,
    rz,
    volRatio,
    mrs,
    br,
    dollarDelta: D,
    brz,
    dz,
    fc,
    flt,
    vz,
    fls,
    drawdownRatio,
    risk,
    perfF,
    perfM,
    perfL,
    wF,
    wM,
    wL,
    raw,
    tf,
    fwf,
    conv,
    sm,
    st,
    chg,
    final,
  };
  const values = mapT(len, () => 0).map((_, t) => {
    const v: Record<string, number> = {};
    for (const [k, x] of Object.entries(series)) if (x[t] !== undefined) v[k] = x[t]!;
    return v as FactorValues;
  });
  return { values, ties };
}
