/**
 * GET /metrics on a real-data sma-cross backtest (BTCUSDT 2025-06-01..02): the metric fold's counters equal
 * counts taken directly from the log, the route's Prometheus text carries them (and the projections' equity,
 * drawdown, trading state) with the same values, the read token guards it, and a served store's metrics follow
 * events appended live.
 */
import { readFileSync } from "node:fs";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { ProcessMetrics } from "../src/adapters/http/process-metrics.ts";
import { buildHttpServer, serveProjections } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { deterministicEventId } from "../src/events/ids.ts";
import { streams } from "../src/events/streams.ts";
import { type Projections, rebuildProjections } from "../src/projections/index.ts";
import { labelKey, metricFamilies, metricFamilyDefs } from "../src/projections/metrics.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("GET /metrics on a BTCUSDT 2025-06-01..02 sma-cross backtest");
const logger = pino({ level: "silent" });
const READ = "read-token-metrics-0123456789";

/** Counts of `key(event)` over the events `key` maps to a string. */
function countBy(
  events: RecordedEvent[],
  key: (e: RecordedEvent) => string | undefined,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    const k = key(e);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** A sample of the text format: `name{a="x",b="y"} value`. */
interface Line {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format's sample lines (comments skipped); throws on a line it cannot read. */
function parseExposition(text: string): { samples: Line[]; types: Record<string, string> } {
  const samples: Line[] = [];
  const types: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types[type[1]!] = type[2]!;
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** The sample values of family `name` keyed by their label values joined by a space. */
function valuesOf(samples: Line[], name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples.filter((x) => x.name === name)) out[Object.values(s.labels).join(" ")] = s.value;
  return out;
}

describe.skipIf(!root)("metrics of a real-data backtest", () => {
  const store = new InMemoryEventStore();
  let events: RecordedEvent[];
  let projections: Projections;
  beforeAll(async () => {
    const config = BacktestConfigSchema.parse({ symbols: ["BTCUSDT"], from: "2025-06-01", to: "2025-06-02" });
    await runBacktest(config, { store, dataRoot: root!, logger });
    events = [];
    for await (const e of store.readAll()) events.push(e);
    projections = await rebuildProjections(store.readAll());
  }, 120_000);

  it("the fold's counters equal counts taken directly from the log", () => {
    const c = projections.metricCounts();
    expect(Object.values(c.eventsByType).reduce((a, b) => a + b, 0)).toBe(events.length);
    expect(c.eventsByType).toEqual(countBy(events, (e) => e.type));
    const bars = events.filter((e) => e.type === "BarClosed") as RecordedEvent<{
      type: "BarClosed";
      data: EventData<"BarClosed">;
    }>[];
    expect(bars.length).toBeGreaterThan(1000);
    expect(c.barsBySymbol).toEqual({ BTCUSDT: bars.length });
    expect(c.lastBarCloseTime).toEqual({ BTCUSDT: bars.at(-1)!.data.closeTime });
    const data = (e: RecordedEvent) => e.data as Record<string, unknown>;
    const submitted = countBy(events, (e) =>
      e.type === "OrderSubmitted" ? String(data(e)["type"]) : undefined,
    );
    expect(Object.keys(submitted).length).toBeGreaterThan(0);
    expect(c.submittedByType).toEqual(submitted);
    const fills = countBy(events, (e) =>
      e.type === "OrderFilled"
        ? labelKey(String(data(e)["symbol"]), data(e)["maker"] ? "maker" : "taker")
        : undefined,
    );
    expect(Object.values(fills).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(c.fillsBySymbolLiquidity).toEqual(fills);
    expect(c.rejectionsByCode).toEqual(
      countBy(events, (e) => (e.type === "OrderRejected" ? String(data(e)["code"]) : undefined)),
    );
    const denials = countBy(events, (e) => (e.type === "OrderDenied" ? String(data(e)["rule"]) : undefined));
    expect(
      Object.fromEntries(
        metricFamilies(projections).perpsource_order_denials_total.map((s) => [
          s.labels["rule"],
          Number(s.value),
        ]),
      ),
    ).toEqual(denials);
    expect(c.reconciliationsByTrigger).toEqual({}); // a backtest has no venue to reconcile with
  });

  it("the families agree with the projections: orders by type and status, equity, drawdown, trading state", () => {
    const f = metricFamilies(projections);
    expect(Object.keys(f).sort()).toEqual(metricFamilyDefs.map((d) => d.name).sort());
    const orders = projections.orders().orders;
    const total = f.perpsource_orders.reduce((n, s) => n + Number(s.value), 0);
    expect(total).toBe(orders.length);
    for (const s of f.perpsource_orders) {
      const n = orders.filter((o) => o.type === s.labels["type"] && o.status === s.labels["status"]).length;
      expect(Number(s.value), JSON.stringify(s.labels)).toBe(n);
    }
    const pnl = projections.pnl();
    expect(f.perpsource_equity_usdt).toEqual([{ labels: {}, value: pnl.equity }]);
    expect(f.perpsource_max_drawdown_usdt).toEqual([{ labels: {}, value: pnl.maxDrawdown }]);
    const risk = projections.risk();
    const drawdown = Number(risk.peakEquity) - Number(pnl.equity);
    expect(Number(f.perpsource_drawdown_usdt[0]!.value)).toBeCloseTo(drawdown, 6);
    expect(Number(f.perpsource_drawdown_usdt[0]!.value)).toBeGreaterThanOrEqual(0);
    const states = Object.fromEntries(f.perpsource_trading_state.map((s) => [s.labels["state"], s.value]));
    expect(risk.tradingState).not.toBeNull();
    expect(states).toEqual({ ACTIVE: "0", REDUCING: "0", HALTED: "0", [risk.tradingState!]: "1" });
    const lastBar = projections.metricCounts().lastBarCloseTime["BTCUSDT"]!;
    expect(Number(f.perpsource_bar_lag_seconds[0]!.value)).toBe(
      (projections.lastEventTime()! - lastBar) / 1000,
    );
  });

  it("GET /metrics serves them in the Prometheus text format, with the process metrics, behind the read token", async () => {
    const app = buildHttpServer({ store, projections, readToken: READ });
    await app.ready();
    expect((await app.inject("/metrics")).statusCode).toBe(401);
    const res = await app.inject({ url: "/metrics", headers: { authorization: `Bearer ${READ}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(res.body);
    for (const def of metricFamilyDefs) expect(types[def.name], def.name).toBe(def.type);
    expect(types["process_cpu_user_seconds_total"]).toBe("counter");
    expect(types["nodejs_eventloop_lag_seconds"]).toBe("gauge");
    expect(valuesOf(samples, "perpsource_events_total")).toEqual(countBy(events, (e) => e.type));
    expect(valuesOf(samples, "perpsource_bars_total")).toEqual({ BTCUSDT: projections.bars() });
    expect(valuesOf(samples, "perpsource_log_position")).toEqual({ "": projections.lastPosition() });
    expect(valuesOf(samples, "perpsource_equity_usdt")).toEqual({ "": Number(projections.pnl().equity) });
    const f = metricFamilies(projections);
    for (const name of [
      "perpsource_orders",
      "perpsource_fills_total",
      "perpsource_order_denials_total",
    ] as const) {
      expect(valuesOf(samples, name), name).toEqual(
        Object.fromEntries(f[name].map((s) => [Object.values(s.labels).join(" "), Number(s.value)])),
      );
    }
    expect(valuesOf(samples, "perpsource_trading_state")[projections.risk().tradingState!]).toBe(1);
    expect(
      (await app.inject({ url: "/metrics?x=1", headers: { authorization: `Bearer ${READ}` } })).statusCode,
    ).toBe(400);
    await app.close();
  });

  it("a served store's metrics follow the events appended to it", async () => {
    const served = await serveProjections({ store, host: "127.0.0.1", port: 0, logger });
    try {
      const scrape = async () => parseExposition(await (await fetch(`${served.url}/metrics`)).text()).samples;
      const before = valuesOf(await scrape(), "perpsource_bars_total")["BTCUSDT"]!;
      expect(before).toBe(projections.bars());
      const last = projections.metricCounts().lastBarCloseTime["BTCUSDT"]!;
      const stream = streams.symbol("BTCUSDT");
      const revision = (await store.streamRevision(stream))!;
      const openTime = last + 1;
      const bar: EventData<"BarClosed"> = {
        symbol: "BTCUSDT",
        interval: "1m",
        openTime,
        closeTime: openTime + 59_999,
        open: "100000",
        high: "100000",
        low: "100000",
        close: "100000",
        volume: "1",
      };
      await store.append(
        stream,
        [
          {
            eventId: deterministicEventId("metrics-test", stream, revision + 1),
            type: "BarClosed",
            data: bar,
            metadata: { correlationId: "metrics-test", causationId: "test", eventTime: bar.closeTime },
          },
        ],
        revision,
      );
      let after = before;
      for (let i = 0; i < 50 && after === before; i++) {
        await new Promise((r) => setTimeout(r, 20));
        after = valuesOf(await scrape(), "perpsource_bars_total")["BTCUSDT"]!;
      }
      expect(after).toBe(before + 1);
      const samples = await scrape();
      expect(valuesOf(samples, "perpsource_last_bar_close_time_seconds")["BTCUSDT"]).toBe(
        bar.closeTime / 1000,
      );
      expect(valuesOf(samples, "perpsource_bar_lag_seconds")["BTCUSDT"]).toBe(0);
    } finally {
      await served.close();
    }
  });
});

describe("metrics of the risk engine and the venue's reconciliations", () => {
  let position = 0;
  const revisions: Record<string, number> = {};
  /** A recorded event of the `risk-main` stream at market time `t`. */
  const recorded = <T extends "RiskLimitsSet" | "TradingStateChanged" | "VenueReconciled">(
    type: T,
    data: EventData<T>,
    t: number,
  ): RecordedEvent => {
    position++;
    const stream = streams.risk("main");
    const revision = revisions[stream] ?? 0;
    revisions[stream] = revision + 1;
    return {
      stream,
      revision,
      position,
      eventId: deterministicEventId("metrics-risk", stream, position),
      type,
      data,
      metadata: { correlationId: "metrics-risk", causationId: "test", eventTime: t },
    } as RecordedEvent;
  };

  it("counts reconciliations by trigger, discrepancies by kind and state changes; one state gauge is 1", async () => {
    const T = 1_748_736_000_000;
    const projections = await rebuildProjections(
      (async function* () {
        yield recorded("RiskLimitsSet", { accountId: "main", limits: { maxLeverage: "3" } }, T);
        yield recorded(
          "VenueReconciled",
          { accountId: "main", trigger: "start", recovered: 0, discrepancies: [] },
          T,
        );
        yield recorded(
          "VenueReconciled",
          {
            accountId: "main",
            trigger: "resync",
            recovered: 2,
            discrepancies: [
              { kind: "unknownOrder", detail: "order x at the venue" },
              { kind: "walletMismatch", detail: "wallet 10 vs 11" },
            ],
          },
          T + 60_000,
        );
        yield recorded(
          "TradingStateChanged",
          {
            accountId: "main",
            from: "ACTIVE",
            to: "HALTED",
            by: "reconciliation",
            reason: "wallet mismatch",
          },
          T + 60_000,
        );
        yield recorded(
          "VenueReconciled",
          {
            accountId: "main",
            trigger: "resync",
            recovered: 1,
            discrepancies: [{ kind: "walletMismatch", detail: "wallet 11 vs 12" }],
          },
          T + 120_000,
        );
      })(),
    );
    const f = metricFamilies(projections);
    const byLabels = (samples: { labels: Record<string, string>; value: string }[]) =>
      Object.fromEntries(samples.map((s) => [Object.values(s.labels).join(" "), s.value]));
    expect(byLabels(f.perpsource_venue_reconciliations_total)).toEqual({ start: "1", resync: "2" });
    expect(byLabels(f.perpsource_reconciliation_discrepancies_total)).toEqual({
      unknownOrder: "1",
      walletMismatch: "2",
    });
    expect(f.perpsource_reconciliation_recovered_total).toEqual([{ labels: {}, value: "3" }]);
    expect(byLabels(f.perpsource_trading_state_changes_total)).toEqual({ "HALTED reconciliation": "1" });
    expect(byLabels(f.perpsource_trading_state)).toEqual({ ACTIVE: "0", REDUCING: "0", HALTED: "1" });
    expect(f.perpsource_bars_total).toEqual([]);
    expect(f.perpsource_last_event_time_seconds).toEqual([
      { labels: {}, value: String((T + 120_000) / 1000) },
    ]);
  });
});

describe("GET /metrics of an empty store", () => {
  it("declares every family; one without labels and without an event has no sample (not a false 0)", async () => {
    const store = new InMemoryEventStore();
    const app = buildHttpServer({ store, projections: await rebuildProjections(store.readAll()) });
    const res = await app.inject("/metrics");
    expect(res.statusCode).toBe(200);
    const { samples, types } = parseExposition(res.body);
    for (const def of metricFamilyDefs) expect(types[def.name], def.name).toBe(def.type);
    const names = new Set(samples.map((s) => s.name));
    expect(names.has("perpsource_last_event_time_seconds")).toBe(false);
    expect(names.has("perpsource_drawdown_usdt")).toBe(false);
    expect(names.has("perpsource_trading_state")).toBe(false);
    expect(valuesOf(samples, "perpsource_log_position")).toEqual({ "": -1 });
    expect(valuesOf(samples, "perpsource_equity_usdt")).toEqual({ "": 0 });
    await app.close();
  });

  it("every metric docs/grafana-dashboard.json queries is one the route of an appending process exposes", async () => {
    const dashboard = JSON.parse(
      readFileSync(new URL("../docs/grafana-dashboard.json", import.meta.url), "utf8"),
    ) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const store = new InMemoryEventStore();
    const app = buildHttpServer({
      store,
      projections: await rebuildProjections(store.readAll()),
      processMetrics: new ProcessMetrics().registry, // as run --serve, backtest --serve and start serve it
    });
    const { types } = parseExposition((await app.inject("/metrics")).body);
    await app.close();
    // A histogram's series are its name with _bucket, _sum and _count.
    const histogram = (name: string) => /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
    const typeOf = (name: string) =>
      types[name] ?? (types[histogram(name) ?? ""] === "histogram" ? "histogram" : undefined);
    const queried = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => [
        ...t.expr.matchAll(/\b(perpsource_[a-z_]+|process_[a-z_]+|nodejs_[a-z0-9_]+)\b/g),
      ]),
    );
    expect(queried.length).toBeGreaterThan(10);
    for (const [name] of queried) expect(typeOf(name!), name).toBeDefined();
    expect(queried.map(([name]) => name)).toContain("perpsource_store_write_duration_seconds_bucket");
  });
});
