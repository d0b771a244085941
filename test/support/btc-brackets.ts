/**
 * The BTCUSDT leverage brackets of binance-usdm.md §4.6 (freqtrade's 2024-10-24 capture), typed in from the
 * spec's table; §4.7's vectors A–C use them. test/brackets-catalog.test.ts checks them against the shared data's
 * leverage-tiers-ccxt-2024-10-24.json.
 */
import type { LeverageBracket } from "../../src/domain/margin/brackets.ts";

const rows: [number, string, string, number, string, string][] = [
  [1, "0", "50000", 125, "0.004", "0"],
  [2, "50000", "600000", 100, "0.005", "50"],
  [3, "600000", "3000000", 75, "0.0065", "950"],
  [4, "3000000", "12000000", 50, "0.01", "11450"],
  [5, "12000000", "70000000", 25, "0.02", "131450"],
  [6, "70000000", "100000000", 20, "0.025", "481450"],
  [7, "100000000", "230000000", 10, "0.05", "2981450"],
  [8, "230000000", "480000000", 5, "0.1", "14481450"],
  [9, "480000000", "600000000", 4, "0.125", "26481450"],
  [10, "600000000", "800000000", 3, "0.15", "41481450"],
  [11, "800000000", "1200000000", 2, "0.25", "121481450"],
  [12, "1200000000", "1800000000", 1, "0.5", "421481450"],
];

/** §4.6's BTCUSDT table as brackets. */
export const SPEC_BTC_BRACKETS: readonly LeverageBracket[] = rows.map(
  ([bracket, notionalFloor, notionalCap, initialLeverage, maintMarginRatio, cum]) => ({
    bracket,
    initialLeverage,
    notionalCap,
    notionalFloor,
    maintMarginRatio,
    cum,
  }),
);
