/**
 * HTTP under load (issue 5 item 10): a store with a large log (a synthetic two-symbol run of 150,000 1m bars
 * with 625 round trips, still being written), served on 127.0.0.1. A child process runs 20 clients asking for
 * `/pnl?interval=1m` in a loop (in its own process, so reading 20 bodies at a time does not load the server's
 * event loop), a writer appends bars (so the cached body goes stale every few requests), and this process
 * times `/health`. Pass/fail is the bound: /health p99 ≤ 50 ms. Counts and duration are bounded.
 */
import { spawn } from "node:child_process";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { HealthResponse, PnlResponse } from "../src/adapters/http/schemas.ts";
import { serveProjections } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { streams } from "../src/events/streams.ts";
import { barAt, writeLargeRun } from "./support/large-log.ts";

const MINUTES = 75_000; // × 2 symbols = 150,000 bars, 52 days of 1m equity samples
const CLIENTS = 20;
const HEALTH_SAMPLES = 400;
const HEALTH_EVERY_MS = 10;
const P99_BOUND_MS = 50;
/** Each client's pause between two requests (a dashboard polls; a zero pause would only measure the CPU). */
const CLIENT_PAUSE_MS = 20;
/** Load before the first /health sample. */
const WARM_UP_MS = 1_000;

/**
 * Node script for the child: CLIENTS loops of GET argv[1] (then a CLIENT_PAUSE_MS pause) until a line
 * arrives on stdin, then prints
 * `{ answers, failures }` (failures: non-200 statuses) and exits.
 */
const CLIENTS_SCRIPT = `
const url = process.argv[1];
let answers = 0, failures = 0, stop = false;
process.stdin.once("data", () => { stop = true; });
await Promise.all(Array.from({ length: ${CLIENTS} }, async () => {
  while (!stop) {
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status === 200) answers++; else failures++;
    await new Promise((resolve) => setTimeout(resolve, ${CLIENT_PAUSE_MS}));
  }
}));
console.log(JSON.stringify({ answers, failures }));
process.exit(0);
`;

/** The q-quantile (nearest rank) of `values`. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Starts the clients on `url`; `stop()` ends them and resolves to their counts. */
function startClients(url: string): { stop(): Promise<{ answers: number; failures: number }> } {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CLIENTS_SCRIPT, url], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return {
    async stop() {
      child.stdin.write("stop\n");
      const code = await exited;
      if (code !== 0) throw new Error(`the load clients exited with ${code}`);
      return JSON.parse(out);
    },
  };
}

describe("HTTP under load", () => {
  it(`keeps /health p99 ≤ ${P99_BOUND_MS} ms under ${CLIENTS} parallel /pnl?interval=1m clients on a 150k-bar log`, async () => {
    const store = new InMemoryEventStore();
    const { writer } = await writeLargeRun(store, { minutes: MINUTES, completed: false });
    const server = await serveProjections({
      store,
      host: "127.0.0.1",
      port: 0,
      logger: pino({ level: "silent" }),
    });
    let writing = true;
    try {
      // the run is still being written: a bar pair every 25 ms moves the log position
      const writer$ = (async () => {
        for (let minute = MINUTES; writing; minute++) {
          for (const symbol of ["BTCUSDT", "ETHUSDT"] as const) {
            const bar = barAt(symbol, minute);
            await writer.append(streams.symbol(symbol), "BarClosed", bar, bar.closeTime);
          }
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      })();
      const clients = startClients(`${server.url}/pnl?interval=1m`);
      // steady state: the clients' connections are open and the first (JIT-cold) builds are done
      await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));

      const latencies: number[] = [];
      for (let i = 0; i < HEALTH_SAMPLES; i++) {
        await new Promise((resolve) => setTimeout(resolve, HEALTH_EVERY_MS));
        const started = performance.now();
        const res = await fetch(`${server.url}/health`);
        await res.arrayBuffer();
        latencies.push(performance.now() - started);
        expect(res.status).toBe(200);
      }
      const { answers, failures } = await clients.stop();
      writing = false;
      await writer$;

      const p50 = quantile(latencies, 0.5);
      const p99 = quantile(latencies, 0.99);
      expect(p99, `/health p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`).toBeLessThanOrEqual(
        P99_BOUND_MS,
      );
      // the load was real: many answers, none failed, on a live log
      expect(failures).toBe(0);
      expect(answers).toBeGreaterThanOrEqual(CLIENTS * 10);
      const health = HealthResponse.parse(await (await fetch(`${server.url}/health`)).json());
      expect(health).toMatchObject({ status: "incomplete", runId: "load" });
      expect(health.events).toBeGreaterThan(152_503);
      // each answer is the whole 52-day curve downsampled to 2,000 points
      const pnl = await fetch(`${server.url}/pnl?interval=1m`);
      expect(pnl.headers.get("x-log-position")).toBe(String(health.lastPosition));
      const { equityCurve } = PnlResponse.parse(await pnl.json());
      expect(equityCurve.totalPoints).toBeGreaterThan(MINUTES);
      expect(equityCurve.downsampled).toBe(true);
      expect(equityCurve.points.length).toBeLessThanOrEqual(2_000);
    } finally {
      writing = false;
      await server.close();
      await store.close();
    }
  }, 60_000);
});
