/**
 * Sliding `Max_n` / `Min_n` (strategies.md §0) by a monotonic deque: the deque holds the indices and values of
 * the window's candidates, values strictly decreasing (Max) or increasing (Min) from front to back, so the
 * extreme is the front. Each value enters and leaves once: O(1) amortised per push, O(n) memory.
 * Valid once `period` values have been pushed. Snapshots hold the deque, the push count and the period.
 */
import { finiteArrayField, finiteInput, integerField, jsonObject } from "./json.ts";

/** `SlidingExtreme` as JSON. `indices[i]` (push number, 0-based) goes with `values[i]`, front first. */
export interface SlidingExtremeJson {
  period: number;
  kind: "max" | "min";
  /** Values pushed so far. */
  count: number;
  indices: number[];
  values: number[];
}

/** The max (or min) of the last `period` values. */
export class SlidingExtreme {
  private idx: number[] = [];
  private val: number[] = [];
  private head = 0;
  private count = 0;

  /** An empty window; `period` a positive integer (throws otherwise). */
  constructor(
    readonly period: number,
    readonly kind: "max" | "min",
  ) {
    if (!Number.isSafeInteger(period) || period < 1)
      throw new Error(`SlidingExtreme: period must be a positive integer, got ${period}`);
  }

  /** Adds `value` (finite, else throws). */
  push(value: number): void {
    const x = finiteInput(value, "SlidingExtreme.push");
    const dominated = this.kind === "max" ? (v: number) => v <= x : (v: number) => v >= x;
    while (this.val.length > this.head && dominated(this.val[this.val.length - 1]!)) {
      this.val.pop();
      this.idx.pop();
    }
    this.idx.push(this.count);
    this.val.push(x);
    this.count++;
    while (this.idx[this.head]! <= this.count - 1 - this.period) this.head++;
    if (this.head > 32 && this.head * 2 > this.idx.length) {
      this.idx = this.idx.slice(this.head);
      this.val = this.val.slice(this.head);
      this.head = 0;
    }
  }

  /** True once `period` values were pushed. */
  get ready(): boolean {
    return this.count >= this.period;
  }

  /** Max_n (or Min_n) of the window, or undefined before it is full. */
  value(): number | undefined {
    return this.ready ? this.val[this.head] : undefined;
  }

  /** The state as plain JSON. */
  toJSON(): SlidingExtremeJson {
    return {
      period: this.period,
      kind: this.kind,
      count: this.count,
      indices: this.idx.slice(this.head),
      values: this.val.slice(this.head),
    };
  }

  /** Restores `toJSON()` output. Throws naming the field when `json` is malformed or not a valid deque. */
  static fromJSON(json: unknown): SlidingExtreme {
    const o = jsonObject(json, "SlidingExtreme");
    const period = integerField(o, "period", "SlidingExtreme", 1);
    if (o.kind !== "max" && o.kind !== "min")
      throw new Error(`SlidingExtreme.kind: expected "max" or "min", got ${JSON.stringify(o.kind)}`);
    const r = new SlidingExtreme(period, o.kind);
    r.count = integerField(o, "count", "SlidingExtreme", 0);
    const indices = finiteArrayField(o, "indices", "SlidingExtreme", period);
    const values = finiteArrayField(o, "values", "SlidingExtreme", period);
    if (indices.length !== values.length || (r.count > 0 && indices.length === 0))
      throw new Error(
        "SlidingExtreme: indices and values must pair up and be non-empty once values were pushed",
      );
    indices.forEach((i, k) => {
      const inWindow = Number.isSafeInteger(i) && i < r.count && i > r.count - 1 - period;
      const ordered =
        k === 0 ||
        (i > indices[k - 1]! &&
          (o.kind === "max" ? values[k]! < values[k - 1]! : values[k]! > values[k - 1]!));
      if (!inWindow || !ordered)
        throw new Error(`SlidingExtreme.indices[${k}]: not a monotonic deque of the window`);
    });
    r.idx = [...indices];
    r.val = [...values];
    return r;
  }
}
