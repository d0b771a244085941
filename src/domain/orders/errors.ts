/**
 * Binance USDⓈ-M's answers to invalid orders: the code, the name and the `msg` text, with the number filled in
 * where Binance fills one (binance-usdm.md §5.2). Texts are the official error list [ERR] unless a comment names
 * a payload observed from the live API (preferred when they differ: it is what the venue sends).
 *
 * [ERR] = developers.binance.com/docs/derivatives/usds-margined-futures/error-code (stored copy, 2026).
 */

/** The newClientOrderId / clientAlgoId pattern (§2.2). */
export const CLIENT_ORDER_ID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$";

type ErrorText = { readonly code: number; readonly msg: (arg: string) => string };

const text = (code: number, msg: string): ErrorText => ({ code, msg: () => msg });

/** Every answer the order validator gives, by Binance's name. `msg(arg)` fills Binance's `%s`. */
export const ORDER_ERRORS = {
  /** [ERR] second form. */
  ILLEGAL_CHARS: {
    code: -1100,
    msg: (param: string) =>
      `Illegal characters found in parameter '${param}'; legal range is '${CLIENT_ORDER_ID_RANGE}'.`,
  },
  /** [ERR] second form; observed on futures: "Mandatory parameter 'timeInForce' was not sent, …" (coinrust/crex#30). */
  MANDATORY_PARAM_EMPTY_OR_MALFORMED: {
    code: -1102,
    msg: (param: string) => `Mandatory parameter '${param}' was not sent, was empty/null, or malformed.`,
  },
  /**
   * [ERR] second form; observed on futures for timeInForce on MARKET (ccxt/binance-rs#112), for reduceOnly in
   * hedge mode as 'reduceonly' (nautechsystems/nautilus_trader#4231, ccxt/go-binance#521) and for reduceOnly
   * with closePosition as 'reduceOnly' (paoloboni/binance-scala-client#378).
   */
  PARAM_NOT_REQUIRED: {
    code: -1106,
    msg: (param: string) => `Parameter '${param}' sent when not required.`,
  },
  BAD_PRECISION: text(-1111, "Precision is over the maximum defined for this asset."),
  INVALID_TIF: text(-1115, "Invalid timeInForce."),
  INVALID_ORDER_TYPE: text(-1116, "Invalid orderType."),
  EMPTY_NEW_CL_ORD_ID: text(-1118, "New client order ID was empty."),
  /** UNCONFIRMED as the answer to closePosition BUY on LONG / SELL on SHORT in hedge mode (§2.3). */
  OPTIONAL_PARAMS_BAD_COMBO: text(-1128, "Combination of optional parameters invalid."),
  /**
   * UNCONFIRMED: not in the USDⓈ-M list [ERR]; code and name from NautilusTrader's Binance error enum
   * (nautilus_trader/adapters/binance/common/enums.py, "covers futures"); the text is ours.
   */
  INVALID_CALLBACK_RATE: text(-2007, "Invalid callbackRate."),
  ORDER_WOULD_IMMEDIATELY_TRIGGER: text(-2021, "Order would immediately trigger."),
  PRICE_LESS_THAN_ZERO: text(-4001, "Price less than 0."),
  PRICE_GREATER_THAN_MAX_PRICE: text(-4002, "Price greater than max price."),
  /** Observed payload (conor19w/binance-futures-trading-bot#52); [ERR] says "Quantity less than zero.". */
  QTY_LESS_THAN_ZERO: text(-4003, "Quantity less than or equal to zero."),
  QTY_LESS_THAN_MIN_QTY: text(-4004, "Quantity less than min quantity."),
  QTY_GREATER_THAN_MAX_QTY: text(-4005, "Quantity greater than max quantity."),
  STOP_PRICE_LESS_THAN_ZERO: text(-4006, "Stop price less than zero."),
  STOP_PRICE_GREATER_THAN_MAX_PRICE: text(-4007, "Stop price greater than max price."),
  PRICE_LESS_THAN_MIN_PRICE: text(-4013, "Price less than min price."),
  PRICE_NOT_INCREASED_BY_TICK_SIZE: text(-4014, "Price not increased by tick size."),
  INVALID_CL_ORD_ID_LEN: text(-4015, "Client order id length should not be more than 36 chars"),
  /**
   * Observed payloads: "Limit price can't be higher than 0.7720058." (AEROUSDT, pricePrecision 7) and "… than
   * 0.0012859."; [ERR] only "Price is higher than mark price multiplier cap.". Binance's typo HIGHTER is its name.
   */
  PRICE_HIGHTER_THAN_MULTIPLIER_UP: {
    code: -4016,
    msg: (cap: string) => `Limit price can't be higher than ${cap}.`,
  },
  QTY_NOT_INCREASED_BY_STEP_SIZE: text(-4023, "Qty not increased by step size."),
  /** By analogy with -4016 and -4184 (the numeric form is UNCONFIRMED for -4024); [ERR]: "Price is lower than mark price multiplier floor.". */
  PRICE_LOWER_THAN_MULTIPLIER_DOWN: {
    code: -4024,
    msg: (floor: string) => `Limit price can't be lower than ${floor}.`,
  },
  POSITION_SIDE_NOT_MATCH: text(-4061, "Order's position side does not match user's setting."),
  QUANTITY_EXISTS_WITH_CLOSE_POSITION: text(-4137, "Quantity must be zero with closePosition equals true"),
  /** [ERR] template; observed "Order's notional must be no smaller than 5 (unless you choose reduce only)." (conor19w/…#52). */
  MIN_NOTIONAL: {
    code: -4164,
    msg: (notional: string) =>
      `Order's notional must be no smaller than ${notional} (unless you choose reduce only).`,
  },
  /**
   * [ERR] second form (the English page labels -4183 ISOLATED_REJECT_WITH_JOINT_MARGIN by mistake; its text and
   * the Chinese page: "price should not be higher than triggerPrice × the multiplier cap").
   */
  PRICE_HIGHTER_THAN_STOP_MULTIPLIER_UP: {
    code: -4183,
    msg: (cap: string) => `Limit price can't be higher than ${cap}.`,
  },
  PRICE_LOWER_THAN_STOP_MULTIPLIER_DOWN: {
    code: -4184,
    msg: (floor: string) => `Limit price can't be lower than ${floor}.`,
  },
  FUTURE_GOOD_TILL_DATE: text(
    -5040,
    "The goodTillDate timestamp must be greater than the current time plus 600 seconds and smaller than 253402300799000 (UTC 9999-12-31 23:59:59)",
  ),
} as const satisfies Record<string, ErrorText>;

/** A name of `ORDER_ERRORS` (Binance's own error names). */
export type OrderErrorName = keyof typeof ORDER_ERRORS;
