/**
 * Sliding `Sum_n` and `SMA_n` (strategies.md §0 "Rolling primitives") over float64 inputs.
 *
 * The running sum is compensated (Neumaier): each push adds the new value and subtracts the evicted one into
 * (sum, compensation), so the result stays within a few ulps of the exact window sum however long the stream;
 * O(1) per push. Constant-window rule (§0): when all n values are bitwise equal, SMA is that value exactly.
 * Valid only once n values have been pushed. Snapshot: `toJSON()` / `RollingSum.fromJSON()` restore the exact
 * accumulator, so a restored stream continues bit for bit.
 */
import { finiteArrayField, finiteField, finiteInput, integerField, jsonObject } from "./json.ts";
import { Ring } from "./ring.ts";

/** `RollingSum` as JSON. */
export interface RollingSumJson {
  period: number;
  /** Window, oldest first. */
  values: number[];
  sum: number;
  compensation: number;
}

/** Sliding sum and mean of the last `period` values. */
export class RollingSum {
  private readonly window: Ring;
  private sum = 0;
  private comp = 0;
  /** Length of the run of bitwise-equal values ending at the newest one (capped at period). */
  private run = 0;

  /** An empty window of `period` values (a positive integer, else throws). */
  constructor(readonly period: number) {
    this.window = new Ring(period);
  }

  /** Adds `x` (finite, else throws) and evicts the oldest value when the window is full. O(1). */
  push(value: number): void {
    const x = finiteInput(value, "RollingSum.push");
    const prev = this.window.length > 0 ? this.window.last() : undefined;
    const out = this.window.push(x);
    this.add(x);
    if (out !== undefined) this.add(-out);
    this.run = prev !== undefined && Object.is(prev, x) ? Math.min(this.run + 1, this.period) : 1;
  }

  /** True once `period` values are in the window. */
  get ready(): boolean {
    return this.window.full;
  }

  /** Sum_n of the window, or undefined before it is full. */
  total(): number | undefined {
    return this.ready ? this.sum + this.comp : undefined;
  }

  /** SMA_n of the window (that value exactly when the window is constant), or undefined before it is full. */
  mean(): number | undefined {
    if (!this.ready) return undefined;
    if (this.run >= this.period) return this.window.last();
    return (this.sum + this.comp) / this.period;
  }

  /** True when the window is full and all its values are bitwise equal (§0 constant-window rule). */
  get constant(): boolean {
    return this.ready && this.run >= this.period;
  }

  private add(x: number): void {
    const t = this.sum + x;
    this.comp += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }

  /** The exact state as plain JSON. */
  toJSON(): RollingSumJson {
    return { period: this.period, values: this.window.values(), sum: this.sum, compensation: this.comp };
  }

  /** Restores `toJSON()` output. Throws naming the field when `json` is malformed. */
  static fromJSON(json: unknown): RollingSum {
    const o = jsonObject(json, "RollingSum");
    const r = new RollingSum(integerField(o, "period", "RollingSum", 1));
    const values = finiteArrayField(o, "values", "RollingSum", r.period);
    for (const v of values) r.window.push(v);
    r.sum = finiteField(o, "sum", "RollingSum");
    r.comp = finiteField(o, "compensation", "RollingSum");
    r.run = trailingRun(values, r.period);
    return r;
  }
}

/** Length of the run of bitwise-equal values at the end of `values`, capped at `cap`. */
export function trailingRun(values: readonly number[], cap: number): number {
  let run = 0;
  for (let i = values.length - 1; i >= 0 && run < cap && Object.is(values[i], values[values.length - 1]); i--)
    run++;
  return run;
}
