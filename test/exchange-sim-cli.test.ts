/**
 * `perpsource exchange-sim` as a user runs it: it starts on a free port over the real archive, prints its URL,
 * answers `/fapi/v1/time` with the replay's market time advancing at `--speed`, and stops cleanly on SIGTERM;
 * bad options are usage errors (exit 2), a data root without the symbol's klines a runtime error (exit 1).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { requireRealData } from "./support/real-data.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const root = requireRealData("perpsource exchange-sim on BTCUSDT 2025-05-05");
const FROM = Date.UTC(2025, 4, 5);

/** The environment of a user's shell: no PERPSOURCE_* variables, the given ones added. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_")));
  return { ...clean, ...extra };
}

function run(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: mkdtempSync(join(tmpdir(), "perpsource-sim-")),
    env: env(extra),
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Resolves with the URL the command prints, or rejects with its stderr when it exits first. */
function announcedUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /exchange-sim listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before listening: ${err}`)));
  });
}

describe("perpsource exchange-sim", () => {
  it("refuses bad options with exit 2 and a message naming the option", () => {
    const base = ["exchange-sim", "--port", "0", "--symbols", "BTCUSDT"];
    expect(run([...base, "--from", "2025-05-05", "--to", "2025-05-04"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--to 2025-05-04 is before --from 2025-05-05"),
    });
    expect(run([...base, "--from", "2025-05-05", "--speed", "0"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--speed: expected a number > 0"),
    });
    expect(run([...base, "--from", "2025-05-05", "--speed", "2", "--lockstep"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--speed and --lockstep exclude each other"),
    });
    expect(run([...base, "--from", "2025-5-5"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--from: expected a UTC day YYYY-MM-DD"),
    });
    expect(run([...base, "--from", "2025-05-05"], { BINANCE_API_KEY: "k" })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        "BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_FILE (from env): not set (BINANCE_API_KEY is)",
      ),
    });
  });

  it("names the missing kline data and exits 1 on a data root without it", () => {
    const r = run([
      "exchange-sim",
      "--port",
      "0",
      "--symbols",
      "BTCUSDT",
      "--from",
      "2025-05-05",
      "--data",
      ".",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no 1m kline data for BTCUSDT");
  });

  it.skipIf(!root)(
    "starts, answers /fapi/v1/time at the replay's market time advancing at --speed, and stops on SIGTERM",
    async () => {
      const child = spawn(
        process.execPath,
        [
          BIN,
          "exchange-sim",
          "--port",
          "0",
          "--symbols",
          "BTCUSDT",
          "--from",
          "2025-05-05",
          "--speed",
          "600",
        ],
        {
          cwd: mkdtempSync(join(tmpdir(), "perpsource-sim-")),
          env: env({
            PERPSOURCE_DATA: root!,
            BINANCE_API_KEY: "k",
            BINANCE_API_SECRET: "s",
            PERPSOURCE_LOG_LEVEL: "warn",
          }),
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      try {
        const url = await announcedUrl(child);
        const time = async () => {
          const r = await fetch(`${url}/fapi/v1/time`);
          expect(r.headers.get("x-mbx-used-weight-1m")).toMatch(/^\d+$/);
          return ((await r.json()) as { serverTime: number }).serverTime;
        };
        const first = await time();
        await new Promise((resolve) => setTimeout(resolve, 500));
        const second = await time();
        // 600 minutes of data per wall minute: 0.5 s of wall time is about 5 minutes of market time.
        expect(first).toBeGreaterThanOrEqual(FROM);
        expect(second - first).toBeGreaterThan(60_000);
        expect(second - first).toBeLessThan(15 * 60_000);
        expect(second).toBeLessThan(FROM + 86_400_000);
        const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    },
  );
});
