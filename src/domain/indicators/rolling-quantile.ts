/**
 * Sliding quantile `Q_n(x, q)` (strategies.md §0, pandas "linear"): sort the n window values v_0 ≤ … ≤ v_{n−1};
 * h = (n−1)·q, lo = ⌊h⌋; Q = v_lo + (v_{lo+1} − v_lo)·(h − lo), and Q = v_lo when h − lo = 0.
 * The window is a ring; its values are also kept in an order-statistic tree, so each push (insert the new value,
 * remove the evicted one) and each query are O(log n). Valid once n values were pushed. Snapshots hold the window
 * only: the tree is rebuilt on restore, and the quantile depends on the multiset alone, so a restored stream
 * answers bit for bit as the uninterrupted one.
 */
import { finiteArrayField, finiteInput, integerField, jsonObject } from "./json.ts";
import { OrderStatisticTree } from "./order-statistic.ts";
import { Ring } from "./ring.ts";

/** `RollingQuantile` as JSON. */
export interface RollingQuantileJson {
  period: number;
  /** Window, oldest first. */
  values: number[];
}

/** Q of `n` sorted values read through `kth` (rank → value), by the §0 definition; `q` in [0, 1]. */
function linearQuantile(kth: (rank: number) => number, n: number, q: number): number {
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const frac = h - lo;
  const vlo = kth(lo);
  return frac === 0 ? vlo : vlo + (kth(lo + 1) - vlo) * frac;
}

/** The sliding quantiles of the last `period` values. */
export class RollingQuantile {
  private readonly window: Ring;
  private readonly tree = new OrderStatisticTree();

  /** An empty window of `period` values (positive integer, else throws). */
  constructor(readonly period: number) {
    this.window = new Ring(period);
  }

  /** Adds `value` (finite, else throws; −0 is kept as 0), evicting the oldest value when full. O(log n). */
  push(value: number): void {
    const x = finiteInput(value, "RollingQuantile.push");
    const out = this.window.push(x);
    this.tree.insert(x);
    if (out !== undefined) this.tree.remove(out);
  }

  /** True once `period` values are in the window. */
  get ready(): boolean {
    return this.window.full;
  }

  /** Q_n(x, q) of the window (q in [0, 1], else throws), or undefined before it is full. O(log n). */
  quantile(q: number): number | undefined {
    if (!(q >= 0 && q <= 1)) throw new Error(`RollingQuantile.quantile: q must be in [0, 1], got ${q}`);
    if (!this.ready) return undefined;
    return linearQuantile((k) => this.tree.kth(k), this.period, q);
  }

  /** The state as plain JSON. */
  toJSON(): RollingQuantileJson {
    return { period: this.period, values: this.window.values() };
  }

  /** Restores `toJSON()` output; throws naming the field when malformed. */
  static fromJSON(json: unknown): RollingQuantile {
    const o = jsonObject(json, "RollingQuantile");
    const r = new RollingQuantile(integerField(o, "period", "RollingQuantile", 1));
    for (const v of finiteArrayField(o, "values", "RollingQuantile", r.period)) r.push(v);
    return r;
  }
}
