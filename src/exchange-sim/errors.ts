/**
 * Binance's error answers (binance-usdm.md §5.2): an HTTP 4xx status with the body `{"code":-1021,"msg":"…"}`.
 * Route handlers and hooks of the double throw `BinanceApiError`; the server's error handler sends its body.
 */

/** An error the double answers the way Binance does: `status` with the body `{ code, msg }`. */
export class BinanceApiError extends Error {
  override readonly name = "BinanceApiError";

  constructor(
    /** HTTP status (400 for parameter and timestamp errors, 401 for key errors, …). */
    readonly status: number,
    /** Binance's negative error code, e.g. -1021. */
    readonly code: number,
    /** Binance's message text. */
    readonly msg: string,
  ) {
    super(`${code} ${msg}`);
  }

  /** The response body, as Binance sends it. */
  body(): { code: number; msg: string } {
    return { code: this.code, msg: this.msg };
  }
}

/** -1102: a mandatory parameter is missing or empty. */
export function mandatoryParameter(name: string): BinanceApiError {
  return new BinanceApiError(
    400,
    -1102,
    `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`,
  );
}

/** -1100: a parameter holds characters its type does not allow (e.g. a non-integer `limit`). */
export function illegalCharacters(name: string, legal: string): BinanceApiError {
  return new BinanceApiError(
    400,
    -1100,
    `Illegal characters found in parameter '${name}'; legal range is '${legal}'.`,
  );
}

/** -1121: the symbol is not one the double trades (not replayed). */
export function invalidSymbol(): BinanceApiError {
  return new BinanceApiError(400, -1121, "Invalid symbol.");
}

/**
 * The integer value of query parameter `name` (ms times, limits), or undefined when absent.
 * @throws BinanceApiError -1100 when it is not a plain non-negative integer.
 */
export function integerParameter(query: Record<string, unknown>, name: string): number | undefined {
  const raw = query[name];
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string" || !/^[0-9]{1,20}$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw illegalCharacters(name, "^[0-9]{1,20}$");
  return Number(raw);
}
