/**
 * A fixed-capacity FIFO window of float64 values (a circular buffer): the storage behind every sliding
 * indicator of strategies.md §0. O(1) push, O(1) indexed read; serialises as its values, oldest first.
 */
import { checkPeriod } from "./json.ts";

/** The last `capacity` values pushed. */
export class Ring {
  private readonly buf: number[];
  private head = 0;
  private count = 0;

  /** An empty window of `capacity` values. Throws unless `capacity` is a positive integer. */
  constructor(readonly capacity: number) {
    checkPeriod(capacity, "Ring");
    this.buf = new Array<number>(capacity).fill(0);
  }

  /** Values held, ≤ capacity. */
  get length(): number {
    return this.count;
  }

  /** True when the window holds `capacity` values. */
  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Appends `x`; returns the value it evicted when the window was full, else undefined. O(1). */
  push(x: number): number | undefined {
    if (this.count < this.capacity) {
      this.buf[(this.head + this.count) % this.capacity] = x;
      this.count++;
      return undefined;
    }
    const out = this.buf[this.head]!;
    this.buf[this.head] = x;
    this.head = (this.head + 1) % this.capacity;
    return out;
  }

  /** The i-th value, 0 = oldest. Throws when out of range. */
  at(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new Error(`Ring.at: index ${i} out of range`);
    return this.buf[(this.head + i) % this.capacity]!;
  }

  /** The most recent value; throws when empty. */
  last(): number {
    return this.at(this.count - 1);
  }

  /** The values, oldest first (a copy). O(n). */
  values(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.buf[(this.head + i) % this.capacity]!);
    return out;
  }

  /** A window of `capacity` holding `values` (oldest first; throws when they exceed the capacity). */
  static of(capacity: number, values: readonly number[]): Ring {
    const r = new Ring(capacity);
    if (values.length > capacity)
      throw new Error(`Ring: ${values.length} values exceed capacity ${capacity}`);
    for (const v of values) r.push(v);
    return r;
  }
}
