// The perpsource dashboard: plain ES module, no framework. Reads the HTTP API (bearer read token from
// sessionStorage when the server asks for one), follows GET /stream (Server-Sent Events read with fetch, so the
// token can be sent) and refreshes the views, and can show every view as of a log position or market time.
// Numbers are parsed to floats only to draw charts; tables show the API's exact decimal strings.

const { createChart, LineSeries, AreaSeries, CandlestickSeries, createSeriesMarkers } =
  window.LightweightCharts;

const $ = (id) => document.getElementById(id);
const READ_KEY = "perpsource.readToken";
const CONTROL_KEY = "perpsource.controlToken";
const OPEN_STATUSES = ["PENDING_NEW", "NEW", "TRIGGERING", "TRIGGERED", "PARTIALLY_FILLED"];

const state = {
  /** `asOf` sent with every projection request, or null for the live state. */
  asOf: null,
  symbol: null,
  /** Charts to fit to their data at their next load (a live refresh keeps the user's zoom and scroll). */
  fit: { equity: true, price: true },
};

// ── API ─────────────────────────────────────────────────────────────────────────────────────────────────────

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function authHeaders() {
  const token = sessionStorage.getItem(READ_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** GET `path` with `params` (and asOf when `projection`); resolves { body, position } (x-log-position). */
async function api(path, params = {}, { projection = true } = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) query.set(k, String(v));
  if (projection && state.asOf !== null) query.set("asOf", state.asOf);
  const url = query.size > 0 ? `${path}?${query}` : path;
  const res = await fetch(url, { headers: authHeaders() });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) {
    $("token-form").hidden = false;
    throw new ApiError(401, `${path}: ${body.message ?? "unauthorized"} — enter the read token above`);
  }
  if (!res.ok) throw new ApiError(res.status, `${path}: ${body.message ?? res.statusText}`);
  return { body, position: res.headers.get("x-log-position") };
}

function showError(message) {
  const el = $("error");
  el.textContent = message ?? "";
  el.hidden = !message;
}

// ── formatting ──────────────────────────────────────────────────────────────────────────────────────────────

const utc = (ms) =>
  ms === null || ms === undefined ? "" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);
const signClass = (s) =>
  s === null || s === undefined ? "" : s.startsWith("-") ? "neg" : Number(s) > 0 ? "pos" : "";
/** A decimal string cut to `digits` decimals for display (no float rounding: the digits are the API's). */
function cut(s, digits = 4) {
  if (s === null || s === undefined) return "—";
  const [int, frac = ""] = String(s).split(".");
  const kept = frac.slice(0, digits).replace(/0+$/, "");
  return kept ? `${int}.${kept}` : int;
}
const pct = (s) => (s === null || s === undefined ? "—" : `${(Number(s) * 100).toFixed(2)} %`);

function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Fills table `id`'s body with one row per item (`cells(item)` → td list); `onClick(item)` when given. */
function fillTable(id, items, cells, onClick) {
  const tbody = $(id).querySelector("tbody");
  const rows = items.map((item) => {
    const tr = document.createElement("tr");
    tr.append(...cells(item));
    if (onClick) tr.addEventListener("click", () => onClick(item, tr));
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell("none");
    td.className = "empty";
    td.colSpan = $(id).querySelectorAll("thead th").length;
    tr.append(td);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
  $(id).dataset.rows = String(items.length);
}

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
  if (state.fit.equity) equityChart.timeScale().fitContent();
  state.fit.equity = false;
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

async function loadPrice() {
  const interval = $("interval").value;
  const { body } = await api("/bars", { symbol: state.symbol ?? undefined, interval, maxPoints: 1500 });
  const select = $("symbol");
  if (select.options.length !== body.symbols.length) {
    select.replaceChildren(...body.symbols.map((s) => new Option(s, s)));
  }
  state.symbol = body.symbol;
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
  if (state.fit.price) priceChart.timeScale().fitContent();
  state.fit.price = false;
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
  return markers;
}

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

async function loadHead() {
  const { body } = await api("/health", {}, { projection: false });
  const slider = $("asof-slider");
  slider.max = String(body.lastPosition ?? 0);
  if (state.asOf === null) slider.value = slider.max;
}

// ── decision trace ──────────────────────────────────────────────────────────────────────────────────────────

function step(title, entries) {
  const div = document.createElement("div");
  div.className = "step";
  const h = document.createElement("h3");
  h.textContent = title;
  const dl = document.createElement("dl");
  // a nested object (e.g. a signal's numbers) one entry per field
  const flat = entries.flatMap(([k, v]) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.entries(v).map(([k2, v2]) => [`${k}.${k2}`, v2])
      : [[k, v]],
  );
  for (const [k, v] of flat) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    const time = typeof v === "number" && /Time$/.test(k) && v > 1e12;
    dd.textContent = time ? utc(v) : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
    dl.append(dt, dd);
  }
  div.append(h, dl);
  return div;
}

async function showTrace(clientOrderId, row) {
  for (const tr of document.querySelectorAll("tr.selected")) tr.classList.remove("selected");
  row?.classList.add("selected");
  $("trace-panel").hidden = false;
  $("trace-panel").scrollIntoView({ block: "nearest" });
  $("trace-title").textContent = `of order ${clientOrderId}`;
  const trace = $("trace");
  try {
    const { body } = await api("/decisions", { clientOrderId });
    const d = body.decisions[0];
    const steps = [];
    if (d.input) {
      const { type, eventId, ...rest } = d.input;
      steps.push(step(`Input: ${type}`, Object.entries(rest)));
    } else steps.push(step("Input", [["none recorded", ""]]));
    steps.push(step("Factors", d.factors ? Object.entries(d.factors.data) : [["none recorded", ""]]));
    steps.push(
      d.decision
        ? step(`Decision: ${d.decision.type}`, Object.entries(d.decision.data))
        : step("Decision", [["none recorded", ""]]),
    );
    const denied = d.orders.filter((o) => o.deniedBy);
    steps.push(
      step(
        "Risk",
        denied.length === 0
          ? [["pre-trade checks", "passed"]]
          : denied.map((o) => [o.clientOrderId, `${o.deniedBy.rule}: ${o.deniedBy.reason}`]),
      ),
    );
    steps.push(
      step(
        "Orders",
        d.orders.map((o) => [
          o.clientOrderId,
          `${o.side} ${o.type} ${o.purpose} ${cut(o.quantity, 6)} @ ${cut(o.price ?? o.triggerPrice ?? o.avgPrice, 2)} → ${o.status}`,
        ]),
      ),
    );
    const fills = d.orders.flatMap((o) => o.fills.map((f) => [o.clientOrderId, f]));
    steps.push(
      step(
        "Fills",
        fills.length === 0
          ? [["none", ""]]
          : fills.map(([id, f]) => [
              id,
              `${cut(f.quantity, 6)} @ ${cut(f.price, 2)} fee ${cut(f.commission, 4)}` +
                (f.realizedPnl === null ? "" : ` pnl ${cut(f.realizedPnl, 2)}`),
            ]),
      ),
    );
    for (const f of d.followUps) steps.push(step(f.type, Object.entries(f.data)));
    trace.replaceChildren(...steps);
  } catch (e) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = e.message;
    trace.replaceChildren(p);
  }
}

// ── refresh, live updates, time travel ──────────────────────────────────────────────────────────────────────

const views = [
  loadPnl,
  loadPrice,
  loadPositions,
  loadRisk,
  loadOpenOrders,
  loadFills,
  loadSymbolPnl,
  loadRuns,
];
let refreshing = null;
let again = false;

/** Reloads every view (one refresh at a time; one more queued when asked meanwhile). */
async function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    const results = await Promise.allSettled([loadHead(), ...views.map((v) => v())]);
    const failed = results.find((r) => r.status === "rejected");
    showError(failed ? failed.reason.message : null);
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed ?? 0) + 1);
  })();
  try {
    await refreshing;
  } finally {
    refreshing = null;
  }
  if (again) {
    again = false;
    await refresh();
  }
}

let pending = null;
/** Refreshes once, 250 ms after the first of a burst of appended events (live only). */
function scheduleRefresh() {
  if (state.asOf !== null || pending) return;
  pending = setTimeout(() => {
    pending = null;
    refresh();
  }, 250);
}

function setLive(text, className) {
  const el = $("live");
  el.textContent = text;
  el.className = `badge ${className}`;
}

/** Follows GET /stream with fetch (so the bearer token goes along), reconnecting with Last-Event-ID. */
async function follow() {
  let lastId = null;
  for (;;) {
    try {
      const headers = { ...authHeaders(), accept: "text/event-stream" };
      if (lastId !== null) headers["last-event-id"] = lastId;
      const res = await fetch("/stream", { headers });
      if (!res.ok) throw new Error(`/stream: ${res.status}`);
      setLive(state.asOf === null ? "live" : "paused (as of)", state.asOf === null ? "live" : "paused");
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
          let event = "message";
          for (const line of message.split("\n")) {
            if (line.startsWith("id: ")) lastId = line.slice(4);
            else if (line.startsWith("event: ")) event = line.slice(7);
          }
          if (event === "appended") {
            if (state.asOf === null) scheduleRefresh();
            else $("asof-slider").max = lastId; // the log grows meanwhile: the slider reaches it
          }
        }
      }
    } catch {
      // reconnect below
    }
    setLive("reconnecting…", "");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function setAsOf(value) {
  state.fit = { equity: true, price: true };
  state.asOf = value === "" || value === null ? null : value;
  $("asof-input").value = state.asOf ?? "";
  setLive(state.asOf === null ? "live" : "paused (as of)", state.asOf === null ? "live" : "paused");
  refresh();
}

$("asof-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setAsOf($("asof-input").value.trim());
});
$("asof-slider").addEventListener("change", (e) => setAsOf(e.target.value));
$("asof-slider").addEventListener("input", (e) => {
  $("asof-input").value = e.target.value;
});
$("asof-live").addEventListener("click", () => setAsOf(null));
$("symbol").addEventListener("change", (e) => {
  state.symbol = e.target.value;
  state.fit.price = true;
  loadPrice().catch((err) => showError(err.message));
});
$("interval").addEventListener("change", () => {
  state.fit.price = true;
  loadPrice().catch((err) => showError(err.message));
});
$("trace-close").addEventListener("click", () => {
  $("trace-panel").hidden = true;
});
$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(READ_KEY, $("read-token").value.trim());
  $("token-form").hidden = true;
  refresh();
});
$("read-token").value = sessionStorage.getItem(READ_KEY) ?? "";
$("control-token").value = sessionStorage.getItem(CONTROL_KEY) ?? "";

/** POST /control/halt|resume with the control token; shows the server's message on failure. */
async function control(action) {
  const message = $("control-message");
  const token = $("control-token").value.trim();
  if (token) sessionStorage.setItem(CONTROL_KEY, token);
  const res = await fetch(`/control/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ reason: $("control-reason").value }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    message.className = "fail";
    message.textContent = `${res.status} ${body.error ?? ""}: ${body.message ?? res.statusText}`;
    return;
  }
  message.className = "ok";
  message.textContent = body.changed ? `trading state: ${body.tradingState}` : `already ${body.tradingState}`;
  await refresh();
}
$("halt").addEventListener("click", () => control("halt"));
$("resume").addEventListener("click", () => control("resume"));

refresh();
follow();
