/**
 * Sending alerts: the dedupe window and the token bucket (properties), and the dispatcher with the real sinks
 * against local `node:http` servers — a webhook receiver and a fake Telegram Bot API answering `sendMessage` —
 * including a receiver that answers 500, one that never answers, a full queue, and the producer never waiting.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import fc from "fast-check";
import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { AlertDispatcher, type AlertDispatcherOptions } from "../src/adapters/alerts/dispatcher.ts";
import { registerAlertMetrics } from "../src/adapters/alerts/metrics.ts";
import { telegramSink } from "../src/adapters/alerts/telegram.ts";
import { WebhookError, webhookSink } from "../src/adapters/alerts/webhook.ts";
import { Deduper, TokenBucket } from "../src/alerts/limits.ts";
import { type Alert, alertText } from "../src/alerts/rules.ts";

const logger = pino({ level: process.env.PERPSOURCE_TEST_LOG ?? "silent" });
const TOKEN = "123456789:AAEexampleexampleexampleexample";

function alert(key: string, severity: Alert["severity"] = "warning"): Alert {
  return {
    key,
    kind: "tradingState",
    severity,
    title: `Trading HALTED (${key})`,
    text: "reason: test",
    at: Date.UTC(2025, 4, 5),
    position: 7,
    runId: "run-1",
    data: { to: "HALTED" },
  };
}

describe("Deduper", () => {
  it("property: a key passes iff no alert of that key passed within the window before it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 }),
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.integer({ min: 0, max: 400 })), {
          maxLength: 60,
        }),
        (windowMs, steps) => {
          const dedupe = new Deduper(windowMs);
          const passed: { key: string; at: number }[] = [];
          let now = 0;
          for (const [key, dt] of steps) {
            now += dt;
            const blocker = passed.some((p) => p.key === key && now - p.at < windowMs);
            expect(dedupe.admit(key, now)).toBe(!blocker);
            if (!blocker) passed.push({ key, at: now });
          }
        },
      ),
    );
  });
});

describe("TokenBucket", () => {
  it("property: never more than capacity + t × rate sends in any t ms; a refusal's wait is enough", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 120 }),
        (capacity, gaps) => {
          const bucket = new TokenBucket(capacity, 60_000);
          const granted: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            const wait = bucket.take(now);
            if (wait === 0) granted.push(now);
            else {
              expect(wait).toBeGreaterThan(0);
              // Nothing taken meanwhile: a token is there after `wait` (and not 1 ms before, to the ms).
              const probe = () => {
                const b = new TokenBucket(capacity, 60_000);
                for (const t of granted) b.take(t);
                return b;
              };
              expect(probe().take(now + wait)).toBe(0);
              expect(probe().take(now + wait - 1)).toBeGreaterThan(0);
            }
          }
          for (let i = 0; i < granted.length; i++) {
            for (let j = i; j < granted.length; j++) {
              const span = granted[j]! - granted[i]!;
              expect(j - i + 1).toBeLessThanOrEqual(capacity + Math.floor((span * capacity) / 60_000) + 1e-9);
            }
          }
        },
      ),
    );
  });
});

/** A local HTTP server answering with `handle`; every request's body is recorded. */
interface Receiver {
  url: string;
  requests: { path: string; headers: IncomingMessage["headers"]; body: string }[];
  server: Server;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function receiver(
  handle: (req: IncomingMessage, res: ServerResponse, body: string, n: number) => void,
): Promise<Receiver> {
  const requests: Receiver["requests"] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      requests.push({ path: req.url ?? "", headers: req.headers, body });
      handle(req, res, body, requests.length);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests, server };
}

const ok = (res: ServerResponse, body: unknown = { ok: true }) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

/** A fake Telegram Bot API: sendMessage of bot TOKEN answers like Telegram (or with `error`). */
function telegramApi(error?: { error_code: number; description: string }) {
  return receiver((req, res, body) => {
    if (req.url !== `/bot${TOKEN}/sendMessage`) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: false, error_code: 404, description: "Not Found" }));
      return;
    }
    if (error) {
      res.writeHead(error.error_code, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: false, ...error }));
      return;
    }
    const { chat_id, text } = JSON.parse(body) as { chat_id: number; text: string };
    ok(res, { ok: true, result: { message_id: 1, date: 0, chat: { id: chat_id, type: "private" }, text } });
  });
}

function dispatcher(options: Partial<AlertDispatcherOptions> & Pick<AlertDispatcherOptions, "sinks">) {
  return new AlertDispatcher({
    logger,
    dedupeMs: 60_000,
    ratePerMinute: 100,
    queueSize: 100,
    attempts: 3,
    retryDelayMs: 5,
    sendTimeoutMs: 2_000,
    ...options,
  });
}

describe("sinks against local servers", () => {
  it("the webhook POSTs the alert as JSON with the bearer token; Telegram sends its text to the chat", async () => {
    const hook = await receiver((_req, res) => ok(res));
    const telegram = await telegramApi();
    const d = dispatcher({
      sinks: [
        webhookSink({ url: `${hook.url}/alerts`, token: "webhook-token-0123456789" }),
        telegramSink({ token: TOKEN, chatId: -1001234567890, apiRoot: telegram.url }),
      ],
    });
    d.enqueue(alert("tradingState:main:HALTED", "critical"));
    await d.idle();
    expect(hook.requests).toHaveLength(1);
    expect(hook.requests[0]!.path).toBe("/alerts");
    expect(hook.requests[0]!.headers["authorization"]).toBe("Bearer webhook-token-0123456789");
    expect(hook.requests[0]!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(hook.requests[0]!.body)).toEqual({
      source: "perpsource",
      ...alert("tradingState:main:HALTED", "critical"),
    });
    expect(telegram.requests).toHaveLength(1);
    expect(JSON.parse(telegram.requests[0]!.body)).toMatchObject({
      chat_id: -1001234567890,
      text: alertText(alert("tradingState:main:HALTED", "critical")),
      link_preview_options: { is_disabled: true },
    });
    expect(d.stats()).toEqual({
      sinks: {
        webhook: { sent: 1, failed: 0, dropped: 0, queued: 0 },
        telegram: { sent: 1, failed: 0, dropped: 0, queued: 0 },
      },
      deduplicated: 0,
    });
  });

  it("a Telegram message longer than the Bot API's 4 096 characters is cut, ending in …", async () => {
    const telegram = await telegramApi();
    const sink = telegramSink({ token: TOKEN, chatId: 42, apiRoot: telegram.url });
    await sink.send({ ...alert("long"), text: "x".repeat(5_000) }, AbortSignal.timeout(2_000));
    const { text } = JSON.parse(telegram.requests[0]!.body) as { text: string };
    expect(text).toHaveLength(4_096);
    expect(text.startsWith(`🟠 ${alert("long").title}\nxxx`)).toBe(true);
    expect(text.endsWith("x…")).toBe(true);
  });

  it("the same key within the dedupe window is sent once; another key is not held back", async () => {
    const hook = await receiver((_req, res) => ok(res));
    const d = dispatcher({ sinks: [webhookSink({ url: hook.url })] });
    d.enqueue(alert("a"));
    d.enqueue(alert("a"));
    d.enqueue(alert("b"));
    await d.idle();
    expect(hook.requests.map((r) => (JSON.parse(r.body) as Alert).key)).toEqual(["a", "b"]);
    expect(hook.requests[0]!.headers["authorization"]).toBeUndefined();
    expect(d.stats().deduplicated).toBe(1);
  });

  it("a receiver answering 500 is retried with backoff until it takes the alert; one that keeps failing is given up", async () => {
    const flaky = await receiver((_req, res, _body, n) => {
      if (n <= 2) {
        res.writeHead(500);
        res.end("boom");
      } else ok(res);
    });
    const d = dispatcher({ sinks: [webhookSink({ url: flaky.url })] });
    d.enqueue(alert("x"));
    await d.idle();
    expect(flaky.requests).toHaveLength(3);
    expect(d.stats().sinks["webhook"]).toMatchObject({ sent: 1, failed: 0 });

    const blocked = await telegramApi({
      error_code: 403,
      description: "Forbidden: bot was blocked by the user",
    });
    const t = dispatcher({ sinks: [telegramSink({ token: TOKEN, chatId: 42, apiRoot: blocked.url })] });
    t.enqueue(alert("y"));
    await t.idle();
    expect(blocked.requests).toHaveLength(3);
    expect(t.stats().sinks["telegram"]).toMatchObject({ sent: 0, failed: 1 });
    await expect(
      webhookSink({ url: flaky.url }).send(alert("z"), AbortSignal.timeout(1_000)),
    ).resolves.toBeUndefined();
    const failing = await receiver((_req, res) => {
      res.writeHead(503);
      res.end("unavailable");
    });
    await expect(
      webhookSink({ url: failing.url }).send(alert("z"), AbortSignal.timeout(1_000)),
    ).rejects.toThrow(new WebhookError(503, "unavailable"));
  });

  it("a hanging sink delays neither the producer nor the other sink; its queue is bounded, overflow counted", async () => {
    const hanging = await receiver(() => {}); // never answers
    const telegram = await telegramApi();
    const d = dispatcher({
      sinks: [
        webhookSink({ url: hanging.url }),
        telegramSink({ token: TOKEN, chatId: 42, apiRoot: telegram.url }),
      ],
      queueSize: 10,
      sendTimeoutMs: 60_000,
    });
    const started = performance.now();
    for (let i = 0; i < 10; i++) d.enqueue(alert(`k${i}`));
    const enqueueMs = performance.now() - started;
    expect(enqueueMs).toBeLessThan(50);
    for (let i = 0; i < 50 && telegram.requests.length < 10; i++) await new Promise((r) => setTimeout(r, 50));
    expect(telegram.requests).toHaveLength(10);
    expect(hanging.requests.length).toBeLessThanOrEqual(1);
    // The webhook's worker holds one alert in flight and 9 queued; 5 more: 1 fits, 4 are dropped.
    for (let i = 10; i < 15; i++) d.enqueue(alert(`k${i}`));
    expect(d.stats().sinks["webhook"]).toEqual({ sent: 0, failed: 0, dropped: 4, queued: 10 });
    // Closing gives up what the hanging sink still holds.
    await d.close(100);
    expect(d.stats().sinks["webhook"]).toMatchObject({ sent: 0, dropped: 4, queued: 0, failed: 11 });
    expect(d.stats().sinks["telegram"]).toMatchObject({ sent: 15, failed: 0 });
  });

  it("rate limit: a sink gets ratePerMinute alerts at once, the next waits for its token", async () => {
    const hook = await receiver((_req, res) => ok(res));
    const d = dispatcher({ sinks: [webhookSink({ url: hook.url })], ratePerMinute: 2 });
    for (const key of ["a", "b", "c"]) d.enqueue(alert(key));
    for (let i = 0; i < 100 && d.stats().sinks["webhook"]!.sent < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // the third's token is 30 s away
    expect(hook.requests).toHaveLength(2);
    expect(d.stats().sinks["webhook"]).toMatchObject({ sent: 2, queued: 1 });
    await d.close(0);
    expect(d.stats().sinks["webhook"]).toMatchObject({ sent: 2, failed: 1, queued: 0 });
  });

  it("/metrics families: alerts by sink and outcome, deduplicated, queued; none while alerts are off", async () => {
    const hook = await receiver((_req, res) => ok(res));
    const failing = await receiver((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    const d = dispatcher({
      sinks: [webhookSink({ url: hook.url }), { ...webhookSink({ url: failing.url }), name: "backup" }],
      attempts: 1,
    });
    for (const key of ["a", "a", "b"]) d.enqueue(alert(key));
    await d.idle();
    const registry = new Registry();
    registerAlertMetrics(registry, () => ({ ...d.stats(), events: 0 }));
    const text = await registry.metrics();
    const samples = text.split("\n").filter((l) => l.startsWith("perpsource_alerts"));
    expect(samples).toEqual([
      'perpsource_alerts_total{sink="webhook",outcome="sent"} 2',
      'perpsource_alerts_total{sink="webhook",outcome="failed"} 0',
      'perpsource_alerts_total{sink="webhook",outcome="dropped"} 0',
      'perpsource_alerts_total{sink="backup",outcome="sent"} 0',
      'perpsource_alerts_total{sink="backup",outcome="failed"} 2',
      'perpsource_alerts_total{sink="backup",outcome="dropped"} 0',
      "perpsource_alerts_deduplicated_total 1",
      'perpsource_alerts_queued{sink="webhook"} 0',
      'perpsource_alerts_queued{sink="backup"} 0',
    ]);
    const off = new Registry();
    registerAlertMetrics(off, () => undefined);
    expect((await off.metrics()).split("\n").filter((l) => l.startsWith("perpsource_alerts"))).toEqual([]);
  });
});
