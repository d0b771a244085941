// The decision trace of an order (GET /decisions?clientOrderId=): bar → factors → decision → risk → orders →
// fills → follow-ups, one box each.
import { $, api } from "./api.js";
import { cut, utc } from "./format.js";

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

/** Shows the trace of order `clientOrderId` (and marks `row`, the table row clicked). */
export async function showTrace(clientOrderId, row) {
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
