/**
 * The operator's kill switch from outside the run: `perpsource halt` on a SQLite store that `perpsource serve`
 * follows turns /risk to HALTED; the control routes answer 403 without a configured token, 401 for a missing or
 * wrong one, and change the state with the right one (body checked by zod).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { runMachine } from "../src/actors/run.machine.ts";
import { ControlResponse, RiskResponse } from "../src/adapters/http/schemas.ts";
import { buildHttpServer } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { RiskEngine } from "../src/engine/risk-engine.ts";
import { operatorChangeTradingState } from "../src/engine/risk-operator.ts";
import type { EventStore } from "../src/events/store.ts";
import { rebuildProjections } from "../src/projections/index.ts";

const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const RUN = "bt-control-test";
const T0 = Date.UTC(2025, 4, 5);
const dir = mkdtempSync(join(tmpdir(), "perpsource-control-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the start of a run into `store`: RunStarted, AccountOpened and RiskLimitsSet (a 15 % drawdown halt). */
async function recordRun(store: EventStore): Promise<void> {
  const deps = { store, correlationId: RUN };
  const config = BacktestConfigSchema.parse({ risk: { maxDrawdown: "0.15" } });
  await EventSourcedActor.create(`run-${RUN}`, runMachine, deps).commit(
    [
      {
        type: "RunStarted",
        data: {
          runId: RUN,
          mode: "backtest",
          strategy: "sma-cross",
          symbols: ["BTCUSDT"],
          from: T0,
          to: T0 + 86_400_000,
          config: config as unknown as Record<string, unknown>,
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
  await new RiskEngine({ store, runId: RUN, accountId: "main", limits: { maxDrawdown: "0.15" }, view }).start(
    {
      causationId: "test",
      eventTime: T0 + 1,
    },
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("perpsource halt on a store that serve follows", () => {
  it("serve's /risk goes from ACTIVE to HALTED, naming the operator and the reason", async () => {
    const file = join(dir, "live.sqlite");
    const writer = SqliteEventStore.open(file);
    await recordRun(writer);
    await writer.close();

    const port = await freePort();
    const env = { ...process.env, PERPSOURCE_CONTROL_TOKEN: "", PERPSOURCE_READ_TOKEN: "" };
    const child = spawn(
      process.execPath,
      [BIN, "--log-level", "warn", "serve", "--store", `sqlite:${file}`, "--port", String(port)],
      { stdio: ["ignore", "pipe", "pipe"], env },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("serving on") && resolve());
        child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const risk = async () =>
        RiskResponse.parse(await (await fetch(`http://127.0.0.1:${port}/risk`)).json());
      expect(await risk()).toMatchObject({
        tradingState: "ACTIVE",
        lastStateChange: null,
        // No bar yet: no equity sampled, so no drawdown to show.
        limits: expect.arrayContaining([{ name: "maxDrawdown", limit: "0.15", use: null }]),
      });

      const halt = spawnSync(
        process.execPath,
        [BIN, "--log-level", "warn", "halt", "--store", `sqlite:${file}`, "--reason", "runaway strategy"],
        { encoding: "utf8", env },
      );
      expect(halt.stderr).toBe("");
      expect(halt.status).toBe(0);
      expect(halt.stdout).toBe("trading ACTIVE → HALTED on risk-main (revision 1): runaway strategy\n");

      let body = await risk();
      for (let i = 0; i < 50 && body.tradingState !== "HALTED"; i++) {
        await new Promise((r) => setTimeout(r, 100));
        body = await risk();
      }
      expect(body).toMatchObject({
        tradingState: "HALTED",
        stateChanges: 1,
        lastStateChange: {
          from: "ACTIVE",
          to: "HALTED",
          by: "operator",
          reason: "runaway strategy",
          time: T0 + 1,
        },
      });
      // Without PERPSOURCE_CONTROL_TOKEN the control routes are disabled.
      const control = await fetch(`http://127.0.0.1:${port}/control/resume`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer x" },
        body: JSON.stringify({ reason: "back" }),
      });
      expect(control.status).toBe(403);
      expect(await control.json()).toEqual({
        error: "Forbidden",
        message:
          "the control routes are disabled: set PERPSOURCE_CONTROL_TOKEN in the server's environment " +
          "(or http.controlToken in the config file) to enable them",
      });
    } finally {
      child.kill("SIGTERM");
    }

    const again = spawnSync(
      process.execPath,
      [BIN, "--log-level", "warn", "halt", "--store", `sqlite:${file}`, "--reason", "twice"],
      { encoding: "utf8" },
    );
    expect(again.stdout).toBe("trading is already HALTED on risk-main: nothing appended\n");
    const missing = spawnSync(
      process.execPath,
      [BIN, "halt", "--store", `sqlite:${join(dir, "absent.sqlite")}`, "--reason", "x"],
      { encoding: "utf8" },
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`no file ${join(dir, "absent.sqlite")}`);
  }, 30_000);
});

describe("control routes", () => {
  async function app(token: string | undefined, recorded = true) {
    const store = new InMemoryEventStore();
    if (recorded) await recordRun(store);
    const projections = async () => rebuildProjections(store.readAll());
    let current = await projections();
    const server = buildHttpServer({
      store,
      projections: () => current,
      control: {
        token,
        change: async (to, reason) => {
          const outcome = await operatorChangeTradingState(store, to, reason);
          current = await projections();
          return outcome;
        },
      },
    });
    return { store, server };
  }
  const post = (path: string, headers: Record<string, string>, payload: unknown) => ({
    method: "POST" as const,
    url: path,
    headers: { "content-type": "application/json", ...headers },
    payload: JSON.stringify(payload),
  });

  it("no token configured: 403, nothing appended", async () => {
    for (const token of [undefined, ""]) {
      const { store, server } = await app(token);
      const res = await server.inject(post("/control/halt", { authorization: "Bearer " }, { reason: "x" }));
      expect(res.statusCode).toBe(403);
      expect(await store.streamRevision("risk-main")).toBe(0);
    }
  });

  it("a missing or wrong token: 401 with a Bearer challenge, nothing appended", async () => {
    const { store, server } = await app("s3cret-token");
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer s3cret-tokeN" },
      { authorization: "Basic s3cret-token" },
    ];
    for (const headers of attempts) {
      const res = await server.inject(post("/control/halt", headers, { reason: "x" }));
      expect(res.statusCode).toBe(401);
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="perpsource control"');
      expect(res.json()).toEqual({
        error: "Unauthorized",
        message: "missing or wrong bearer token (Authorization: Bearer <PERPSOURCE_CONTROL_TOKEN>)",
      });
    }
    expect(await store.streamRevision("risk-main")).toBe(0);
  });

  it("a store without a run: 409 naming it, never a 500", async () => {
    const { store, server } = await app("s3cret-token", false);
    const res = await server.inject(
      post("/control/halt", { authorization: "Bearer s3cret-token" }, { reason: "x" }),
    );
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ message: "the store is empty: it holds no run" });
    expect(await store.streamRevision("risk-main")).toBeUndefined(); // nothing appended
  });

  it("the right token halts and resumes; /risk follows; a bad body is a 400 naming the field", async () => {
    const { server } = await app("s3cret-token");
    const auth = { authorization: "Bearer s3cret-token" };
    const bad = await server.inject(post("/control/halt", auth, { reason: "  " }));
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: "Bad Request", field: "reason" });
    const extra = await server.inject(post("/control/halt", auth, { reason: "x", force: true }));
    expect(extra.json()).toMatchObject({ field: "force" });

    const halted = await server.inject(post("/control/halt", auth, { reason: "maintenance" }));
    expect(halted.statusCode).toBe(200);
    expect(ControlResponse.parse(halted.json())).toEqual({
      changed: true,
      tradingState: "HALTED",
      stream: "risk-main",
      change: { accountId: "main", from: "ACTIVE", to: "HALTED", by: "operator", reason: "maintenance" },
    });
    expect((await server.inject({ url: "/risk" })).json()).toMatchObject({ tradingState: "HALTED" });
    const twice = await server.inject(post("/control/halt", auth, { reason: "maintenance" }));
    expect(twice.json()).toEqual({
      changed: false,
      tradingState: "HALTED",
      stream: "risk-main",
      change: null,
    });
    const resumed = await server.inject(post("/control/resume", auth, { reason: "done" }));
    expect(resumed.json()).toMatchObject({ changed: true, tradingState: "ACTIVE" });
    expect((await server.inject({ url: "/risk" })).json()).toMatchObject({
      tradingState: "ACTIVE",
      stateChanges: 2,
    });
  });
});
