/**
 * A delay line: the value pushed `k` pushes ago (x_{t−k}), for formulas such as r24 = C_t/C_{t−24} − 1 and
 * perfRaw = S_{t−24}·r24_t (strategies.md §1.4). Holds invalid values as `undefined` (null in JSON). O(1).
 */
import { finiteInput, integerField, jsonObject } from "./json.ts";

/** `Lag` as JSON: the last k + 1 values, oldest first. */
export interface LagJson {
  k: number;
  values: (number | null)[];
}

/** Remembers the last k + 1 values. */
export class Lag {
  private buf: (number | undefined)[] = [];
  private head = 0;

  /** `k` ≥ 1 (throws otherwise). */
  constructor(readonly k: number) {
    if (!Number.isSafeInteger(k) || k < 1) throw new Error(`Lag: k must be a positive integer, got ${k}`);
  }

  /** Pushes x_t (finite, −0 kept as 0; undefined when invalid) and returns x_{t−k}, undefined when absent or invalid. */
  push(value: number | undefined): number | undefined {
    const x = value === undefined ? undefined : finiteInput(value, "Lag.push");
    const cap = this.k + 1;
    if (this.buf.length < cap) {
      this.buf.push(x);
      return this.buf.length === cap ? this.buf[0] : undefined;
    }
    this.buf[this.head] = x;
    this.head = (this.head + 1) % cap;
    return this.buf[this.head];
  }

  /** The state as plain JSON. */
  toJSON(): LagJson {
    const values = [...this.buf.slice(this.head), ...this.buf.slice(0, this.head)];
    return { k: this.k, values: values.map((v) => v ?? null) };
  }

  /** Restores `toJSON()` output; throws naming the field when malformed. */
  static fromJSON(json: unknown): Lag {
    const o = jsonObject(json, "Lag");
    const lag = new Lag(integerField(o, "k", "Lag", 1));
    const values = o.values;
    if (!Array.isArray(values) || values.length > lag.k + 1)
      throw new Error(`Lag.values: expected an array of at most ${lag.k + 1} values`);
    values.forEach((v, i) => {
      if (v !== null && (typeof v !== "number" || !Number.isFinite(v)))
        throw new Error(`Lag.values[${i}]: expected a finite number or null, got ${JSON.stringify(v)}`);
    });
    lag.buf = values.map((v) => (v === null ? undefined : (v as number)));
    return lag;
  }
}
