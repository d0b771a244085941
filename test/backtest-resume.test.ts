/**
 * A killed run resumes to the uninterrupted log (issue 5 item 6), through the CLI on real data: a backtest is
 * killed with SIGKILL at several points (before its first checkpoint, then twice mid-run, each time resumed and
 * killed again), `replay --verify` says the run is incomplete, and `backtest --resume` finally ends with the
 * eventLogSha256 of the same backtest run without interruption: sma-cross, and multifactor-v2 killed before and
 * after its warm-up (its factor state and the inputs it holds for the minute barrier are in the checkpoints).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("backtest --resume after kill -9");
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
function perpsource(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--log-level", "warn", ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Events stored in a SQLite store (0 while the file does not exist yet). */
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
    return 0; // the writer has not created the table yet
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

describe.skipIf(!root)("backtest --resume after kill -9", () => {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-resume-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const data = ["--data", root!];

  /**
   * Runs `window` whole, then killed when the store holds each of `killAt` events (the first before the first
   * checkpoint) and resumed each time: the last resume must end with the whole run's eventLogSha256.
   */
  async function killAndResume(name: string, window: string[], killAt: number[], lastBarDay: RegExp) {
    const whole = perpsource([
      "backtest",
      ...window,
      ...data,
      "--store",
      `sqlite:${join(dir, `${name}-whole.sqlite`)}`,
      "--json",
    ]);
    expect(whole.code, whole.stderr).toBe(0);
    const expected = JSON.parse(whole.stdout);
    expect(expected.completed).toBe(true);

    const file = join(dir, `${name}-killed.sqlite`);
    const store = ["--store", `sqlite:${file}`];
    const first = await killWhenStored(
      ["backtest", ...window, ...data, ...store, "--json"],
      file,
      killAt[0]!,
    );
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(expected.events);

    const replay = perpsource(["replay", "--verify", ...data, ...store]);
    expect(replay.code).toBe(1);
    expect(replay.stdout).toMatch(new RegExp(`run incomplete: \\d+ events, last at ${lastBarDay.source}`));

    let previous = first;
    for (const events of killAt.slice(1)) {
      const killed = await killWhenStored(
        ["backtest", "--resume", ...data, ...store, "--json"],
        file,
        events,
      );
      expect(killed).toBeGreaterThan(previous);
      expect(killed).toBeLessThan(expected.events);
      previous = killed;
    }

    const resumed = perpsource(["backtest", "--resume", ...data, ...store, "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout);
    expect(summary.eventLogSha256).toBe(expected.eventLogSha256);
    expect(summary).toMatchObject({
      bars: expected.bars,
      orders: expected.orders,
      fills: expected.fills,
      realizedPnl: expected.realizedPnl,
      funding: expected.funding,
      events: expected.events,
      completed: true,
    });
    return { expected, store };
  }

  it("killed at several points and resumed, the run ends with the uninterrupted eventLogSha256", async () => {
    const window = ["--symbols", "BTCUSDT,ETHUSDT", "--from", "2025-06-01", "--to", "2025-06-06"];
    const { store } = await killAndResume("sma", window, [300, 6_000, 12_000], /2025-06-0\dT/);
    const again = perpsource(["backtest", "--resume", ...data, ...store]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already completed");
    expect(perpsource(["replay", "--verify", ...data, ...store]).code).toBe(0);
  }, 240_000);

  it("multifactor-v2: killed before and after its warm-up, resumed to the same log (factor state in the checkpoints)", async () => {
    const window = [
      "--strategy",
      "multifactor-v2",
      "--symbols",
      "FILUSDT,NEARUSDT",
      "--from",
      "2023-08-01",
      "--to",
      "2023-09-30",
    ];
    const { expected, store } = await killAndResume(
      "multifactor",
      window,
      [300, 100_000, 150_000],
      /2023-0\d-\d\dT/,
    );
    expect(expected.orders).toBeGreaterThan(0);
    // The resumed store re-runs to the same log from its recorded configuration and files.
    expect(perpsource(["replay", "--verify", ...data, ...store]).code).toBe(0);
  }, 300_000);
});
