/**
 * The serving process's own metrics (src/adapters/http/process-metrics.ts): the `timeWrites` store decorator is
 * an event store like the one it wraps (the conformance suite) and reports each successful write; the families
 * count what it reports and the reconnects they are told of; `/metrics` of a server given them carries them
 * beside the log's families.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ProcessMetrics } from "../src/adapters/http/process-metrics.ts";
import { serveProjections } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BACKTEST_GROUP_COMMIT, SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { type StoreWriteObserver, timeWrites } from "../src/adapters/store/timed.ts";
import { WrongExpectedRevisionError } from "../src/events/store.ts";
import { runEventStoreConformance } from "./event-store.conformance.ts";
import { FixtureEvents } from "./support/events.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("backtest --serve: the process metrics of the run it served");
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));

const ignore: StoreWriteObserver = { appended: () => {}, flushed: () => {} };
runEventStoreConformance("timeWrites(InMemoryEventStore)", async () =>
  timeWrites(new InMemoryEventStore(), ignore),
);

/** An observer that records what it is told. */
function recorder() {
  const appends: { events: number; seconds: number }[] = [];
  const flushes: number[] = [];
  const observer: StoreWriteObserver = {
    appended: (events, seconds) => appends.push({ events, seconds }),
    flushed: (seconds) => flushes.push(seconds),
  };
  return { appends, flushes, observer };
}

/** The value of the sample `name{labels}` in a Prometheus text, or undefined. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels === "" ? "" : `{${labels}}`} `));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("timeWrites", () => {
  it("reports each successful non-empty append with its event count and each flush, in seconds", async () => {
    const { appends, flushes, observer } = recorder();
    const inner = new InMemoryEventStore();
    const store = timeWrites(inner, observer);
    const f = new FixtureEvents("timed");
    const first = [f.barClosed(0), f.barClosed(1), f.barClosed(2)];
    await store.append(f.symbolStream(), first, "noStream");
    await store.append(f.symbolStream(), [f.barClosed(3)], 2);
    await store.append(f.symbolStream(), first, "noStream"); // an idempotent retry: resolves, reported as an append
    await store.append(f.symbolStream(), [], 3); // checks the revision only: nothing written
    await expect(store.append(f.symbolStream(), [f.barClosed(4)], 0)).rejects.toBeInstanceOf(
      WrongExpectedRevisionError,
    );
    await store.flush();
    expect(appends.map((a) => a.events)).toEqual([3, 1, 3]);
    expect(flushes).toHaveLength(1);
    for (const s of [...appends.map((a) => a.seconds), ...flushes]) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(5);
    }
    const stored = [];
    for await (const e of inner.readAll()) stored.push(e.eventId);
    expect(stored).toHaveLength(4);
  });

  it("times a group-commit store's commit in flush: the events are visible to another reader after it", async () => {
    const { appends, flushes, observer } = recorder();
    const file = join(mkdtempSync(join(tmpdir(), "perpsource-timed-")), "log.sqlite");
    const store = timeWrites(SqliteEventStore.open(file, { groupCommit: BACKTEST_GROUP_COMMIT }), observer);
    const f = new FixtureEvents("timed-sqlite");
    for (let i = 0; i < 20; i++)
      await store.append(f.symbolStream(), [f.barClosed(i)], i === 0 ? "noStream" : i - 1);
    const reader = SqliteEventStore.open(file, { readOnly: true });
    const count = async () => {
      let n = 0;
      for await (const _ of reader.readAll()) n++;
      return n;
    };
    expect(await count()).toBe(0); // the unit of work is still open
    await store.flush();
    expect(await count()).toBe(20);
    expect(appends).toHaveLength(20);
    expect(flushes).toHaveLength(1);
    await reader.close();
    await store.close();
  });
});

describe("ProcessMetrics", () => {
  it("counts appended events, write durations by op and reconnects by stream", async () => {
    const metrics = new ProcessMetrics();
    const before = await metrics.registry.metrics();
    // Present from the start at 0, so rate() and increase() see the first reconnect.
    expect(sample(before, "perpsource_ws_reconnects_total", 'stream="market"')).toBe(0);
    expect(sample(before, "perpsource_ws_reconnects_total", 'stream="user"')).toBe(0);
    expect(sample(before, "perpsource_store_write_duration_seconds_count", 'op="append"')).toBe(0);

    const store = timeWrites(new InMemoryEventStore(), metrics.storeWrites);
    const f = new FixtureEvents("process-metrics");
    await store.append(f.symbolStream(), [f.barClosed(0), f.barClosed(1)], "noStream");
    await store.append(f.symbolStream("ETHUSDT"), [f.barClosed(0)], "noStream");
    await store.flush();
    metrics.reconnected("market");
    metrics.reconnected("market");
    metrics.reconnected("user");
    const text = await metrics.registry.metrics();
    expect(sample(text, "perpsource_events_appended_total")).toBe(3);
    expect(sample(text, "perpsource_store_write_duration_seconds_count", 'op="append"')).toBe(2);
    expect(sample(text, "perpsource_store_write_duration_seconds_count", 'op="flush"')).toBe(1);
    expect(sample(text, "perpsource_store_write_duration_seconds_bucket", 'le="+Inf",op="append"')).toBe(2);
    expect(sample(text, "perpsource_store_write_duration_seconds_sum", 'op="append"')).toBeGreaterThanOrEqual(
      0,
    );
    expect(sample(text, "perpsource_ws_reconnects_total", 'stream="market"')).toBe(2);
    expect(sample(text, "perpsource_ws_reconnects_total", 'stream="user"')).toBe(1);
  });

  it("is served on /metrics beside the log's families when given to the server, and only then", async () => {
    const metrics = new ProcessMetrics();
    const store = timeWrites(new InMemoryEventStore(), metrics.storeWrites);
    const f = new FixtureEvents("served-metrics");
    await store.append(f.symbolStream(), [f.barClosed(0)], "noStream");
    metrics.reconnected("user");
    const logger = pino({ level: "silent" });
    const served = await serveProjections({
      store,
      host: "127.0.0.1",
      port: 0,
      logger,
      processMetrics: metrics.registry,
    });
    const plain = await serveProjections({ store, host: "127.0.0.1", port: 0, logger });
    try {
      expect(served.url).not.toMatch(/:0$/);
      const text = await (await fetch(`${served.url}/metrics`)).text();
      expect(sample(text, "perpsource_events_appended_total")).toBe(1);
      expect(sample(text, "perpsource_ws_reconnects_total", 'stream="user"')).toBe(1);
      expect(sample(text, "perpsource_events_total", 'type="BarClosed"')).toBe(1);
      expect(text).toContain("# TYPE process_cpu_user_seconds_total counter");
      const other = await (await fetch(`${plain.url}/metrics`)).text();
      expect(other).toContain("perpsource_events_total");
      expect(other).not.toContain("perpsource_events_appended_total");
    } finally {
      await served.close();
      await plain.close();
    }
  });
});

describe.skipIf(!root)("backtest --serve", () => {
  it("serves the process metrics of the backtest it ran: every event appended, the writes timed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "perpsource-backtest-serve-"));
    const args = ["--log-level", "warn", "backtest", "--symbols", "BTCUSDT", "--from", "2025-06-01"]
      .concat(["--to", "2025-06-01", "--data", root!, "--store", `sqlite:${join(dir, "b.sqlite")}`])
      .concat(["--json", "--serve", "0"]);
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString();
          const m = /serving on (http:\/\/\S+)/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        child.on("exit", (code) => reject(new Error(`backtest exited with ${code}: ${stderr}`)));
      });
      const summary = JSON.parse(stdout.trim()) as { events: number };
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(sample(text, "perpsource_events_appended_total")).toBe(summary.events);
      expect(sample(text, "perpsource_store_write_duration_seconds_count", 'op="append"')).toBeGreaterThan(0);
      expect(sample(text, "perpsource_ws_reconnects_total", 'stream="market"')).toBe(0);
    } finally {
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
