/**
 * The HTML of `perpsource report --out FILE`: one self-contained page (no network) comparing runs side by side,
 * rendered from the same JSON document `--json` prints. Tables are static HTML; every number cell carries the
 * exact JSON value in `data-value` (its text is that value formatted), and the document itself is embedded as
 * `<script type="application/json" id="report-data">`, from which the inlined chart library (TradingView
 * lightweight-charts, standalone build) draws the equity and drawdown curves.
 */
import type { ReportDocument, RunReport } from "../projections/run-report.ts";

type Kind = "money" | "percent" | "ratio" | "count" | "days" | "time";

/** The statistics table's rows: key in `RunReport.stats`, label, how the value is shown. */
const STAT_ROWS: readonly [keyof RunReport["stats"], string, Kind][] = [
  ["startTime", "Start", "time"],
  ["endTime", "End (last equity sample)", "time"],
  ["periodDays", "Period (days)", "ratio"],
  ["totalReturn", "Total return", "percent"],
  ["cagr", "CAGR", "percent"],
  ["volatility", "Volatility (annualised)", "percent"],
  ["sharpe", "Sharpe", "ratio"],
  ["sortino", "Sortino", "ratio"],
  ["calmar", "Calmar", "ratio"],
  ["dailyReturns", "Daily returns", "count"],
  ["maxDrawdown", "Max drawdown (USDT)", "money"],
  ["maxDrawdownRatio", "Max drawdown", "percent"],
  ["maxDrawdownPeakTime", "Max drawdown peak", "time"],
  ["maxDrawdownTroughTime", "Max drawdown trough", "time"],
  ["maxDrawdownRecoveryTime", "Max drawdown recovered", "time"],
  ["maxDrawdownDurationMs", "Max drawdown duration (days)", "days"],
  ["longestUnderwaterMs", "Longest underwater (days)", "days"],
  ["trades", "Closed trades", "count"],
  ["openTrades", "Open trades", "count"],
  ["wins", "Wins", "count"],
  ["losses", "Losses", "count"],
  ["winRate", "Win rate", "percent"],
  ["profitFactor", "Profit factor", "ratio"],
  ["expectancy", "Expectancy (USDT / trade)", "money"],
  ["averageWin", "Average win", "money"],
  ["averageLoss", "Average loss", "money"],
  ["largestWin", "Best trade", "money"],
  ["largestLoss", "Worst trade", "money"],
  ["averageDurationMs", "Average trade (days)", "days"],
  ["grossProfit", "Gross profit (winning trades)", "money"],
  ["grossLoss", "Gross loss (losing trades)", "money"],
  ["exposure", "Exposure", "percent"],
  ["grossPnl", "Gross PnL (realized)", "money"],
  ["fees", "Fees", "money"],
  ["funding", "Funding (received +)", "money"],
  ["liquidationFees", "Liquidation fees", "money"],
  ["feesShareOfGross", "Fees / |gross PnL|", "percent"],
  ["fundingShareOfGross", "Funding / |gross PnL|", "percent"],
];

const ACCOUNT_ROWS: readonly [keyof RunReport["account"], string][] = [
  ["initialBalance", "Initial balance"],
  ["equity", "Final equity"],
  ["netPnl", "Net PnL (realized − costs)"],
  ["unrealizedPnl", "Unrealized PnL"],
  ["realizedPnl", "Realized PnL"],
  ["fees", "Fees"],
  ["funding", "Funding"],
];

const COLORS = ["#2962ff", "#e65100", "#2e7d32", "#8e24aa", "#c62828", "#00838f"];

/** HTML-escapes text for element content and attribute values. */
function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** A value as shown: money to 2 decimals, percents to 2, ratios to 3, days to 2, times as UTC; null as "—". */
export function formatValue(value: unknown, kind: Kind): string {
  if (value === null || value === undefined) return "—";
  switch (kind) {
    case "money":
      return money(String(value));
    case "percent":
      return `${(Number(value) * 100).toFixed(2)} %`;
    case "ratio":
      return Number(value).toFixed(3);
    case "count":
      return String(value);
    case "days":
      return (Number(value) / 86_400_000).toFixed(2);
    case "time":
      return new Date(Number(value)).toISOString().slice(0, 16).replace("T", " ");
  }
}

/** A decimal string rounded half away from zero to 2 decimals, digits grouped by thousands. */
function money(value: string): string {
  const negative = value.startsWith("-");
  const [int = "0", frac = ""] = (negative ? value.slice(1) : value).split(".");
  let cents = BigInt(int + (frac + "000").slice(0, 2));
  if (Number((frac + "000")[2]) >= 5) cents += 1n;
  const digits = cents.toString().padStart(3, "0");
  const whole = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const text = `${whole}.${digits.slice(-2)}`;
  return negative && cents !== 0n ? `-${text}` : text;
}

/** A number cell: the exact JSON value in data-value, formatted text, a sign class for money and percents. */
function cell(value: unknown, kind: Kind, attributes = ""): string {
  const json = escapeHtml(JSON.stringify(value ?? null));
  const sign =
    (kind === "money" || kind === "percent") && value !== null && value !== undefined
      ? String(value).startsWith("-")
        ? ' class="neg"'
        : ""
      : "";
  return `<td${sign} ${attributes} data-value="${json}">${escapeHtml(formatValue(value, kind))}</td>`;
}

function runHeader(doc: ReportDocument): string {
  return doc.runs
    .map(
      (r, i) =>
        `<th style="border-top: 4px solid ${COLORS[i % COLORS.length]}">${runTitle(r)}<br><small>${escapeHtml(r.run.runId)}${r.run.completed ? "" : " (incomplete)"}<br>${escapeHtml(r.store)}</small></th>`,
    )
    .join("");
}

/** The run's label, then the settings in which it differs from the other runs (`key=value`, escaped). */
function runTitle(r: ReportDocument["runs"][number]): string {
  const settings = Object.entries(r.differences).map(([k, v]) => `${k}=${v}`);
  return escapeHtml([r.run.label, ...settings].join(" "));
}

function statisticsTable(doc: ReportDocument): string {
  const account = ACCOUNT_ROWS.map(
    ([key, label]) =>
      `<tr><th>${escapeHtml(label)}</th>${doc.runs.map((r, i) => cell(r.account[key], "money", `data-run="${i}" data-account="${key}"`)).join("")}</tr>`,
  ).join("\n");
  const stats = STAT_ROWS.map(
    ([key, label, kind]) =>
      `<tr><th>${escapeHtml(label)}</th>${doc.runs.map((r, i) => cell(r.stats[key], kind, `data-run="${i}" data-stat="${key}"`)).join("")}</tr>`,
  ).join("\n");
  return `<table class="stats"><thead><tr><th>USDT / statistic</th>${runHeader(doc)}</tr></thead><tbody>\n${account}\n${stats}\n</tbody></table>`;
}

function monthlyTable(doc: ReportDocument): string {
  const months = [...new Set(doc.runs.flatMap((r) => r.monthlyReturns.map((m) => m.month)))].sort();
  const rows = months.map((month) => {
    const cells = doc.runs.map((r, i) => {
      const m = r.monthlyReturns.find((x) => x.month === month);
      return m === undefined
        ? "<td></td>"
        : cell(m.return, "percent", `data-run="${i}" data-month="${month}"`);
    });
    return `<tr><th>${month}</th>${cells.join("")}</tr>`;
  });
  return `<table class="stats"><thead><tr><th>Month (UTC)</th>${runHeader(doc)}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

function symbolTable(run: RunReport, index: number): string {
  const columns: [keyof RunReport["symbols"][number], string, Kind][] = [
    ["trades", "Trades", "count"],
    ["openTrades", "Open", "count"],
    ["wins", "Wins", "count"],
    ["winRate", "Win rate", "percent"],
    ["realizedPnl", "Realized", "money"],
    ["fees", "Fees", "money"],
    ["funding", "Funding", "money"],
    ["liquidationFees", "Liq. fees", "money"],
    ["netPnl", "Net", "money"],
    ["unrealizedPnl", "Unrealized", "money"],
    ["exposure", "Exposure", "percent"],
  ];
  const head = columns.map(([, label]) => `<th>${label}</th>`).join("");
  const rows = run.symbols.map(
    (s) =>
      `<tr><th>${escapeHtml(s.symbol)}</th>${columns.map(([key, , kind]) => cell(s[key], kind, `data-run="${index}" data-symbol="${escapeHtml(s.symbol)}" data-field="${key}"`)).join("")}</tr>`,
  );
  return `<table><thead><tr><th>Symbol</th>${head}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

function tradeTable(run: RunReport, index: number): string {
  const columns: [keyof RunReport["trades"][number], string, Kind | "text"][] = [
    ["symbol", "Symbol", "text"],
    ["side", "Side", "text"],
    ["entryTime", "Entry (UTC)", "time"],
    ["exitTime", "Exit (UTC)", "time"],
    ["entryPrice", "Entry price", "text"],
    ["exitPrice", "Exit price", "text"],
    ["quantity", "Quantity", "text"],
    ["fills", "Fills", "count"],
    ["realizedPnl", "Realized", "money"],
    ["fees", "Fees", "money"],
    ["funding", "Funding", "money"],
    ["netPnl", "Net", "money"],
    ["unrealizedPnl", "Unrealized", "money"],
  ];
  const head = columns.map(([, label]) => `<th>${label}</th>`).join("");
  const rows = run.trades.map((t) => {
    const cells = columns.map(([key, , kind]) => {
      const attributes = `data-run="${index}" data-trade="${t.id}" data-field="${key}"`;
      if (kind !== "text") return cell(t[key], kind, attributes);
      const value = t[key];
      return `<td ${attributes} data-value="${escapeHtml(JSON.stringify(value ?? null))}">${escapeHtml(value === null || value === undefined ? "—" : String(value))}${key === "side" && t.liquidated ? " (liquidated)" : ""}</td>`;
    });
    return `<tr><th>${t.id}${t.open ? " (open)" : ""}</th>${cells.join("")}</tr>`;
  });
  return `<table><thead><tr><th>#</th>${head}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

/** The chart script: equity and drawdown series per run from the embedded document. */
const CHART_SCRIPT = `
(function () {
  var doc = JSON.parse(document.getElementById("report-data").textContent);
  var colors = ${JSON.stringify(COLORS)};
  if (typeof LightweightCharts === "undefined") return;
  function chart(id, value, format) {
    var el = document.getElementById(id);
    var c = LightweightCharts.createChart(el, {
      autoSize: true, layout: { attributionLogo: false }, timeScale: { timeVisible: true },
      localization: { priceFormatter: format }
    });
    doc.runs.forEach(function (run, i) {
      var s = c.addSeries(LightweightCharts.LineSeries, { color: colors[i % colors.length], lineWidth: 2, title: "#" + (i + 1) });
      s.setData(run.curve.points.map(function (p) { return { time: Math.round(p.time / 1000), value: value(p) }; }));
    });
    c.timeScale().fitContent();
  }
  chart("equity-chart", function (p) { return Number(p.equity); }, function (v) { return v.toFixed(2); });
  chart("drawdown-chart", function (p) { return p.drawdown === null ? 0 : -100 * p.drawdown; }, function (v) { return v.toFixed(2) + " %"; });
})();
`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
th:first-child { text-align: left; } thead th { background: #f5f5f5; vertical-align: bottom; }
tbody th { font-weight: normal; color: #444; }
td.neg { color: #c62828; } small { color: #666; font-weight: normal; }
.chart { height: 300px; margin: 0.5em 0 1em; } details { margin: 0.5em 0 1.5em; } summary { cursor: pointer; }
p.note { color: #555; max-width: 60em; }
`;

/**
 * The report page for `doc`. `chartLibrary` is the source of lightweight-charts' standalone build (it defines
 * the global `LightweightCharts`), inlined as is.
 */
export function reportHtml(doc: ReportDocument, chartLibrary: string): string {
  // JSON inside <script>: "<" escaped so no "</script>" can end the block early.
  const data = JSON.stringify(doc).replaceAll("<", "\\u003c");
  const library = chartLibrary.replaceAll("</script", "<\\/script");
  const legend = doc.runs
    .map((r, i) => `<span style="color:${COLORS[i % COLORS.length]}">■</span> #${i + 1} ${runTitle(r)}`)
    .join(" &nbsp; ");
  const perRun = doc.runs
    .map(
      (r, i) => `<h3>#${i + 1} ${runTitle(r)} <small>${escapeHtml(r.run.runId)}</small></h3>
${symbolTable(r, i)}
<details><summary>Trade list: ${r.trades.length} trades</summary>
${tradeTable(r, i)}
</details>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>perpsource report: ${escapeHtml(doc.runs.map((r) => r.run.label).join(" vs "))}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>perpsource backtest report</h1>
<p class="note">${doc.runs.length} run(s). Money in USDT (shown to 2 decimals; each cell's exact value is in its
data-value). ${escapeHtml(doc.conventions)}</p>
<h2>Equity (USDT)</h2>
<p>${legend}</p>
<div id="equity-chart" class="chart"></div>
<h2>Drawdown from peak (%)</h2>
<div id="drawdown-chart" class="chart"></div>
<h2>Statistics</h2>
${statisticsTable(doc)}
<h2>Monthly returns</h2>
${monthlyTable(doc)}
<h2>Per symbol and trades</h2>
${perRun}
<script type="application/json" id="report-data">${data}</script>
<script>${library}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}
