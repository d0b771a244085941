/**
 * The generator of strategies.md §1.7 vector 15 (the golden run) and the Park–Miller stream of §0.
 */
import type { FactorBar } from "../../src/strategies/multifactor-v2/factors.ts";
import type { Settlement } from "../../src/strategies/multifactor-v2/funding.ts";

/** PM(seed, k) = x_k / 2147483647 with x_0 = seed, x_k = 16807·x_{k−1} mod 2147483647 (§0). */
export function pm(seed: number, k: number): number {
  let x = seed;
  for (let i = 0; i < k; i++) x = (16807 * x) % 2147483647;
  return x / 2147483647;
}

/** The PM(seed, 1..count) stream. */
export function pmStream(seed: number, count: number): number[] {
  const out: number[] = [];
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (16807 * x) % 2147483647;
    out.push(x / 2147483647);
  }
  return out;
}

/** T0 = 2024-01-01 00:00 UTC (§0). */
export const T0 = 1704067200000;

/** Golden-run bars t = 0..n−1 and settlements (§1.7 vector 15), with high/low and taker-buy volume. */
export function goldenRun(n = 1300): {
  bars: (FactorBar & { high: number; low: number })[];
  settlements: Settlement[];
} {
  const a = pmStream(11, n);
  const b = pmStream(23, n);
  const c = pmStream(37, n);
  const g = (t: number) => (Math.floor(t / 240) % 2 === 0 ? 1 : -1);
  const bars: (FactorBar & { high: number; low: number })[] = [];
  let prevC = 100;
  for (let t = 0; t < n; t++) {
    let r = 0;
    if (t > 0) {
      r = 0.008 * (a[t]! - 0.5) + 0.0006 * g(t);
      if (t % 113 === 0) r += 0.05 * (b[t]! - 0.5);
    }
    const open = t === 0 ? 100 : prevC;
    const close = t === 0 ? 100 : prevC * (1 + r);
    const volume = 1000 * (1 + b[t]! + 50 * Math.abs(r));
    const takerBuyVolume = volume * Math.min(Math.max(0.5 + 0.15 * (c[t]! - 0.5) + 8 * r, 0.05), 0.95);
    const openTime = T0 + t * 3_600_000;
    bars.push({
      openTime,
      closeTime: openTime + 3_599_999,
      open,
      close,
      high: Math.max(open, close) * (1 + 0.003 * b[t]!),
      low: Math.min(open, close) * (1 - 0.003 * c[t]!),
      volume,
      takerBuyVolume,
    });
    prevC = close;
  }
  const settlements: Settlement[] = [];
  const p41 = pmStream(41, Math.ceil(n / 8) + 1);
  for (let s = 0; 8 * s < n; s++) {
    const rate = s < 40 ? 0.0001 : 0.0001 + 0.0003 * (p41[s]! - 0.5) + 0.0002 * g(8 * s);
    settlements.push({ fundingTime: T0 + 8 * s * 3_600_000 + 3, rate });
  }
  return { bars, settlements };
}
