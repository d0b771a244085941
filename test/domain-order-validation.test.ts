/**
 * validateOrder (src/domain/orders/validate.ts): one case per Binance code on real instruments of the bundled
 * exchangeInfo snapshot (2025-12-24), each citing the spec line (../shared/spec/binance-usdm.md, "§n Lnnn") or
 * the payload it reproduces; then fast-check properties over every tradable perpetual.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dec } from "../src/domain/decimal.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import type { Instrument } from "../src/domain/instruments.ts";
import { ORDER_ERRORS } from "../src/domain/orders/errors.ts";
import {
  type OrderToValidate,
  type OrderViolation,
  type ValidationContext,
  validateOrder,
} from "../src/domain/orders/validate.ts";
import { Decimal as DecimalSchema } from "../src/events/catalog.ts";

const catalog = bundledInstrumentCatalog();
const BTC = catalog.get("BTCUSDT"); // tick 0.10 (pricePrecision 2), step 0.001, min notional 100, band 0.95–1.05
const PEPE = catalog.get("1000PEPEUSDT"); // tick 0.0000001 (pricePrecision 7), step 1, min notional 5
const LUNC = catalog.get("1000LUNCUSDT"); // tick 0.0000100 but pricePrecision 7
const AERO = catalog.get("AEROUSDT"); // MARKET_LOT_SIZE.maxQty 60000 < LOT_SIZE.maxQty 600000
const BNB = catalog.get("BNBUSDT"); // LOT_SIZE.maxQty 10000 < MARKET_LOT_SIZE.maxQty 100000
const SPELL = catalog.get("SPELLUSDT"); // minQty 100, step 1, quantityPrecision 0
const ONDO = catalog.get("ONDOUSDT"); // step 1 but quantityPrecision 1

/** 2025-12-24 12:00 UTC, the snapshot's day (market time of the submissions). */
const NOW = Date.UTC(2025, 11, 24, 12);

const order = (over: Partial<OrderToValidate> & Pick<OrderToValidate, "type">): OrderToValidate => ({
  clientOrderId: "t-1",
  symbol: "BTCUSDT",
  side: "BUY",
  purpose: "ENTRY",
  positionSide: "BOTH",
  reduceOnly: false,
  ...over,
});

const context = (instrument: Instrument, over: Partial<ValidationContext> = {}): ValidationContext => ({
  instrument,
  markPrice: "95000.0",
  lastPrice: "95000.0",
  dualSidePosition: false,
  now: NOW,
  ...over,
});

/** "code field" of each violation, in order. */
const answer = (o: OrderToValidate, c: ValidationContext = context(BTC)) =>
  validateOrder(o, c).map((v) => `${v.code} ${v.field}`);
const first = (o: OrderToValidate, c: ValidationContext = context(BTC)): OrderViolation | undefined =>
  validateOrder(o, c)[0];

const limit = (over: Partial<OrderToValidate> = {}) =>
  order({ type: "LIMIT", quantity: "0.010", price: "94000.0", timeInForce: "GTC", ...over });

describe("valid orders of every type (binance-usdm.md §2.2 L113–129, §2.3 L131–151, §2.4 L177–180)", () => {
  it("accepts one of each type on BTCUSDT in one-way mode", () => {
    const valid: OrderToValidate[] = [
      limit(),
      limit({ timeInForce: "GTD", goodTillDate: NOW + 3_600_000 }),
      order({ type: "MARKET", quantity: "0.002" }),
      order({ type: "STOP", quantity: "0.010", price: "96100.0", triggerPrice: "96000.0" }),
      order({
        type: "TAKE_PROFIT",
        side: "SELL",
        quantity: "0.010",
        price: "95900.0",
        triggerPrice: "96000.0",
      }),
      order({
        type: "STOP_MARKET",
        side: "SELL",
        quantity: "0.010",
        triggerPrice: "90000.0",
        reduceOnly: true,
      }),
      order({ type: "STOP_MARKET", side: "SELL", closePosition: true, triggerPrice: "90000.0" }),
      order({ type: "TAKE_PROFIT_MARKET", side: "SELL", quantity: "0.010", triggerPrice: "99000.0" }),
      order({
        type: "TRAILING_STOP_MARKET",
        side: "SELL",
        quantity: "0.010",
        callbackRate: "0.1",
        activatePrice: "96000.0",
      }),
      order({
        type: "TRAILING_STOP_MARKET",
        quantity: "0.010",
        callbackRate: "10",
        workingType: "MARK_PRICE",
      }),
    ];
    for (const o of valid) expect(answer(o), o.type).toEqual([]);
  });

  it("accepts LONG/SHORT orders in hedge mode, closePosition on the closing side", () => {
    const hedge = context(BTC, { dualSidePosition: true });
    expect(answer(limit({ positionSide: "LONG" }), hedge)).toEqual([]);
    expect(
      answer(
        order({
          type: "STOP_MARKET",
          side: "BUY",
          positionSide: "SHORT",
          closePosition: true,
          triggerPrice: "99000.0",
        }),
        hedge,
      ),
    ).toEqual([]);
  });
});

describe("clientOrderId (§2.2 L122)", () => {
  it("-4015 over 36 characters, -1118 empty, -1100 outside the regex", () => {
    expect(first(limit({ clientOrderId: "x".repeat(37) }))).toMatchObject({
      code: -4015,
      name: "INVALID_CL_ORD_ID_LEN",
      message: "Client order id length should not be more than 36 chars",
      field: "clientOrderId",
    });
    expect(answer(limit({ clientOrderId: "x".repeat(36) }))).toEqual([]);
    expect(first(limit({ clientOrderId: "" }))?.code).toBe(-1118);
    expect(first(limit({ clientOrderId: "a b" }))?.message).toBe(
      "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
    );
  });
});

describe("order types and time in force the symbol lists (§1.1 L45)", () => {
  it("-1116 for a type the instrument does not list, -1115 for a timeInForce it does not list", () => {
    const limitOnly: Instrument = { ...BTC, orderTypes: ["LIMIT", "MARKET"], timeInForce: ["GTC", "IOC"] };
    const stop = order({ type: "STOP_MARKET", quantity: "0.010", triggerPrice: "99000.0" });
    expect(first(stop, context(limitOnly))).toMatchObject({ code: -1116, message: "Invalid orderType." });
    expect(answer(stop)).toEqual([]);
    expect(first(limit({ timeInForce: "FOK" }), context(limitOnly))).toMatchObject({
      code: -1115,
      name: "INVALID_TIF",
      message: "Invalid timeInForce.",
    });
  });
});

describe("positionSide vs the account's mode (§2.2 L118, §4.1 L335)", () => {
  it("-4061 for BOTH in hedge mode and LONG/SHORT in one-way mode", () => {
    const expected = {
      code: -4061,
      name: "POSITION_SIDE_NOT_MATCH",
      message: "Order's position side does not match user's setting.",
      field: "positionSide",
    };
    expect(first(limit(), context(BTC, { dualSidePosition: true }))).toMatchObject(expected);
    expect(first(limit({ positionSide: "SHORT" }))).toMatchObject(expected);
  });
});

describe("parameters per type (§2.2 L117–120, §2.4 L177–180; -1102 / -1106, §5.2 L526)", () => {
  it("-1102 names the missing parameter", () => {
    const missing = (o: OrderToValidate) => first(o)?.message;
    expect(missing(limit({ timeInForce: undefined }))).toBe(
      "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
    );
    expect(first(limit({ price: undefined }))).toMatchObject({ code: -1102, field: "price" });
    expect(answer(order({ type: "STOP", quantity: "0.010", triggerPrice: "96000.0" }))).toEqual([
      "-1102 price",
    ]);
    expect(answer(order({ type: "STOP_MARKET", quantity: "0.010" }))).toEqual(["-1102 triggerPrice"]);
    expect(answer(order({ type: "TAKE_PROFIT_MARKET", triggerPrice: "94000.0" }))).toEqual([
      "-1102 quantity",
    ]);
    expect(answer(order({ type: "TRAILING_STOP_MARKET", quantity: "0.010" }))).toEqual([
      "-1102 callbackRate",
    ]);
    expect(answer(limit({ timeInForce: "GTD" }))).toEqual(["-1102 goodTillDate"]);
  });

  it("-1106 names the parameter sent when not required", () => {
    expect(first(order({ type: "MARKET", quantity: "0.002", price: "95000.0" }))?.message).toBe(
      "Parameter 'price' sent when not required.",
    );
    // Observed: {"code":-1106,"msg":"Parameter 'timeInForce' sent when not required."} (ccxt/binance-rs#112).
    expect(answer(order({ type: "MARKET", quantity: "0.002", timeInForce: "GTC" }))).toEqual([
      "-1106 timeInForce",
    ]);
    expect(answer(limit({ goodTillDate: NOW + 3_600_000 }))).toEqual(["-1106 goodTillDate"]);
    expect(answer(limit({ triggerPrice: "94000.0" }))).toEqual(["-1106 triggerPrice"]);
    expect(answer(limit({ closePosition: true }))).toEqual(["-1106 closePosition"]);
    expect(
      answer(order({ type: "STOP_MARKET", quantity: "0.010", triggerPrice: "99000.0", callbackRate: "1" })),
    ).toEqual(["-1106 callbackRate"]);
  });

  it("reduceOnly: -1106 'reduceonly' in hedge mode, -1106 'reduceOnly' with closePosition (§2.2 L121, §2.3 L149)", () => {
    // Observed: code=-1106, msg=Parameter 'reduceonly' sent when not required. (nautilus_trader#4231)
    const hedge = context(BTC, { dualSidePosition: true });
    expect(first(limit({ positionSide: "LONG", reduceOnly: true }), hedge)).toMatchObject({
      code: -1106,
      field: "reduceOnly",
      message: "Parameter 'reduceonly' sent when not required.",
    });
    const close = order({
      type: "STOP_MARKET",
      side: "SELL",
      closePosition: true,
      triggerPrice: "90000.0",
      reduceOnly: true,
    });
    expect(first(close)?.message).toBe("Parameter 'reduceOnly' sent when not required.");
  });

  it("-4137 quantity with closePosition; -1128 closePosition that would open in hedge mode (§2.3 L149–151)", () => {
    const close = order({
      type: "TAKE_PROFIT_MARKET",
      side: "SELL",
      closePosition: true,
      triggerPrice: "99000.0",
    });
    expect(first({ ...close, quantity: "0.010" })).toMatchObject({
      code: -4137,
      message: "Quantity must be zero with closePosition equals true",
    });
    const hedge = context(BTC, { dualSidePosition: true });
    expect(answer({ ...close, positionSide: "LONG" }, hedge)).toEqual([]);
    expect(answer({ ...close, positionSide: "SHORT" }, hedge)).toEqual(["-1128 closePosition"]);
  });
});

describe("-1111 BAD_PRECISION: more decimals than pricePrecision / quantityPrecision (§1.1 L40, §1.3 L67)", () => {
  it("applies to quantity, price, triggerPrice and activatePrice", () => {
    expect(first(limit({ quantity: "0.0101" }))).toMatchObject({
      code: -1111,
      name: "BAD_PRECISION",
      message: "Precision is over the maximum defined for this asset.",
      field: "quantity",
    });
    // The float-formatted price of §1.3: also off the tick.
    expect(answer(limit({ price: "94000.34999999999999" }))).toEqual(["-1111 price", "-4014 price"]);
    expect(answer(order({ type: "STOP_MARKET", quantity: "0.010", triggerPrice: "99000.001" }))).toEqual([
      "-1111 triggerPrice",
      "-4014 triggerPrice",
    ]);
    expect(
      first(
        order({
          type: "TRAILING_STOP_MARKET",
          quantity: "0.010",
          callbackRate: "1",
          activatePrice: "94000.001",
        }),
      ),
    ).toMatchObject({ code: -1111, field: "activatePrice" });
  });

  it("counts decimals, not ticks: 1000LUNCUSDT takes 7 decimals on a 0.00001 tick", () => {
    const lunc = context(LUNC, { markPrice: "0.0400000", lastPrice: "0.0400000" });
    const buy = (price: string) =>
      answer(
        order({ type: "LIMIT", symbol: "1000LUNCUSDT", quantity: "200", price, timeInForce: "GTC" }),
        lunc,
      );
    expect(buy("0.0400100")).toEqual([]);
    expect(buy("0.0400110")).toEqual(["-4014 price"]);
    expect(buy("0.04001001")).toEqual(["-1111 price", "-4014 price"]);
  });
});

describe("quantity: -4003, LOT_SIZE / MARKET_LOT_SIZE -4004 -4005 -4023 (§1.2 L55–56, §5.2 L539, L543)", () => {
  it("-4003 for zero and negative quantities (observed text, conor19w/binance-futures-trading-bot#52)", () => {
    expect(first(limit({ quantity: "0.000" }))).toMatchObject({
      code: -4003,
      name: "QTY_LESS_THAN_ZERO",
      message: "Quantity less than or equal to zero.",
    });
    expect(answer(order({ type: "MARKET", quantity: "-1" }))).toEqual(["-4003 quantity"]);
  });

  it("-4004 below minQty (SPELLUSDT minQty 100)", () => {
    const spell = context(SPELL, { markPrice: "0.0005000", lastPrice: "0.0005000" });
    const o = order({ type: "MARKET", symbol: "SPELLUSDT", quantity: "99", reduceOnly: true });
    expect(first(o, spell)).toMatchObject({
      code: -4004,
      message: "Quantity less than min quantity.",
      detail: "quantity 99 < MARKET_LOT_SIZE.minQty 100",
    });
    expect(answer({ ...o, quantity: "100" }, spell)).toEqual([]);
  });

  it("-4005 above maxQty: market-executed orders pass MARKET_LOT_SIZE and LOT_SIZE, limit orders LOT_SIZE (§8 item 1)", () => {
    const aero = context(AERO, { markPrice: "0.5000000", lastPrice: "0.5000000" });
    const market = order({ type: "MARKET", symbol: "AEROUSDT", quantity: "60000.1" });
    expect(validateOrder(market, aero)).toMatchObject([
      {
        code: -4005,
        message: "Quantity greater than max quantity.",
        detail: "quantity 60000.1 > MARKET_LOT_SIZE.maxQty 60000",
      },
    ]);
    const aeroLimit = order({
      type: "LIMIT",
      symbol: "AEROUSDT",
      quantity: "60000.1",
      price: "0.5000000",
      timeInForce: "GTC",
    });
    expect(answer(aeroLimit, aero)).toEqual([]);
    const bnb = context(BNB, { markPrice: "850.000", lastPrice: "850.000" });
    const bnbMarket = order({ type: "MARKET", symbol: "BNBUSDT", quantity: "20000.00" });
    expect(validateOrder(bnbMarket, bnb).map((v) => v.detail)).toEqual([
      "quantity 20000 > LOT_SIZE.maxQty 10000",
    ]);
    expect(answer(order({ type: "MARKET", quantity: "1000.001" }))).toEqual(["-4005 quantity"]); // both filters, one answer
  });

  it("-4023 off the step (ONDOUSDT: step 1, quantityPrecision 1)", () => {
    const ondo = context(ONDO, { markPrice: "0.40000", lastPrice: "0.40000" });
    const o = order({ type: "MARKET", symbol: "ONDOUSDT", quantity: "20.5" });
    expect(first(o, ondo)).toMatchObject({ code: -4023, message: "Qty not increased by step size." });
    expect(answer({ ...o, quantity: "20.0" }, ondo)).toEqual([]);
  });
});

describe("PRICE_FILTER on price, triggerPrice and activatePrice (§1.2 L54, §5.2 L540)", () => {
  it("price: -4001 ≤ 0, -4013 < minPrice, -4002 > maxPrice, -4014 off tick", () => {
    expect(first(limit({ price: "0.0" }))).toMatchObject({ code: -4001, message: "Price less than 0." });
    expect(first(limit({ price: "261.00" }))).toMatchObject({
      code: -4013,
      message: "Price less than min price.",
    });
    expect(answer(limit({ price: "261.10", quantity: "1.000" }))).toEqual([]); // minPrice itself (BUYs below the mark are not banded)
    expect(first(limit({ side: "SELL", price: "809484.1" }))).toMatchObject({
      code: -4002,
      message: "Price greater than max price.",
    });
    expect(first(limit({ price: "94000.05" }))).toMatchObject({
      code: -4014,
      name: "PRICE_NOT_INCREASED_BY_TICK_SIZE",
      message: "Price not increased by tick size.",
      detail: "price 94000.05 is not PRICE_FILTER.minPrice 261.10 + k × tickSize 0.10",
    });
  });

  it("triggerPrice and activatePrice: -4006 ≤ 0, -4013, -4007 > maxPrice, -4014", () => {
    const stop = (triggerPrice: string) =>
      answer(order({ type: "STOP_MARKET", side: "SELL", quantity: "0.010", triggerPrice }));
    expect(stop("0")).toEqual(["-4006 triggerPrice"]);
    expect(stop("200.0")).toEqual(["-4013 triggerPrice"]);
    expect(stop("90000.0")).toEqual([]);
    expect(answer(order({ type: "STOP_MARKET", quantity: "0.010", triggerPrice: "809500.0" }))).toEqual([
      "-4007 triggerPrice",
    ]);
    expect(first(order({ type: "STOP_MARKET", quantity: "0.010", triggerPrice: "-1" }))?.message).toBe(
      "Stop price less than zero.",
    );
    const trailing = (activatePrice: string) =>
      answer(
        order({
          type: "TRAILING_STOP_MARKET",
          side: "SELL",
          quantity: "0.010",
          callbackRate: "1",
          activatePrice,
        }),
      );
    expect(trailing("96000.05")).toEqual(["-4014 activatePrice"]);
    expect(trailing("810000.0")).toEqual(["-4007 activatePrice"]);
  });
});

describe("trailing callbackRate 0.1–10 (§2.3 L141)", () => {
  it("-2007 outside [0.1, 10] (code UNCONFIRMED, see errors.ts)", () => {
    const trailing = (callbackRate: string) =>
      answer(order({ type: "TRAILING_STOP_MARKET", quantity: "0.010", callbackRate }));
    expect(trailing("0.09")).toEqual(["-2007 callbackRate"]);
    expect(trailing("10.01")).toEqual(["-2007 callbackRate"]);
    expect(trailing("0.1")).toEqual([]);
    expect(trailing("10")).toEqual([]);
  });
});

describe("GTD goodTillDate (§2.2 L120; New Order: the ms part is ignored)", () => {
  it("-5040 unless (now + 600 s) < goodTillDate (seconds) < 253402300799000", () => {
    const gtd = (goodTillDate: number) => answer(limit({ timeInForce: "GTD", goodTillDate }));
    expect(first(limit({ timeInForce: "GTD", goodTillDate: NOW + 600_000 }))).toMatchObject({
      code: -5040,
      name: "FUTURE_GOOD_TILL_DATE",
      message:
        "The goodTillDate timestamp must be greater than the current time plus 600 seconds and smaller than 253402300799000 (UTC 9999-12-31 23:59:59)",
    });
    expect(gtd(NOW + 600_999)).toEqual(["-5040 goodTillDate"]); // 600.999 s counts as 600 s
    expect(gtd(NOW + 601_000)).toEqual([]);
    expect(gtd(253_402_300_798_999)).toEqual([]);
    expect(gtd(253_402_300_799_000)).toEqual(["-5040 goodTillDate"]);
  });
});

describe("PERCENT_PRICE (§1.2 L58; -4016 / -4024, §5.2 L542)", () => {
  it("LIMIT vs mark: BUY ≤ mark × 1.05, SELL ≥ mark × 0.95, exact, the bound in Binance's message", () => {
    expect(answer(limit({ price: "99750.0" }))).toEqual([]); // 95000 × 1.0500 exactly
    expect(first(limit({ price: "99750.1" }))).toMatchObject({
      code: -4016,
      name: "PRICE_HIGHTER_THAN_MULTIPLIER_UP",
      message: "Limit price can't be higher than 99750.00.",
    });
    expect(answer(limit({ side: "SELL", price: "90250.0" }))).toEqual([]); // 95000 × 0.9500
    expect(first(limit({ side: "SELL", price: "90249.9" }))).toMatchObject({
      code: -4024,
      message: "Limit price can't be lower than 90250.00.",
    });
    expect(answer(limit({ side: "SELL", price: "120000.0" }))).toEqual([]); // a SELL far above is not banded
  });

  it("1000PEPEUSDT (7 decimals): the cap of a mark off the multiplier grid is rounded down in the message", () => {
    const pepe = context(PEPE, { markPrice: "0.0101234", lastPrice: "0.0101234" });
    const buy = (price: string) =>
      validateOrder(
        order({ type: "LIMIT", symbol: "1000PEPEUSDT", quantity: "1000", price, timeInForce: "GTC" }),
        pepe,
      );
    expect(buy("0.0106295")).toEqual([]); // 0.0101234 × 1.05 = 0.01062957
    expect(buy("0.0106296")[0]?.message).toBe("Limit price can't be higher than 0.0106295.");
  });

  it("STOP / TAKE_PROFIT price vs triggerPrice × multiplier: -4183 / -4184 (§5.2 via [ERR])", () => {
    const stop = (side: "BUY" | "SELL", price: string) =>
      validateOrder(
        order({
          type: side === "BUY" ? "STOP" : "TAKE_PROFIT",
          side,
          quantity: "0.010",
          price,
          triggerPrice: "96000.0",
        }),
        context(BTC),
      );
    expect(stop("BUY", "100800.0")).toEqual([]);
    expect(stop("BUY", "100800.1")[0]).toMatchObject({
      code: -4183,
      message: "Limit price can't be higher than 100800.00.",
    });
    expect(stop("SELL", "91199.9")[0]).toMatchObject({
      code: -4184,
      message: "Limit price can't be lower than 91200.00.",
    });
  });
});

describe("MIN_NOTIONAL -4164 (§1.2 L57, §5.2 L551)", () => {
  it("price × quantity for priced orders, mark × quantity for market-executed ones; Binance's message", () => {
    expect(first(limit({ quantity: "0.001" }))).toMatchObject({
      code: -4164,
      field: "quantity",
      message: "Order's notional must be no smaller than 100 (unless you choose reduce only).",
      detail: "notional 94 (quantity × price) < MIN_NOTIONAL 100",
    });
    expect(
      answer(order({ type: "MARKET", quantity: "0.001" }), context(BTC, { markPrice: "100000.0" })),
    ).toEqual([]);
    expect(answer(order({ type: "MARKET", quantity: "0.001" }))).toEqual(["-4164 quantity"]);
    const pepe = context(PEPE, { markPrice: "0.0040000", lastPrice: "0.0040000" });
    const pepeMarket = order({ type: "MARKET", symbol: "1000PEPEUSDT", quantity: "1249" });
    expect(first(pepeMarket, pepe)?.message).toBe(
      "Order's notional must be no smaller than 5 (unless you choose reduce only).",
    );
    expect(answer({ ...pepeMarket, quantity: "1250" }, pepe)).toEqual([]);
  });

  it("exempts reduce-only, closePosition and hedge-mode closing sides", () => {
    expect(answer(limit({ quantity: "0.001", reduceOnly: true }))).toEqual([]);
    const hedge = context(BTC, { dualSidePosition: true });
    expect(
      answer(limit({ quantity: "0.001", side: "SELL", positionSide: "LONG", price: "96000.0" }), hedge),
    ).toEqual([]);
    expect(answer(limit({ quantity: "0.001", positionSide: "LONG" }), hedge)).toEqual(["-4164 quantity"]);
  });
});

describe("-2021 ORDER_WOULD_IMMEDIATELY_TRIGGER (§2.3 L137–146)", () => {
  it("compares the trigger with the price its workingType watches", () => {
    const o = order({ type: "STOP_MARKET", side: "SELL", quantity: "0.010", triggerPrice: "95500.0" });
    expect(first(o)).toMatchObject({
      code: -2021,
      message: "Order would immediately trigger.",
      field: "triggerPrice",
    });
    const markBelow = context(BTC, { markPrice: "95400.0", lastPrice: "95600.0" });
    expect(answer(o, markBelow)).toEqual([]); // CONTRACT_PRICE (default): last 95600 > 95500, not met
    expect(answer({ ...o, workingType: "MARK_PRICE" }, markBelow)).toEqual(["-2021 triggerPrice"]);
    expect(answer({ ...o, triggerPrice: "95000.0" }, context(BTC, { lastPrice: "95600.0" }))).toEqual([]);
    expect(answer(o, context(BTC, { lastPrice: undefined }))).toEqual([]); // no last price: not decided here
    expect(answer(order({ type: "TAKE_PROFIT_MARKET", quantity: "0.010", triggerPrice: "95000.0" }))).toEqual(
      ["-2021 triggerPrice"],
    );
  });

  it("trailing: BUY needs activatePrice < latest, SELL > latest", () => {
    const trailing = (side: "BUY" | "SELL", activatePrice: string) =>
      answer(
        order({ type: "TRAILING_STOP_MARKET", side, quantity: "0.010", callbackRate: "1", activatePrice }),
      );
    expect(trailing("BUY", "94000.0")).toEqual([]);
    expect(trailing("BUY", "95000.0")).toEqual(["-2021 activatePrice"]);
    expect(trailing("SELL", "95000.0")).toEqual(["-2021 activatePrice"]);
    expect(trailing("SELL", "96000.0")).toEqual([]);
  });
});

describe("the error table", () => {
  it("gives each name one code, all distinct, and each violation carries its table entry", () => {
    const codes = Object.values(ORDER_ERRORS).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const v of validateOrder(
      order({ type: "MARKET", quantity: "0.0005", price: "1", timeInForce: "GTC" }),
      context(BTC),
    )) {
      expect(ORDER_ERRORS[v.name].code).toBe(v.code);
    }
  });

  it("throws on a context it cannot use, naming the problem", () => {
    expect(() => validateOrder(limit({ symbol: "ETHUSDT" }), context(BTC))).toThrow(
      /is for ETHUSDT, the instrument is BTCUSDT/,
    );
    expect(() => validateOrder(limit(), context(BTC, { markPrice: "95k" }))).toThrow(
      /markPrice: expected a decimal string/,
    );
    expect(() => validateOrder(limit(), context(BTC, { markPrice: "0" }))).toThrow(
      /markPrice must be > 0, got "0"/,
    );
  });
});

// ── properties ──────────────────────────────────────────────────────────────────────────────────────────────

const positive = (value: string) => new Dec(value).gt(0);
/** Every TRADING perpetual with a tick, a step and a max price (the symbols an order can be built for). */
const tradable = catalog
  .symbols()
  .map((s) => catalog.get(s))
  .filter(
    (i) =>
      i.contractType === "PERPETUAL" &&
      i.status === "TRADING" &&
      [i.tickSize, i.stepSize, i.minQty, i.maxPrice, i.maxQty, i.marketMaxQty].every(positive),
  );

const TYPES = [
  "LIMIT",
  "MARKET",
  "STOP",
  "TAKE_PROFIT",
  "STOP_MARKET",
  "TAKE_PROFIT_MARKET",
  "TRAILING_STOP_MARKET",
] as const;

/** Random choices, turned into an order by `validSetup` (seeds are reduced modulo each range). */
const choices = fc.record({
  instrument: fc.constantFrom(...tradable),
  type: fc.constantFrom(...TYPES),
  side: fc.constantFrom("BUY" as const, "SELL" as const),
  hedge: fc.boolean(),
  flag: fc.boolean(),
  other: fc.boolean(),
  seeds: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n }), { minLength: 8, maxLength: 8 }),
});
type Choices = typeof choices extends fc.Arbitrary<infer T> ? T : never;

/** The grid values base + k × increment within [lo, hi], picked by `seed`; undefined when there is none. */
function pick(lo: Dec, hi: Dec, base: string, increment: string, seed: bigint): Dec | undefined {
  const kLo = BigInt(lo.minus(base).div(increment).ceil().toFixed(0));
  const kHi = BigInt(hi.minus(base).div(increment).floor().toFixed(0));
  if (kHi < kLo || kLo < 0n) return undefined;
  const k = kLo + (seed % (kHi - kLo + 1n));
  return new Dec(base).plus(new Dec(k.toString()).times(increment));
}

/**
 * An order every rule accepts, built from grid values: mark, trigger, price and activatePrice on the tick grid
 * with one tick of margin inside every band (PERCENT_PRICE around the mark for LIMIT, around the trigger for
 * STOP / TAKE_PROFIT; triggers on the side that does not trigger at once), a quantity on the step grid above
 * MIN_NOTIONAL and one step below every maxQty; undefined when the instrument leaves no room for one.
 */
function validSetup(c: Choices): { order: OrderToValidate; ctx: ValidationContext } | undefined {
  const i = c.instrument;
  const [s0, s1, s2, s3, s4, s5, s6, s7] = c.seeds as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  const tick = new Dec(i.tickSize);
  const up = new Dec(i.multiplierUp);
  const down = new Dec(i.multiplierDown);
  const grid = (lo: Dec, hi: Dec, seed: bigint) => pick(lo, hi, i.minPrice, i.tickSize, seed);
  const mark = grid(
    new Dec(i.minPrice).plus(tick.times(3)).div(down.pow(2)),
    new Dec(i.maxPrice).minus(tick.times(3)).div(up.pow(2)),
    s0,
  );
  if (mark === undefined) return undefined;
  const fmt = (d: Dec) => d.toFixed(i.pricePrecision);
  const type = c.type;
  const buy = c.side === "BUY";
  const conditionalTrigger = type !== "LIMIT" && type !== "MARKET" && type !== "TRAILING_STOP_MARKET";
  let trigger: Dec | undefined;
  if (conditionalTrigger) {
    const stop = type === "STOP" || type === "STOP_MARKET";
    const above = stop === buy; // STOP BUY / TAKE_PROFIT SELL trigger when the price rises to them
    trigger = above
      ? grid(mark.plus(tick), mark.times(up), s1)
      : grid(mark.times(down), mark.minus(tick), s1);
    if (trigger === undefined) return undefined;
  }
  let price: Dec | undefined;
  if (type === "LIMIT") price = grid(mark.times(down).plus(tick), mark.times(up).minus(tick), s2);
  if ((type === "STOP" || type === "TAKE_PROFIT") && trigger)
    price = grid(trigger.times(down).plus(tick), trigger.times(up).minus(tick), s2);
  if ((type === "LIMIT" || type === "STOP" || type === "TAKE_PROFIT") && price === undefined)
    return undefined;
  let activate: Dec | undefined;
  if (type === "TRAILING_STOP_MARKET" && c.other) {
    activate = buy ? grid(mark.times(down), mark.minus(tick), s3) : grid(mark.plus(tick), mark.times(up), s3);
    if (activate === undefined) return undefined;
  }
  const closePosition = (type === "STOP_MARKET" || type === "TAKE_PROFIT_MARKET") && c.flag;
  const positionSide = c.hedge
    ? closePosition
      ? buy
        ? "SHORT"
        : "LONG"
      : c.other
        ? "LONG"
        : "SHORT"
    : "BOTH";
  let quantity: string | undefined;
  if (!closePosition) {
    const market = isMarket(type);
    if (market && (i.marketStepSize !== i.stepSize || i.marketMinQty !== i.minQty)) return undefined;
    const maxQ = market ? Dec.min(i.maxQty, i.marketMaxQty) : new Dec(i.maxQty);
    const valuation = price ?? mark;
    const lo = Dec.max(i.minQty, new Dec(i.minNotional).div(valuation));
    const q = pick(lo, maxQ.minus(i.stepSize), i.minQty, i.stepSize, s4);
    if (q === undefined) return undefined;
    quantity = q.toFixed(i.quantityPrecision);
  }
  const tifs = i.timeInForce.filter(
    (t) => t !== "GTD" || type === "LIMIT",
  ) as OrderToValidate["timeInForce"][];
  const timeInForce =
    type === "LIMIT" || ((type === "STOP" || type === "TAKE_PROFIT") && c.other)
      ? tifs[Number(s5 % BigInt(tifs.length))]
      : undefined;
  const order: OrderToValidate = {
    clientOrderId: `p-${s6 % 1_000_000n}`,
    symbol: i.symbol,
    side: c.side,
    type,
    purpose: "ENTRY",
    positionSide,
    reduceOnly: !c.hedge && !closePosition && c.flag,
    ...(quantity !== undefined && { quantity }),
    ...(price !== undefined && { price: fmt(price) }),
    ...(timeInForce !== undefined && { timeInForce }),
    ...(timeInForce === "GTD" && { goodTillDate: NOW + 601_000 + Number(s7 % 10_000_000_000n) }),
    ...(trigger !== undefined && { triggerPrice: fmt(trigger) }),
    ...(type !== "LIMIT" &&
      type !== "MARKET" &&
      c.other && { workingType: s7 % 2n ? "MARK_PRICE" : "CONTRACT_PRICE" }),
    ...(closePosition && { closePosition }),
    ...(activate !== undefined && { activatePrice: fmt(activate) }),
    ...(type === "TRAILING_STOP_MARKET" && { callbackRate: (Number(s7 % 100n) + 1) / 10 + "" }),
  };
  const ctx: ValidationContext = {
    instrument: i,
    markPrice: fmt(mark),
    lastPrice: fmt(mark),
    dualSidePosition: c.hedge,
    now: NOW,
  };
  return { order, ctx };
}

const isMarket = (type: OrderToValidate["type"]) => type === "MARKET" || type.endsWith("_MARKET");

const validOrders = choices.map(validSetup).filter((s) => s !== undefined);

describe("properties over every tradable perpetual of the snapshot", () => {
  it(`has ${tradable.length} symbols to draw from`, () => {
    expect(tradable.length).toBeGreaterThan(500);
  });

  it("an order built from grid values inside every band is accepted", () => {
    fc.assert(
      fc.property(validOrders, (s) => {
        expect(validateOrder(s!.order, s!.ctx)).toEqual([]);
      }),
      { numRuns: 2_000 },
    );
  });

  type Perturbable = "quantity" | "price" | "triggerPrice" | "activatePrice";
  const PERTURBABLE: readonly Perturbable[] = ["quantity", "price", "triggerPrice", "activatePrice"];
  const precisionOf = (i: Instrument, field: Perturbable) =>
    field === "quantity" ? i.quantityPrecision : i.pricePrecision;
  const incrementOf = (i: Instrument, field: Perturbable) => (field === "quantity" ? i.stepSize : i.tickSize);

  it("one more decimal than the precision on one field: -1111 first, every answer on that field", () => {
    fc.assert(
      fc.property(validOrders, fc.nat(), (s, n) => {
        const { order: o, ctx } = s!;
        const fields = PERTURBABLE.filter((f) => o[f] !== undefined);
        const field = fields[n % fields.length]!;
        const digits = precisionOf(ctx.instrument, field) + 1;
        const perturbed = new Dec(o[field]!).plus(new Dec(10).pow(-digits)).toFixed(digits);
        const violations = validateOrder({ ...o, [field]: perturbed }, ctx);
        expect(violations[0]).toMatchObject({ code: -1111, field });
        expect(violations.every((v) => v.field === field)).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });

  it("one unit of the precision off a coarser grid on one field: -4014 / -4023 alone", () => {
    fc.assert(
      fc.property(validOrders, fc.nat(), (s, n) => {
        const { order: o, ctx } = s!;
        const i = ctx.instrument;
        const coarse = PERTURBABLE.filter(
          (f) => o[f] !== undefined && new Dec(incrementOf(i, f)).gt(new Dec(10).pow(-precisionOf(i, f))),
        );
        fc.pre(coarse.length > 0);
        const field = coarse[n % coarse.length]!;
        const digits = precisionOf(i, field);
        const perturbed = new Dec(o[field]!).plus(new Dec(10).pow(-digits)).toFixed(digits);
        const code = field === "quantity" ? -4023 : -4014;
        expect(validateOrder({ ...o, [field]: perturbed }, ctx).map((v) => `${v.code} ${v.field}`)).toEqual([
          `${code} ${field}`,
        ]);
      }),
      { numRuns: 1_000 },
    );
  });

  it("never throws on decimal strings of the catalog's schema, and answers only from the table", () => {
    const decimal = fc.stringMatching(/^-?\d{1,25}(\.\d{1,25})?$/);
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const arbitraryOrder = fc.record({
      instrument: fc.constantFrom(...catalog.symbols().map((s) => catalog.get(s))),
      type: fc.constantFrom(...TYPES),
      side: fc.constantFrom("BUY" as const, "SELL" as const),
      positionSide: fc.constantFrom("BOTH" as const, "LONG" as const, "SHORT" as const),
      quantity: maybe(decimal),
      price: maybe(decimal),
      triggerPrice: maybe(decimal),
      activatePrice: maybe(decimal),
      callbackRate: maybe(decimal),
      timeInForce: maybe(
        fc.constantFrom("GTC" as const, "IOC" as const, "FOK" as const, "GTX" as const, "GTD" as const),
      ),
      goodTillDate: maybe(fc.nat({ max: Number.MAX_SAFE_INTEGER })),
      workingType: maybe(fc.constantFrom("MARK_PRICE" as const, "CONTRACT_PRICE" as const)),
      priceProtect: maybe(fc.boolean()),
      closePosition: maybe(fc.boolean()),
      reduceOnly: fc.boolean(),
      hedge: fc.boolean(),
      mark: fc.stringMatching(/^\d{1,8}\.\d{1,8}$/).filter(positive),
    });
    fc.assert(
      fc.property(arbitraryOrder, ({ instrument, hedge, mark, ...fields }) => {
        const o: OrderToValidate = {
          clientOrderId: "n-1",
          symbol: instrument.symbol,
          purpose: "ENTRY",
          ...fields,
        };
        for (const value of [o.quantity, o.price, o.triggerPrice, o.activatePrice, o.callbackRate])
          if (value !== undefined) expect(DecimalSchema.safeParse(value).success).toBe(true);
        const ctx = { instrument, markPrice: mark, lastPrice: mark, dualSidePosition: hedge, now: NOW };
        for (const v of validateOrder(o, ctx)) expect(ORDER_ERRORS[v.name].code).toBe(v.code);
      }),
      { numRuns: 3_000 },
    );
  });
});
