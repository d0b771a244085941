/**
 * Instrument rules of USDⓈ-M contracts (binance-usdm.md §1) and the exact pre-trade filter check (§1.2, §1.3).
 * All decimal fields are the strings Binance sends; prices in quote asset (USDT), quantities in base asset.
 * Instruments come from an exchangeInfo snapshot (`InstrumentCatalog`, instruments.catalog.ts): the bundled one,
 * or the file given with `--instruments`.
 */
import { type Dec, toDec } from "./decimal.ts";
import { bundledInstrumentCatalog } from "./instruments.catalog.ts";
import {
  type LotBreach,
  type LotFilter,
  lotBreaches,
  lotSize,
  marketLotSize,
  type PriceBreach,
  priceBreaches,
  writtenDecimals,
} from "./orders/filters.ts";

/** One symbol of `GET /fapi/v1/exchangeInfo`: its contract, its filters and its order rules (§1.1, §1.2). */
export type Instrument = {
  readonly symbol: string;
  /** `PERPETUAL` for perpetuals; also `TRADIFI_PERPETUAL`, `CURRENT_QUARTER`, `NEXT_QUARTER`, … as sent. */
  readonly contractType: string;
  /** `TRADING` is tradable; `PENDING_TRADING`, `SETTLING` (delisted), `PRE_SETTLE`, `DELIVERING`, … as sent. */
  readonly status: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly marginAsset: string;
  /** Listing time, ms since epoch UTC. */
  readonly onboardDate: number;
  /**
   * PRICE_FILTER. A price is valid when minPrice ≤ price ≤ maxPrice and (price − minPrice) % tickSize = 0; a
   * field equal to "0" disables its part (a pre-market symbol may send tickSize "0").
   */
  readonly tickSize: string;
  readonly minPrice: string;
  readonly maxPrice: string;
  /** LOT_SIZE (base asset). */
  readonly stepSize: string;
  readonly minQty: string;
  readonly maxQty: string;
  /** MARKET_LOT_SIZE (base asset), for market-executed orders. */
  readonly marketStepSize: string;
  readonly marketMinQty: string;
  readonly marketMaxQty: string;
  /** MIN_NOTIONAL.notional (USDT). */
  readonly minNotional: string;
  /** PERCENT_PRICE: BUY price ≤ markPrice × multiplierUp, SELL price ≥ markPrice × multiplierDown (§1.2). */
  readonly multiplierUp: string;
  readonly multiplierDown: string;
  readonly multiplierDecimal: string;
  /** MAX_NUM_ORDERS.limit: open orders per symbol, algo orders included (as sent; some symbols send 0). */
  readonly maxNumOrders: number;
  /** MAX_NUM_ALGO_ORDERS.limit, or null when the snapshot has none (removed from exchangeInfo, §1.2). */
  readonly maxNumAlgoOrders: number | null;
  /** Upper bound on the decimals a price / quantity may be sent with (more → -1111 BAD_PRECISION). */
  readonly pricePrecision: number;
  readonly quantityPrecision: number;
  /** Liquidation clearance fee rate (ratio, e.g. "0.020000" = 2 %), binance-usdm.md §4.8. */
  readonly liquidationFee: string;
  /** Max price difference rate from the mark price a MARKET order can make (ratio, e.g. "0.10"). */
  readonly marketTakeBound: string;
  /** Threshold of `priceProtect` on conditional orders (ratio, e.g. "0.0500"). */
  readonly triggerProtect: string;
  /** Order types and time-in-force values the symbol accepts, as sent (LIMIT, MARKET, …; GTC, IOC, …). */
  readonly orderTypes: readonly string[];
  readonly timeInForce: readonly string[];
};

/** One entry of exchangeInfo's top-level `rateLimits` (binance-usdm.md §5.1). */
export type RateLimit = {
  /** REQUEST_WEIGHT or ORDERS. */
  readonly rateLimitType: string;
  /** SECOND, MINUTE, … */
  readonly interval: string;
  readonly intervalNum: number;
  readonly limit: number;
};

/**
 * The instrument of `symbol` in the bundled exchangeInfo snapshot. Runs take their catalog explicitly (a run may
 * use another snapshot, `--instruments FILE`); this is the default.
 * @throws UnknownSymbolError naming the snapshot's date and source when the snapshot does not list it.
 */
export function getInstrument(symbol: string): Instrument {
  return bundledInstrumentCatalog().get(symbol);
}

/** An order as the filters see it. Quantity in base asset, prices in USDT, all decimal strings. */
export type FilterOrder = {
  readonly type: "MARKET" | "STOP_MARKET" | "TAKE_PROFIT_MARKET";
  readonly quantity: string;
  /** Required for STOP_MARKET / TAKE_PROFIT_MARKET (Binance `stopPrice` / algo `triggerPrice`). */
  readonly triggerPrice?: string;
  /** Mark price used to value the order for MIN_NOTIONAL (market-executed orders have no price). */
  readonly markPrice: string;
  readonly reduceOnly: boolean;
};

/** One failed rule, with the error code Binance answers with (binance-usdm.md §5.2). */
export type FilterViolation = {
  readonly code: number;
  /** The filter or parameter that failed: LOT_SIZE, MARKET_LOT_SIZE, PRICE_FILTER, MIN_NOTIONAL, … */
  readonly filter: string;
  readonly message: string;
};

const LOT_MESSAGES: Record<LotBreach, (q: string, lot: LotFilter) => string> = {
  minQty: (q, lot) => `quantity ${q} < minQty ${lot.minQty}`,
  maxQty: (q, lot) => `quantity ${q} > maxQty ${lot.maxQty}`,
  stepSize: (q, lot) => `quantity ${q} is not minQty ${lot.minQty} + k × stepSize ${lot.stepSize}`,
};
const LOT_CODES: Record<LotBreach, number> = { minQty: -4004, maxQty: -4005, stepSize: -4023 };

function lotViolations(q: Dec, lot: LotFilter): FilterViolation[] {
  return lotBreaches(q, lot).map((breach) => ({
    code: LOT_CODES[breach],
    filter: lot.name,
    message: LOT_MESSAGES[breach](q.toFixed(), lot),
  }));
}

const TRIGGER_CODES: Record<PriceBreach, number> = {
  notPositive: -4006,
  minPrice: -4013,
  maxPrice: -4007,
  tickSize: -4014,
};

function triggerViolations(instrument: Instrument, p: Dec): FilterViolation[] {
  const value = p.toFixed();
  const { minPrice, maxPrice, tickSize } = instrument;
  const messages: Record<PriceBreach, string> = {
    notPositive: `triggerPrice ${value} ≤ 0`,
    minPrice: `triggerPrice ${value} < minPrice ${minPrice}`,
    maxPrice: `triggerPrice ${value} > maxPrice ${maxPrice}`,
    tickSize: `triggerPrice ${value} is not minPrice ${minPrice} + k × tickSize ${tickSize}`,
  };
  return priceBreaches(p, instrument).map((breach) => ({
    code: TRIGGER_CODES[breach],
    filter: "PRICE_FILTER",
    message: messages[breach],
  }));
}

/**
 * Every filter rule the order breaks, exactly (binance-usdm.md §1.2, §1.3; error codes §5.2); [] when valid. The
 * simulated venue's check of its three market-executed types; `validateOrder` (orders/validate.ts) is the full
 * pre-trade validation of every order type, with Binance's names and messages.
 * - precision: more written decimals than quantityPrecision / pricePrecision → -1111;
 * - quantity ≤ 0 → -4003 (no further lot checks); LOT_SIZE and MARKET_LOT_SIZE are both applied to all three
 *   (market-executed) types, conservatively (§8 item 1 is UNCONFIRMED): < minQty -4004 (alone), else
 *   > maxQty -4005 and off-step -4023;
 * - trigger price (STOP_MARKET / TAKE_PROFIT_MARKET; missing → -1102): ≤ 0 -4006 or < minPrice -4013 (alone),
 *   else > maxPrice -4007 and off-tick -4014; a filter field equal to 0 disables that part;
 * - MIN_NOTIONAL: quantity × markPrice < notional → -4164, unless reduceOnly.
 * Throws an Error when a decimal string is malformed.
 */
export function checkOrderFilters(instrument: Instrument, order: FilterOrder): FilterViolation[] {
  const out: FilterViolation[] = [];
  const q = toDec(order.quantity, "quantity");
  if (writtenDecimals(order.quantity) > instrument.quantityPrecision) {
    out.push({
      code: -1111,
      filter: "quantityPrecision",
      message: `quantity "${order.quantity}" has more than ${instrument.quantityPrecision} decimals`,
    });
  }
  if (q.lte(0)) {
    out.push({ code: -4003, filter: "LOT_SIZE", message: `quantity ${order.quantity} ≤ 0` });
  } else {
    out.push(...lotViolations(q, lotSize(instrument)), ...lotViolations(q, marketLotSize(instrument)));
  }
  if (order.type !== "MARKET") {
    if (order.triggerPrice === undefined) {
      out.push({ code: -1102, filter: "triggerPrice", message: `${order.type} requires a triggerPrice` });
    } else {
      const p = toDec(order.triggerPrice, "triggerPrice");
      if (writtenDecimals(order.triggerPrice) > instrument.pricePrecision) {
        out.push({
          code: -1111,
          filter: "pricePrecision",
          message: `triggerPrice "${order.triggerPrice}" has more than ${instrument.pricePrecision} decimals`,
        });
      }
      out.push(...triggerViolations(instrument, p));
    }
  }
  if (!order.reduceOnly) {
    const notional = q.times(toDec(order.markPrice, "markPrice"));
    if (notional.lt(toDec(instrument.minNotional, "minNotional"))) {
      out.push({
        code: -4164,
        filter: "MIN_NOTIONAL",
        message: `notional ${notional.toFixed()} (quantity × markPrice) < ${instrument.minNotional} and not reduceOnly`,
      });
    }
  }
  return out;
}
