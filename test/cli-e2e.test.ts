/**
 * The CLI as a user runs it, on real data (a short window, to keep it quick): `backtest --json` twice gives the
 * same eventLogSha256; a second backtest into the same store is refused without --overwrite; `replay --verify`
 * passes, then fails after one stored event is altered; `serve` answers over HTTP. Run from a directory outside
 * the project.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("CLI end to end (backtest, replay --verify, serve)");
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const window = ["--symbols", "BTCUSDT,ETHUSDT", "--from", "2025-06-01", "--to", "2025-06-03"];

function perpsource(args: string[]) {
  // From a directory outside the project, as an installed CLI runs (its threads must not resolve from the cwd).
  const r = spawnSync(process.execPath, [BIN, "--log-level", "warn", ...args], {
    encoding: "utf8",
    cwd: tmpdir(),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe.skipIf(!root)("perpsource CLI end to end", () => {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-cli-e2e-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const store = (name: string) => `sqlite:${join(dir, name)}`;
  const backtest = (storeName: string, ...extra: string[]) =>
    perpsource(["backtest", ...window, "--data", root!, "--store", store(storeName), "--json", ...extra]);

  it("backtest --json prints one JSON line with the summary keys; the same run twice has the same sha256", () => {
    const first = backtest("a.sqlite");
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]!);
    expect(Object.keys(summary)).toEqual([
      "bars",
      "orders",
      "ordersDenied",
      "fills",
      "makerFills",
      "partialFills",
      "liquidations",
      "realizedPnl",
      "fees",
      "funding",
      "unrealizedPnl",
      "equity",
      "maxDrawdown",
      "tradingState",
      "gaps",
      "barsWithoutMark",
      "fundingSettlements",
      "warmFrom",
      "skippedSymbols",
      "completed",
      "events",
      "barsPerSec",
      "eventLogSha256",
    ]);
    expect(summary.bars).toBe(2 * 3 * 1440);
    expect(Number(summary.funding)).not.toBe(0);
    expect(summary).toMatchObject({
      gaps: 0,
      barsWithoutMark: 0,
      ordersDenied: 0,
      // sma-cross sends MARKET entries and stop/target exits: every fill is a whole taker fill, and at its
      // default 10× with 1000 USDT margin on a 10000 USDT wallet nothing comes near liquidation.
      makerFills: 0,
      partialFills: 0,
      liquidations: 0,
      tradingState: "ACTIVE",
      completed: true,
      fundingSettlements: { BTCUSDT: 9, ETHUSDT: 9 },
      skippedSymbols: {},
    });

    const second = backtest("b.sqlite");
    expect(JSON.parse(second.stdout).eventLogSha256).toBe(summary.eventLogSha256);
  });

  it("refuses a store that already holds a run unless --overwrite", () => {
    const again = backtest("a.sqlite");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds events|--overwrite/);
    expect(again.stdout).toBe("");
    const overwritten = backtest("a.sqlite", "--overwrite");
    expect(overwritten.code, overwritten.stderr).toBe(0);
  });

  it("replay --verify exits 0 on the stored run and 1 once an event was altered", () => {
    const ok = perpsource(["replay", "--store", store("a.sqlite"), "--verify", "--data", root!]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("replay ok");

    const db = new Database(join(dir, "a.sqlite"));
    db.prepare(
      "UPDATE events SET data = json_set(data, '$.close', '1.0') WHERE position = (SELECT MIN(position) FROM events WHERE type = 'BarClosed')",
    ).run();
    db.close();
    const tampered = perpsource(["replay", "--store", store("a.sqlite"), "--verify", "--data", root!]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain("replay FAILED");
    expect(tampered.stdout).toMatch(/BarClosed\) differs from the re-run in data/);
  });

  it("serve answers /health and /pnl, and a bad parameter with a 400", async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, "--log-level", "warn", "serve", "--store", store("b.sqlite"), "--port", String(port)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("serving on")) resolve();
        });
        child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
        status: string;
        events: number;
      };
      expect(health.status).toBe("ok");
      expect(health.events).toBeGreaterThan(2 * 3 * 1440);
      const pnl = (await (await fetch(`http://127.0.0.1:${port}/pnl?interval=1d`)).json()) as {
        equityCurve: { points: unknown[] };
      };
      expect(pnl.equityCurve.points).toHaveLength(3);
      const bad = await fetch(`http://127.0.0.1:${port}/events?limit=0`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: "Bad Request", field: "limit" });
    } finally {
      child.kill("SIGTERM");
    }
  });
});
