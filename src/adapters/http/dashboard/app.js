// The perpsource dashboard: plain ES modules, no framework, no build step. Reads the HTTP API (api.js: the bearer
// read token from sessionStorage when the server asks for one), follows GET /stream (Server-Sent Events read with
// fetch, so the token can be sent) and refreshes the views (views.js), and can show every view as of a log
// position or market time. Numbers are parsed to floats only to draw charts; tables show the API's exact decimal
// strings.
import { $, authHeaders, READ_KEY, showError, state } from "./api.js";
import { loadHead, loadPrice, view, views } from "./views.js";

const CONTROL_KEY = "perpsource.controlToken";

// ── refresh, live updates, time travel ──────────────────────────────────────────────────────────────────────

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
  view.fit = { equity: true, price: true };
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
  view.symbol = e.target.value;
  view.fit.price = true;
  loadPrice().catch((err) => showError(err.message));
});
$("interval").addEventListener("change", () => {
  view.fit.price = true;
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
