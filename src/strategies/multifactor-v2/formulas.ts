/**
 * The scalar formulas of multifactor-v2 (strategies.md §1.4), float64, each a pure function of already-computed
 * indicator values. The streaming pipeline (stream.ts) and the tests' batch reference both call these; the
 * rolling statistics they are fed differ (incremental vs. recomputed). Every comparison is strict (§1.4).
 */

/** ε of §1.4: the floor of every divisor. */
export const EPS = 1e-8;

/** min(max(x, a), b) (§0). */
export function clip(x: number, a: number, b: number): number {
  return Math.min(Math.max(x, a), b);
}

/** Buy ratio br = TB/V, 0.5 when V = 0 (§1.3 correction 1). Volumes in base asset. */
export function buyRatio(volume: number, takerBuyVolume: number): number {
  return volume === 0 ? 0.5 : takerBuyVolume / volume;
}

/** Dollar-volume delta D = (2·TB − V)·(O + C)/2, quote asset (§1.3 correction 1). */
export function dollarDelta(open: number, close: number, volume: number, takerBuyVolume: number): number {
  return ((2 * takerBuyVolume - volume) * (open + close)) / 2;
}

/** Extreme-move filter emf = 0.3 if Sum_48(ext) > 2 else 1 (§1.4 A). */
export function extremeMoveFilter(extCount: number): number {
  return extCount > 2 ? 0.3 : 1.0;
}

/** Contrarian funding before smoothing, ff = −fz · 1[|fz| > fthr] (§1.4 B). */
export function fundingSignal(fz: number, fthr: number): number {
  return Math.abs(fz) > fthr ? -fz : 0;
}

/**
 * Mean-reversion signal (§1.4 C): mrs = (−rz) · 1[|rz| > 1.8 + 0.3·|vrs|] · (1 − min(5·|tr|, 0.8)) ·
 * 1[volRatio > 0.8], with volRatio = V / max(SMA_72(V), ε).
 */
export function meanReversionSignal(rz: number, vrs: number, tr: number, volRatio: number): number {
  if (!(Math.abs(rz) > 1.8 + 0.3 * Math.abs(vrs)) || !(volRatio > 0.8)) return 0;
  return -rz * (1 - Math.min(5 * Math.abs(tr), 0.8));
}

/** Volume scale of the flow signal, clip(1 + 0.2·vz, 0.8, 1.3) (§1.4 D). */
export function volumeScale(vz: number): number {
  return clip(1 + 0.2 * vz, 0.8, 1.3);
}

/** Flow signal before volume scaling, flt = fc · 1[|fc| > Q_240(|fc|, 0.75)] (§1.4 D). */
export function flowSignal(fc: number, q: number): number {
  return Math.abs(fc) > q ? fc : 0;
}

/**
 * Risk scale (§1.4 E) from vrs and the drawdown ratio C / Max_240(C):
 * dd = clip(ratio − 1, −0.25, 0), sev = dd/(−0.25),
 * risk = 0.7·clip(1/(1 + 0.8·|vrs|), 0.4, 1.2) + 0.3·clip(1 − 0.6·sev, 0.5, 1.0).
 */
export function riskScale(vrs: number, drawdownRatio: number): number {
  const sev = clip(drawdownRatio - 1, -0.25, 0) / -0.25;
  return 0.7 * clip(1 / (1 + 0.8 * Math.abs(vrs)), 0.4, 1.2) + 0.3 * clip(1 - 0.6 * sev, 0.5, 1.0);
}

/** Forward-scored performance of a component, perfRaw_k,t = S_k,t−24 · r24_t (§1.3 correction 3, §1.4 F). */
export function forwardScore(signalBefore24: number, r24: number): number {
  return signalBefore24 * r24;
}

/** Normalised component weights (ŵ_f, ŵ_m, ŵ_l); ŵ_l = 0 when flow is unavailable. */
export interface Weights {
  readonly f: number;
  readonly m: number;
  readonly l: number;
}

/**
 * Dynamic weights (§1.4 F) from the component performances; `perfL` undefined = flow unavailable (its term is
 * omitted from P and w_l = 0, so ŵ_f and ŵ_m renormalise to sum 1).
 */
export function dynamicWeights(perfF: number, perfM: number, perfL: number | undefined): Weights {
  const p = Math.abs(perfF) + Math.abs(perfM) + (perfL === undefined ? 0 : Math.abs(perfL)) + 1e-8;
  const wf = clip(0.5 + (0.15 * perfF) / p, 0.4, 0.6);
  const wm = clip(0.3 + (0.15 * perfM) / p, 0.25, 0.4);
  const wl = perfL === undefined ? 0 : clip(0.2 + (0.15 * perfL) / p, 0.15, 0.25);
  const sum = wf + wm + wl;
  return { f: wf / sum, m: wm / sum, l: wl / sum };
}

/** Trend filter tf (§1.4 G): 1 − 3·tr if tr > 0.02 and raw < 0; 1 + 3·tr if tr < −0.02 and raw > 0; else 1. */
export function trendFilter(tr: number, raw: number): number {
  if (tr > 0.02 && raw < 0) return 1 - 3 * tr;
  if (tr < -0.02 && raw > 0) return 1 + 3 * tr;
  return 1;
}

/** Conviction scale (§1.4 H): min((|fwf| / max(Q, ε))^1.5, 1.5), Q = Q_240(|fwf|, 0.75). conv = fwf · scale. */
export function convictionScale(fwf: number, q: number): number {
  return Math.min((Math.abs(fwf) / Math.max(q, EPS)) ** 1.5, 1.5);
}

/**
 * Hysteresis (§1.4 I): the first valid bar (prev undefined) takes st; afterwards st if |st − prev| > chg, else
 * prev.
 */
export function hysteresis(prev: number | undefined, st: number, chg: number): number {
  if (prev === undefined) return st;
  return Math.abs(st - prev) > chg ? st : prev;
}
