/**
 * The stateless pre-trade validation of one order, answering as Binance USDⓈ-M does (binance-usdm.md §1.2
 * filters, §2.2–2.4 parameters and types, §4.1 position mode, §5.2 codes): everything that can be decided from
 * the order, the instrument, the mark (and last) price, the position mode and the time. Position-, balance- and
 * book-dependent answers (-2019 margin, -2022 reduce-only, -2027 leverage, -4131 market band, -5021/-5022) are
 * not decided here.
 *
 * Decisions where Binance's behaviour is UNCONFIRMED (each also noted where it is applied):
 * - market-executed types (MARKET and the …_MARKET conditionals) must pass MARKET_LOT_SIZE **and** LOT_SIZE
 *   (§8 item 1); LIMIT, STOP and TAKE_PROFIT pass LOT_SIZE only;
 * - STOP / TAKE_PROFIT limit prices are banded against their triggerPrice (-4183/-4184), not the mark; LIMIT
 *   prices against the mark (-4016/-4024, PERCENT_PRICE);
 * - MIN_NOTIONAL values LIMIT/STOP/TAKE_PROFIT at their price and the others at the mark; reduce-only,
 *   closePosition and, in hedge mode, closing sides (SELL on LONG, BUY on SHORT) are exempt;
 * - "sent" means present for optional values and `true` for booleans (reduceOnly=false is Binance's default);
 * - written decimals count trailing zeros for -1111 ("1.10" has 2).
 */
import type { EventData } from "../../events/catalog.ts";
import { Dec, toDec } from "../decimal.ts";
import type { Instrument } from "../instruments.ts";
import { ORDER_ERRORS, type OrderErrorName } from "./errors.ts";
import {
  type LotBreach,
  type LotFilter,
  lotBreaches,
  lotSize,
  marketLotSize,
  type PriceBreach,
  priceBreaches,
  writtenDecimals,
} from "./filters.ts";

/** The order as recorded (`OrderSubmitted`). */
export type OrderToValidate = EventData<"OrderSubmitted">;
type OrderType = OrderToValidate["type"];

/** What the validation needs besides the order. */
export type ValidationContext = {
  readonly instrument: Instrument;
  /**
   * Mark price (quote asset, a positive decimal string): the PERCENT_PRICE band of LIMIT orders, MIN_NOTIONAL of
   * market-executed orders, and the -2021 check of MARK_PRICE conditionals.
   */
  readonly markPrice: string;
  /** Last (contract) price, when known: the -2021 check of CONTRACT_PRICE conditionals (skipped without it). */
  readonly lastPrice?: string;
  /** Hedge mode (`dualSidePosition`, §4.1): LONG/SHORT positionSide, no reduceOnly. */
  readonly dualSidePosition: boolean;
  /** Market time of the submission, ms since epoch UTC (GTD bounds). */
  readonly now: number;
};

/** An order field a violation points at (OrderSubmitted's field names). */
export type OrderField =
  | "clientOrderId"
  | "type"
  | "positionSide"
  | "quantity"
  | "price"
  | "timeInForce"
  | "goodTillDate"
  | "triggerPrice"
  | "workingType"
  | "priceProtect"
  | "closePosition"
  | "activatePrice"
  | "callbackRate"
  | "reduceOnly";

/** One rule the order breaks, as Binance answers it. */
export type OrderViolation = {
  readonly code: number;
  /** Binance's error name, e.g. BAD_PRECISION. */
  readonly name: OrderErrorName;
  /** Binance's `msg`, numbers filled in where Binance fills them. */
  readonly message: string;
  readonly field: OrderField;
  /** Our explanation with the numbers and the filter, e.g. "quantity 0.0005 < LOT_SIZE.minQty 0.001". */
  readonly detail: string;
};

/** Types executed as market orders (when triggered): MARKET, STOP_MARKET, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET. */
export function isMarketExecuted(type: OrderType): boolean {
  return type === "MARKET" || type.endsWith("_MARKET");
}

/** Types with a limit price: LIMIT, STOP, TAKE_PROFIT. */
function isPriced(type: OrderType): boolean {
  return type === "LIMIT" || type === "STOP" || type === "TAKE_PROFIT";
}

type Param =
  | "quantity"
  | "price"
  | "timeInForce"
  | "triggerPrice"
  | "workingType"
  | "priceProtect"
  | "closePosition"
  | "activatePrice"
  | "callbackRate";

/**
 * Per type: the parameters it must have and those it may have (§2.2, §2.4; the matrix is UNCONFIRMED as a table,
 * §8 item 4). Anything else sent → -1106. STOP_MARKET / TAKE_PROFIT_MARKET need quantity unless closePosition.
 */
const PARAMETERS: Record<OrderType, { required: readonly Param[]; accepted: readonly Param[] }> = {
  LIMIT: { required: ["quantity", "price", "timeInForce"], accepted: [] },
  MARKET: { required: ["quantity"], accepted: [] },
  STOP: {
    required: ["quantity", "price", "triggerPrice"],
    accepted: ["timeInForce", "workingType", "priceProtect"],
  },
  TAKE_PROFIT: {
    required: ["quantity", "price", "triggerPrice"],
    accepted: ["timeInForce", "workingType", "priceProtect"],
  },
  STOP_MARKET: {
    required: ["triggerPrice"],
    accepted: ["quantity", "timeInForce", "workingType", "priceProtect", "closePosition"],
  },
  TAKE_PROFIT_MARKET: {
    required: ["triggerPrice"],
    accepted: ["quantity", "timeInForce", "workingType", "priceProtect", "closePosition"],
  },
  TRAILING_STOP_MARKET: {
    required: ["quantity", "callbackRate"],
    accepted: ["activatePrice", "timeInForce", "workingType"],
  },
};

const PARAM_ORDER: readonly Param[] = [
  "quantity",
  "price",
  "timeInForce",
  "triggerPrice",
  "workingType",
  "priceProtect",
  "closePosition",
  "activatePrice",
  "callbackRate",
];

function isSent(order: OrderToValidate, param: Param): boolean {
  const value = order[param];
  return typeof value === "boolean" ? value : value !== undefined;
}

const LOT_ERRORS: Record<LotBreach, OrderErrorName> = {
  minQty: "QTY_LESS_THAN_MIN_QTY",
  maxQty: "QTY_GREATER_THAN_MAX_QTY",
  stepSize: "QTY_NOT_INCREASED_BY_STEP_SIZE",
};
const LOT_RELATION: Record<LotBreach, string> = { minQty: "<", maxQty: ">", stepSize: "is off the step of" };

/** Codes of PRICE_FILTER on a limit price, and on a trigger / activation price (Binance's "stop price"). */
const LIMIT_PRICE_ERRORS: Record<PriceBreach, OrderErrorName> = {
  notPositive: "PRICE_LESS_THAN_ZERO",
  minPrice: "PRICE_LESS_THAN_MIN_PRICE",
  maxPrice: "PRICE_GREATER_THAN_MAX_PRICE",
  tickSize: "PRICE_NOT_INCREASED_BY_TICK_SIZE",
};
const STOP_PRICE_ERRORS: Record<PriceBreach, OrderErrorName> = {
  notPositive: "STOP_PRICE_LESS_THAN_ZERO",
  minPrice: "PRICE_LESS_THAN_MIN_PRICE",
  maxPrice: "STOP_PRICE_GREATER_THAN_MAX_PRICE",
  tickSize: "PRICE_NOT_INCREASED_BY_TICK_SIZE",
};

/** Latest goodTillDate Binance accepts (exclusive): 9999-12-31 23:59:59 UTC. */
export const MAX_GOOD_TILL_DATE = 253_402_300_799_000;
/** A GTD order must live longer than this after submission (exclusive), ms. */
export const MIN_GOOD_TILL_DATE_DISTANCE_MS = 600_000;
/** callbackRate bounds in percent, inclusive (§2.3). */
export const CALLBACK_RATE_MIN = "0.1";
export const CALLBACK_RATE_MAX = "10";

/**
 * Every rule the order breaks, in the order the checks run; the first entry is the venue's answer, [] means
 * valid. Checks, in order (codes and texts: errors.ts):
 * 1. clientOrderId: empty -1118, longer than 36 -4015, other characters than `[.A-Z:/a-z0-9_-]` -1100;
 * 2. type not in the instrument's orderTypes -1116; timeInForce not in its timeInForce -1115;
 * 3. positionSide: BOTH in hedge mode, LONG/SHORT in one-way mode -4061;
 * 4. parameters per type (PARAMETERS): missing -1102, not accepted -1106; timeInForce GTD needs goodTillDate
 *    (-1102), goodTillDate without GTD -1106; closePosition with quantity -4137, with reduceOnly -1106
 *    'reduceOnly'; reduceOnly in hedge mode -1106 'reduceonly' (Binance's spelling);
 * 5. more written decimals than quantityPrecision / pricePrecision -1111 (quantity, price, triggerPrice,
 *    activatePrice);
 * 6. quantity ≤ 0 -4003; MARKET_LOT_SIZE (market-executed types) then LOT_SIZE: < minQty -4004, > maxQty -4005,
 *    off-step -4023 (a code already given by MARKET_LOT_SIZE is not repeated);
 * 7. PRICE_FILTER on price (≤ 0 -4001, < minPrice -4013, > maxPrice -4002, off-tick -4014) and on triggerPrice
 *    and activatePrice (≤ 0 -4006, < minPrice -4013, > maxPrice -4007, off-tick -4014);
 * 8. callbackRate outside [0.1, 10] -2007; goodTillDate (ms part ignored, as Binance does) not in
 *    (now + 600 s, 253402300799000) -5040; closePosition BUY on LONG / SELL on SHORT in hedge mode -1128;
 * 9. (fields above valid) LIMIT price vs mark: BUY > mark × multiplierUp -4016, SELL < mark × multiplierDown
 *    -4024; STOP / TAKE_PROFIT price vs triggerPrice × multiplierUp / × multiplierDown -4183 / -4184 (the bound
 *    in the message is rounded inward to pricePrecision);
 * 10. MIN_NOTIONAL: quantity × (price, or mark for market-executed types) < notional -4164, unless exempt;
 * 11. conditionals whose trigger is already met by the watched price (mark for MARK_PRICE, else lastPrice when
 *     given) -2021; trailing: BUY activatePrice ≥ latest, SELL ≤ latest -2021.
 * Never throws on order values matching the catalog's schemas. Throws an Error when `ctx.markPrice` is not a
 * positive decimal string, `ctx.lastPrice` or an instrument string is malformed, or the order's symbol is not
 * the instrument's.
 */
export function validateOrder(order: OrderToValidate, ctx: ValidationContext): OrderViolation[] {
  const { instrument } = ctx;
  if (order.symbol !== instrument.symbol) {
    throw new Error(
      `validateOrder: order ${order.clientOrderId} is for ${order.symbol}, the instrument is ${instrument.symbol}`,
    );
  }
  const mark = toDec(ctx.markPrice, "markPrice");
  if (mark.lte(0)) throw new Error(`validateOrder: markPrice must be > 0, got "${ctx.markPrice}"`);
  const out: OrderViolation[] = [];
  const bad = new Set<OrderField>();
  const add = (name: OrderErrorName, field: OrderField, detail: string, arg = field as string) => {
    const error = ORDER_ERRORS[name];
    out.push({ code: error.code, name, message: error.msg(arg), field, detail });
    bad.add(field);
  };

  checkClientOrderId(order.clientOrderId, add);

  if (!instrument.orderTypes.includes(order.type))
    add("INVALID_ORDER_TYPE", "type", `${instrument.symbol} accepts ${instrument.orderTypes.join(", ")}`);
  if (order.timeInForce !== undefined && !instrument.timeInForce.includes(order.timeInForce))
    add("INVALID_TIF", "timeInForce", `${instrument.symbol} accepts ${instrument.timeInForce.join(", ")}`);

  const hedge = ctx.dualSidePosition;
  if (hedge ? order.positionSide === "BOTH" : order.positionSide !== "BOTH") {
    add(
      "POSITION_SIDE_NOT_MATCH",
      "positionSide",
      `positionSide ${order.positionSide} in ${hedge ? "hedge mode (LONG or SHORT)" : "one-way mode (BOTH)"}`,
    );
  }

  checkParameters(order, hedge, add);

  // Values of parameters already refused (-1106, -4137) are not checked further.
  const decimal = (field: "quantity" | "price" | "triggerPrice" | "activatePrice", precision: number) =>
    bad.has(field) ? undefined : checkedDecimal(order[field], field, precision, add);
  const q = decimal("quantity", instrument.quantityPrecision);
  const price = decimal("price", instrument.pricePrecision);
  const trigger = decimal("triggerPrice", instrument.pricePrecision);
  const activate = decimal("activatePrice", instrument.pricePrecision);

  if (q !== undefined) checkQuantity(q, order.type, instrument, add);
  if (price !== undefined) checkPriceFilter(price, "price", LIMIT_PRICE_ERRORS, instrument, add);
  if (trigger !== undefined) checkPriceFilter(trigger, "triggerPrice", STOP_PRICE_ERRORS, instrument, add);
  if (activate !== undefined) checkPriceFilter(activate, "activatePrice", STOP_PRICE_ERRORS, instrument, add);

  if (order.type === "TRAILING_STOP_MARKET" && order.callbackRate !== undefined) {
    const rate = toDec(order.callbackRate, "callbackRate");
    if (rate.lt(CALLBACK_RATE_MIN) || rate.gt(CALLBACK_RATE_MAX))
      add("INVALID_CALLBACK_RATE", "callbackRate", `callbackRate ${order.callbackRate} % outside [0.1, 10]`);
  }
  if (order.timeInForce === "GTD" && order.goodTillDate !== undefined) {
    const seconds = order.goodTillDate - (order.goodTillDate % 1000);
    if (!(seconds > ctx.now + MIN_GOOD_TILL_DATE_DISTANCE_MS && seconds < MAX_GOOD_TILL_DATE)) {
      add(
        "FUTURE_GOOD_TILL_DATE",
        "goodTillDate",
        `goodTillDate ${order.goodTillDate} (seconds: ${seconds}) not in (now ${ctx.now} + 600000, ${MAX_GOOD_TILL_DATE})`,
      );
    }
  }
  const closingSide =
    (order.side === "SELL" && order.positionSide === "LONG") ||
    (order.side === "BUY" && order.positionSide === "SHORT");
  if (hedge && order.closePosition === true && !bad.has("positionSide") && !closingSide) {
    add(
      "OPTIONAL_PARAMS_BAD_COMBO",
      "closePosition",
      `closePosition ${order.side} on ${order.positionSide} opens, not closes`,
    );
  }

  const valid = (field: OrderField, value: Dec | undefined): value is Dec =>
    value !== undefined && !bad.has(field);

  if (valid("price", price)) {
    if (order.type === "LIMIT") checkBand(price, mark, "mark", order.side, instrument, false, add);
    else if (isPriced(order.type) && valid("triggerPrice", trigger))
      checkBand(price, trigger, "triggerPrice", order.side, instrument, true, add);
  }

  const exempt = order.reduceOnly || order.closePosition === true || (hedge && closingSide);
  const valuation = isMarketExecuted(order.type) ? mark : valid("price", price) ? price : undefined;
  if (!exempt && valid("quantity", q) && valuation !== undefined) {
    const notional = q.times(valuation);
    if (notional.lt(toDec(instrument.minNotional, "MIN_NOTIONAL.notional"))) {
      add(
        "MIN_NOTIONAL",
        "quantity",
        `notional ${notional.toFixed()} (quantity × ${isMarketExecuted(order.type) ? "markPrice" : "price"}) < MIN_NOTIONAL ${instrument.minNotional}`,
        instrument.minNotional,
      );
    }
  }

  checkImmediateTrigger(
    order,
    ctx,
    mark,
    valid("triggerPrice", trigger) ? trigger : undefined,
    valid("activatePrice", activate) ? activate : undefined,
    add,
  );
  return out;
}

type Add = (name: OrderErrorName, field: OrderField, detail: string, arg?: string) => void;

const CLIENT_ORDER_ID_CHARS = /^[.A-Z:/a-z0-9_-]*$/;

function checkClientOrderId(id: string, add: Add): void {
  if (id.length === 0) add("EMPTY_NEW_CL_ORD_ID", "clientOrderId", "clientOrderId is empty");
  else if (id.length > 36)
    add("INVALID_CL_ORD_ID_LEN", "clientOrderId", `clientOrderId has ${id.length} characters (max 36)`);
  else if (!CLIENT_ORDER_ID_CHARS.test(id))
    add(
      "ILLEGAL_CHARS",
      "clientOrderId",
      `clientOrderId "${id}" has characters outside [.A-Z:/a-z0-9_-]`,
      "newClientOrderId",
    );
}

function checkParameters(order: OrderToValidate, hedge: boolean, add: Add): void {
  const { required, accepted } = PARAMETERS[order.type];
  const closePosition = order.closePosition === true && accepted.includes("closePosition");
  for (const param of PARAM_ORDER) {
    const sent = isSent(order, param);
    const needed =
      required.includes(param) || (param === "quantity" && accepted.includes("quantity") && !closePosition);
    if (needed && !sent) add("MANDATORY_PARAM_EMPTY_OR_MALFORMED", param, `${order.type} requires ${param}`);
    else if (sent && param === "quantity" && closePosition)
      add(
        "QUANTITY_EXISTS_WITH_CLOSE_POSITION",
        "quantity",
        "closePosition closes the whole position; quantity must not be sent",
      );
    else if (sent && !needed && !accepted.includes(param))
      add("PARAM_NOT_REQUIRED", param, `${order.type} does not take ${param}`);
  }
  if (order.timeInForce === "GTD" && order.goodTillDate === undefined)
    add("MANDATORY_PARAM_EMPTY_OR_MALFORMED", "goodTillDate", "timeInForce GTD requires goodTillDate");
  if (order.timeInForce !== "GTD" && order.goodTillDate !== undefined)
    add(
      "PARAM_NOT_REQUIRED",
      "goodTillDate",
      `goodTillDate is only for timeInForce GTD, not ${order.timeInForce ?? "none"}`,
    );
  if (order.reduceOnly && hedge)
    add("PARAM_NOT_REQUIRED", "reduceOnly", "reduceOnly is not accepted in hedge mode", "reduceonly");
  else if (order.reduceOnly && closePosition)
    add("PARAM_NOT_REQUIRED", "reduceOnly", "closePosition already only closes; reduceOnly must not be sent");
}

/** Parses a present decimal field and checks its written decimals against `precision` (-1111). */
function checkedDecimal(
  value: string | undefined,
  field: OrderField,
  precision: number,
  add: Add,
): Dec | undefined {
  if (value === undefined) return undefined;
  if (writtenDecimals(value) > precision)
    add(
      "BAD_PRECISION",
      field,
      `${field} "${value}" has ${writtenDecimals(value)} decimals, more than ${precision}`,
    );
  return toDec(value, field);
}

function checkQuantity(q: Dec, type: OrderType, instrument: Instrument, add: Add): void {
  if (q.lte(0)) {
    add("QTY_LESS_THAN_ZERO", "quantity", `quantity ${q.toFixed()} ≤ 0`);
    return;
  }
  // UNCONFIRMED (§8 item 1): market-executed orders must pass both lot filters.
  const lots: LotFilter[] = isMarketExecuted(type)
    ? [marketLotSize(instrument), lotSize(instrument)]
    : [lotSize(instrument)];
  const given = new Set<LotBreach>();
  for (const lot of lots) {
    for (const breach of lotBreaches(q, lot)) {
      if (given.has(breach)) continue;
      given.add(breach);
      const bound =
        breach === "stepSize"
          ? `${lot.name}.minQty ${lot.minQty} + k × ${lot.stepSize}`
          : `${lot.name}.${breach} ${lot[breach]}`;
      add(LOT_ERRORS[breach], "quantity", `quantity ${q.toFixed()} ${LOT_RELATION[breach]} ${bound}`);
    }
  }
}

function checkPriceFilter(
  p: Dec,
  field: OrderField,
  errors: Record<PriceBreach, OrderErrorName>,
  instrument: Instrument,
  add: Add,
): void {
  const { minPrice, maxPrice, tickSize } = instrument;
  const value = p.toFixed();
  const details: Record<PriceBreach, string> = {
    notPositive: `${field} ${value} ≤ 0`,
    minPrice: `${field} ${value} < PRICE_FILTER.minPrice ${minPrice}`,
    maxPrice: `${field} ${value} > PRICE_FILTER.maxPrice ${maxPrice}`,
    tickSize: `${field} ${value} is not PRICE_FILTER.minPrice ${minPrice} + k × tickSize ${tickSize}`,
  };
  for (const breach of priceBreaches(p, instrument)) add(errors[breach], field, details[breach]);
}

/**
 * The price band of a limit price around `base` (PERCENT_PRICE, §1.2): BUY price ≤ base × multiplierUp, SELL
 * price ≥ base × multiplierDown, exact. `base` is the mark for LIMIT (-4016/-4024) and the triggerPrice for
 * STOP / TAKE_PROFIT (`stop`, -4183/-4184). The message's bound is rounded inward to pricePrecision (the
 * extreme price that passes), as in the observed "Limit price can't be higher than 0.7720058.".
 */
function checkBand(
  price: Dec,
  base: Dec,
  baseName: string,
  side: OrderToValidate["side"],
  instrument: Instrument,
  stop: boolean,
  add: Add,
): void {
  const dp = instrument.pricePrecision;
  if (side === "BUY") {
    const cap = base.times(toDec(instrument.multiplierUp, "PERCENT_PRICE.multiplierUp"));
    if (price.gt(cap)) {
      add(
        stop ? "PRICE_HIGHTER_THAN_STOP_MULTIPLIER_UP" : "PRICE_HIGHTER_THAN_MULTIPLIER_UP",
        "price",
        `BUY price ${price.toFixed()} > ${baseName} ${base.toFixed()} × multiplierUp ${instrument.multiplierUp} = ${cap.toFixed()}`,
        cap.toDecimalPlaces(dp, Dec.ROUND_DOWN).toFixed(dp),
      );
    }
  } else {
    const floor = base.times(toDec(instrument.multiplierDown, "PERCENT_PRICE.multiplierDown"));
    if (price.lt(floor)) {
      add(
        stop ? "PRICE_LOWER_THAN_STOP_MULTIPLIER_DOWN" : "PRICE_LOWER_THAN_MULTIPLIER_DOWN",
        "price",
        `SELL price ${price.toFixed()} < ${baseName} ${base.toFixed()} × multiplierDown ${instrument.multiplierDown} = ${floor.toFixed()}`,
        floor.toDecimalPlaces(dp, Dec.ROUND_UP).toFixed(dp),
      );
    }
  }
}

/**
 * -2021 (§2.3): a conditional whose trigger the watched price already meets (STOP*: BUY latest ≥ trigger, SELL
 * latest ≤ trigger; TAKE_PROFIT*: the reverse), or a trailing stop whose activatePrice is not beyond the latest
 * price (BUY needs activatePrice < latest, SELL > latest). Latest = mark for workingType MARK_PRICE, else the
 * last price (skipped when the context has none).
 */
function checkImmediateTrigger(
  order: OrderToValidate,
  ctx: ValidationContext,
  mark: Dec,
  trigger: Dec | undefined,
  activate: Dec | undefined,
  add: Add,
): void {
  const latest =
    order.workingType === "MARK_PRICE"
      ? mark
      : ctx.lastPrice === undefined
        ? undefined
        : toDec(ctx.lastPrice, "lastPrice");
  if (latest === undefined) return;
  const buy = order.side === "BUY";
  const watched = `${order.workingType === "MARK_PRICE" ? "mark" : "last"} price ${latest.toFixed()}`;
  if (order.type === "TRAILING_STOP_MARKET") {
    if (activate !== undefined && (buy ? activate.gte(latest) : activate.lte(latest)))
      add(
        "ORDER_WOULD_IMMEDIATELY_TRIGGER",
        "activatePrice",
        `${order.side} activatePrice ${activate.toFixed()} ${buy ? "≥" : "≤"} ${watched}`,
      );
    return;
  }
  if (trigger === undefined || order.type === "LIMIT" || order.type === "MARKET") return;
  const stop = order.type === "STOP" || order.type === "STOP_MARKET";
  const triggersAbove = stop === buy; // STOP BUY and TAKE_PROFIT SELL trigger when latest ≥ trigger
  if (triggersAbove ? latest.gte(trigger) : latest.lte(trigger))
    add(
      "ORDER_WOULD_IMMEDIATELY_TRIGGER",
      "triggerPrice",
      `${order.type} ${order.side} triggerPrice ${trigger.toFixed()} already met by the ${watched}`,
    );
}
