/**
 * Hedge mode end to end on real Binance data (issue 6 item 4): `perpsource backtest --strategy sma-cross
 * --symbols BTCUSDT,ETHUSDT --hedge-mode`, 2025-05-05..2025-05-11, beside the same run in one-way mode. Every
 * order of the hedge run names a position side (an entry BUY/LONG or SELL/SHORT, its stop, take-profit and
 * flatten the opposite side on the same position side) and none is reduce-only; the account is opened with
 * `dualSidePosition`; `/positions`' projection has a LONG and a SHORT row per symbol; `replay --verify`
 * reproduces the run, and a run killed with SIGKILL mid-way resumes (its hedge-mode venue state restored from the
 * checkpoint) to the uninterrupted eventLogSha256.
 *
 * What the comparison found: sma-cross holds one trade per symbol at a time (a signal against an open position
 * is suppressed, `positionOpen`), so in hedge mode only one side of a symbol is ever open, no hedge-specific rule
 * fires (no close is capped, no side's margin or liquidation differs), and the two runs fill the same orders at
 * the same prices: every trade's realized PnL, commission and funding equal the one-way run's.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PositionsResponse } from "../src/adapters/http/schemas.ts";
import { buildHttpServer } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { Dec } from "../src/domain/decimal.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { createProjections } from "../src/projections/index.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("sma-cross in hedge mode vs one-way, BTCUSDT+ETHUSDT 2025-05-05..2025-05-11");
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));

function perpsource(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--log-level", "warn", ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function readLog(file: string): Promise<RecordedEvent[]> {
  const store = SqliteEventStore.open(file, { readOnly: true });
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  await store.close();
  return events;
}

/** Events stored in a SQLite store (0 while the file or its table does not exist yet). */
function storedEvents(file: string): number {
  if (!existsSync(file)) return 0;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

const dataOf = <T extends RecordedEvent["type"]>(events: RecordedEvent[], type: T) =>
  events.filter((e) => e.type === type).map((e) => e.data as EventData<T>);

/** `ps-ETHUSDT-000003-SL` → `ETHUSDT-000003` (a trade: its entry and exits share the number). */
const tradeOf = (clientOrderId: string) => clientOrderId.replace(/^ps-/, "").replace(/-[A-Z]+$/, "");

/** Per trade: Σ realizedPnl and Σ commission of its fills, and the fills' (side, price, quantity). */
function trades(events: RecordedEvent[]) {
  const out = new Map<string, { realized: Dec; commission: Dec; fills: string[] }>();
  for (const f of dataOf(events, "FillBooked")) {
    const t = out.get(tradeOf(f.clientOrderId)) ?? {
      realized: new Dec(0),
      commission: new Dec(0),
      fills: [],
    };
    t.realized = t.realized.plus(f.realizedPnl);
    t.commission = t.commission.plus(f.commission);
    t.fills.push(`${f.side} ${f.quantity} @ ${f.price}`);
    out.set(tradeOf(f.clientOrderId), t);
  }
  return new Map(
    [...out].map(([k, t]) => [
      k,
      { ...t, realized: t.realized.toFixed(), commission: t.commission.toFixed() },
    ]),
  );
}

describe.skipIf(!root)("sma-cross in hedge mode on real data", () => {
  let dir: string;
  let hedge: RecordedEvent[];
  let oneWay: RecordedEvent[];
  let summaries: { hedge: Record<string, unknown>; oneWay: Record<string, unknown> };
  const args = (store: string) => [
    "backtest",
    "--strategy",
    "sma-cross",
    "--symbols",
    "BTCUSDT,ETHUSDT",
    "--from",
    "2025-05-05",
    "--to",
    "2025-05-11",
    "--data",
    root!,
    "--store",
    `sqlite:${store}`,
    "--json",
  ];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "perpsource-hedge-"));
    const h = perpsource([...args(join(dir, "hedge.sqlite")), "--hedge-mode"]);
    expect(h.code, h.stderr).toBe(0);
    const o = perpsource(args(join(dir, "one-way.sqlite")));
    expect(o.code, o.stderr).toBe(0);
    summaries = { hedge: JSON.parse(h.stdout), oneWay: JSON.parse(o.stdout) };
    hedge = await readLog(join(dir, "hedge.sqlite"));
    oneWay = await readLog(join(dir, "one-way.sqlite"));
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("records hedge mode in RunStarted and AccountOpened, and not in the one-way run", () => {
    expect(dataOf(hedge, "RunStarted")[0]!.config).toMatchObject({ hedgeMode: true });
    expect(dataOf(hedge, "AccountOpened")[0]!.dualSidePosition).toBe(true);
    expect("hedgeMode" in dataOf(oneWay, "RunStarted")[0]!.config).toBe(false);
    expect("dualSidePosition" in dataOf(oneWay, "AccountOpened")[0]!).toBe(false);
  });

  it("sends every order on a LONG or SHORT position side, none reduce-only, exits on their entry's side", () => {
    const orders = dataOf(hedge, "OrderSubmitted");
    expect(orders.length).toBeGreaterThan(50);
    const entrySide = new Map<string, "LONG" | "SHORT">();
    for (const o of orders) {
      expect(["LONG", "SHORT"], o.clientOrderId).toContain(o.positionSide);
      expect(o.reduceOnly, o.clientOrderId).toBe(false);
      if (o.purpose === "ENTRY") {
        expect(o.side, o.clientOrderId).toBe(o.positionSide === "LONG" ? "BUY" : "SELL");
        entrySide.set(tradeOf(o.clientOrderId), o.positionSide as "LONG" | "SHORT");
      } else {
        const side = entrySide.get(tradeOf(o.clientOrderId));
        expect(o.positionSide, o.clientOrderId).toBe(side);
        expect(o.side, o.clientOrderId).toBe(side === "LONG" ? "SELL" : "BUY");
      }
    }
    expect(new Set(entrySide.values())).toEqual(new Set(["LONG", "SHORT"]));
    // Every fill is booked on its order's side, and every funding payment names the side it charged.
    for (const f of dataOf(hedge, "FillBooked")) expect(["LONG", "SHORT"]).toContain(f.positionSide);
    const payments = dataOf(hedge, "FundingFeeBooked");
    expect(payments.length).toBeGreaterThan(0);
    for (const f of payments) expect(["LONG", "SHORT"]).toContain(f.positionSide);
  });

  it("fills every trade as the one-way run does: the same realized PnL, commission and fills per trade", () => {
    const h = trades(hedge);
    const o = trades(oneWay);
    expect(h.size).toBeGreaterThan(20);
    expect([...h.keys()]).toEqual([...o.keys()]);
    for (const [trade, t] of h) expect(t, trade).toEqual(o.get(trade));
    const { eventLogSha256: _h, barsPerSec: _hb, ...hedgeSummary } = summaries.hedge;
    const { eventLogSha256: _o, barsPerSec: _ob, ...oneWaySummary } = summaries.oneWay;
    expect(hedgeSummary).toEqual(oneWaySummary);
    expect(summaries.hedge.eventLogSha256).not.toBe(summaries.oneWay.eventLogSha256);
  });

  it("projects a LONG and a SHORT row per symbol; the one-way projection has one row per symbol", () => {
    const p = createProjections();
    for (const e of hedge) p.apply(e);
    expect(p.positions().map((v) => `${v.symbol}:${v.positionSide}`)).toEqual([
      "BTCUSDT:LONG",
      "BTCUSDT:SHORT",
      "ETHUSDT:LONG",
      "ETHUSDT:SHORT",
    ]);
    const q = createProjections();
    for (const e of oneWay) q.apply(e);
    expect(q.positions().map((v) => v.symbol)).toEqual(["BTCUSDT", "ETHUSDT"]);
    for (const v of q.positions()) expect("positionSide" in v).toBe(false);
    // The same equity either way (one side per symbol at a time).
    expect(p.pnl().equity).toBe(q.pnl().equity);
  });

  it("serves the per-side rows over HTTP: GET /positions has positionSide on each, in the response schema", async () => {
    const store = new InMemoryEventStore();
    const projections = createProjections();
    for (const e of hedge) projections.apply(e);
    const app = buildHttpServer({ store, projections });
    try {
      const res = await app.inject({ method: "GET", url: "/positions" });
      expect(res.statusCode).toBe(200);
      const rows = PositionsResponse.parse(JSON.parse(res.payload)).positions;
      expect(rows.map((r) => `${r.symbol}:${r.positionSide}`)).toEqual(
        projections.positions().map((v) => `${v.symbol}:${v.positionSide}`),
      );
      for (const r of rows) expect(r).toMatchObject(projections.position(r.symbol, r.positionSide!)!);
    } finally {
      await app.close();
    }
  });

  it("killed with SIGKILL mid-run, --resume ends on the uninterrupted eventLogSha256", async () => {
    const file = join(dir, "killed.sqlite");
    const child = spawn(process.execPath, [BIN, "--log-level", "warn", ...args(file), "--hedge-mode"], {
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    // Past the first checkpoints (every 2 000 market events), before the end (about 21 000 events).
    for (
      let waited = 0;
      waited < 60_000 && storedEvents(file) < 8_000 && child.exitCode === null;
      waited += 10
    )
      await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGKILL");
    await exited;
    const stored = storedEvents(file);
    expect(stored).toBeGreaterThan(2_000);
    expect(stored).toBeLessThan(hedge.length);
    const resumed = perpsource([
      "backtest",
      "--resume",
      "--store",
      `sqlite:${file}`,
      "--data",
      root!,
      "--json",
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).eventLogSha256).toBe(summaries.hedge.eventLogSha256);
  }, 120_000);

  it("replay --verify reproduces the hedge-mode run", () => {
    const r = perpsource([
      "replay",
      "--store",
      `sqlite:${join(dir, "hedge.sqlite")}`,
      "--verify",
      "--data",
      root!,
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 120_000);
});
