/** Text the CLI prints: the backtest summary (table or one JSON line), the replay report, the how-to for data. */

import { apiRoutes } from "../adapters/http/server.ts";
import { describeStoreUrl } from "../adapters/store/open-store.ts";
import { ALL_SYMBOLS, type AppConfig } from "../config/schema.ts";
import { canonical, Dec } from "../domain/decimal.ts";
import type { BacktestSummary } from "../engine/backtest.ts";
import type { LiveRunSummary } from "../engine/live-run.ts";
import type { ReplayReport } from "../engine/replay.ts";
import { RUN_FIGURES, type WhatIfReport } from "../engine/what-if.ts";
import { backtestArchivePlan } from "./first-run.ts";

/** Differences printed by `replay --verify` before "… and N more". */
const MAX_DIFFERENCES_SHOWN = 5;

/**
 * The summary as one JSON line (no newline): counts as numbers, money (USDT) as decimal strings, exactly the
 * keys bars, orders, ordersDenied, fills, makerFills, partialFills, liquidations, realizedPnl, fees, funding,
 * unrealizedPnl, equity, maxDrawdown, tradingState, gaps, barsWithoutMark (bars without a 1m mark-price kline
 * although the symbol has 1m mark files), fundingSettlements (per symbol), warmFrom (per symbol, ms),
 * skippedSymbols (per symbol skipped by `--symbols ALL`, the reason), completed, events, barsPerSec,
 * eventLogSha256.
 */
export function summaryJsonLine(s: BacktestSummary): string {
  return JSON.stringify({
    bars: s.bars,
    orders: s.orders,
    ordersDenied: s.ordersDenied,
    fills: s.fills,
    makerFills: s.makerFills,
    partialFills: s.partialFills,
    liquidations: s.liquidations,
    realizedPnl: s.realizedPnl,
    fees: s.fees,
    funding: s.funding,
    unrealizedPnl: s.unrealizedPnl,
    equity: s.equity,
    maxDrawdown: s.maxDrawdown,
    tradingState: s.tradingState,
    gaps: s.gaps,
    barsWithoutMark: s.barsWithoutMark,
    fundingSettlements: s.fundingSettlements,
    warmFrom: s.warmFrom,
    skippedSymbols: s.skippedSymbols,
    completed: s.completed,
    events: s.events,
    barsPerSec: s.barsPerSec,
    eventLogSha256: s.eventLogSha256,
  });
}

/** Per-symbol values as `BTCUSDT 12, ETHUSDT 0`, or `none`. */
function perSymbol(values: Record<string, number>, format: (v: number) => string = String): string {
  const entries = Object.entries(values);
  return entries.length === 0 ? "none" : entries.map(([symbol, v]) => `${symbol} ${format(v)}`).join(", ");
}

/** Skipped symbols as `ALGOUSDT (reason); DOTUSDT (reason)`, or `none`. */
function skippedSymbols(skipped: Record<string, string>): string {
  const entries = Object.entries(skipped);
  return entries.length === 0 ? "none" : entries.map(([symbol, why]) => `${symbol} (${why})`).join("; ");
}

/** A USDT amount for people: rounded half-even to 8 decimals (USDT's wallet precision); `--json` keeps it exact. */
function usdt(amount: string): string {
  return `${canonical(new Dec(amount).toDecimalPlaces(8))} USDT`;
}

/** The money rows (USDT, 8 decimals) and the trading state, shared by the backtest and live summaries. */
function moneyRows(
  s: Pick<
    BacktestSummary,
    | "realizedPnl"
    | "fees"
    | "funding"
    | "netPnl"
    | "unrealizedPnl"
    | "equity"
    | "maxDrawdown"
    | "tradingState"
  >,
): [string, string][] {
  return [
    ["realizedPnl", usdt(s.realizedPnl)],
    ["fees", usdt(s.fees)],
    ["funding", usdt(s.funding)],
    ["netPnl", usdt(s.netPnl)],
    ["unrealizedPnl", usdt(s.unrealizedPnl)],
    ["equity", usdt(s.equity)],
    ["maxDrawdown", usdt(s.maxDrawdown)],
    ["tradingState", s.tradingState],
  ];
}

/** The summary as an aligned two-column table (money in USDT, 8 decimals), ending with the store URL. */
export function summaryTable(s: BacktestSummary, store: string): string {
  return table([
    ["runId", s.runId],
    ["bars", String(s.bars)],
    ["orders", String(s.orders)],
    ["ordersDenied", String(s.ordersDenied)],
    ["fills", String(s.fills)],
    ["makerFills", String(s.makerFills)],
    ["partialFills", String(s.partialFills)],
    ["liquidations", String(s.liquidations)],
    ...moneyRows(s),
    ["gaps", String(s.gaps)],
    ["barsWithoutMark", String(s.barsWithoutMark)],
    ["fundingSettlements", perSymbol(s.fundingSettlements)],
    ["warmFrom", perSymbol(s.warmFrom, (ms) => new Date(ms).toISOString())],
    ["skippedSymbols", skippedSymbols(s.skippedSymbols)],
    ["completed", String(s.completed)],
    ["events", String(s.events)],
    ["barsPerSec", String(Math.round(s.barsPerSec))],
    ["eventLogSha256", s.eventLogSha256],
    ["store", describeStoreUrl(store)],
  ]);
}

/** A live run's summary as one JSON line (no newline): every key of `LiveRunSummary`, money as decimal strings. */
export function liveSummaryJsonLine(s: LiveRunSummary): string {
  return JSON.stringify(s);
}

/** A live run's summary as an aligned two-column table (money in USDT, 8 decimals), ending with the store URL. */
export function liveSummaryTable(s: LiveRunSummary, store: string): string {
  return table([
    ["runId", s.runId],
    ["mode", s.mode],
    ["completed", String(s.completed)],
    ["continued", String(s.continued)],
    ["bars", String(s.bars)],
    ["orders", String(s.orders)],
    ["fills", String(s.fills)],
    ...moneyRows(s),
    ["warmFrom", perSymbol(s.warmFrom, (ms) => new Date(ms).toISOString())],
    ["events", String(s.events)],
    ["eventLogSha256", s.eventLogSha256],
    ["store", describeStoreUrl(store)],
  ]);
}

/** The replay verdict, the run's identity and the first few differences. */
export function replayReport(r: ReplayReport): string {
  const lines = [
    r.ok
      ? "replay ok: the recorded run reproduces exactly"
      : "replay FAILED: the re-run differs from the record",
    table([
      ["runId", r.runId],
      ["events", String(r.events)],
      ["eventLogSha256", r.eventLogSha256],
      ["replayedSha256", r.replayedSha256],
      ["differences", String(r.differences.length)],
    ]),
    ...r.differences.slice(0, MAX_DIFFERENCES_SHOWN).map((d) => `  - ${d}`),
  ];
  const hidden = r.differences.length - MAX_DIFFERENCES_SHOWN;
  if (hidden > 0) lines.push(`  … and ${hidden} more`);
  return lines.join("\n");
}

/**
 * `replay --what-if`: the configuration changes, then one row per figure (orders, fills, realizedPnl, fees,
 * funding, netPnl, maxDrawdown) with the recorded run, the what-if and the difference (money to 8 decimals,
 * signed).
 */
export function whatIfTable(r: WhatIfReport): string {
  const cell = (v: number | string, signed = false): string => {
    const text = typeof v === "number" ? String(v) : new Dec(v).toFixed(8);
    return signed && !text.startsWith("-") ? `+${text}` : text;
  };
  const rows = [
    ["", "recorded", "what-if", "difference"],
    ...RUN_FIGURES.map((k) => [k, cell(r.recorded[k]), cell(r.whatIf[k]), cell(r.difference[k], true)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map(
    (row) => `  ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")}`,
  );
  return [
    `what-if on run ${r.runId} (${r.mode}): the recorded market inputs on the simulated venue`,
    ...(r.changes.length > 0 ? r.changes.map((c) => `  ${c}`) : ["  (no configuration change)"]),
    ...lines,
  ].join("\n");
}

/** `replay --what-if --json`: `{ runId, mode, changes, recorded, whatIf, difference }` on one line (money as decimal strings). */
export function whatIfJsonLine(r: WhatIfReport): string {
  return JSON.stringify(r);
}

/** `serving on URL`, the API's routes, and how to stop. */
export function servingBanner(url: string): string {
  return [`serving on ${url}`, table(apiRoutes), "Ctrl-C stops the server."].join("\n");
}

/**
 * What to do when the data root holds no market data for the configured run: where we looked, how to fetch
 * the files its backtest reads (`backtestArchivePlan`: the months of its warm-up and window), and how to point at
 * an existing copy.
 */
export function missingDataHowTo(cfg: AppConfig, detail: string): string {
  const { from, to } = cfg.backtest;
  // "ALL" is resolved from the data: the how-to names the default symbols and the window's months as an example.
  const plan = backtestArchivePlan(cfg.backtest) ?? {
    symbols: ["BTCUSDT", "ETHUSDT"],
    months: [from.slice(0, 7), to.slice(0, 7)],
    dataTypes: ["klines", "fundingRate", "markPriceKlines"],
  };
  return [
    `error: no market data for ${cfg.backtest.symbols === ALL_SYMBOLS ? "any symbol" : plan.symbols.join(", ")} from ${from} to ${to} under ${cfg.dataRoot}`,
    ...detail.split("\n").map((line) => `  ${line}`),
    "Download it from data.binance.vision with:",
    `  perpsource data fetch --symbols ${plan.symbols.join(",")} --from ${plan.months[0]} --to ${plan.months.at(-1)} --types ${plan.dataTypes.join(",")}`,
    "or point perpsource at a copy you already have, e.g.:",
    "  PERPSOURCE_DATA=../shared/data/binance npm start",
  ].join("\n");
}

function table(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}
