/**
 * Issue 7, "Done when": kill -9 of a testnet run at random points, then the same command again. The local double
 * runs in-process (lockstep, real BTCUSDT+ETHUSDT data, test/support/live-double.ts); `perpsource run --mode
 * testnet … --store sqlite:FILE` runs as a child process and is killed with SIGKILL at seeded points — right
 * after an order reached the double (before the client could read the answer), and after a seeded number of the
 * double's lockstep steps — then started again with the same command until it completes. The audit: no
 * clientOrderId twice in the double's allOrders / allAlgoOrders, every fill of its userTrades in the log once, and
 * the log's positions and USDT wallet equal to the double's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import type { ExchangeSim } from "../src/exchange-sim/server.ts";
import { API_KEY, API_SECRET, audit, startDouble } from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const root = requireRealData("kill -9 of a testnet run against the double (BTCUSDT+ETHUSDT 2025-05-05..06)");
const SEED = 20250505;

/**
 * A kill, counted from the start of its attempt: right after the `order`-th order (regular or algo) reached the
 * double, or once the double sent `steps` more lockstep steps.
 */
type Kill = { order: number } | { steps: number };

/** mulberry32: the seeded source of the step kills. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let sim: ExchangeSim | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  child?.kill("SIGKILL");
  child = undefined;
  await sim?.close();
  sim = undefined;
});

/** The environment without PERPSOURCE_* and BINANCE_* variables, plus the double's key pair. */
function env(): Record<string, string> {
  const clean = Object.entries(process.env).filter(
    ([k]) => !k.startsWith("PERPSOURCE_") && !k.startsWith("BINANCE_"),
  ) as [string, string][];
  return { ...Object.fromEntries(clean), BINANCE_API_KEY: API_KEY, BINANCE_API_SECRET: API_SECRET };
}

describe.skipIf(!root)("kill -9 of a testnet run, started again until it completes", () => {
  // A step kill that lands while the client handles a fill message loses that message (the double released it
  // when the connection closed): the restarted run gets it back only from reconciliation (issue 7 item 4).
  it(`loses no fill, sends no order twice, ends equal to the double (seed ${SEED})`, async () => {
    const double = await startDouble(root!);
    sim = double.sim;
    const { exchange } = double;
    const file = join(mkdtempSync(join(tmpdir(), "perpsource-crash-")), "live.sqlite");
    const args = [
      "run",
      "--mode",
      "testnet",
      "--rest-url",
      double.url,
      "--ws-url",
      double.url.replace("http", "ws"),
    ]
      .concat(["--symbols", "BTCUSDT,ETHUSDT", "--store", `sqlite:${file}`, "--until", "2025-05-06"])
      .concat(["--lockstep", "--warmup-bars", "0", "--json", "--log-level", "info"]);

    // Orders reaching the double: a kill armed on the n-th one fires before the client reads the answer.
    let orders = 0;
    let armedOrder: number | undefined;
    const killNow = () => {
      child?.kill("SIGKILL");
      armedOrder = undefined;
    };
    for (const method of ["newOrder", "newAlgoOrder"] as const) {
      const place = exchange[method].bind(exchange);
      exchange[method] = async (p) => {
        const placed = await place(p);
        orders += 1;
        if (armedOrder !== undefined && orders >= armedOrder) killNow();
        return placed;
      };
    }

    const next = random(SEED);
    // Each kill counts from the start of its attempt (the two days have about 39 orders and 5,900 steps).
    const kills: Kill[] = [
      { order: 2 },
      { steps: 200 + Math.floor(next() * 400) },
      { order: 3 },
      { steps: 200 + Math.floor(next() * 400) },
      { order: 1 },
      { steps: 200 + Math.floor(next() * 400) },
      { order: 2 },
    ];
    const outcomes: string[] = [];
    let stderr = "";
    let summary: Record<string, unknown> | undefined;
    for (let attempt = 0; attempt < 12 && summary === undefined; attempt++) {
      const kill = kills[attempt];
      armedOrder = kill && "order" in kill ? orders + kill.order : undefined;
      const fromStep = sim.status().stepsSent;
      child = spawn(process.execPath, [BIN, ...args], {
        cwd: mkdtempSync(join(tmpdir(), "perpsource-crash-cwd-")),
        env: env(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
      });
      child.stderr!.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      const watch =
        kill && "steps" in kill
          ? setInterval(() => {
              if (sim!.status().stepsSent >= fromStep + kill.steps) killNow();
            }, 5)
          : undefined;
      const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child!.on("exit", (code, signal) => resolve({ code, signal })),
      );
      clearInterval(watch);
      child = undefined;
      outcomes.push(exit.signal ?? String(exit.code));
      if (exit.signal === "SIGKILL") continue;
      expect(exit.code, stderr.slice(-4_000)).toBe(0);
      summary = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>;
    }

    expect(outcomes).toEqual([...kills.map(() => "SIGKILL"), "0"]);
    expect(summary).toMatchObject({ mode: "testnet", completed: true, continued: true, bars: 2 * 2880 });
    // The order kills left an order in doubt: the restarted run found it at the double instead of sending it.
    expect(stderr).toContain("order in doubt: found at the venue, not sent");
    const store = SqliteEventStore.open(file, { readOnly: true });
    const result = await audit(store, exchange);
    await store.close();
    expect(result.venueFills.length).toBeGreaterThan(0);
    expect(result.duplicateOrderIds).toEqual([]);
    expect(result.logFills).toEqual(result.venueFills);
    expect(result.logPositions).toEqual(result.venuePositions);
    expect(result.logWallet).toBe(result.venueWallet);
  }, 600_000);
});
