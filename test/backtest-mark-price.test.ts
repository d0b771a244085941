/**
 * 1m mark prices in a real-data backtest, through the CLI: sma-cross on BTCUSDT's real klines and funding (symlinked,
 * never copied) with a hand-made 1m mark-price file in the official layout whose lows and highs lie 1 % beyond
 * the trade bar's, so MARK_PRICE stops and take-profits trigger where the last price would not. The run lists the
 * file in its manifest and each bar's mark in its BarClosed, its fills differ from the same run without the file, a hole in it is a warning, and a
 * run killed with SIGKILL and resumed (`backtest --resume`) ends on the uninterrupted eventLogSha256, which
 * `replay --verify` reproduces.
 */
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdtempSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { Decimal } from "decimal.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linkTree } from "./support/market.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("backtest with 1m mark-price klines, killed and resumed");
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const FROM = Date.UTC(2025, 5, 1);
const TO = Date.UTC(2025, 5, 6);
const HOLE = Date.UTC(2025, 5, 2, 12, 0);
const window = ["--symbols", "BTCUSDT", "--from", "2025-06-01", "--to", "2025-06-05"];
const REAL = [
  "futures/um/ohlcv/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-04_2025-06-24.csv",
  "futures/um/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-03-06_2025-07-17.csv",
  "futures/um/markPriceKlines/BTCUSDT/8h/BTCUSDT-markPriceKlines-8h-2025-03-06_2025-07-17.csv",
];
const MARKS = "futures/um/markPriceKlines/BTCUSDT/1m/BTCUSDT-markPriceKlines-1m-2025-06-01_2025-06-05.csv";
const HEADER =
  "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore";

function perpsource(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--log-level", "warn", ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The stored events of `type`, in log order, from a SQLite store. */
function stored(file: string, type: string): { data: Record<string, unknown>; time: number }[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare("SELECT data, metadata FROM events WHERE type = ? ORDER BY position")
      .all(type) as {
      data: string;
      metadata: string;
    }[];
    return rows.map((r) => ({ data: JSON.parse(r.data), time: JSON.parse(r.metadata).eventTime }));
  } finally {
    db.close();
  }
}

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

/** Starts `args` and kills it with SIGKILL once the store holds at least `events` events. */
async function killWhenStored(args: string[], file: string, events: number): Promise<number> {
  const child = spawn(process.execPath, [BIN, "--log-level", "warn", ...args], { stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  for (let waited = 0; waited < 60_000; waited += 10) {
    if (storedEvents(file) >= events) break;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGKILL");
  await exited;
  return storedEvents(file);
}

/** The window's 1m mark klines from the real trade bars: low 1 % lower, high 1 % higher, minute HOLE left out. */
async function writeMarks(source: string, target: string): Promise<void> {
  const rows = [HEADER];
  const lines = createInterface({ input: createReadStream(source) });
  for await (const line of lines) {
    const [t, o, h, l, c] = line.split(",") as [string, string, string, string, string];
    const openTime = Number(t);
    if (!(openTime >= FROM && openTime < TO) || openTime === HOLE) continue;
    const high = new Decimal(h).times("1.01").toDecimalPlaces(1, Decimal.ROUND_CEIL).toFixed();
    const low = new Decimal(l).times("0.99").toDecimalPlaces(1, Decimal.ROUND_FLOOR).toFixed();
    rows.push(`${openTime},${o},${high},${low},${c},0,${openTime + 59_999},0,0,0,0,0`);
  }
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, `${rows.join("\n")}\n`);
}

describe.skipIf(!root)("1m mark prices in a real-data backtest", () => {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-mark-bt-"));
  const plain = join(dir, "plain");
  const marked = join(dir, "marked");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    await linkTree(root!, plain, REAL);
    await linkTree(root!, marked, REAL);
    await writeMarks(join(root!, REAL[0]!), join(marked, MARKS));
  });

  const run = (data: string, name: string) => {
    const file = join(dir, `${name}.sqlite`);
    const r = perpsource(["backtest", ...window, "--data", data, "--store", `sqlite:${file}`, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return { file, summary: JSON.parse(r.stdout), stderr: r.stderr };
  };
  const fills = (file: string) =>
    stored(file, "OrderFilled").map((e) => `${e.data.clientOrderId} ${e.data.price} ${e.time}`);

  it("the mark file is an input of the run, and MARK_PRICE exits fill where the mark, not the last price, crossed", () => {
    const withMarks = run(marked, "with-marks");
    const [started] = stored(withMarks.file, "RunStarted");
    expect(started!.data.manifest).toContainEqual(
      expect.objectContaining({ path: MARKS, kind: "markPriceKlines", symbol: "BTCUSDT" }),
    );
    expect(withMarks.stderr).toContain(
      "BTCUSDT: 1 of 7200 bars without a 1m mark-price kline (first 2025-06-02T12:00Z)",
    );

    // Each bar's close mark is in its BarClosed (the log is self-contained), except in the hole.
    const bars = stored(withMarks.file, "BarClosed");
    expect(bars).toHaveLength(7200);
    expect(bars.filter((b) => b.data.markPrice === undefined).map((b) => b.data.openTime)).toEqual([HOLE]);

    const without = run(plain, "without-marks");
    expect(without.stderr).not.toContain("1m mark-price");
    expect(stored(without.file, "BarClosed").some((b) => "markPrice" in b.data)).toBe(false);
    const a = fills(withMarks.file);
    const b = fills(without.file);
    const firstDifference = a.findIndex((f, i) => f !== b[i]);
    expect(firstDifference).toBeGreaterThan(0);
    // The first fill that differs is an exit (stop or take-profit), on the mark: the same entries lead up to it.
    expect(a[firstDifference]).toMatch(/^ps-BTCUSDT-\d+-(SL|TP) /);
  }, 120_000);

  it("killed and resumed with the mark file, the run ends on the uninterrupted eventLogSha256", async () => {
    const whole = run(marked, "whole");
    const file = join(dir, "killed.sqlite");
    const args = ["--data", marked, "--store", `sqlite:${file}`];
    const first = await killWhenStored(["backtest", ...window, ...args, "--json"], file, 3_000);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(whole.summary.events);
    const second = await killWhenStored(["backtest", "--resume", ...args, "--json"], file, first + 4_000);
    expect(second).toBeGreaterThan(first);
    expect(second).toBeLessThan(whole.summary.events);

    const resumed = perpsource(["backtest", "--resume", ...args, "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout);
    expect(summary.eventLogSha256).toBe(whole.summary.eventLogSha256);
    expect(summary).toMatchObject({ fills: whole.summary.fills, realizedPnl: whole.summary.realizedPnl });
    expect(fills(file)).toEqual(fills(whole.file));
    expect(perpsource(["replay", "--verify", ...args]).code).toBe(0);
  }, 240_000);
});
