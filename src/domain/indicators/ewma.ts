/**
 * `EWMA_s(x)` (strategies.md §0): α = 2/(s+1); the first valid input is the seed (y = x), then
 * y_t = (1−α)·y_{t−1} + α·x_t (pandas `adjust=False`). O(1). The value depends on the anchor (the first input);
 * snapshots keep it.
 */
import { finiteField, finiteInput, jsonObject } from "./json.ts";

/** `Ewma` as JSON; `y` null before the first input. */
export interface EwmaJson {
  span: number;
  y: number | null;
}

/** An exponentially weighted moving average with span `span`. */
export class Ewma {
  /** α = 2/(span + 1). */
  readonly alpha: number;
  private y: number | undefined;

  /** `span` ≥ 1 (throws otherwise). */
  constructor(readonly span: number) {
    if (!Number.isFinite(span) || span < 1) throw new Error(`Ewma: span must be ≥ 1, got ${span}`);
    this.alpha = 2 / (span + 1);
  }

  /** Adds `x` (finite, else throws) and returns the new average. */
  push(value: number): number {
    const x = finiteInput(value, "Ewma.push");
    this.y = this.y === undefined ? x : (1 - this.alpha) * this.y + this.alpha * x;
    return this.y;
  }

  /** The average, or undefined before the first input. */
  value(): number | undefined {
    return this.y;
  }

  /** The state as plain JSON. */
  toJSON(): EwmaJson {
    return { span: this.span, y: this.y ?? null };
  }

  /** Restores `toJSON()` output; throws naming the field when malformed. */
  static fromJSON(json: unknown): Ewma {
    const o = jsonObject(json, "Ewma");
    const e = new Ewma(finiteField(o, "span", "Ewma"));
    if (o.y !== null) e.y = finiteField(o, "y", "Ewma");
    return e;
  }
}
