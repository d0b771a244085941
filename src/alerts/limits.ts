/**
 * The dispatcher's two limits, pure (the caller passes the time, ms): `Deduper` sends one alert per key within
 * a window, `TokenBucket` spaces a sink's sends.
 */

/** One alert per key within `windowMs`: the first passes, the same key again within the window does not. */
export class Deduper {
  /** When each key last passed. */
  readonly #passed = new Map<string, number>();

  /** @throws RangeError for a negative window. */
  constructor(readonly windowMs: number) {
    if (!(windowMs >= 0)) throw new RangeError(`dedupe window must be ≥ 0 ms, got ${windowMs}`);
  }

  /**
   * Whether an alert with `key` at `now` passes: no alert of that key passed in (now − windowMs, now]. A key
   * that passes starts a new window; one that does not leaves the window where it was.
   */
  admit(key: string, now: number): boolean {
    const last = this.#passed.get(key);
    if (last !== undefined && now - last < this.windowMs) return false;
    this.#passed.set(key, now);
    if (this.#passed.size > 4_096) this.#forgetBefore(now - this.windowMs);
    return true;
  }

  #forgetBefore(time: number): void {
    for (const [key, at] of this.#passed) if (at <= time) this.#passed.delete(key);
  }
}

/**
 * A token bucket of `capacity` tokens refilled at `capacity` per `periodMs` (e.g. 20 per minute), full at the
 * start: at most capacity + ⌊t × capacity / periodMs⌋ sends in any interval of t ms. Exact for integer times:
 * the level is kept in token·ms (one token = periodMs of them, each ms adds capacity).
 */
export class TokenBucket {
  #level: number;
  #at: number | null = null;

  /** @throws RangeError for a capacity below 1 or a period below 1 ms (both integers). */
  constructor(
    readonly capacity: number,
    readonly periodMs: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || !Number.isInteger(periodMs) || periodMs < 1) {
      throw new RangeError(
        `token bucket needs integers capacity ≥ 1 and period ≥ 1 ms, got ${capacity}/${periodMs} ms`,
      );
    }
    this.#level = capacity * periodMs;
  }

  /**
   * Takes one token at `now` (integer ms) when there is one and answers 0; otherwise takes nothing and answers
   * the ms until one is there. A `now` before the last one counts as the last one.
   */
  take(now: number): number {
    if (this.#at !== null && now > this.#at) {
      this.#level = Math.min(this.capacity * this.periodMs, this.#level + (now - this.#at) * this.capacity);
    }
    this.#at = Math.max(now, this.#at ?? now);
    if (this.#level >= this.periodMs) {
      this.#level -= this.periodMs;
      return 0;
    }
    return Math.ceil((this.periodMs - this.#level) / this.capacity);
  }
}
