/**
 * The operator's metrics, derived from the event log alone (no I/O, no clock): `MetricsFold` counts events as
 * they are folded (by type, bars, fills, rejections, denials, reconciliations…), and `metricFamilies` turns
 * those counts and the other projections (orders, pnl, risk, positions) into Prometheus-shaped families of
 * samples. A backtest store and a live run give the same numbers for the same log; the HTTP adapter
 * (src/adapters/http/metrics.ts) only exposes them. Values are decimal strings (exact, as in the log); the
 * exposition format turns them into floats at the edge.
 *
 * Times: `perpsource_bar_lag_seconds` is market time only — the newest event's `eventTime` minus the symbol's
 * last BarClosed `closeTime`. The wall-clock lag of a live run is `time() - perpsource_last_bar_close_time_seconds`
 * in PromQL (the domain reads no clock).
 */
import { canonical, Dec } from "../domain/decimal.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import type { AnyRecordedEvent, Projections } from "./index.ts";
import { orderStatuses } from "./orders.ts";

/** A Prometheus metric family: its name (with unit and `_total` for counters), help, kind and label names. */
export interface MetricFamilyDef {
  name: string;
  help: string;
  type: "counter" | "gauge";
  labelNames: readonly string[];
}

/** One sample of a family: its label values and its value (a decimal string). */
export interface MetricSample {
  labels: Record<string, string>;
  value: string;
}

/** Every family `metricFamilies` fills, in exposition order. */
export const metricFamilyDefs = [
  counter("perpsource_events_total", "Events folded from the log, by event type.", ["type"]),
  gauge("perpsource_log_position", "Global position of the last folded event (-1 before any).", []),
  gauge("perpsource_last_event_time_seconds", "Market time (eventTime) of the newest event, seconds.", []),
  counter("perpsource_bars_total", "BarClosed events, by symbol.", ["symbol"]),
  gauge(
    "perpsource_last_bar_close_time_seconds",
    "closeTime of the symbol's last BarClosed, seconds since the epoch.",
    ["symbol"],
  ),
  gauge(
    "perpsource_bar_lag_seconds",
    "Newest event's market time minus the symbol's last BarClosed closeTime, seconds.",
    ["symbol"],
  ),
  counter("perpsource_market_data_gaps_total", "MarketDataGapDetected events, by symbol.", ["symbol"]),
  counter("perpsource_orders_submitted_total", "OrderSubmitted events, by order type.", ["type"]),
  gauge("perpsource_orders", "Orders in the log, by order type and current status.", ["type", "status"]),
  counter("perpsource_fills_total", "OrderFilled events, by symbol and liquidity (maker/taker).", [
    "symbol",
    "liquidity",
  ]),
  counter("perpsource_order_rejections_total", "OrderRejected events, by Binance error code (0: local).", [
    "code",
  ]),
  counter("perpsource_order_denials_total", "OrderDenied events (pre-trade risk), by rule.", ["rule"]),
  counter("perpsource_liquidations_total", "PositionLiquidated events, by symbol.", ["symbol"]),
  counter(
    "perpsource_venue_reconciliations_total",
    "VenueReconciled events, by trigger (resync: the user-data stream reconnected).",
    ["trigger"],
  ),
  counter(
    "perpsource_reconciliation_discrepancies_total",
    "Discrepancies reported by VenueReconciled, by kind.",
    ["kind"],
  ),
  counter(
    "perpsource_reconciliation_recovered_total",
    "Lost venue reports recovered by reconciliations.",
    [],
  ),
  counter("perpsource_trading_state_changes_total", "TradingStateChanged events, by new state and by whom.", [
    "to",
    "by",
  ]),
  gauge("perpsource_trading_state", "1 for the current trading state, 0 for the others.", ["state"]),
  gauge("perpsource_wallet_balance_usdt", "Wallet balance, USDT.", []),
  gauge("perpsource_equity_usdt", "Wallet balance plus unrealized PnL at mark, USDT.", []),
  gauge("perpsource_unrealized_pnl_usdt", "Unrealized PnL of open positions at mark, USDT.", []),
  gauge("perpsource_net_pnl_usdt", "Realized PnL − fees − liquidation fees + funding, USDT.", []),
  gauge("perpsource_drawdown_usdt", "Peak equity (the risk engine's) minus current equity, USDT.", []),
  gauge("perpsource_max_drawdown_usdt", "Largest fall of the equity curve so far, USDT.", []),
  gauge("perpsource_max_drawdown_ratio", "Largest fall over the peak it falls from (0.1 = 10 %).", []),
  gauge("perpsource_gross_exposure_usdt", "Σ |notional| of open positions at mark, USDT.", []),
  gauge("perpsource_margin_ratio", "Maintenance margin over margin balance of an open position (§4.7).", [
    "symbol",
    "position_side",
  ]),
] as const satisfies readonly MetricFamilyDef[];

/** A family name of `metricFamilyDefs`. */
export type MetricName = (typeof metricFamilyDefs)[number]["name"];

function counter<N extends string>(name: N, help: string, labelNames: readonly string[]) {
  return { name, help, type: "counter", labelNames } as const satisfies MetricFamilyDef;
}
function gauge<N extends string>(name: N, help: string, labelNames: readonly string[]) {
  return { name, help, type: "gauge", labelNames } as const satisfies MetricFamilyDef;
}

/** The event counts behind the counters; read them with `MetricsFold.counts()`. */
export interface MetricCounts {
  eventsByType: Record<string, number>;
  barsBySymbol: Record<string, number>;
  /** Last BarClosed closeTime per symbol, ms. */
  lastBarCloseTime: Record<string, number>;
  gapsBySymbol: Record<string, number>;
  submittedByType: Record<string, number>;
  /** Keyed by `labelKey(symbol, "maker" | "taker")`. */
  fillsBySymbolLiquidity: Record<string, number>;
  rejectionsByCode: Record<string, number>;
  liquidationsBySymbol: Record<string, number>;
  reconciliationsByTrigger: Record<string, number>;
  discrepanciesByKind: Record<string, number>;
  recovered: number;
  /** Keyed by `labelKey(to, by)`. */
  stateChanges: Record<string, number>;
}

/** Counts events by the metrics' labels; pure, one event at a time in global order. */
export class MetricsFold {
  private readonly c: MetricCounts = {
    eventsByType: {},
    barsBySymbol: {},
    lastBarCloseTime: {},
    gapsBySymbol: {},
    submittedByType: {},
    fillsBySymbolLiquidity: {},
    rejectionsByCode: {},
    liquidationsBySymbol: {},
    reconciliationsByTrigger: {},
    discrepanciesByKind: {},
    recovered: 0,
    stateChanges: {},
  };

  apply(recorded: RecordedEvent): void {
    const c = this.c;
    const event = recorded as AnyRecordedEvent;
    inc(c.eventsByType, event.type);
    switch (event.type) {
      case "BarClosed":
        inc(c.barsBySymbol, event.data.symbol);
        c.lastBarCloseTime[event.data.symbol] = event.data.closeTime;
        break;
      case "MarketDataGapDetected":
        inc(c.gapsBySymbol, event.data.symbol);
        break;
      case "OrderSubmitted":
        inc(c.submittedByType, event.data.type);
        break;
      case "OrderFilled":
        inc(c.fillsBySymbolLiquidity, labelKey(event.data.symbol, event.data.maker ? "maker" : "taker"));
        break;
      case "OrderRejected":
        inc(c.rejectionsByCode, String(event.data.code));
        break;
      case "PositionLiquidated":
        inc(c.liquidationsBySymbol, event.data.symbol);
        break;
      case "VenueReconciled":
        inc(c.reconciliationsByTrigger, event.data.trigger);
        for (const d of event.data.discrepancies) inc(c.discrepanciesByKind, d.kind);
        c.recovered += event.data.recovered;
        break;
      case "TradingStateChanged":
        inc(c.stateChanges, labelKey(event.data.to, event.data.by));
        break;
    }
  }

  /** A copy of the counts so far. */
  counts(): MetricCounts {
    return structuredClone(this.c);
  }
}

function inc(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/** The key of a count by several labels: their values joined by the ASCII unit separator (U+001F). */
export function labelKey(...values: string[]): string {
  return values.join("\u001f");
}

/** Samples of a count map keyed by `labelKey` of the values of `labelNames`. */
function fromCounts(map: Record<string, number>, labelNames: readonly string[]): MetricSample[] {
  return Object.entries(map).map(([key, n]) => {
    const values = key.split("\u001f");
    return { labels: Object.fromEntries(labelNames.map((l, i) => [l, values[i]!])), value: String(n) };
  });
}

/** ms → seconds as an exact decimal string. */
function seconds(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  const frac = abs % 1000;
  return `${sign}${Math.floor(abs / 1000)}${frac === 0 ? "" : `.${String(frac).padStart(3, "0").replace(/0+$/, "")}`}`;
}

/**
 * Every family of `metricFamilyDefs` with its samples, from the metric counts and the projections at the same
 * log position. Families with no sample yet (no bar, no order…) are present with an empty list.
 */
export function metricFamilies(projections: Projections): Record<MetricName, MetricSample[]> {
  const c = projections.metricCounts();
  const pnl = projections.pnl();
  const risk = projections.risk();
  const lastTime = projections.lastEventTime();
  const plain = (value: string): MetricSample[] => [{ labels: {}, value }];

  const ordersByTypeStatus: Record<string, number> = {};
  for (const o of projections.orders().orders) inc(ordersByTypeStatus, labelKey(o.type, o.status));
  for (const type of Object.keys(c.submittedByType)) {
    for (const status of orderStatuses) ordersByTypeStatus[labelKey(type, status)] ??= 0;
  }

  return {
    perpsource_events_total: fromCounts(c.eventsByType, ["type"]),
    perpsource_log_position: plain(String(projections.lastPosition() ?? -1)),
    perpsource_last_event_time_seconds: lastTime === null ? [] : plain(seconds(lastTime)),
    perpsource_bars_total: fromCounts(c.barsBySymbol, ["symbol"]),
    perpsource_last_bar_close_time_seconds: Object.entries(c.lastBarCloseTime).map(([symbol, t]) => ({
      labels: { symbol },
      value: seconds(t),
    })),
    perpsource_bar_lag_seconds:
      lastTime === null
        ? []
        : Object.entries(c.lastBarCloseTime).map(([symbol, t]) => ({
            labels: { symbol },
            value: seconds(lastTime - t),
          })),
    perpsource_market_data_gaps_total: fromCounts(c.gapsBySymbol, ["symbol"]),
    perpsource_orders_submitted_total: fromCounts(c.submittedByType, ["type"]),
    perpsource_orders: fromCounts(ordersByTypeStatus, ["type", "status"]),
    perpsource_fills_total: fromCounts(c.fillsBySymbolLiquidity, ["symbol", "liquidity"]),
    perpsource_order_rejections_total: fromCounts(c.rejectionsByCode, ["code"]),
    perpsource_order_denials_total: fromCounts(projections.tradingRisk().deniedByRule, ["rule"]),
    perpsource_liquidations_total: fromCounts(c.liquidationsBySymbol, ["symbol"]),
    perpsource_venue_reconciliations_total: fromCounts(c.reconciliationsByTrigger, ["trigger"]),
    perpsource_reconciliation_discrepancies_total: fromCounts(c.discrepanciesByKind, ["kind"]),
    perpsource_reconciliation_recovered_total: plain(String(c.recovered)),
    perpsource_trading_state_changes_total: fromCounts(c.stateChanges, ["to", "by"]),
    perpsource_trading_state:
      risk.tradingState === null
        ? []
        : (["ACTIVE", "REDUCING", "HALTED"] as const).map((state) => ({
            labels: { state },
            value: state === risk.tradingState ? "1" : "0",
          })),
    perpsource_wallet_balance_usdt: plain(pnl.walletBalance),
    perpsource_equity_usdt: plain(pnl.equity),
    perpsource_unrealized_pnl_usdt: plain(pnl.unrealizedPnl),
    perpsource_net_pnl_usdt: plain(pnl.netPnl),
    perpsource_drawdown_usdt:
      risk.peakEquity === null ? [] : plain(canonical(new Dec(risk.peakEquity).minus(pnl.equity))),
    perpsource_max_drawdown_usdt: plain(pnl.maxDrawdown),
    perpsource_max_drawdown_ratio: pnl.maxDrawdownRatio === null ? [] : plain(pnl.maxDrawdownRatio),
    perpsource_gross_exposure_usdt: plain(risk.grossExposure),
    perpsource_margin_ratio: projections
      .positions()
      .filter((p) => p.side !== "FLAT" && p.marginRatio !== null)
      .map((p) => ({
        labels: { symbol: p.symbol, position_side: p.positionSide ?? "BOTH" },
        value: p.marginRatio!,
      })),
  };
}
