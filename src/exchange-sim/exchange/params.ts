/**
 * Binance's request parameters as the double reads them (binance-usdm.md §2.2, §5.2): every value arrives as a
 * string (query string or urlencoded body), booleans as "true"/"false", decimals as plain decimal strings,
 * integers as digits. A parameter that is missing, empty or malformed is answered with Binance's code:
 * -1102 mandatory parameter missing, -1100 illegal characters, -1130 invalid data, -1116/-1117/-1115 invalid
 * enum values. Unknown parameters are ignored (the signature's `timestamp`, `recvWindow`, `signature` among them).
 */

/** A Binance error answer: HTTP `status` (400 unless stated) with body `{ code, msg }`. */
export class BinanceError extends Error {
  override name = "BinanceError";
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly status = 400,
  ) {
    super(`${code} ${msg}`);
  }
}

const DECIMAL = /^([0-9]{1,20})(\.[0-9]{1,20})?$/;
const INTEGER = /^[0-9]{1,20}$/;

/** The request's parameters by name (the last value when a name is repeated). */
export class Params {
  private readonly values: Map<string, string>;

  /**
   * Merges the sources' parameters, later sources winning: each a parsed object (fastify's query, a parsed
   * body) or an urlencoded string or Buffer (a raw body).
   */
  constructor(...sources: unknown[]) {
    this.values = new Map();
    for (const source of sources) {
      if (source === undefined || source === null) continue;
      const text = Buffer.isBuffer(source) ? source.toString("utf8") : source;
      const entries =
        typeof text === "string"
          ? [...new URLSearchParams(text).entries()]
          : Object.entries(text as Record<string, unknown>);
      for (const [k, v] of entries) {
        const value = Array.isArray(v) ? v[v.length - 1] : v;
        if (value === undefined || value === null) continue;
        this.values.set(k, String(value));
      }
    }
  }

  /** The raw value, undefined when absent or empty (Binance treats "" as not sent). */
  raw(name: string): string | undefined {
    const v = this.values.get(name);
    return v === undefined || v === "" ? undefined : v;
  }

  /** @throws BinanceError -1102 when absent. */
  required(name: string): string {
    const v = this.raw(name);
    if (v === undefined) throw mandatory(name);
    return v;
  }

  /** A decimal string as sent (trailing zeros kept). @throws BinanceError -1100 when not a plain decimal. */
  decimal(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!DECIMAL.test(v))
      throw new BinanceError(
        -1100,
        `Illegal characters found in parameter '${name}'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.`,
      );
    return v;
  }

  /** A non-negative integer. @throws BinanceError -1100 when not digits. */
  integer(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!INTEGER.test(v))
      throw new BinanceError(
        -1100,
        `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`,
      );
    return Number(v);
  }

  /** "true" / "false" (case-insensitive, as Binance). @throws BinanceError -1130 otherwise. */
  boolean(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const lower = v.toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
    throw new BinanceError(-1130, `Data sent for parameter '${name}' is not valid.`);
  }

  /** One of `allowed`. @throws BinanceError with `code`/`msg` (Binance's enum answer) otherwise. */
  oneOf<T extends string>(name: string, allowed: readonly T[], code: number, msg: string): T | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) throw new BinanceError(code, msg);
    return v as T;
  }
}

/** -1102 for a missing mandatory parameter. */
export function mandatory(name: string): BinanceError {
  return new BinanceError(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
}

/** The limit parameter of the history endpoints: default `fallback`, at most `max`. @throws BinanceError -1130. */
export function limitOf(p: Params, fallback: number, max: number): number {
  const limit = p.integer("limit") ?? fallback;
  if (limit < 1 || limit > max)
    throw new BinanceError(-1130, "Data sent for parameter 'limit' is not valid.");
  return limit;
}
