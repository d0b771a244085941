/**
 * The exact rules of the symbol filters (binance-usdm.md §1.2), as breaches rather than error codes: the order
 * validator (validate.ts) maps them to Binance's codes and messages, `checkOrderFilters` (instruments.ts) to its
 * filter names. Comparisons are exact decimals (§1.3); a filter field equal to "0" disables its part.
 */
import type { Dec } from "../decimal.ts";
import { toDec } from "../decimal.ts";
import type { Instrument } from "../instruments.ts";

/** One of the two lot filters, with the exchangeInfo strings (base asset). */
export type LotFilter = {
  readonly name: "LOT_SIZE" | "MARKET_LOT_SIZE";
  readonly minQty: string;
  readonly maxQty: string;
  readonly stepSize: string;
};

/** The instrument's LOT_SIZE filter. */
export function lotSize(instrument: Instrument): LotFilter {
  const { minQty, maxQty, stepSize } = instrument;
  return { name: "LOT_SIZE", minQty, maxQty, stepSize };
}

/** The instrument's MARKET_LOT_SIZE filter. */
export function marketLotSize(instrument: Instrument): LotFilter {
  return {
    name: "MARKET_LOT_SIZE",
    minQty: instrument.marketMinQty,
    maxQty: instrument.marketMaxQty,
    stepSize: instrument.marketStepSize,
  };
}

/** Which part of a lot filter a positive quantity breaks. */
export type LotBreach = "minQty" | "maxQty" | "stepSize";

/**
 * The parts of `lot` that the quantity `q` (> 0) breaks, exactly: `q < minQty` alone (nothing else is reported),
 * else `q > maxQty` and `(q − minQty) % stepSize ≠ 0`, in that order; [] when it passes.
 * Throws when a filter string is malformed.
 */
export function lotBreaches(q: Dec, lot: LotFilter): LotBreach[] {
  const min = toDec(lot.minQty, `${lot.name}.minQty`);
  const max = toDec(lot.maxQty, `${lot.name}.maxQty`);
  const step = toDec(lot.stepSize, `${lot.name}.stepSize`);
  if (q.lt(min)) return ["minQty"];
  const out: LotBreach[] = [];
  if (max.gt(0) && q.gt(max)) out.push("maxQty");
  if (step.gt(0) && !q.minus(min).mod(step).isZero()) out.push("stepSize");
  return out;
}

/** Which part of PRICE_FILTER a price breaks: ≤ 0, below minPrice, above maxPrice, off the tick grid. */
export type PriceBreach = "notPositive" | "minPrice" | "maxPrice" | "tickSize";

/**
 * The parts of PRICE_FILTER the price `p` breaks, exactly: `p ≤ 0` or `p < minPrice` alone, else `p > maxPrice`
 * and `(p − minPrice) % tickSize ≠ 0`, in that order; [] when it passes. Applies to a limit price and to trigger
 * prices alike (§1.2). Throws when a filter string is malformed.
 */
export function priceBreaches(p: Dec, instrument: Instrument): PriceBreach[] {
  const min = toDec(instrument.minPrice, "PRICE_FILTER.minPrice");
  const max = toDec(instrument.maxPrice, "PRICE_FILTER.maxPrice");
  const tick = toDec(instrument.tickSize, "PRICE_FILTER.tickSize");
  if (p.lte(0)) return ["notPositive"];
  if (min.gt(0) && p.lt(min)) return ["minPrice"];
  const out: PriceBreach[] = [];
  if (max.gt(0) && p.gt(max)) out.push("maxPrice");
  if (tick.gt(0) && !p.minus(min).mod(tick).isZero()) out.push("tickSize");
  return out;
}

/**
 * Number of decimals written in a decimal string, trailing zeros included ("1.10" → 2, "5" → 0): what
 * `pricePrecision` / `quantityPrecision` bound (more → -1111, binance-usdm.md §1.1, §8 item 21).
 */
export function writtenDecimals(value: string): number {
  const dot = value.indexOf(".");
  return dot < 0 ? 0 : value.length - dot - 1;
}
