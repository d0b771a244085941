/**
 * Sliding sample standard deviation `SD_n` (ddof = 1, as pandas; strategies.md §0) by Welford's method.
 *
 * Each push is one O(1) update of (mean, M2): adding x_new and removing x_old at once,
 * mean' = mean + (x_new − x_old)/n, M2' = M2 + (x_new − x_old)·(x_new − mean' + x_old − mean), clamped at 0.
 * Removal cancels: after a large value leaves, M2's absolute error stays at the scale of the old M2. So the
 * accumulator is rebuilt from the window (two-pass, O(n)) every n pushes and whenever M2 falls below 2⁻²⁰ of
 * its value at the last rebuild — amortised O(1), and the error stays relative to the current window.
 * Constant-window rule (§0): all n values bitwise equal → mean is that value and SD = 0 exactly.
 * Valid only when the window is full (n ≥ 2 for a sample SD). Snapshots restore the exact accumulator.
 */
import { finiteArrayField, finiteField, finiteInput, integerField, jsonObject } from "./json.ts";
import { Ring } from "./ring.ts";
import { trailingRun } from "./rolling-sum.ts";

/** `RollingSd` as JSON. */
export interface RollingSdJson {
  period: number;
  values: number[];
  mean: number;
  m2: number;
  /** M2 at the last rebuild. */
  m2Ref: number;
  /** Pushes since the last rebuild. */
  since: number;
}

const CANCELLATION = 2 ** -20;

/** Sliding mean and sample SD of the last `period` values. */
export class RollingSd {
  private readonly window: Ring;
  private m = 0;
  private m2 = 0;
  private m2Ref = 0;
  private since = 0;
  private run = 0;

  /** An empty window of `period` ≥ 2 values (throws otherwise). */
  constructor(readonly period: number) {
    this.window = new Ring(period);
    if (period < 2) throw new Error(`RollingSd: a sample SD needs period ≥ 2, got ${period}`);
  }

  /** Adds `x` (finite, else throws), evicting the oldest value when full. Amortised O(1). */
  push(value: number): void {
    const x = finiteInput(value, "RollingSd.push");
    const prev = this.window.length > 0 ? this.window.last() : undefined;
    const out = this.window.push(x);
    this.run = prev !== undefined && Object.is(prev, x) ? Math.min(this.run + 1, this.period) : 1;
    if (out === undefined) {
      const n = this.window.length;
      const d = x - this.m;
      this.m += d / n;
      this.m2 += d * (x - this.m);
    } else {
      const mOld = this.m;
      this.m += (x - out) / this.period;
      this.m2 = Math.max(0, this.m2 + (x - out) * (x - this.m + out - mOld));
    }
    this.since++;
    if (this.since >= this.period || this.m2 < this.m2Ref * CANCELLATION) this.rebuild();
  }

  /** True once the window is full. */
  get ready(): boolean {
    return this.window.full;
  }

  /** SMA_n of the window (Welford mean; exact for a constant window), or undefined before it is full. */
  mean(): number | undefined {
    if (!this.ready) return undefined;
    return this.run >= this.period ? this.window.last() : this.m;
  }

  /** SD_n (sample), 0 exactly for a constant window, or undefined before the window is full. */
  sd(): number | undefined {
    if (!this.ready) return undefined;
    if (this.run >= this.period) return 0;
    return Math.sqrt(this.m2 / (this.period - 1));
  }

  /** Two-pass recomputation of (mean, M2) from the window. O(n). */
  private rebuild(): void {
    const n = this.window.length;
    let s = 0;
    for (let i = 0; i < n; i++) s += this.window.at(i);
    const mean = s / n;
    let m2 = 0;
    for (let i = 0; i < n; i++) {
      const d = this.window.at(i) - mean;
      m2 += d * d;
    }
    this.m = mean;
    this.m2 = m2;
    this.m2Ref = m2;
    this.since = 0;
  }

  /** The exact state as plain JSON. */
  toJSON(): RollingSdJson {
    const { m: mean, m2, m2Ref, since } = this;
    return { period: this.period, values: this.window.values(), mean, m2, m2Ref, since };
  }

  /** Restores `toJSON()` output. Throws naming the field when `json` is malformed. */
  static fromJSON(json: unknown): RollingSd {
    const o = jsonObject(json, "RollingSd");
    const r = new RollingSd(integerField(o, "period", "RollingSd", 2));
    const values = finiteArrayField(o, "values", "RollingSd", r.period);
    for (const v of values) r.window.push(v);
    r.m = finiteField(o, "mean", "RollingSd");
    r.m2 = finiteField(o, "m2", "RollingSd");
    r.m2Ref = finiteField(o, "m2Ref", "RollingSd");
    r.since = integerField(o, "since", "RollingSd", 0);
    r.run = trailingRun(values, r.period);
    return r;
  }
}
