/**
 * Issue 9, "Done when": a paper run against the local Binance double with `--serve`, where a forced halt sends a
 * webhook alert. `perpsource run --mode paper --lockstep --serve PORT` runs as a child process against the
 * in-process double (real BTCUSDT+ETHUSDT data, test/support/live-double.ts), its config file naming a local
 * webhook receiver and a fake Telegram Bot API (`alerts.telegram.apiRoot`), the bot's token in the environment.
 * `POST /control/halt` with the control token halts the run; both receivers get the HALTED alert within seconds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../src/alerts/rules.ts";
import type { ExchangeSim } from "../src/exchange-sim/server.ts";
import { API_KEY, startDouble } from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const root = requireRealData("a paper run against the double with alerts (BTCUSDT+ETHUSDT 2025-05-05..06)");
const CONTROL_TOKEN = "control-token-0123456789abcdef";
const BOT_TOKEN = "123456789:AAEexampleexampleexampleexample";

let sim: ExchangeSim | undefined;
let child: ChildProcess | undefined;
const servers: Server[] = [];
afterEach(async () => {
  child?.kill("SIGKILL");
  child = undefined;
  await sim?.close();
  sim = undefined;
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A local server recording each POST's JSON body; answers `answer`. */
async function recorder(answer: (body: unknown) => unknown) {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      const parsed = JSON.parse(body) as unknown;
      bodies.push({ path: req.url, body: parsed });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer(parsed)));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, bodies };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function eventually<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!root)("alerts of a paper run against the double, served with --serve", () => {
  it("POST /control/halt sends the HALTED alert to the webhook and to Telegram within seconds", async () => {
    const double = await startDouble(root!);
    sim = double.sim;
    const webhook = await recorder(() => ({ ok: true }));
    const telegram = await recorder((body) => ({
      ok: true,
      result: { message_id: 1, date: 0, chat: { id: (body as { chat_id: number }).chat_id, type: "group" } },
    }));
    const cwd = mkdtempSync(join(tmpdir(), "perpsource-alerts-e2e-"));
    writeFileSync(
      join(cwd, "perpsource.config.json"),
      JSON.stringify({
        alerts: {
          webhook: { url: `${webhook.url}/perpsource` },
          telegram: { chatId: -100200300, apiRoot: telegram.url },
        },
      }),
    );
    const port = await freePort();
    const clean = Object.entries(process.env).filter(
      ([k]) => !k.startsWith("PERPSOURCE_") && !k.startsWith("BINANCE_"),
    ) as [string, string][];
    const env = {
      ...Object.fromEntries(clean),
      BINANCE_API_KEY: API_KEY,
      PERPSOURCE_CONTROL_TOKEN: CONTROL_TOKEN,
      PERPSOURCE_TELEGRAM_TOKEN: BOT_TOKEN,
    };
    const args = [
      "run",
      "--mode",
      "paper",
      "--rest-url",
      double.url,
      "--ws-url",
      double.url.replace("http", "ws"),
    ]
      .concat(["--symbols", "BTCUSDT,ETHUSDT", "--store", `sqlite:${join(cwd, "paper.sqlite")}`])
      .concat(["--until", "2025-05-06", "--lockstep", "--warmup-bars", "0", "--serve", String(port)])
      .concat(["--log-level", "warn"]);
    child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const base = `http://127.0.0.1:${port}`;
    await eventually("the server", 60_000, () => (stdout.includes("serving on") ? true : undefined)).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${stderr.slice(-3_000)}`);
      },
    );
    // The run records its start, then trades; a halt before RunStarted answers 409.
    const halted = await eventually("the halt", 30_000, async () => {
      const response = await fetch(`${base}/control/halt`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${CONTROL_TOKEN}` },
        body: JSON.stringify({ reason: "forced by the alerts e2e" }),
      });
      return response.status === 200 ? Date.now() : undefined;
    });
    const alert = await eventually("the webhook alert", 5_000, () =>
      (webhook.bodies as { path: string; body: Alert }[]).find((b) => b.body.kind === "tradingState"),
    );
    expect(Date.now() - halted).toBeLessThan(5_000);
    expect(alert.path).toBe("/perpsource");
    expect(alert.body).toMatchObject({
      source: "perpsource",
      key: expect.stringMatching(/^tradingState:main:HALTED:/),
      severity: "critical",
      title: "Trading HALTED (was ACTIVE) by operator",
      data: { from: "ACTIVE", to: "HALTED", by: "operator", reason: "forced by the alerts e2e" },
    });
    const message = await eventually("the Telegram message", 5_000, () =>
      (telegram.bodies as { path: string; body: { chat_id: number; text: string } }[]).find((b) =>
        b.body.text.includes("Trading HALTED"),
      ),
    );
    expect(message.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
    expect(message.body.chat_id).toBe(-100200300);
    expect(message.body.text).toContain("reason: forced by the alerts e2e");
    // The run goes on (halted: orders denied) and the server still answers; SIGTERM stops both.
    const risk = (await (await fetch(`${base}/risk`)).json()) as { tradingState: string };
    expect(risk.tradingState).toBe("HALTED");
    // /metrics of the run counts what its dispatcher sent, per sink, beside the log's families.
    const metrics = await eventually("the alert counts on /metrics", 5_000, async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return /perpsource_alerts_total\{sink="telegram",outcome="sent"\} [1-9]/.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/perpsource_alerts_total\{sink="webhook",outcome="sent"\} [1-9]/);
    expect(metrics).toMatch(/perpsource_ws_reconnects_total\{stream="market"\} 0/);
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => child!.on("exit", (c) => r(c)));
    expect(code, stderr.slice(-3_000)).toBe(0);
    child = undefined;
  }, 120_000);
});
