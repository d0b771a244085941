// The dashboard's views: the charts (lightweight-charts) and the tables, each loaded from its route.
import { $, api, state } from "./api.js";
import { cell, cut, fillTable, pct, signClass, utc } from "./format.js";
import { showTrace } from "./trace.js";

const { createChart, LineSeries, AreaSeries, CandlestickSeries, createSeriesMarkers } =
  window.LightweightCharts;
const OPEN_STATUSES = ["PENDING_NEW", "NEW", "TRIGGERING", "TRIGGERED", "PARTIALLY_FILLED"];

/** The views' own choices: the price chart's symbol, and the charts to fit to their data at their next load. */
export const view = {
  symbol: null,
  /** A live refresh keeps the user's zoom and scroll; a new symbol, interval or asOf fits again. */
  fit: { equity: true, price: true },
};

// ── charts ──────────────────────────────────────────────────────────────────────────────────────────────────

const chartOptions = {
  autoSize: true,
  layout: { background: { color: "#ffffff" }, textColor: "#1d2330", fontSize: 11 },
  grid: { vertLines: { color: "#f0f2f5" }, horzLines: { color: "#f0f2f5" } },
  timeScale: { timeVisible: true, secondsVisible: false },
  rightPriceScale: { borderVisible: false },
};
const equityChart = createChart($("equity-chart"), chartOptions);
const equitySeries = equityChart.addSeries(LineSeries, { color: "#2962ff", lineWidth: 2, title: "equity" });
const drawdownSeries = equityChart.addSeries(
  AreaSeries,
  {
    lineColor: "#c23b3b",
    topColor: "rgba(194,59,59,0.05)",
    bottomColor: "rgba(194,59,59,0.35)",
    lineWidth: 1,
    title: "drawdown %",
    invertFilledArea: true,
  },
  1,
);
equityChart.panes()[1]?.setHeight(100);
const priceChart = createChart($("price-chart"), chartOptions);
const priceSeries = priceChart.addSeries(CandlestickSeries, {
  upColor: "#0f8a5f",
  downColor: "#c23b3b",
  wickUpColor: "#0f8a5f",
  wickDownColor: "#c23b3b",
  borderVisible: false,
});
const priceMarkers = createSeriesMarkers(priceSeries, []);
const seconds = (ms) => Math.floor(ms / 1000);

// ── views ───────────────────────────────────────────────────────────────────────────────────────────────────

async function loadPnl() {
  const { body, position } = await api("/pnl", { interval: "1m", maxPoints: 2000 });
  const points = body.equityCurve.points;
  let peak = Number.NEGATIVE_INFINITY;
  const equity = [];
  const drawdown = [];
  for (const p of points) {
    const value = Number(p.equity);
    peak = Math.max(peak, value);
    equity.push({ time: seconds(p.time), value });
    drawdown.push({ time: seconds(p.time), value: peak > 0 ? ((value - peak) / peak) * 100 : 0 });
  }
  equitySeries.setData(equity);
  drawdownSeries.setData(drawdown);
  if (view.fit.equity) equityChart.timeScale().fitContent();
  view.fit.equity = false;
  $("equity-chart").dataset.points = String(equitySeries.data().length);
  $("equity-note").textContent =
    `${points.length} of ${body.equityCurve.totalPoints} samples` +
    (body.equityCurve.downsampled ? " (downsampled)" : "");
  const cards = [
    ["Equity", body.equity],
    ["Wallet", body.walletBalance],
    ["Net PnL", body.netPnl, true],
    ["Realized", body.realizedPnl, true],
    ["Unrealized", body.unrealizedPnl, true],
    ["Fees", body.fees],
    ["Funding", body.funding, true],
    ["Max drawdown", body.maxDrawdown],
    ["Max drawdown %", body.maxDrawdownRatio === null ? null : pct(body.maxDrawdownRatio)],
    ["Fills", String(body.fills)],
  ];
  $("summary").replaceChildren(
    ...cards.map(([label, value, signed]) => {
      const div = document.createElement("div");
      div.className = "card";
      const l = document.createElement("div");
      l.className = "label";
      l.textContent = label;
      const v = document.createElement("div");
      v.className = `value ${signed ? signClass(value) : ""}`;
      v.textContent = value === null ? "—" : value.endsWith?.(" %") ? value : cut(value, 2);
      div.append(l, v);
      return div;
    }),
  );
  showPosition(position);
}

function showPosition(position) {
  const where = position === null || position === "none" ? "an empty log" : `position ${position}`;
  $("shown").textContent = state.asOf === null ? `live · ${where}` : `as of ${where}`;
  $("shown").dataset.position = position ?? "";
}

export async function loadPrice() {
  const interval = $("interval").value;
  const { body } = await api("/bars", { symbol: view.symbol ?? undefined, interval, maxPoints: 1500 });
  const select = $("symbol");
  if (select.options.length !== body.symbols.length) {
    select.replaceChildren(...body.symbols.map((s) => new Option(s, s)));
  }
  view.symbol = body.symbol;
  if (body.symbol) select.value = body.symbol;
  const bars = body.bars.map((b) => ({
    time: seconds(b.time),
    open: Number(b.open),
    high: Number(b.high),
    low: Number(b.low),
    close: Number(b.close),
  }));
  priceSeries.setData(bars);
  $("price-chart").dataset.points = String(priceSeries.data().length);
  $("price-note").textContent =
    `${body.bars.length} bars` + (body.barsPerPoint > 1 ? ` (${body.barsPerPoint} × ${interval} each)` : "");
  if (!body.symbol) {
    priceMarkers.setMarkers([]);
    return;
  }
  const { body: fills } = await api("/fills", { symbol: body.symbol, limit: 1000 });
  priceMarkers.setMarkers(markersOf(fills.fills, bars));
  if (view.fit.price) priceChart.timeScale().fitContent();
  view.fit.price = false;
}

/** Entry and exit markers of `fills` (newest first) on `bars` (each at the bar holding its time). */
function markersOf(fills, bars) {
  const times = bars.map((b) => b.time);
  const barTime = (t) => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? null : times[lo - 1];
  };
  const markers = [];
  for (const f of [...fills].reverse()) {
    const time = barTime(seconds(f.time));
    if (time === null) continue;
    const after = Number(f.positionAmt);
    const before = after - (f.side === "BUY" ? 1 : -1) * Number(f.quantity);
    const entry = Math.abs(after) > Math.abs(before);
    markers.push(
      entry
        ? {
            time,
            position: f.side === "BUY" ? "belowBar" : "aboveBar",
            shape: f.side === "BUY" ? "arrowUp" : "arrowDown",
            color: f.side === "BUY" ? "#0f8a5f" : "#c23b3b",
            text: f.side === "BUY" ? "long" : "short",
          }
        : {
            time,
            position: f.side === "BUY" ? "belowBar" : "aboveBar",
            shape: "circle",
            color: f.liquidation ? "#000000" : "#2962ff",
            text: f.liquidation ? "liq" : "exit",
          },
    );
  }
  // Many markers: shapes and colours only (text labels would overlap), a liquidation still says so.
  if (markers.length > MARKER_LABELS_UP_TO) {
    for (const m of markers) if (m.text !== "liq") delete m.text;
  }
  return markers;
}

/** Markers on the price chart above which their text labels are left out. */
const MARKER_LABELS_UP_TO = 60;

async function loadPositions() {
  const { body } = await api("/positions");
  fillTable("positions", body.positions, (p) => [
    cell(p.positionSide ? `${p.symbol} ${p.positionSide}` : p.symbol),
    cell(p.side),
    cell(cut(p.positionAmt, 6)),
    cell(cut(p.entryPrice, 2)),
    cell(cut(p.markPrice, 2)),
    cell(cut(p.unrealizedPnl, 2), signClass(p.unrealizedPnl)),
    cell(cut(p.liquidationPrice, 2)),
    cell(p.marginRatio === null ? "—" : pct(p.marginRatio)),
    cell(`${p.leverage}× ${p.marginType === "ISOLATED" ? "iso" : "cross"}`),
  ]);
}

async function loadRisk() {
  const { body } = await api("/risk");
  const badge = $("trading-state");
  badge.textContent = body.tradingState ?? "no run";
  badge.className = `badge ${body.tradingState ?? ""}`;
  const figures = [
    ["Equity", cut(body.equity, 2)],
    ["Gross exposure", cut(body.grossExposure, 2)],
    ["Net exposure", cut(body.netExposure, 2)],
    ["Leverage", body.leverage === null ? "—" : cut(body.leverage, 2)],
    ["Peak equity", cut(body.peakEquity, 2)],
    ["Realized today", cut(body.realizedToday, 2)],
    ["Orders denied", String(body.ordersDenied)],
    ["State changes", String(body.stateChanges)],
  ];
  if (body.lastStateChange) {
    const c = body.lastStateChange;
    figures.push(["Last change", `${c.from} → ${c.to} by ${c.by} (${c.reason}) ${utc(c.time)}`]);
  }
  $("risk-figures").replaceChildren(
    ...figures.map(([k, v]) => {
      const div = document.createElement("div");
      const a = document.createElement("span");
      a.textContent = k;
      const b = document.createElement("span");
      b.textContent = v;
      div.append(a, b);
      return div;
    }),
  );
  fillTable("limits", body.limits, (l) => [
    cell(l.name),
    cell(l.limit === null ? "off" : String(l.limit)),
    cell(l.use === null ? "—" : cut(l.use, 4)),
  ]);
}

async function loadOpenOrders() {
  const pages = await Promise.all(OPEN_STATUSES.map((status) => api("/orders", { status, limit: 1000 })));
  const orders = pages.flatMap((p) => p.body.orders).sort((a, b) => a.submitTime - b.submitTime);
  fillTable(
    "open-orders",
    orders,
    (o) => [
      cell(utc(o.submitTime)),
      cell(o.clientOrderId),
      cell(o.symbol),
      cell(o.side),
      cell(o.type),
      cell(o.purpose),
      cell(cut(o.quantity, 6)),
      cell(cut(o.price ?? o.triggerPrice, 2)),
      cell(o.status),
    ],
    (o, tr) => showTrace(o.clientOrderId, tr),
  );
}

async function loadFills() {
  const { body } = await api("/fills", { limit: 50 });
  fillTable(
    "fills",
    body.fills,
    (f) => [
      cell(utc(f.time)),
      cell(f.clientOrderId),
      cell(f.symbol),
      cell(f.liquidation ? `${f.side} (liquidation)` : f.side),
      cell(cut(f.price, 2)),
      cell(cut(f.quantity, 6)),
      cell(cut(f.commission, 4)),
      cell(cut(f.realizedPnl, 2), signClass(f.realizedPnl)),
      cell(cut(f.positionAmt, 6)),
    ],
    (f, tr) => showTrace(f.clientOrderId, tr),
  );
}

async function loadSymbolPnl() {
  const { body } = await api("/pnl/symbols");
  fillTable("symbol-pnl", body.symbols, (s) => [
    cell(s.symbol),
    cell(cut(s.realizedPnl, 2), signClass(s.realizedPnl)),
    cell(cut(s.fees, 2)),
    cell(cut(s.fundingPaid, 4)),
    cell(cut(s.fundingReceived, 4)),
    cell(cut(s.netPnl, 2), signClass(s.netPnl)),
    cell(String(s.fills)),
  ]);
}

async function loadRuns() {
  const { body } = await api("/runs");
  fillTable("runs", body.runs, (r) => [
    cell(r.runId),
    cell(r.mode),
    cell(r.strategy),
    cell(r.symbols.join(" ")),
    cell(utc(r.from)),
    cell(utc(r.to)),
    cell(r.completed ? utc(r.completedTime) : "no"),
    cell(String(r.events)),
    cell(String(r.bars)),
    cell(String(r.orders)),
    cell(String(r.fills)),
  ]);
}

export async function loadHead() {
  const { body } = await api("/health", {}, { projection: false });
  showControl(body.control === "enabled");
  const slider = $("asof-slider");
  slider.max = String(body.lastPosition ?? 0);
  if (state.asOf === null) slider.value = slider.max;
}

/** The kill switch: usable only when the server has a control token (else it says how to enable it). */
function showControl(enabled) {
  for (const id of ["halt", "resume", "control-token"]) $(id).disabled = !enabled;
  const note = $("control-disabled");
  note.hidden = enabled;
}

/** Every view but the log head, loaded together by a refresh. */
export const views = [
  loadPnl,
  loadPrice,
  loadPositions,
  loadRisk,
  loadOpenOrders,
  loadFills,
  loadSymbolPnl,
  loadRuns,
];
