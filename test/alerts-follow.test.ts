/**
 * Alerts on a store (src/adapters/alerts/follow-alerts.ts): the stored log is folded without alerting, later
 * events alert through the store subscription — an operator's halt from another writer of the same SQLite file
 * reaches a local webhook receiver, as does `perpsource halt` on the store `perpsource serve` follows — the
 * market stream hook alerts on a long outage; and the `alerts` config
 * section: its keys, errors naming the key and its source, tokens from the environment only.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { runMachine } from "../src/actors/run.machine.ts";
import { type AlertService, startAlerts } from "../src/adapters/alerts/follow-alerts.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import type { Alert } from "../src/alerts/rules.ts";
import { alertTokens, ConfigError, loadConfig } from "../src/config/load.ts";
import { AlertsConfigSchema, BacktestConfigSchema } from "../src/config/schema.ts";
import { RiskEngine } from "../src/engine/risk-engine.ts";
import { operatorChangeTradingState } from "../src/engine/risk-operator.ts";
import { CorruptEventError, type EventStore } from "../src/events/store.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const logger = pino({ level: process.env.PERPSOURCE_TEST_LOG ?? "silent" });
const T0 = Date.UTC(2025, 4, 5);
const dir = mkdtempSync(join(tmpdir(), "perpsource-alerts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let server: Server | undefined;
let alerts: AlertService | undefined;
afterEach(async () => {
  await alerts?.close(0);
  alerts = undefined;
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** A webhook receiver on a free port: the alerts it got, and a wait for the n-th. */
async function webhookReceiver() {
  const received: Alert[] = [];
  const waiters: (() => void)[] = [];
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      received.push(JSON.parse(body) as Alert);
      res.writeHead(204).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  const until = async (n: number, ms: number): Promise<Alert[]> => {
    const deadline = Date.now() + ms;
    while (received.length < n && Date.now() < deadline) {
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return received;
  };
  return { url, received, until };
}

async function recordRun(store: EventStore): Promise<void> {
  const deps = { store, correlationId: "run-follow" };
  await EventSourcedActor.create("run-run-follow", runMachine, deps).commit(
    [
      {
        type: "RunStarted",
        data: {
          runId: "run-follow",
          mode: "paper",
          strategy: "sma-cross",
          symbols: ["BTCUSDT"],
          from: T0,
          to: T0 + 86_400_000,
          config: BacktestConfigSchema.parse({}) as unknown as Record<string, unknown>,
          manifest: [],
        },
      },
    ],
    { causationId: "test", eventTime: T0 },
  );
  await EventSourcedActor.create("account-main", accountMachine, deps).commit(
    [{ type: "AccountOpened", data: { accountId: "main", asset: "USDT", walletBalance: "10000" } }],
    { causationId: "test", eventTime: T0 },
  );
  const view = () => ({ walletBalance: "10000", positions: {}, openOrders: [] });
  await new RiskEngine({ store, runId: "run-follow", accountId: "main", limits: {}, view }).start({
    causationId: "test",
    eventTime: T0 + 1,
  });
}

const config = (url: string, streamDownMs = 60_000) =>
  AlertsConfigSchema.parse({ webhook: { url }, streamDownMs, dedupeMs: 0 });

describe("alerts following a store", () => {
  it("the stored log is not alerted; a halt appended by another writer reaches the webhook within seconds", async () => {
    const file = join(dir, "follow.sqlite");
    const writer = SqliteEventStore.open(file);
    await recordRun(writer);
    await operatorChangeTradingState(writer, "HALTED", "before the watch");
    await operatorChangeTradingState(writer, "ACTIVE", "back");
    await writer.close();

    const hook = await webhookReceiver();
    const reader = SqliteEventStore.open(file, { readOnly: true });
    try {
      alerts = await startAlerts({ store: reader, config: config(hook.url), tokens: {}, logger });
      expect(alerts).toBeDefined();
      expect(alerts!.stats().events).toBeGreaterThan(0);

      const other = SqliteEventStore.open(file);
      const started = Date.now();
      await operatorChangeTradingState(other, "HALTED", "runaway strategy");
      await other.close();
      const received = await hook.until(1, 5_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(received).toEqual([
        expect.objectContaining({
          source: "perpsource",
          kind: "tradingState",
          severity: "critical",
          title: "Trading HALTED (was ACTIVE) by operator",
          runId: "run-follow",
          data: expect.objectContaining({ reason: "runaway strategy", by: "operator" }),
        }),
      ]);
      for (let i = 0; i < 40 && alerts!.stats().sinks["webhook"]!.sent === 0; i++) {
        await new Promise((r) => setTimeout(r, 25)); // the receiver has it before the sink reads the answer
      }
      expect(alerts!.stats().sinks["webhook"]).toMatchObject({ sent: 1, failed: 0, dropped: 0 });
    } finally {
      await alerts?.close(0);
      alerts = undefined;
      await reader.close();
    }
  });

  it("the market stream hook: an outage longer than streamDownMs alerts, its end too; a short one does not", async () => {
    const hook = await webhookReceiver();
    const file = join(dir, "stream.sqlite");
    const store = SqliteEventStore.open(file);
    try {
      alerts = await startAlerts({ store, config: config(hook.url, 1_000), tokens: {}, logger });
      alerts!.marketStream("down");
      await new Promise((r) => setTimeout(r, 50));
      alerts!.marketStream("up"); // 50 ms: no alert
      alerts!.marketStream("down");
      const [down] = await hook.until(1, 3_000);
      expect(down).toMatchObject({ kind: "streamDown", severity: "critical", key: "stream:down" });
      expect(down!.data["downMs"]).toBeGreaterThanOrEqual(1_000);
      alerts!.marketStream("up");
      const all = await hook.until(2, 3_000);
      expect(all.map((a) => a.kind)).toEqual(["streamDown", "streamUp"]);
    } finally {
      await alerts?.close(0);
      alerts = undefined;
      await store.close();
    }
  });

  it("a log it cannot read: startAlerts still resolves, and one critical alert names the problem", async () => {
    const hook = await webhookReceiver();
    const inner = SqliteEventStore.open(join(dir, "corrupt.sqlite"));
    const corrupt = new CorruptEventError(3, "risk-main", 1, "TradingStateChanged", "data is not JSON");
    const store: EventStore = Object.assign(Object.create(inner) as EventStore, {
      // biome-ignore lint/correctness/useYield: a log unreadable from its first event
      readAll: async function* () {
        throw corrupt;
      },
    });
    try {
      alerts = await startAlerts({ store, config: config(hook.url), tokens: {}, logger });
      const [alert] = await hook.until(1, 3_000);
      expect(alert).toMatchObject({
        key: "alerts:stopped",
        kind: "logUnreadable",
        severity: "critical",
        text: String(corrupt),
      });
    } finally {
      await alerts?.close(0);
      alerts = undefined;
      await inner.close();
    }
  });

  it("no sink configured: no service", async () => {
    const store = SqliteEventStore.open(join(dir, "none.sqlite"));
    expect(
      await startAlerts({ store, config: AlertsConfigSchema.parse({}), tokens: {}, logger }),
    ).toBeUndefined();
    await store.close();
  });
});

describe("perpsource serve with alerts", () => {
  it("alerts on a halt that `perpsource halt` appends to the store it serves", async () => {
    const file = join(dir, "served.sqlite");
    const writer = SqliteEventStore.open(file);
    await recordRun(writer);
    await writer.close();
    const hook = await webhookReceiver();
    const cwd = mkdtempSync(join(tmpdir(), "perpsource-alerts-serve-"));
    writeFileSync(
      join(cwd, "perpsource.config.json"),
      JSON.stringify({ alerts: { webhook: { url: hook.url } } }),
    );
    const clean = Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_"));
    const env = Object.fromEntries(clean) as Record<string, string>;
    const store = ["--store", `sqlite:${file}`];
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const child = spawn(
      process.execPath,
      [BIN, "--log-level", "warn", "serve", ...store, "--port", String(port)],
      {
        cwd,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("serving on") && resolve());
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString();
        });
        child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
      });
      const halt = spawnSync(
        process.execPath,
        [BIN, "--log-level", "warn", "halt", ...store, "--reason", "by hand"],
        {
          cwd,
          env,
          encoding: "utf8",
        },
      );
      expect(halt.status, halt.stderr).toBe(0);
      const [alert] = await hook.until(1, 5_000);
      expect(alert).toMatchObject({
        kind: "tradingState",
        severity: "critical",
        data: { to: "HALTED", reason: "by hand" },
      });
    } finally {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.on("exit", r));
      }
    }
  });
});

describe("the alerts config section", () => {
  const cwd = mkdtempSync(join(tmpdir(), "perpsource-alerts-cfg-"));
  const withFile = (alertsSection: unknown) => {
    writeFileSync(join(cwd, "perpsource.config.json"), JSON.stringify({ alerts: alertsSection }));
    return join(cwd, "perpsource.config.json");
  };
  const problems = (env: Record<string, string>, section: unknown): string[] => {
    const file = withFile(section);
    try {
      loadConfig({ cwd, env, flags: {} });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems.map((p) => p.replace(file, "FILE"));
    }
    throw new Error("expected a ConfigError");
  };

  it("defaults, and every key from the file", () => {
    const cfg = loadConfig({ cwd: mkdtempSync(join(tmpdir(), "perpsource-empty-")), env: {}, flags: {} });
    expect(cfg.alerts).toEqual({
      rejectionBurst: { count: 5, windowMs: 60_000 },
      streamDownMs: 60_000,
      drawdownThresholds: ["0.05", "0.1", "0.2"],
      marginCallRatio: "0.8",
      dedupeMs: 300_000,
      ratePerMinute: 20,
      queueSize: 1_000,
    });
    withFile({
      webhook: { url: "https://hooks.example/perpsource" },
      telegram: { chatId: "@perpsource_ops", apiRoot: "http://127.0.0.1:8081" },
      rejectionBurst: { count: 3 },
      streamDownMs: 30_000,
      drawdownThresholds: ["0.1"],
      dedupeMs: 0,
      ratePerMinute: 5,
    });
    const env = { PERPSOURCE_TELEGRAM_TOKEN: "123456789:AAEexampleexampleexampleexample" };
    expect(loadConfig({ cwd, env, flags: {} }).alerts).toMatchObject({
      webhook: { url: "https://hooks.example/perpsource" },
      telegram: { chatId: "@perpsource_ops", apiRoot: "http://127.0.0.1:8081" },
      rejectionBurst: { count: 3, windowMs: 60_000 },
      streamDownMs: 30_000,
      drawdownThresholds: ["0.1"],
      dedupeMs: 0,
      ratePerMinute: 5,
    });
  });

  it("errors name the key and its source; tokens come from the environment only", () => {
    expect(
      problems({}, { webhook: { url: "ftp://x" }, drawdownThresholds: ["1.5"], ratePerMinute: 0 }),
    ).toEqual([
      'alerts.webhook.url (from file FILE): expected an http(s) URL such as "https://hooks.example/perpsource"',
      'alerts.drawdownThresholds[0] (from file FILE): expected a decimal ratio between 0 and 1 (exclusive) such as "0.1"',
      "alerts.ratePerMinute (from file FILE): expected an integer 1–10000",
    ]);
    expect(problems({}, { telegram: { chatId: 42 } })).toEqual([
      "alerts.telegram (from file FILE): PERPSOURCE_TELEGRAM_TOKEN is not set; the bot's token is read from the " +
        "environment only, never from the config file",
    ]);
    expect(
      problems({ PERPSOURCE_TELEGRAM_TOKEN: "123:abc" }, { telegram: { chatId: 42, token: "123:abc" } }),
    ).toEqual(["alerts.telegram.token (from file FILE): unknown key"]);
    expect(() =>
      alertTokens({ PERPSOURCE_TELEGRAM_TOKEN: "nope", PERPSOURCE_WEBHOOK_TOKEN: "short" }),
    ).toThrow(
      new ConfigError([
        "env PERPSOURCE_TELEGRAM_TOKEN: expected a bot token such as 123456789:AAE… (from @BotFather)",
        "env PERPSOURCE_WEBHOOK_TOKEN: expected a token of 16 to 512 letters, digits or -._~+/",
      ]),
    );
    expect(
      alertTokens({
        PERPSOURCE_TELEGRAM_TOKEN: "123456789:AAEexampleexampleexampleexample",
        PERPSOURCE_WEBHOOK_TOKEN: "",
      }),
    ).toEqual({ telegram: "123456789:AAEexampleexampleexampleexample" });
  });
});
