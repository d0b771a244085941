/**
 * Bar intervals aggregated from 1m klines (strategies.md §0, Time and bars): UTC-aligned buckets
 * `floor(openTime / interval)`, a bar's `closeTime = openTime + interval − 1`.
 */

/** Length of one 1m bar, ms. */
export const MINUTE_MS = 60_000;

/** Every bar interval perpsource aggregates, with its length in ms. */
export const BAR_INTERVALS = {
  "1m": MINUTE_MS,
  "5m": 5 * MINUTE_MS,
  "15m": 15 * MINUTE_MS,
  "1h": 60 * MINUTE_MS,
  "4h": 240 * MINUTE_MS,
  "1d": 1_440 * MINUTE_MS,
} as const;

/** A bar interval name: `1m`, `5m`, `15m`, `1h`, `4h` or `1d`. */
export type BarInterval = keyof typeof BAR_INTERVALS;

/** True when `value` names a bar interval. */
export function isBarInterval(value: string): value is BarInterval {
  return Object.hasOwn(BAR_INTERVALS, value);
}

/** The interval named `value`; throws a RangeError listing the valid names otherwise. */
export function parseBarInterval(value: string): BarInterval {
  if (!isBarInterval(value)) {
    throw new RangeError(
      `unknown bar interval "${value}" (expected one of ${Object.keys(BAR_INTERVALS).join(", ")})`,
    );
  }
  return value;
}

/** openTime (ms epoch) of the `interval` bucket holding `time` (ms epoch, ≥ 0): `time − time mod interval`. */
export function bucketOpenTime(time: number, interval: BarInterval): number {
  return time - (time % BAR_INTERVALS[interval]);
}
