/**
 * The values multifactor-v2 computes at the close of one 1h bar (strategies.md §1.4 A–I), float64. A field is
 * undefined while it is not valid (§0: valid only when all its inputs are; §1.5 gives the first valid index of
 * each). This is what `FactorComputed` records.
 */

/** One closed 1h bar as the factor pipeline reads it (float64; prices in quote asset, volumes in base asset). */
export interface FactorBar {
  /** ms epoch, UTC hour-aligned. */
  readonly openTime: number;
  /** openTime + 3 600 000 − 1. */
  readonly closeTime: number;
  readonly open: number;
  readonly close: number;
  readonly volume: number;
  /** Taker-buy base volume; required when the pipeline runs with flow, ignored without. */
  readonly takerBuyVolume?: number;
}

/** All components of §1.4 at one bar; undefined = not (yet) valid. */
export interface FactorValues {
  // A. Regime
  r24?: number;
  vol72?: number;
  volRegime?: number;
  vrs?: number;
  trendRatio?: number;
  tr?: number;
  rvr?: number;
  ext?: number;
  emf?: number;
  // B. Funding
  funding?: number;
  fz?: number;
  fthr?: number;
  ff?: number;
  fs?: number;
  // C. Mean reversion
  rz?: number;
  volRatio?: number;
  mrs?: number;
  // D. Flow (undefined throughout without taker data)
  br?: number;
  dollarDelta?: number;
  brz?: number;
  dz?: number;
  fc?: number;
  flt?: number;
  vz?: number;
  fls?: number;
  // E. Risk
  drawdownRatio?: number;
  risk?: number;
  // F. Weights
  perfF?: number;
  perfM?: number;
  perfL?: number;
  wF?: number;
  wM?: number;
  wL?: number;
  // G. Combination
  raw?: number;
  tf?: number;
  fwf?: number;
  // H. Refinement
  conv?: number;
  sm?: number;
  st?: number;
  chg?: number;
  // I. Hysteresis
  final?: number;
}

/** Names of the components, in §1.4 order (the keys of `FactorValues`). */
export const FACTOR_NAMES = [
  "r24",
  "vol72",
  "volRegime",
  "vrs",
  "trendRatio",
  "tr",
  "rvr",
  "ext",
  "emf",
  "funding",
  "fz",
  "fthr",
  "ff",
  "fs",
  "rz",
  "volRatio",
  "mrs",
  "br",
  "dollarDelta",
  "brz",
  "dz",
  "fc",
  "flt",
  "vz",
  "fls",
  "drawdownRatio",
  "risk",
  "perfF",
  "perfM",
  "perfL",
  "wF",
  "wM",
  "wL",
  "raw",
  "tf",
  "fwf",
  "conv",
  "sm",
  "st",
  "chg",
  "final",
] as const satisfies readonly (keyof FactorValues)[];

/** Length of the bar the pipeline consumes, ms. */
export const HOUR_MS = 3_600_000;
/** Closed 1h bars before the first valid final value (§1.5). */
export const WARMUP_BARS = 979;
