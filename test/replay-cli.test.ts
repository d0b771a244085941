/**
 * `perpsource replay` as a user runs it on a testnet store made against the double and on a backtest store:
 * `--verify` exits 0, and 1 naming the altered event; `--what-if FILE` prints the recorded run beside the re-run
 * with FILE's parameters (a table, or one JSON line with --json) for both; a bad what-if file exits 2 naming the
 * key and its source; `replay` without --verify or --what-if is a usage error.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { Dec } from "../src/domain/decimal.ts";
import type { LiveRunSummary } from "../src/engine/live-run.ts";
import { runAgainst, startDouble } from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const root = requireRealData("perpsource replay on a testnet store of exchange-sim and a backtest store");
const dir = mkdtempSync(join(tmpdir(), "perpsource-replay-cli-"));
const testnetFile = join(dir, "testnet.sqlite");
const backtestFile = join(dir, "backtest.sqlite");
let testnet: LiveRunSummary;
let backtest: Record<string, unknown>;

/** The environment without PERPSOURCE_* and BINANCE_* variables. */
function env(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_") && !k.startsWith("BINANCE_")),
  ) as Record<string, string>;
}

function perpsource(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--log-level", "error", ...args], {
    cwd: dir,
    env: env(),
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes a what-if file into the test directory; its name. */
function whatIfFile(name: string, content: unknown): string {
  writeFileSync(join(dir, name), JSON.stringify(content));
  return name;
}

describe.skipIf(!root)("perpsource replay", () => {
  beforeAll(async () => {
    const { url, sim } = await startDouble(root!);
    const store = SqliteEventStore.open(testnetFile);
    try {
      testnet = await runAgainst("testnet", url, store);
    } finally {
      await store.close();
      await sim.close();
    }
    const bt = perpsource(
      ["backtest", "--symbols", "BTCUSDT,ETHUSDT", "--from", "2025-05-05", "--to", "2025-05-06"].concat([
        "--warmup-bars",
        "0",
        "--data",
        root!,
        "--store",
        `sqlite:${backtestFile}`,
        "--json",
      ]),
    );
    expect(bt.code, bt.stderr).toBe(0);
    backtest = JSON.parse(bt.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
  }, 600_000);

  it("replay --verify passes on the testnet store and fails naming an altered fill", () => {
    const ok = perpsource(["replay", "--verify", "--store", `sqlite:${testnetFile}`]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("replay ok");
    expect(ok.stdout).toContain(testnet.eventLogSha256);

    const copy = join(dir, "altered.sqlite");
    copyFileSync(testnetFile, copy);
    const db = new Database(copy);
    const row = db
      .prepare("SELECT position, stream FROM events WHERE type = 'OrderFilled' ORDER BY position LIMIT 1")
      .get() as { position: number; stream: string };
    db.prepare("UPDATE events SET data = json_set(data, '$.quantity', '0.5') WHERE position = ?").run(
      row.position,
    );
    db.close();
    const altered = perpsource(["replay", "--verify", "--store", `sqlite:${copy}`]);
    expect(altered.code).toBe(1);
    expect(altered.stdout).toContain("replay FAILED");
    expect(altered.stdout).toContain(`its input: event #${row.position} ${row.stream}@`);
  }, 120_000);

  it("replay --what-if prints the testnet run beside the re-run with shorter SMAs", () => {
    const file = whatIfFile("short.json", { backtest: { smaCross: { smaShort: 10 } } });
    const table = perpsource(["replay", "--what-if", file, "--store", `sqlite:${testnetFile}`]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(`what-if on run ${testnet.runId} (testnet)`);
    expect(table.stdout).toContain("smaCross.smaShort: 21 → 10");
    expect(table.stdout).toMatch(/recorded\s+what-if\s+difference/);
    expect(table.stdout).toMatch(new RegExp(`fills\\s+${testnet.fills}\\s+\\d+\\s+[+-]\\d+`));

    const json = perpsource(["replay", "--what-if", file, "--json", "--store", `sqlite:${testnetFile}`]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      recorded: Record<string, string | number>;
      whatIf: Record<string, string | number>;
      difference: Record<string, string | number>;
    };
    expect(report.recorded).toMatchObject({ fills: testnet.fills, netPnl: testnet.netPnl });
    expect(report.whatIf["netPnl"]).not.toBe(report.recorded["netPnl"]);
    for (const k of ["realizedPnl", "fees", "funding", "netPnl", "maxDrawdown"]) {
      expect(report.difference[k], k).toBe(
        new Dec(String(report.whatIf[k])).minus(String(report.recorded[k])).toFixed(),
      );
    }
  }, 120_000);

  it("replay --what-if works on a backtest store (its input files re-read)", () => {
    const file = whatIfFile("wide.json", { backtest: { smaCross: { smaLong: 100, tpSlRatio: "2" } } });
    const r = perpsource([
      "replay",
      "--what-if",
      file,
      "--json",
      "--data",
      root!,
      "--store",
      `sqlite:${backtestFile}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      mode: string;
      changes: string[];
      recorded: Record<string, unknown>;
      whatIf: Record<string, unknown>;
    };
    expect(report.mode).toBe("backtest");
    expect(report.changes).toEqual(["smaCross.smaLong: 200 → 100", 'smaCross.tpSlRatio: "3" → "2"']);
    expect(report.recorded).toMatchObject({
      fills: backtest["fills"],
      realizedPnl: backtest["realizedPnl"],
      fees: backtest["fees"],
    });
    expect(report.whatIf).not.toEqual(report.recorded);
  }, 120_000);

  it("a bad what-if file exits 2 naming the key and its source", () => {
    const store = ["--store", `sqlite:${testnetFile}`];
    const bad = perpsource([
      "replay",
      "--what-if",
      whatIfFile("bad.json", { backtest: { smaCross: { smaShort: 0 } } }),
      ...store,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`backtest.smaCross.smaShort (from what-if file ${join(dir, "bad.json")})`);
    const fixed = perpsource([
      "replay",
      "--what-if",
      whatIfFile("fixed.json", { backtest: { symbols: ["BTCUSDT"] } }),
      ...store,
    ]);
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toContain("backtest.symbols (from what-if file");
    expect(fixed.stderr).toContain("the recorded run's is fixed");
    const other = perpsource([
      "replay",
      "--what-if",
      whatIfFile("other.json", { http: { port: 1 } }),
      ...store,
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("http (from what-if file");
    const missing = perpsource(["replay", "--what-if", "nowhere.json", ...store]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read what-if file");
  }, 60_000);
});
