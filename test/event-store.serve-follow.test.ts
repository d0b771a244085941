/**
 * `serve` over a SQLite store opened read-only: a corrupt event puts /health in an error state naming its
 * position (instead of dying or serving a truncated log), and a store replaced under the server
 * (`backtest --overwrite`) is reloaded from its start.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { type ProjectionsServer, serveProjections } from "../src/adapters/http/server.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { FixtureEvents } from "./support/events.ts";

const dir = mkdtempSync(join(tmpdir(), "perpsource-serve-follow-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(dir, `events-${++files}.db`);

/** Writes a closed store of `count` bars; returns their ids. */
async function writeStore(file: string, count: number): Promise<string[]> {
  const f = new FixtureEvents(randomUUID().slice(0, 8));
  const store = SqliteEventStore.open(file);
  const events = Array.from({ length: count }, (_, i) => f.barClosed(i));
  await store.append(f.symbolStream(), events, "noStream");
  await store.close();
  return events.map((e) => e.eventId);
}

/** A logger whose JSON lines land in `lines`. */
function capturingLogger() {
  const lines: { level: number; msg: string; position?: number }[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

async function serve(file: string, logger: pino.Logger) {
  const store = SqliteEventStore.open(file, { readOnly: true, pollIntervalMs: 10 });
  const server = await serveProjections({ store, host: "127.0.0.1", port: 0, logger });
  const get = async (path: string) => {
    const response = await fetch(`${server.url}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const close = async () => {
    await server.close();
    await store.close();
  };
  return { server: server as ProjectionsServer, get, close };
}

describe("serve over a followed SQLite store", () => {
  it("answers /health with an error naming the corrupt event's position and 503 on projections, until the store is replaced", async () => {
    const file = newFile();
    await writeStore(file, 4);
    const db = new Database(file);
    db.prepare("UPDATE events SET data = substr(data, 1, 40) WHERE revision = 2").run();
    const { position } = db
      .prepare<[], { position: number }>("SELECT position FROM events WHERE revision = 2")
      .get()!;
    db.close();
    const { logger, lines } = capturingLogger();
    const served = await serve(file, logger);
    try {
      const health = await served.get("/health");
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({
        status: "error",
        events: 2,
        lastPosition: position - 1,
        error: { name: "CorruptEventError", position },
      });
      expect((health.body["error"] as { message: string }).message).toMatch(
        new RegExp(`corrupt event at position ${position} .*data is not JSON`),
      );
      expect((await served.get("/pnl")).status).toBe(503);
      expect(await served.get("/bars")).toMatchObject({
        status: 503,
        body: { message: expect.stringMatching(new RegExp(`corrupt event at position ${position} `)) },
      });
      expect((await served.get("/events?limit=2")).status).toBe(200);
      expect(lines.some((l) => l.level === 50 && l.position === position)).toBe(true);

      // A good store replacing the corrupt one is noticed and served.
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
      const replacement = await writeStore(file, 6);
      await expect
        .poll(async () => (await served.get("/health")).body, { timeout: 10_000 })
        .toMatchObject({ status: "ok", lastPosition: 6, events: 6 });
      const events = (await served.get("/events")).body["events"] as { eventId: string }[];
      expect(events.map((e) => e.eventId)).toEqual(replacement);
      expect((await served.get("/pnl")).status).toBe(200);
      await expect.poll(async () => (await served.get("/bars")).status, { timeout: 10_000 }).toBe(200);
    } finally {
      await served.close();
    }
  });

  it("reloads from the start when the store file is replaced under it", async () => {
    const file = newFile();
    await writeStore(file, 3);
    const { logger, lines } = capturingLogger();
    const served = await serve(file, logger);
    try {
      expect((await served.get("/health")).body).toMatchObject({ status: "ok", events: 3 });
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
      const replacement = await writeStore(file, 5);
      await expect
        .poll(async () => (await served.get("/health")).body, { timeout: 10_000 })
        .toMatchObject({ status: "ok", events: 5 });
      const events = (await served.get("/events")).body["events"] as { eventId: string }[];
      expect(events.map((e) => e.eventId)).toEqual(replacement);
      expect(lines.some((l) => /event store was replaced: reloading/.test(l.msg))).toBe(true);
      expect(lines.some((l) => /projections reloaded/.test(l.msg))).toBe(true);
    } finally {
      await served.close();
    }
  });
});
