/**
 * Reading leverage brackets (binance-usdm.md §4.6) from the two layouts they are saved in: Binance's
 * `GET /fapi/v1/leverageBracket` response, and a ccxt leverage-tiers file (as freqtrade bundles it, the shared
 * data's `futures/um/leverageBracket/`). Pure: the caller parses the JSON, ideally losslessly (numbers as their
 * text, `parseJsonLossless` in the adapter), so every decimal is the exact one written in the file.
 */
import { z } from "zod";
import { canonical, Dec } from "../decimal.ts";
import { type LeverageBracket, type SymbolBrackets, verifyBrackets } from "./brackets.ts";

/** A bracket file failed validation; `problems` holds one `JSON path: reason` (or `SYMBOL bracket n: rule`) each. */
export class BracketFileError extends Error {
  override name = "BracketFileError";
  constructor(
    /** Where the payload came from: `file <path>`, `response of GET <url>`, `bundled`. */
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    const shown = problems.slice(0, 5).join("; ");
    const more = problems.length > 5 ? `; … ${problems.length - 5} more` : "";
    super(`invalid leverage brackets in ${source}: ${shown}${more}`);
  }
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const NUMBER_ERROR = "expected a number";

/** A JSON number, as its text (lossless parse) or as a JS number, to its exact canonical decimal string. */
const DecimalNumber = z
  .union(
    [
      z.string({ error: NUMBER_ERROR }).regex(JSON_NUMBER, { error: NUMBER_ERROR }),
      z.number({ error: NUMBER_ERROR }).refine(Number.isFinite, { error: NUMBER_ERROR }),
    ],
    { error: NUMBER_ERROR },
  )
  .transform((v) => canonical(new Dec(v)));
const NonNegativeDecimal = DecimalNumber.refine((v) => !v.startsWith("-"), {
  error: "expected a number ≥ 0",
});
const Integer = DecimalNumber.refine((v) => /^\d+$/.test(v), { error: "expected an integer ≥ 0" }).transform(
  Number,
);

const BracketSchema = z.object({
  bracket: Integer,
  initialLeverage: Integer,
  notionalCap: NonNegativeDecimal,
  notionalFloor: NonNegativeDecimal,
  maintMarginRatio: NonNegativeDecimal,
  cum: NonNegativeDecimal,
});

const SymbolBracketsSchema = z.object({
  symbol: z
    .string({ error: "expected a symbol such as BTCUSDT" })
    .regex(/^\S+$/u, { error: "expected a symbol such as BTCUSDT" }),
  notionalCoef: NonNegativeDecimal.optional(),
  brackets: z.array(BracketSchema, { error: "expected a list of brackets" }),
});

/** `GET /fapi/v1/leverageBracket`: every symbol (an array), or one symbol (an object, with `?symbol=`). */
const BinanceResponseSchema = z.union(
  [z.array(SymbolBracketsSchema).min(1, { error: "expected at least one symbol" }), SymbolBracketsSchema],
  { error: "expected a leverageBracket response: a list of { symbol, brackets }" },
);

/** ccxt tiers: `{ "BASE/QUOTE:SETTLE": [{ tier, …, info: <Binance bracket> }] }`. */
const CcxtTiersSchema = z.record(
  z.string(),
  z.array(z.object({ info: BracketSchema }), { error: "expected a list of tiers" }),
);

/**
 * The Binance symbol of a ccxt market id, when it is a linear perpetual, settled in its quote asset (`BTC/USDT:USDT`
 * → `BTCUSDT`, `BTC/USDC:USDC` → `BTCUSDC`, and USDⓈ-M's one BTC-quoted perpetual `ETH/BTC:BTC` → `ETHBTC`);
 * undefined for delivery contracts (`BTC/USDT:USDT-260327`) and inverse (coin-margined) ones (`BTC/USD:BTC`).
 */
export function binanceSymbolOfCcxtMarket(market: string): string | undefined {
  const m = /^([^/]+)\/([^:]+):(.+)$/.exec(market);
  if (m === null) return undefined;
  const [, base, quote, settle] = m;
  return settle === quote ? `${base}${quote}` : undefined;
}

/**
 * Whether a parsed bracket file is a ccxt tiers file (an object keyed by `BASE/QUOTE:SETTLE`) rather than a
 * Binance response (an array, or one `{ symbol, brackets }`).
 */
export function isCcxtTiers(json: unknown): boolean {
  return (
    json !== null &&
    typeof json === "object" &&
    !Array.isArray(json) &&
    !("brackets" in json) &&
    Object.keys(json).some((k) => k.includes("/"))
  );
}

/**
 * Validates a parsed bracket file, either layout (detected by `isCcxtTiers`), into each symbol's brackets, in
 * the file's order; every symbol's brackets pass `verifyBrackets` (§4.6, the cum rule included). A ccxt file
 * keeps only the linear perpetuals (`binanceSymbolOfCcxtMarket`) and reads each tier's `info` (Binance's bracket).
 * @throws BracketFileError naming `source` and each problem: the JSON path (`[3] (ETHUSDT).brackets[0].cum:
 *   expected a number`, `BTC/USDT:USDT[2].info.cum: …`), a repeated symbol, or a broken rule naming the symbol
 *   and the bracket.
 */
export function parseBracketFile(json: unknown, source: string): SymbolBrackets[] {
  const problems: string[] = [];
  const out: SymbolBrackets[] = [];
  const seen = new Set<string>();
  const add = (entry: SymbolBrackets) => {
    if (seen.has(entry.symbol)) {
      problems.push(`${entry.symbol}: repeated`);
      return;
    }
    seen.add(entry.symbol);
    try {
      verifyBrackets(entry.symbol, entry.brackets);
      out.push(entry);
    } catch (error) {
      problems.push((error as Error).message);
    }
  };
  if (isCcxtTiers(json)) {
    const parsed = CcxtTiersSchema.safeParse(json);
    if (!parsed.success) throw new BracketFileError(source, issues(parsed.error, json));
    for (const [market, tiers] of Object.entries(parsed.data)) {
      const symbol = binanceSymbolOfCcxtMarket(market);
      if (symbol !== undefined) add({ symbol, brackets: tiers.map((t): LeverageBracket => t.info) });
    }
  } else {
    const parsed = BinanceResponseSchema.safeParse(json);
    if (!parsed.success) throw new BracketFileError(source, issues(parsed.error, json));
    for (const s of Array.isArray(parsed.data) ? parsed.data : [parsed.data]) {
      add({
        symbol: s.symbol,
        ...(s.notionalCoef === undefined ? {} : { notionalCoef: s.notionalCoef }),
        brackets: s.brackets,
      });
    }
  }
  if (problems.length > 0) throw new BracketFileError(source, problems);
  if (out.length === 0) throw new BracketFileError(source, ["no USDⓈ-M perpetual in it"]);
  return out;
}

function issues(error: z.ZodError, json: unknown): string[] {
  // A union that failed as a whole reports its own message; the array branch's issues are the useful ones.
  const all = error.issues.flatMap((issue) =>
    issue.code === "invalid_union" && Array.isArray(json) && issue.errors[0]!.length > 0
      ? issue.errors[0]!.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }))
      : [issue],
  );
  return all.map((issue) => `${jsonPath(issue.path, json)}: ${issue.message}`);
}

/** `[3] (ETHUSDT).brackets[0].cum`: a zod path, with the symbol's name after a response's index. */
function jsonPath(path: readonly PropertyKey[], json: unknown): string {
  if (path.length === 0) return "(root)";
  let out = "";
  let node: unknown = json;
  for (const [i, key] of path.entries()) {
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
    node =
      node !== null && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    if (i === 0 && Array.isArray(json)) {
      const name = (node as { symbol?: unknown } | undefined)?.symbol;
      if (typeof name === "string") out += ` (${name})`;
    }
  }
  return out;
}
