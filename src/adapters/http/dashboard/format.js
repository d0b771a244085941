// Formatting for the dashboard's tables: exact decimal strings cut for display, UTC times, table rows.
import { $ } from "./api.js";

// ── formatting ──────────────────────────────────────────────────────────────────────────────────────────────

export const utc = (ms) =>
  ms === null || ms === undefined ? "" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);
export const signClass = (s) =>
  s === null || s === undefined ? "" : s.startsWith("-") ? "neg" : Number(s) > 0 ? "pos" : "";
/** A decimal string cut to `digits` decimals for display (no float rounding: the digits are the API's). */
export function cut(s, digits = 4) {
  if (s === null || s === undefined) return "—";
  const [int, frac = ""] = String(s).split(".");
  const kept = frac.slice(0, digits).replace(/0+$/, "");
  return kept ? `${int}.${kept}` : int;
}
export const pct = (s) => (s === null || s === undefined ? "—" : `${(Number(s) * 100).toFixed(2)} %`);

export function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Fills table `id`'s body with one row per item (`cells(item)` → td list); `onClick(item)` when given. */
export function fillTable(id, items, cells, onClick) {
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
