/**
 * The alert rules: a pure fold over the event log (like a projection: no I/O, no wall clock) that says which
 * events an operator must hear about, plus `StreamWatch`, the one rule that is about wall time (a market stream
 * down too long), fed by the feed's connection hook with the caller's clock.
 *
 * Rules over the log (times are market times, `metadata.eventTime`):
 * - `TradingStateChanged`: every change; HALTED critical, REDUCING warning, back to ACTIVE info.
 * - `PositionLiquidated`: critical.
 * - margin call: a position's margin ratio (maintenance margin / margin balance, binance-usdm.md §4.6) reaching
 *   `marginCallRatio` at a mark or a booking; warning, once until it falls below again.
 * - `VenueReconciled` with discrepancies: warning (one key per set of discrepancy kinds).
 * - a burst of rejections: `rejectionBurst.count` `OrderRejected` of one code, or `OrderDenied` of one rule,
 *   within `rejectionBurst.windowMs`; warning, once until the window holds fewer again.
 * - `MarketDataGapDetected`: warning.
 * - drawdown: equity (wallet + unrealized PnL at the marks) ≤ peak × (1 − threshold) for each threshold;
 *   warning (critical from 0.2); each threshold once until a new equity peak re-arms them all. Equity is read
 *   at AccountOpened, each booking and each mark of a symbol with an open position (nowhere else can it move).
 *
 * Each alert has a dedupe `key`: the dispatcher sends one alert per key within its window.
 */
import { Dec } from "../domain/decimal.ts";
import type { RecordedEvent } from "../events/envelope.ts";
import { type AnyRecordedEvent, createProjections, type Projections } from "../projections/index.ts";

/** How urgent an alert is. */
export type AlertSeverity = "info" | "warning" | "critical";

/** What raised an alert. */
export type AlertKind =
  | "tradingState"
  | "liquidation"
  | "marginCall"
  | "reconciliation"
  | "rejectionBurst"
  | "marketDataGap"
  | "drawdown"
  | "streamDown"
  | "streamUp"
  | "logUnreadable";

/** One alert, as the sinks send it (the webhook's JSON body). */
export interface Alert {
  /** Dedupe key, e.g. `tradingState:acc-1:HALTED`, `rejections:code:-2019`, `drawdown:0.1`. */
  key: string;
  kind: AlertKind;
  severity: AlertSeverity;
  /** One line, e.g. `Trading HALTED by operator`. */
  title: string;
  /** The details, one fact per line. */
  text: string;
  /** ms since epoch: the event's market time, or for stream alerts the wall-clock time the caller gave. */
  at: number;
  /** Global log position of the event that raised it (absent for stream alerts). */
  position?: number;
  /** The run (correlation id) of that event (absent for stream alerts). */
  runId?: string;
  /** The numbers behind it (decimal strings, counts, codes). */
  data: Record<string, string | number>;
}

/** What the log rules need (the `alerts` config section's rule keys). */
export interface AlertRulesConfig {
  rejectionBurst: { count: number; windowMs: number };
  /** Ratios in (0, 1) as decimal strings, e.g. ["0.05", "0.1"]. */
  drawdownThresholds: readonly string[];
  /** A ratio in (0, 1) as a decimal string. */
  marginCallRatio: string;
}

const CRITICAL_DRAWDOWN = new Dec("0.2");

/**
 * The fold of the log rules (see the module comment). Feed it every event of the log in order, from the start
 * (the rules keep state: equity peak, rejection windows, margin calls); `apply` answers the alerts that event
 * raises. Deterministic: the same log gives the same alerts.
 */
export class AlertRules {
  readonly #projections: Projections = createProjections({
    audit: false,
    equityCurve: false,
    decisions: false,
    trades: false,
    marketSeries: false,
  });
  readonly #config: AlertRulesConfig;
  readonly #thresholds: Dec[];
  readonly #marginCall: Dec;
  /** Rejection times (market ms) per burst key, oldest first, within the window. */
  readonly #bursts = new Map<string, number[]>();
  /** Burst keys that alerted and still hold `count` rejections in their window. */
  readonly #burstFiring = new Set<string>();
  /** The open positions' sides by symbol (FillBooked's positionAmt, PositionLiquidated). */
  readonly #openSymbols = new Map<string, Set<"BOTH" | "LONG" | "SHORT">>();
  /** Positions (`SYMBOL:SIDE`) whose margin ratio alerted and is still at or above the ratio. */
  readonly #marginCalls = new Set<string>();
  #peak: Dec | null = null;
  /** Whether the event being folded alerts (`apply`) or only builds state (`replay`). */
  #live = true;
  /** Drawdown thresholds (as given) crossed since the last peak. */
  readonly #crossed = new Set<string>();

  /** @throws RangeError for a threshold or ratio outside (0, 1) or a burst count or window below 1. */
  constructor(config: AlertRulesConfig) {
    const ratio = (value: string, what: string): Dec => {
      const d = new Dec(value);
      if (!(d.gt(0) && d.lt(1))) throw new RangeError(`alerts: ${what} must be in (0, 1), got ${value}`);
      return d;
    };
    if (config.rejectionBurst.count < 1 || config.rejectionBurst.windowMs < 1) {
      throw new RangeError("alerts: rejectionBurst.count and rejectionBurst.windowMs must be at least 1");
    }
    this.#config = config;
    this.#thresholds = config.drawdownThresholds.map((t) => ratio(t, "drawdownThresholds"));
    this.#marginCall = ratio(config.marginCallRatio, "marginCallRatio");
  }

  /** Folds `event` (the next in global order) and answers the alerts it raises, in a fixed order. */
  apply(recorded: RecordedEvent): Alert[] {
    return this.#apply(recorded, true);
  }

  /**
   * Folds an event of the log that was stored before alerting started, raising nothing: every rule's state is
   * kept but the margin calls' (the current margin ratios, costly to compute at every mark), so a position
   * already at or above the ratio alerts at its first later mark or booking.
   */
  replay(recorded: RecordedEvent): void {
    this.#apply(recorded, false);
  }

  #apply(recorded: RecordedEvent, live: boolean): Alert[] {
    this.#live = live;
    this.#projections.apply(recorded);
    const event = recorded as AnyRecordedEvent;
    const at = event.metadata.eventTime;
    const base = { at, position: event.position, runId: event.metadata.correlationId };
    switch (event.type) {
      case "TradingStateChanged": {
        const { accountId, from, to, by, reason, numbers } = event.data;
        const severity: AlertSeverity = to === "HALTED" ? "critical" : to === "REDUCING" ? "warning" : "info";
        return [
          {
            ...base,
            // Each change is news (halt, resume, halt again: three alerts); only a re-read of one event dedupes.
            key: `tradingState:${accountId}:${to}:${event.eventId}`,
            kind: "tradingState",
            severity,
            title: `Trading ${to} (was ${from}) by ${by}`,
            text: lines({ reason, account: accountId, ...numbers }),
            data: { accountId, from, to, by, reason, ...numbers },
          },
        ];
      }
      case "PositionLiquidated": {
        const d = event.data;
        this.#setOpen(d.symbol, d.positionSide, false);
        const figures = {
          positionAmt: d.positionAmt,
          markPrice: d.markPrice,
          liquidationPrice: d.liquidationPrice,
          realizedPnl: d.realizedPnl,
          clearanceFee: d.clearanceFee,
          walletBalance: d.walletBalance,
        };
        return [
          {
            ...base,
            key: `liquidation:${d.symbol}:${d.positionSide}:${d.clientOrderId}`,
            kind: "liquidation",
            severity: "critical",
            title: `${d.symbol} ${d.positionSide} position liquidated`,
            text: lines(figures),
            data: { symbol: d.symbol, positionSide: d.positionSide, ...figures },
          },
          ...this.#equityAlerts(base),
        ];
      }
      case "VenueReconciled": {
        const { accountId, trigger, recovered, discrepancies } = event.data;
        if (discrepancies.length === 0) return [];
        const kinds = [...new Set(discrepancies.map((d) => d.kind))].sort();
        return [
          {
            ...base,
            key: `reconciliation:${accountId}:${kinds.join(",")}`,
            kind: "reconciliation",
            severity: "warning",
            title: `Reconciliation found ${discrepancies.length} discrepanc${discrepancies.length === 1 ? "y" : "ies"}`,
            text: [`trigger: ${trigger}`, ...discrepancies.map((d) => `${d.kind}: ${d.detail}`)].join("\n"),
            data: {
              accountId,
              trigger,
              recovered,
              discrepancies: discrepancies.length,
              kinds: kinds.join(","),
            },
          },
        ];
      }
      case "OrderRejected":
        return this.#burst(`code:${event.data.code}`, at, base, `code ${event.data.code}`, event.data.reason);
      case "OrderDenied":
        return this.#burst(`rule:${event.data.rule}`, at, base, `rule ${event.data.rule}`, event.data.reason);
      case "MarketDataGapDetected": {
        const { symbol, fromOpenTime, toOpenTime, missingBars } = event.data;
        return [
          {
            ...base,
            key: `gap:${symbol}`,
            kind: "marketDataGap",
            severity: "warning",
            title: `${symbol}: ${missingBars} bar${missingBars === 1 ? "" : "s"} missing`,
            text: lines({ from: iso(fromOpenTime), to: iso(toOpenTime) }),
            data: { symbol, fromOpenTime, toOpenTime, missingBars },
          },
        ];
      }
      case "BarClosed":
        // A mark moves equity and margin ratios only through an open position of its symbol.
        return this.#openSymbols.has(event.data.symbol) ? this.#equityAlerts(base) : [];
      case "FillBooked": {
        const { symbol, positionSide, positionAmt } = event.data;
        this.#setOpen(symbol, positionSide ?? "BOTH", !new Dec(positionAmt).isZero());
        return this.#equityAlerts(base);
      }
      case "AccountOpened": // the first equity: the drawdown's first peak
      case "FundingFeeBooked":
        return this.#equityAlerts(base);
      default:
        return [];
    }
  }

  /** Records one rejection under `key` and answers the burst alert when it completes one. */
  #burst(key: string, at: number, base: AlertBase, what: string, reason: string): Alert[] {
    const { count, windowMs } = this.#config.rejectionBurst;
    const times = this.#bursts.get(key) ?? [];
    times.push(at);
    while (times.length > 0 && times[0]! <= at - windowMs) times.shift();
    this.#bursts.set(key, times);
    if (times.length < count) {
      this.#burstFiring.delete(key);
      return [];
    }
    if (this.#burstFiring.has(key)) return [];
    this.#burstFiring.add(key);
    return [
      {
        ...base,
        key: `rejections:${key}`,
        kind: "rejectionBurst",
        severity: "warning",
        title: `${times.length} orders refused (${what}) within ${windowMs / 1000} s`,
        text: lines({ last: reason }),
        data: { key, count: times.length, windowMs, reason },
      },
    ];
  }

  /** Records whether position `symbol`:`side` is open. */
  #setOpen(symbol: string, side: "BOTH" | "LONG" | "SHORT", open: boolean): void {
    const sides = this.#openSymbols.get(symbol) ?? new Set<"BOTH" | "LONG" | "SHORT">();
    if (open) sides.add(side);
    else sides.delete(side);
    if (sides.size > 0) this.#openSymbols.set(symbol, sides);
    else this.#openSymbols.delete(symbol);
  }

  /**
   * Margin calls and drawdown thresholds at the projections' current marks and bookings. Called at bookings and
   * at the marks of symbols with an open position: equity and margin ratios change nowhere else.
   */
  #equityAlerts(base: AlertBase): Alert[] {
    const alerts: Alert[] = [];
    const open = !this.#live
      ? []
      : [...this.#openSymbols].flatMap(([symbol, sides]) =>
          [...sides].map((side) => this.#projections.position(symbol, side)!),
        );
    const seen = new Set<string>();
    for (const p of open) {
      const id = `${p.symbol}:${p.positionSide ?? "BOTH"}`;
      seen.add(id);
      if (p.marginRatio === null || new Dec(p.marginRatio).lt(this.#marginCall)) {
        this.#marginCalls.delete(id);
        continue;
      }
      if (this.#marginCalls.has(id)) continue;
      this.#marginCalls.add(id);
      alerts.push({
        ...base,
        key: `marginCall:${id}`,
        kind: "marginCall",
        severity: "warning",
        title: `${p.symbol} ${p.side} margin ratio ${percent(p.marginRatio)}`,
        text: lines({
          marginRatio: p.marginRatio,
          marginCallRatio: this.#config.marginCallRatio,
          markPrice: p.markPrice ?? "",
          liquidationPrice: p.liquidationPrice ?? "",
          positionAmt: p.positionAmt,
        }),
        data: {
          symbol: p.symbol,
          side: p.side,
          marginRatio: p.marginRatio,
          positionAmt: p.positionAmt,
          ...(p.liquidationPrice === null ? {} : { liquidationPrice: p.liquidationPrice }),
        },
      });
    }
    if (this.#live) for (const id of this.#marginCalls) if (!seen.has(id)) this.#marginCalls.delete(id);

    const pnl = this.#projections.pnl();
    if (pnl.initialBalance === null) return alerts;
    const equity = new Dec(pnl.equity);
    if (this.#peak === null || equity.gte(this.#peak)) {
      this.#peak = equity;
      this.#crossed.clear();
      return alerts;
    }
    if (this.#peak.lte(0)) return alerts;
    const drawdown = this.#peak.minus(equity).div(this.#peak);
    this.#thresholds.forEach((threshold, i) => {
      const given = this.#config.drawdownThresholds[i]!;
      if (drawdown.lt(threshold) || this.#crossed.has(given)) return;
      this.#crossed.add(given);
      const ratio = drawdown.toDecimalPlaces(8).toFixed();
      alerts.push({
        ...base,
        key: `drawdown:${given}`,
        kind: "drawdown",
        severity: threshold.gte(CRITICAL_DRAWDOWN) ? "critical" : "warning",
        title: `Drawdown ${percent(ratio)} (threshold ${percent(given)})`,
        text: lines({ equity: pnl.equity, peak: this.#peak!.toFixed(), drawdown: ratio }),
        data: { threshold: given, drawdown: ratio, equity: pnl.equity, peak: this.#peak!.toFixed() },
      });
    });
    return alerts;
  }
}

type AlertBase = Pick<Alert, "at" | "position" | "runId">;

/**
 * The market stream's outage rule: `down(at)` when the feed lost its connection, `up(at)` when it is back;
 * `check(now)` answers a critical `streamDown` alert once an outage has lasted `downMs`, once per outage, and
 * `up` an info `streamUp` alert when that outage had alerted. Times are ms from the caller's clock.
 */
export class StreamWatch {
  #downSince: number | null = null;
  #alerted = false;

  /** @throws RangeError for downMs below 1. */
  constructor(readonly downMs: number) {
    if (!(downMs >= 1)) throw new RangeError(`alerts: streamDownMs must be at least 1, got ${downMs}`);
  }

  /** The stream lost its connection at `at` (a repeated `down` keeps the first time). */
  down(at: number): void {
    if (this.#downSince === null) this.#downSince = at;
  }

  /** The stream is connected again at `at`. */
  up(at: number): Alert[] {
    const since = this.#downSince;
    const alerted = this.#alerted;
    this.#downSince = null;
    this.#alerted = false;
    if (since === null || !alerted) return [];
    return [
      {
        key: "stream:up",
        kind: "streamUp",
        severity: "info",
        title: `Market stream back after ${seconds(at - since)}`,
        text: lines({ down: iso(since), up: iso(at) }),
        at,
        data: { downSince: since, downMs: at - since },
      },
    ];
  }

  /** The outage alert when the stream has been down for `downMs` at `now`, once per outage. */
  check(now: number): Alert[] {
    const since = this.#downSince;
    if (since === null || this.#alerted || now - since < this.downMs) return [];
    this.#alerted = true;
    return [
      {
        key: "stream:down",
        kind: "streamDown",
        severity: "critical",
        title: `Market stream down for ${seconds(now - since)}`,
        text: lines({ since: iso(since), threshold: seconds(this.downMs) }),
        at: now,
        data: { downSince: since, downMs: now - since },
      },
    ];
  }
}

/** An alert as plain text (title, then its details): what Telegram shows. */
export function alertText(alert: Alert): string {
  const marker = alert.severity === "critical" ? "🔴" : alert.severity === "warning" ? "🟠" : "🔵";
  const run = alert.runId === undefined ? [] : [`run: ${alert.runId}`];
  return [`${marker} ${alert.title}`, alert.text, `at: ${iso(alert.at)}`, ...run]
    .filter((l) => l !== "")
    .join("\n");
}

function lines(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function percent(ratio: string): string {
  return `${new Dec(ratio).times(100).toDecimalPlaces(2).toFixed()} %`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
