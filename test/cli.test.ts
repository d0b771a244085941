import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));

/** Runs the CLI as a user would, in a fresh cwd outside the repo and without PERPSOURCE_* variables. */
function perpsource(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_")));
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), "perpsource-cli-"));
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...env, ...options.env },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, cwd };
}

describe("perpsource CLI", () => {
  it("--help lists the commands on stdout and exits 0", () => {
    const r = perpsource(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: perpsource");
    for (const command of ["backtest", "replay", "serve", "data", "start"])
      expect(r.stdout).toContain(command);
  });

  it("--version prints the package version", () => {
    const r = perpsource(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("0.1.0");
  });

  it("an unknown command is a usage error (exit 2)", () => {
    const r = perpsource(["bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown command 'bogus'");
    expect(r.stdout).toBe("");
  });

  it("an unknown option and a missing required option are usage errors", () => {
    expect(perpsource(["backtest", "--bogus"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("'--bogus'"),
    });
    expect(perpsource(["replay"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("replay needs --verify or --what-if FILE"),
    });
    expect(perpsource(["replay", "--verify", "--what-if", "x.json"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("replay takes --verify or --what-if FILE, not both"),
    });
  });

  it("halt needs a reason; a store that does not exist is named and not created", () => {
    expect(perpsource(["halt", "--store", "sqlite:x.sqlite"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("required option '--reason <text>' not specified"),
    });
    expect(perpsource(["resume", "--reason", " ", "--store", "sqlite:x.sqlite"])).toMatchObject({
      code: 2,
      stderr: "error: --reason must say why (a non-empty text)\n",
    });
    const absent = perpsource(["halt", "--reason", "drill", "--store", "sqlite:x.sqlite"]);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toBe(
      `error: store sqlite:x.sqlite not found: no file ${join(absent.cwd, "x.sqlite")}\n`,
    );
    expect(existsSync(join(absent.cwd, "x.sqlite"))).toBe(false);
  });

  it("backtest --max-drawdown 1 names the risk key and the flag, exit 2", () => {
    const r = perpsource(["backtest", "--max-drawdown", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'error: invalid config: backtest.risk.maxDrawdown (from flag --max-drawdown): expected a decimal ratio between 0 and 1 (exclusive) such as "0.15"',
    );
  });

  it("backtest --from 2025-13-01 names the key and the flag, exit 2, nothing on stdout", () => {
    const r = perpsource(["backtest", "--from", "2025-13-01", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'error: invalid config: backtest.from (from flag --from): expected a UTC date YYYY-MM-DD such as "2025-05-05"',
    );
    expect(r.stdout).toBe("");
    expect(existsSync(join(r.cwd, "var"))).toBe(false);
  });

  it("a bad env value and a broken config file are named with their source", () => {
    const env = perpsource(["serve"], { env: { PERPSOURCE_PORT: "http" } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain(
      "http.port (from env PERPSOURCE_PORT): expected an integer port 0–65535 (0: any free port)",
    );

    const cwd = mkdtempSync(join(tmpdir(), "perpsource-cli-"));
    writeFileSync(join(cwd, "perpsource.config.json"), "{ not json");
    const file = perpsource(["backtest"], { cwd });
    expect(file.code).toBe(2);
    expect(file.stderr).toContain(`config file ${join(cwd, "perpsource.config.json")} is not valid JSON`);
  });

  it("data fetch validates its months", () => {
    const bad = perpsource(["data", "fetch", "--symbols", "BTCUSDT", "--from", "2025-13", "--to", "2025-06"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("expected a month YYYY-MM");
    const reversed = perpsource([
      "data",
      "fetch",
      "--symbols",
      "BTCUSDT",
      "--from",
      "2025-07",
      "--to",
      "2025-06",
    ]);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr.trim()).toBe("error: --from 2025-07 is after --to 2025-06");
  });

  it("replay of a store that does not exist is a runtime error (exit 1) without a stack", () => {
    const r = perpsource(["replay", "--verify", "--store", "sqlite:nowhere.sqlite"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `error: store sqlite:nowhere.sqlite not found: no file ${join(r.cwd, "nowhere.sqlite")}`,
    );
  });

  it("start with an empty data dir prints where it looked and how to get data, exit 1", () => {
    const cwd = mkdtempSync(join(tmpdir(), "perpsource-cli-"));
    mkdirSync(join(cwd, "empty"));
    const r = perpsource(["start", "--no-fetch", "--data", "empty"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `no market data for BTCUSDT, ETHUSDT from 2025-05-05 to 2025-06-24 under ${join(cwd, "empty")}`,
    );
    expect(r.stderr).toContain(
      "perpsource data fetch --symbols BTCUSDT,ETHUSDT --from 2025-05 --to 2025-06 --types klines,fundingRate,markPriceKlines",
    );
    expect(r.stderr).toContain("PERPSOURCE_DATA=../shared/data/binance npm start");
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(cwd, "var"))).toBe(false);
  });

  it("start with data for other symbols prints the engine's finding and the how-to, exit 1", () => {
    const cwd = mkdtempSync(join(tmpdir(), "perpsource-cli-"));
    const dir = join(cwd, "data", "futures", "um", "fundingRate", "SOLUSDT");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "SOLUSDT-fundingRate-2025-05.csv"),
      "calc_time,funding_interval_hours,last_funding_rate\n",
    );
    const r = perpsource(["start", "--no-fetch"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `no market data for BTCUSDT, ETHUSDT from 2025-05-05 to 2025-06-24 under ${join(cwd, "data")}`,
    );
    expect(r.stderr).toMatch(/^ {2}.*BTCUSDT/m);
    expect(r.stderr).toContain("perpsource data fetch --symbols BTCUSDT,ETHUSDT --from 2025-05 --to 2025-06");
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe("");
  });

  it("start's how-to names the months the strategy's warm-up reads too", () => {
    const cwd = mkdtempSync(join(tmpdir(), "perpsource-cli-"));
    writeFileSync(
      join(cwd, "perpsource.config.json"),
      JSON.stringify({
        backtest: { strategy: "multifactor-v2", symbols: ["SOLUSDT"], from: "2025-03-01", to: "2025-03-31" },
      }),
    );
    const r = perpsource(["start", "--no-fetch"], { cwd });
    expect(r.code).toBe(1);
    // 979 hourly bars and 8 h of settlements before 2025-03-01 reach back into January.
    expect(r.stderr).toContain(
      "perpsource data fetch --symbols SOLUSDT --from 2025-01 --to 2025-03 --types klines,fundingRate,markPriceKlines",
    );
  });
});
