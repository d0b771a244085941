/**
 * The universe of a backtest of `--symbols ALL` (issue 8 item 4, seed 000 v2): every TRADING USDT-quoted PERPETUAL
 * of the run's instruments snapshot whose 1m kline files hold bars in the window, less those holding too few to
 * warm the strategy up. Pure: the data's listing and bar counts come from src/adapters/market/universe.ts.
 */
import type { Instrument } from "./instruments.ts";

/** What the universe reads of an instrument. */
export type UniverseInstrument = Pick<Instrument, "symbol" | "status" | "contractType" | "quoteAsset">;

/**
 * The bars a symbol's 1m kline files hold, in bars of the strategy's first interval (a UTC bucket with at least
 * one 1m bar counts as one bar, as the aggregation emits it, src/domain/bars/aggregate.ts).
 */
export interface SymbolBars {
  /** In the warm-up read before the window (0 without warm-up). */
  readonly beforeWindow: number;
  /** In the window. */
  readonly inWindow: number;
}

/** Why a symbol with kline files is not traded. */
export type SkipReason =
  /** Its files hold bars in the window, but the snapshot does not list it. */
  | { readonly kind: "notInSnapshot" }
  /** Its files hold bars in the window, but the snapshot lists it as something else than a TRADING USDT perpetual. */
  | {
      readonly kind: "notTradable";
      readonly status: string;
      readonly contractType: string;
      readonly quoteAsset: string;
    }
  /** A TRADING USDT perpetual whose files hold no bar in the window. */
  | { readonly kind: "noBars" }
  /** A TRADING USDT perpetual whose bars before and in the window are fewer than its warm-up needs. */
  | { readonly kind: "tooFewBars"; readonly bars: number; readonly needed: number };

/** A symbol with kline files that is not traded, and why. */
export interface SkippedSymbol {
  readonly symbol: string;
  readonly reason: SkipReason;
}

/** The symbols a `--symbols ALL` backtest trades, and the ones it skips. */
export interface Universe {
  /** Traded, sorted (N = their number). */
  readonly symbols: readonly string[];
  /**
   * Sorted: every TRADING USDT perpetual with kline files that is not traded, and every other symbol whose files
   * hold bars in the window (symbols of neither kind are not reported).
   */
  readonly skipped: readonly SkippedSymbol[];
}

/** What `resolveUniverse` decides on. */
export interface UniverseInput {
  /** Every instrument of the run's snapshot. */
  readonly instruments: readonly UniverseInstrument[];
  /** Every symbol with 1m kline files under the data root, and the bars they hold. */
  readonly bars: ReadonlyMap<string, SymbolBars>;
  /**
   * Bars of the strategy's first interval it must see before it is warm (its own `warmupBars`, whatever
   * `backtest.warmupBars` reads before the window); 0: none.
   */
  readonly warmUpBars: number;
}

/** Whether the snapshot lists `i` as a TRADING USDT-quoted PERPETUAL, what `--symbols ALL` may trade. */
export function isUniverseInstrument(i: UniverseInstrument): boolean {
  return i.status === "TRADING" && i.contractType === "PERPETUAL" && i.quoteAsset === "USDT";
}

/**
 * The universe of `input`: a symbol is traded when the snapshot lists it as a TRADING USDT perpetual, its files
 * hold at least one bar in the window, and its bars before and in the window are at least `warmUpBars` (so the
 * strategy can be warm inside the window).
 * @throws RangeError for a negative or non-integer count.
 */
export function resolveUniverse(input: UniverseInput): Universe {
  const bySymbol = new Map(input.instruments.map((i) => [i.symbol, i]));
  checkCount("warmUpBars", input.warmUpBars);
  const symbols: string[] = [];
  const skipped: SkippedSymbol[] = [];
  for (const symbol of [...input.bars.keys()].sort()) {
    const { beforeWindow, inWindow } = input.bars.get(symbol)!;
    checkCount(`${symbol} beforeWindow`, beforeWindow);
    checkCount(`${symbol} inWindow`, inWindow);
    const verdict = verdictOf(bySymbol.get(symbol), beforeWindow, inWindow, input.warmUpBars);
    if (verdict === "trade") symbols.push(symbol);
    else if (verdict !== "ignore") skipped.push({ symbol, reason: verdict });
  }
  return { symbols, skipped };
}

/**
 * `reason` for people: `snapshot` names the instruments snapshot (e.g. `2025-12-24, bundled`), `window` the
 * backtest window (e.g. `2023-08-01..2023-09-30`), `interval` the strategy's bars (e.g. `1m`).
 */
export function describeSkipReason(
  reason: SkipReason,
  context: { snapshot: string; window: string; interval: string },
): string {
  switch (reason.kind) {
    case "notInSnapshot":
      return `not in the instruments snapshot (${context.snapshot})`;
    case "notTradable":
      return (
        `not a TRADING USDT perpetual in the instruments snapshot (${context.snapshot}): ` +
        `${reason.status} ${reason.contractType} quoted in ${reason.quoteAsset}`
      );
    case "noBars":
      return `its 1m kline files hold no bar in ${context.window}`;
    case "tooFewBars":
      return (
        `its 1m kline files hold ${reason.bars} ${context.interval} bars before and in ${context.window}, ` +
        `fewer than the ${reason.needed} the strategy needs to warm up`
      );
  }
}

/** Trade, skip (why), or ignore (not tradable and nothing in the window: not worth a report). */
function verdictOf(
  instrument: UniverseInstrument | undefined,
  beforeWindow: number,
  inWindow: number,
  warmUpBars: number,
): "trade" | "ignore" | SkipReason {
  if (instrument === undefined) return inWindow > 0 ? { kind: "notInSnapshot" } : "ignore";
  if (!isUniverseInstrument(instrument)) {
    if (inWindow === 0) return "ignore";
    const { status, contractType, quoteAsset } = instrument;
    return { kind: "notTradable", status, contractType, quoteAsset };
  }
  if (inWindow === 0) return { kind: "noBars" };
  const bars = beforeWindow + inWindow;
  return bars < warmUpBars ? { kind: "tooFewBars", bars, needed: warmUpBars } : "trade";
}

function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what}: expected a bar count ≥ 0, got ${n}`);
}
