/**
 * `perpsource report` as a user runs it, on real data: two sma-cross backtests (BTCUSDT, and BTCUSDT+ETHUSDT at
 * 20× with 500 USDT margin, 2025-06-01..06-06) into two SQLite stores, then one report of both. The report's
 * figures are the projections' (the backtests' own summaries), the trade list adds up to the run's realized
 * PnL, fees and funding, the HTML shows exactly the numbers of `--json` (embedded document, every statistic
 * cell, the charts' series), and a store that is missing, foreign or empty is refused with exit 2.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runInNewContext } from "node:vm";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEventStore } from "../src/adapters/store/open-store.ts";
import { formatValue } from "../src/cli/report-html.ts";
import { Dec } from "../src/domain/decimal.ts";
import type { ReportDocument } from "../src/projections/run-report.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("perpsource report on two real backtests");
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const WINDOW = ["--from", "2025-06-01", "--to", "2025-06-06"];

function perpsource(args: string[], cwd: string) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_")));
  const r = spawnSync(process.execPath, [BIN, "--log-level", "warn", ...args], {
    cwd,
    env,
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sum = (values: string[]) => values.reduce((acc, v) => acc.plus(v), new Dec(0));
const unescapeHtml = (s: string) =>
  s
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

describe.skipIf(!root)("perpsource report on two backtests", () => {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-report-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const summaries: Record<string, string>[] = [];
  let doc: ReportDocument;
  let html: string;

  beforeAll(() => {
    for (const [file, extra] of [
      ["a.sqlite", ["--symbols", "BTCUSDT"]],
      ["b.sqlite", ["--symbols", "BTCUSDT,ETHUSDT", "--leverage", "20", "--margin", "500"]],
    ] as const) {
      const r = perpsource(
        ["backtest", ...extra, ...WINDOW, "--data", root!, "--store", `sqlite:${file}`, "--json"],
        dir,
      );
      expect(r.code, r.stderr).toBe(0);
      summaries.push(JSON.parse(r.stdout));
    }
    const r = perpsource(
      [
        "report",
        "--store",
        "sqlite:a.sqlite",
        "--store",
        "sqlite:b.sqlite",
        "--out",
        "report.html",
        "--json",
      ],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    doc = JSON.parse(r.stdout);
    html = readFileSync(join(dir, "report.html"), "utf8");
  }, 240_000);

  it("reports each store's run in --store order with the projections' figures", () => {
    expect(doc.runs.map((r) => [r.store, r.run.label, r.run.completed])).toEqual([
      ["sqlite:a.sqlite", "sma-cross BTCUSDT 2025-06-01..2025-06-06", true],
      ["sqlite:b.sqlite", "sma-cross BTCUSDT,ETHUSDT 2025-06-01..2025-06-06", true],
    ]);
    // What tells the runs apart, from their recorded configs; the HTML shows it next to each label.
    expect(doc.runs.map((r) => r.differences)).toEqual([
      { symbols: '["BTCUSDT"]', "smaCross.leverage": "10", "smaCross.marginUsdt": '"1000"' },
      { symbols: '["BTCUSDT","ETHUSDT"]', "smaCross.leverage": "20", "smaCross.marginUsdt": '"500"' },
    ]);
    expect(unescapeHtml(html)).toContain('smaCross.leverage=20 smaCross.marginUsdt="500"');
    doc.runs.forEach((run, i) => {
      const s = summaries[i]!;
      expect(run.account).toMatchObject({
        realizedPnl: s["realizedPnl"],
        fees: s["fees"],
        funding: s["funding"],
        equity: s["equity"],
        unrealizedPnl: s["unrealizedPnl"],
      });
      expect(run.stats.maxDrawdown).toBe(s["maxDrawdown"]);
      expect(run.stats.dailyReturns).toBe(6);
      expect(run.stats.startTime).toBe(Date.UTC(2025, 5, 1));
      expect(run.stats.endTime).toBe(Date.UTC(2025, 5, 7) - 1); // the last 1m bar's closeTime
    });
    expect(doc.runs[0]!.run.runId).not.toBe(doc.runs[1]!.run.runId);
  });

  it("the trade list adds up to the run's realized PnL, fees, funding and net PnL", () => {
    doc.runs.forEach((run, i) => {
      const { trades, account, stats } = run;
      expect(trades.length).toBeGreaterThan(5);
      expect(sum(trades.map((t) => t.realizedPnl)).eq(account.realizedPnl)).toBe(true);
      expect(sum(trades.map((t) => t.fees)).eq(account.fees)).toBe(true);
      expect(sum(trades.map((t) => t.funding)).eq(account.funding)).toBe(true);
      expect(sum(trades.map((t) => t.netPnl)).eq(account.netPnl)).toBe(true);
      // with the open trades' unrealized PnL, the trades make the whole change of equity
      const unrealized = sum(trades.filter((t) => t.open).map((t) => t.unrealizedPnl!));
      expect(
        sum(trades.map((t) => t.netPnl))
          .plus(unrealized)
          .eq(new Dec(account.equity).minus(account.initialBalance)),
      ).toBe(true);
      // sma-cross holds one bracketed trade per symbol and never flips: every fill is in exactly one trade
      expect(trades.reduce((n, t) => n + t.fills, 0)).toBe(Number(summaries[i]!["fills"]));
      expect(stats.trades + stats.openTrades).toBe(trades.length);
      // per symbol, a trade opens only after the previous one closed
      for (const symbol of run.run.symbols) {
        const own = trades.filter((t) => t.symbol === symbol);
        for (let k = 1; k < own.length; k++) expect(own[k]!.entryTime).toBeGreaterThan(own[k - 1]!.exitTime!);
      }
      expect(sum(run.symbols.map((s) => s.realizedPnl)).eq(account.realizedPnl)).toBe(true);
      expect(sum(run.symbols.map((s) => s.netPnl)).eq(account.netPnl)).toBe(true);
      // the statistics follow from the list
      const closed = trades.filter((t) => !t.open);
      expect(stats.wins).toBe(closed.filter((t) => new Dec(t.netPnl).gt(0)).length);
      expect(new Dec(stats.grossProfit).minus(stats.grossLoss).eq(sum(closed.map((t) => t.netPnl)))).toBe(
        true,
      );
      expect(stats.exposure).toBeGreaterThan(0);
      expect(stats.exposure).toBeLessThanOrEqual(1);
      // compounding the monthly returns gives the total return
      const compounded = run.monthlyReturns.reduce((acc, m) => acc * (1 + m.return!), 1) - 1;
      expect(compounded).toBeCloseTo(stats.totalReturn!, 9);
    });
  });

  it("the HTML shows exactly the --json numbers, needs no network, and charts every curve point", () => {
    const embedded = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
    expect(JSON.parse(embedded![1]!)).toEqual(doc);
    // every statistic and account cell: its data-value is the JSON's, its text that value formatted
    const cells = [
      ...html.matchAll(
        /<td[^>]* data-run="(\d+)" data-(stat|account)="(\w+)" data-value="([^"]*)">([^<]*)</g,
      ),
    ];
    expect(cells.length).toBeGreaterThan(2 * 40);
    for (const [, run, kind, key, value, text] of cells) {
      const r = doc.runs[Number(run)]!;
      const expected =
        kind === "stat" ? r.stats[key as keyof typeof r.stats] : r.account[key as keyof typeof r.account];
      expect(JSON.parse(unescapeHtml(value!)), `${kind} ${key}`).toEqual(expected);
      if (key === "maxDrawdownRatio" || key === "sharpe" || kind === "account")
        expect(unescapeHtml(text!)).toBe(
          formatValue(expected, kind === "account" ? "money" : key === "sharpe" ? "ratio" : "percent"),
        );
    }
    // the trade list: one row per trade, its net PnL the JSON's
    const nets = [
      ...html.matchAll(/data-run="(\d+)" data-trade="(\d+)" data-field="netPnl" data-value="([^"]*)"/g),
    ];
    expect(nets.length).toBe(doc.runs[0]!.trades.length + doc.runs[1]!.trades.length);
    for (const [, run, id, value] of nets)
      expect(JSON.parse(unescapeHtml(value!))).toBe(doc.runs[Number(run)]!.trades[Number(id) - 1]!.netPnl);
    // monthly returns
    for (const [, run, month, value] of html.matchAll(
      /data-run="(\d+)" data-month="([\d-]+)" data-value="([^"]*)"/g,
    ))
      expect(JSON.parse(unescapeHtml(value!))).toBe(
        doc.runs[Number(run)]!.monthlyReturns.find((m) => m.month === month)!.return,
      );

    // self-contained: lightweight-charts inlined, nothing loaded from elsewhere
    expect(html).toContain("TradingView Lightweight Charts™ v5");
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]*\s(src|href)=/);

    // the page's chart script draws one equity and one drawdown series per run with every curve point
    const scripts = [...html.matchAll(/<script>(.*?)<\/script>/gs)].map((m) => m[1]!);
    const series: Record<string, { title: string; data: { time: number; value: number }[] }[]> = {};
    const LightweightCharts = {
      LineSeries: "Line",
      createChart: (el: { id: string }) => {
        series[el.id] = [];
        return {
          addSeries: (_type: string, options: { title: string }) => {
            const s = { title: options.title, data: [] as { time: number; value: number }[] };
            series[el.id]!.push(s);
            return {
              setData: (data: { time: number; value: number }[]) => {
                s.data = data;
              },
            };
          },
          timeScale: () => ({ fitContent: () => undefined }),
        };
      },
    };
    const document = {
      getElementById: (id: string) => (id === "report-data" ? { textContent: embedded![1] } : { id }),
    };
    runInNewContext(scripts.at(-1)!, { document, LightweightCharts });
    expect(Object.keys(series).sort()).toEqual(["drawdown-chart", "equity-chart"]);
    doc.runs.forEach((run, i) => {
      const equity = series["equity-chart"]![i]!.data;
      expect(equity.length).toBe(run.curve.points.length);
      expect(equity.map((p) => p.value)).toEqual(run.curve.points.map((p) => Number(p.equity)));
      for (let k = 1; k < equity.length; k++) expect(equity[k]!.time).toBeGreaterThan(equity[k - 1]!.time);
      // the deepest fall in % is at least the largest fall in USDT's share of its peak
      const deepest = Math.min(...series["drawdown-chart"]![i]!.data.map((p) => p.value));
      expect(deepest).toBeLessThan(0);
      expect(deepest).toBeLessThanOrEqual(-100 * run.stats.maxDrawdownRatio! + 1e-9);
    });
  });

  it("refuses a missing, foreign or empty store with exit 2, naming it, and writes nothing", async () => {
    const foreign = join(dir, "crm.sqlite");
    const db = new Database(foreign);
    db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
    db.close();
    const empty = await openEventStore(`sqlite:${join(dir, "empty.sqlite")}`);
    await empty.close();
    for (const [store, message] of [
      ["sqlite:crm.sqlite", `store sqlite:crm.sqlite: ${foreign} is not a perpsource event store`],
      ["sqlite:empty.sqlite", "store sqlite:empty.sqlite is empty: it holds no run"],
      ["sqlite:missing.sqlite", "error: store sqlite:missing.sqlite not found"],
    ]) {
      const r = perpsource(
        ["report", "--store", "sqlite:a.sqlite", "--store", store!, "--out", "bad.html"],
        dir,
      );
      expect(r.code, store).toBe(2);
      expect(r.stderr).toContain(message);
      expect(existsSync(join(dir, "bad.html"))).toBe(false);
    }
    expect(perpsource(["report", "--store", "sqlite:a.sqlite"], dir)).toMatchObject({ code: 2 });
    expect(perpsource(["report", "--json"], dir)).toMatchObject({ code: 2 });
  });
});
