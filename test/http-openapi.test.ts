/**
 * The OpenAPI document (/docs/json) against fastify's own route table, and the bearer tokens of the read and
 * control routes, on the real app (fastify inject).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MAX_CURVE_POINTS } from "../src/adapters/http/schemas.ts";
import { buildHttpServer, type ControlOptions } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { loadConfig } from "../src/config/load.ts";
import { BAR_INTERVALS } from "../src/domain/bars/intervals.ts";
import { MIN_CURVE_POINTS, orderStatuses, rebuildProjections } from "../src/projections/index.ts";

interface Parameter {
  in: "query" | "path";
  name: string;
  required?: boolean;
  description?: string;
  schema: { type?: string; enum?: string[]; pattern?: string; description?: string; default?: unknown };
}
interface Operation {
  summary?: string;
  parameters?: Parameter[];
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
  security?: Record<string, string[]>[];
  requestBody?: unknown;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
}

const READ = "read-token-0123456789abcdef";
const CONTROL = "control-token-0123456789abcdef";

/** The app with its route table (fastify's onRoute: every route it registers, HEAD and the docs' own omitted). */
async function appWith(tokens: { read?: string; control?: string }) {
  const store = new InMemoryEventStore();
  const projections = await rebuildProjections(store.readAll());
  const changes: string[] = [];
  const control: ControlOptions = {
    token: tokens.control,
    change: async (to, reason) => {
      changes.push(`${to}: ${reason}`);
      return { changed: false, state: "ACTIVE", stream: "risk-main" };
    },
  };
  const app = buildHttpServer({ store, projections, control, readToken: tokens.read });
  const routes: RouteOptions[] = [];
  app.addHook("onRoute", (route) => {
    if (route.method !== "HEAD" && !(route.schema as { hide?: boolean } | undefined)?.hide)
      routes.push(route);
  });
  await app.ready();
  return { app, routes, changes, store };
}

/** fastify's `/orders/:clientOrderId` as OpenAPI's `/orders/{clientOrderId}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
/** A URL of the route with a valid value in each path parameter. */
const concrete = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "ps-x-1");
/** The keys of a route's zod object schema (querystring or params). */
const keysOf = (schema: unknown) => {
  expect(schema).toBeInstanceOf(z.ZodObject);
  return Object.keys((schema as z.ZodObject).shape).sort();
};

describe("OpenAPI document", () => {
  let app: Awaited<ReturnType<typeof appWith>>["app"];
  let routes: RouteOptions[];
  let doc: OpenApi;
  beforeAll(async () => {
    ({ app, routes } = await appWith({}));
    const res = await app.inject("/docs/json");
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => app.close());

  it("lists every route of fastify's table with its parameters as the route's zod schema has them, and its 200 shape", () => {
    const methods = (r: RouteOptions) => [r.method].flat().map((m) => m.toLowerCase());
    expect(routes.map((r) => `${methods(r)} ${r.url}`).sort()).toEqual([
      "get /bars",
      "get /decisions",
      "get /events",
      "get /fills",
      "get /health",
      "get /metrics",
      "get /orders",
      "get /orders/:clientOrderId",
      "get /pnl",
      "get /pnl/symbols",
      "get /positions",
      "get /risk",
      "get /runs",
      "get /stream",
      "post /control/halt",
      "post /control/resume",
    ]);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    );
    expect(documented.sort()).toEqual(routes.map((r) => `${methods(r)} ${openApiPath(r.url)}`).sort());
    for (const route of routes) {
      const op = doc.paths[openApiPath(route.url)]![methods(route)[0]!]!;
      const schema = route.schema as { querystring?: unknown; params?: unknown } | undefined;
      const query = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      expect(query.sort(), route.url).toEqual(keysOf(schema?.querystring));
      const path = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
      expect(path.sort(), route.url).toEqual(schema?.params === undefined ? [] : keysOf(schema.params));
      expect(op.summary, route.url).toMatch(/\w/);
      // /metrics answers the Prometheus text format, /stream Server-Sent Events; every other route JSON
      const media =
        route.url === "/metrics"
          ? "text/plain; version=0.0.4; charset=utf-8"
          : route.url === "/stream"
            ? "text/event-stream"
            : "application/json";
      expect(op.responses["200"]?.content?.[media]?.schema, route.url).toBeTypeOf("object");
      expect(op.responses["400"]?.content?.["application/json"]?.schema, route.url).toBeTypeOf("object");
    }
  });

  it("every documented query parameter is one the route validates: a bad value is a 400 naming it", async () => {
    for (const route of routes.filter((r) => r.method === "GET")) {
      const op = doc.paths[openApiPath(route.url)]!["get"]!;
      const url = concrete(route.url);
      for (const { name } of (op.parameters ?? []).filter((p) => p.in === "query")) {
        const res = await app.inject(`${url}?${name}=!`);
        expect(res.statusCode, `${url}?${name}=!`).toBe(400);
        expect(res.json().field).toBe(name);
      }
      const unknown = await app.inject(`${url}?undocumented=1`);
      expect(unknown.statusCode, url).toBe(400);
      expect(unknown.json()).toMatchObject({
        field: "undocumented",
        message: "undocumented: unknown parameter",
      });
    }
  });

  it("states types and constraints: enums, patterns, ranges, defaults, the request body", () => {
    const params = (path: string) =>
      Object.fromEntries(doc.paths[path]!["get"]!.parameters!.map((p) => [p.name, p]));
    const pnl = params("/pnl");
    expect(pnl["interval"]!.schema).toMatchObject({ type: "string", enum: Object.keys(BAR_INTERVALS) });
    expect(pnl["interval"]!.schema.default).toBe("1h");
    expect(pnl["maxPoints"]!.description).toBe(
      `an integer from ${MIN_CURVE_POINTS} to ${MAX_CURVE_POINTS} (decimal digits)`,
    );
    expect(pnl["maxPoints"]!.schema).toMatchObject({ type: "string", default: "2000" });
    expect(pnl["from"]!.description).toMatch(/UTC day .*from its first ms/);
    expect(pnl["to"]!.description).toMatch(/through its last ms/);
    expect(params("/orders")["status"]!.schema.enum).toEqual([...orderStatuses]);
    expect(params("/orders")["symbol"]!.schema.pattern).toBeTypeOf("string");
    expect(params("/events")["limit"]).toMatchObject({
      description: "an integer from 1 to 1000 (decimal digits)",
      schema: { default: "100" },
    });
    expect(params("/orders/{clientOrderId}")["clientOrderId"]).toMatchObject({ in: "path", required: true });
    const halt = doc.paths["/control/halt"]!["post"]!;
    expect(JSON.stringify(halt.requestBody)).toContain('"reason"');
    expect(halt.security).toEqual([{ controlToken: [] }]);
    expect(doc.paths["/pnl"]!["get"]!.security).toEqual([{ readToken: [] }]);
    expect(doc.components.securitySchemes["readToken"]).toEqual(
      expect.objectContaining({ scheme: "bearer" }),
    );
    const pnl200 = JSON.stringify(doc.paths["/pnl"]!["get"]!.responses["200"]);
    for (const key of ["equityCurve", "walletBalance", "maxDrawdownRatio", "downsampled"]) {
      expect(pnl200).toContain(`"${key}"`);
    }
  });

  it("serves the HTML page at /docs", async () => {
    const res = await app.inject("/docs/");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.body).toMatch(/swagger/i);
  });
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("access control", () => {
  const halt = (headers: Record<string, string>) => ({
    method: "POST" as const,
    url: "/control/halt",
    headers: { "content-type": "application/json", ...headers },
    payload: JSON.stringify({ reason: "test" }),
  });

  it("read token set: every read route answers 401 with a Bearer challenge without it or with a wrong one, and serves with it", async () => {
    const { app, routes } = await appWith({ read: READ, control: CONTROL });
    const reads = routes.filter((r) => r.method === "GET" && r.url !== "/health");
    expect(reads.length).toBeGreaterThanOrEqual(8);
    for (const route of reads) {
      const url = concrete(route.url);
      for (const headers of [{}, bearer("wrong"), bearer(CONTROL), { authorization: READ }]) {
        const res = await app.inject({ url, headers });
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers["www-authenticate"]).toBe('Bearer realm="perpsource"');
        expect(res.json()).toEqual({
          error: "Unauthorized",
          message: "missing or wrong bearer token (Authorization: Bearer <PERPSOURCE_READ_TOKEN>)",
        });
      }
      if (url === "/stream") continue; // an endless response: test/http-dashboard.test.ts reads it with the token
      const ok = await app.inject({ url, headers: bearer(READ) });
      expect(ok.statusCode, url).toBe(url.startsWith("/orders/") ? 404 : 200);
    }
    // /health and the docs stay open; an unknown route is not probed without the token
    expect((await app.inject("/health")).statusCode).toBe(200);
    expect((await app.inject("/docs/json")).statusCode).toBe(200);
    expect((await app.inject("/nowhere")).statusCode).toBe(401);
    expect((await app.inject({ url: "/nowhere", headers: bearer(READ) })).statusCode).toBe(404);
    await app.close();
  });

  it("no read token: the read routes are open", async () => {
    const { app } = await appWith({ control: CONTROL });
    for (const url of [
      "/runs",
      "/positions",
      "/pnl",
      "/orders",
      "/decisions",
      "/risk",
      "/events",
      "/metrics",
    ]) {
      expect((await app.inject(url)).statusCode, url).toBe(200);
    }
    await app.close();
  });

  it("control routes need the control token, whether or not a read token is set; the read token is not enough", async () => {
    for (const read of [undefined, READ]) {
      const { app, changes } = await appWith({ control: CONTROL, ...(read ? { read } : {}) });
      for (const headers of [{}, bearer("wrong"), bearer(READ)]) {
        const res = await app.inject(halt(headers));
        expect(res.statusCode).toBe(401);
        expect(res.headers["www-authenticate"]).toBe('Bearer realm="perpsource control"');
        expect(res.json().message).toBe(
          "missing or wrong bearer token (Authorization: Bearer <PERPSOURCE_CONTROL_TOKEN>)",
        );
      }
      expect(changes).toEqual([]);
      const ok = await app.inject(halt(bearer(CONTROL)));
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({
        changed: false,
        tradingState: "ACTIVE",
        stream: "risk-main",
        change: null,
      });
      expect(changes).toEqual(["HALTED: test"]);
      await app.close();
    }
  });

  it("no control token configured: the control routes answer 403 saying how to set one, even with a token sent", async () => {
    const { app, changes } = await appWith({ read: READ });
    for (const headers of [{}, bearer(READ), bearer(CONTROL)]) {
      const res = await app.inject(halt(headers));
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({
        error: "Forbidden",
        message:
          "the control routes are disabled: set PERPSOURCE_CONTROL_TOKEN in the server's environment " +
          "(or http.controlToken in the config file) to enable them",
      });
    }
    expect(changes).toEqual([]);
    await app.close();
  });

  it("config: the tokens come from http.readToken / http.controlToken or the environment; a bad one is named, not echoed", () => {
    const cwd = "/nonexistent-perpsource-cwd";
    const cfg = loadConfig({
      cwd,
      env: { PERPSOURCE_READ_TOKEN: READ, PERPSOURCE_CONTROL_TOKEN: CONTROL },
      flags: {},
    });
    expect(cfg.http).toEqual({ host: "127.0.0.1", port: 8080, readToken: READ, controlToken: CONTROL });
    const open = loadConfig({ cwd, env: { PERPSOURCE_READ_TOKEN: "" }, flags: {} }).http;
    expect(open).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(() => loadConfig({ cwd, env: { PERPSOURCE_READ_TOKEN: "short secret" }, flags: {} })).toThrow(
      /^invalid config: http\.readToken \(from env PERPSOURCE_READ_TOKEN\): expected a token of 16 to 512 letters/,
    );
    const error = (() => {
      try {
        loadConfig({ cwd, env: { PERPSOURCE_CONTROL_TOKEN: "short secret" }, flags: {} });
      } catch (err) {
        return err as Error;
      }
      return undefined;
    })();
    expect(error?.message).toContain("http.controlToken (from env PERPSOURCE_CONTROL_TOKEN)");
    expect(error?.message).not.toContain("short secret");
  });
});

describe("perpsource serve", () => {
  it("listens on 127.0.0.1 by default and takes both tokens from the environment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "perpsource-access-"));
    const file = join(dir, "empty.sqlite");
    await SqliteEventStore.open(file).close();
    const env: Record<string, string | undefined> = {
      ...process.env,
      PERPSOURCE_READ_TOKEN: READ,
      PERPSOURCE_CONTROL_TOKEN: CONTROL,
    };
    delete env["PERPSOURCE_HOST"];
    delete env["PERPSOURCE_CONFIG"];
    const bin = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const child = spawn(
      process.execPath,
      [bin, "--log-level", "warn", "serve", "--store", `sqlite:${file}`, "--port", String(port)],
      { stdio: ["ignore", "pipe", "pipe"], env, cwd: dir },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          const match = /serving on (\S+)/.exec(chunk.toString());
          if (match) resolve(match[1]!);
        });
        child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
      });
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect((await fetch(`${url}/runs`)).status).toBe(401);
      const runs = await fetch(`${url}/runs`, { headers: bearer(READ) });
      expect(runs.status).toBe(200);
      expect(await runs.json()).toEqual({ runs: [] });
      // the control token reached the control routes: past the check, the body is parsed (a 400 naming `reason`)
      const denied = await fetch(`${url}/control/halt`, { method: "POST", headers: bearer(READ) });
      expect(denied.status).toBe(401);
      const halt = await fetch(`${url}/control/halt`, {
        method: "POST",
        headers: { ...bearer(CONTROL), "content-type": "application/json" },
        body: JSON.stringify({ reason: " " }),
      });
      expect(halt.status).toBe(400);
      expect(await halt.json()).toMatchObject({ field: "reason" });
      expect((await fetch(`${url}/docs/json`)).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
