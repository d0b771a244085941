/**
 * As-of funding (strategies.md §0 "Funding", §1.3 correction 2): F_t is the rate of the latest settlement with
 * fundingTime ≤ closeTime_t; none before the first known settlement. Settled rates only.
 */

/** A settled funding rate: `fundingTime` ms epoch, `rate` per interval (positive: longs pay shorts). */
export interface Settlement {
  readonly fundingTime: number;
  readonly rate: number;
}

/**
 * F for a bar closing at `closeTime` (ms) given `settlements` sorted by fundingTime; undefined before the first.
 * O(log n) by binary search. Throws when the settlements are not in increasing time order.
 */
export function asOfFunding(settlements: readonly Settlement[], closeTime: number): number | undefined {
  let lo = 0;
  let hi = settlements.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (settlements[mid]!.fundingTime <= closeTime) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && lo < settlements.length && settlements[lo - 1]!.fundingTime >= settlements[lo]!.fundingTime)
    throw new Error("asOfFunding: settlements must be in increasing fundingTime order");
  return lo === 0 ? undefined : settlements[lo - 1]!.rate;
}

/** `AsOfFunding` as JSON. */
export interface AsOfFundingJson {
  /** Settlements not yet superseded for the bars still to come, in time order. */
  pending: Settlement[];
  current: number | null;
}

/**
 * Streaming as-of join: settlements and bar closes arrive in market-time order, a settlement possibly ahead of
 * the bars it applies to. `rateAt(closeTime)` must be called with non-decreasing close times. O(1) amortised.
 */
export class AsOfFunding {
  private pending: Settlement[] = [];
  private current: number | undefined;

  /** Records a settlement; throws when it is not later than the previous one or its rate is not finite. */
  settle(s: Settlement): void {
    if (!Number.isFinite(s.rate) || !Number.isSafeInteger(s.fundingTime))
      throw new Error(`AsOfFunding.settle: invalid settlement ${JSON.stringify(s)}`);
    const last = this.pending[this.pending.length - 1];
    if (last && s.fundingTime <= last.fundingTime)
      throw new Error(`AsOfFunding.settle: settlement at ${s.fundingTime} is not after ${last.fundingTime}`);
    this.pending.push({ fundingTime: s.fundingTime, rate: s.rate });
  }

  /** F for a bar closing at `closeTime`: the latest settlement at or before it, or undefined. */
  rateAt(closeTime: number): number | undefined {
    let used = 0;
    while (used < this.pending.length && this.pending[used]!.fundingTime <= closeTime) {
      this.current = this.pending[used]!.rate;
      used++;
    }
    if (used > 0) this.pending = this.pending.slice(used);
    return this.current;
  }

  /** The state as plain JSON. */
  toJSON(): AsOfFundingJson {
    return { pending: [...this.pending], current: this.current ?? null };
  }

  /** Restores `toJSON()` output; throws naming the field when malformed. */
  static fromJSON(json: unknown): AsOfFunding {
    if (typeof json !== "object" || json === null) throw new Error("AsOfFunding: expected an object");
    const o = json as Record<string, unknown>;
    const f = new AsOfFunding();
    if (!Array.isArray(o.pending)) throw new Error("AsOfFunding.pending: expected an array");
    for (const s of o.pending as Settlement[]) f.settle(s);
    if (o.current !== null) {
      if (typeof o.current !== "number" || !Number.isFinite(o.current))
        throw new Error(
          `AsOfFunding.current: expected a finite number or null, got ${JSON.stringify(o.current)}`,
        );
      f.current = o.current;
    }
    return f;
  }
}
