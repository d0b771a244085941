/** Parsers of command-line arguments that are not configuration keys (the `data fetch` months, symbols, kinds). */
import { InvalidArgumentError } from "commander";
import type { FetchableKind } from "../adapters/market/types.ts";
import { ALL_SYMBOLS, SymbolSchema } from "../config/schema.ts";

/** The archive kinds `data fetch` knows, in its default order. */
export const KINDS: readonly FetchableKind[] = ["klines", "fundingRate", "markPriceKlines"];
/** commander parser of `data fetch --symbols a,b`: upper-cased symbols (not ALL, which a backtest resolves). */
export function parseSymbols(raw: string): string[] {
  const symbols = raw
    .split(",")
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== "");
  if (symbols.includes(ALL_SYMBOLS))
    throw new InvalidArgumentError(
      `${ALL_SYMBOLS} is resolved by a backtest from the data it finds: list the symbols to fetch, e.g. BTCUSDT,ETHUSDT`,
    );
  const bad = symbols.find((s) => !SymbolSchema.safeParse(s).success);
  if (symbols.length === 0 || bad !== undefined)
    throw new InvalidArgumentError("expected symbols such as BTCUSDT,ETHUSDT");
  return symbols;
}

/** commander parser of a month `YYYY-MM`. */
export function parseMonth(raw: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(raw))
    throw new InvalidArgumentError("expected a month YYYY-MM such as 2025-05");
  return raw;
}

/** commander parser of `--types a,b`: archive kinds. */
export function parseKinds(raw: string): FetchableKind[] {
  const kinds = raw.split(",").map((s) => s.trim());
  const bad = kinds.find((k) => !(KINDS as readonly string[]).includes(k));
  if (bad !== undefined) throw new InvalidArgumentError(`expected a list of ${KINDS.join(", ")}`);
  return kinds as FetchableKind[];
}

/** The kline intervals of Binance's archive (binance-usdm.md §6). */
export const KLINE_INTERVALS = [
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "6h",
  "8h",
  "12h",
  "1d",
  "3d",
  "1w",
  "1mo",
];

/** commander parser of `--interval`: one of Binance's kline intervals. */
export function parseInterval(raw: string): string {
  if (!KLINE_INTERVALS.includes(raw))
    throw new InvalidArgumentError(`expected one of ${KLINE_INTERVALS.join(", ")}`);
  return raw;
}

/** Every month `YYYY-MM` from `from` to `to`, both included. */
export function monthRange(from: string, to: string): string[] {
  const index = (month: string) => {
    const [y, m] = month.split("-").map(Number) as [number, number];
    return y * 12 + m - 1;
  };
  const months: string[] = [];
  for (let i = index(from); i <= index(to); i++) months.push(`${Math.floor(i / 12)}-${pad((i % 12) + 1)}`);
  return months;
}

function pad(m: number): string {
  return String(m).padStart(2, "0");
}
