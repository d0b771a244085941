/**
 * `?asOf=` on the projection routes, over a real-data sma-cross backtest (BTCUSDT 2025-06-01..02) written to a
 * SQLite store: a log position shows the projections folded independently from the events up to it; a market
 * time shows the position form at the last event whose eventTime ≤ it; at or past the head the live state; a
 * bad value a 400 naming `asOf`; `x-log-position` the position shown; an order in an earlier status than now;
 * one fold per resolved position.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildHttpServer } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { createProjections, type Projections, rebuildProjections } from "../src/projections/index.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("GET …?asOf= on a BTCUSDT 2025-06-01..02 sma-cross backtest");
const logger = pino({ level: "silent" });

/** The projections folded from the events of `events` with position ≤ `position`. */
function foldUpTo(events: readonly RecordedEvent[], position: number): Projections {
  const state = createProjections();
  for (const e of events) if (e.position <= position) state.apply(e);
  return state;
}

/** A value as its JSON body reads back. */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe.skipIf(!root)("?asOf= on a real-data backtest store", () => {
  let dir: string;
  let store: SqliteEventStore;
  let events: RecordedEvent[];
  let live: Projections;
  let head: number;
  let app: ReturnType<typeof buildHttpServer>;
  const get = (url: string) => app.inject({ method: "GET", url });
  /** GET `url`, expecting a 200: its JSON body and its x-log-position header. */
  const shown = async (url: string) => {
    const res = await get(url);
    expect(res.statusCode, `${url}: ${res.payload}`).toBe(200);
    return { body: res.json() as unknown, position: res.headers["x-log-position"] };
  };
  /** The header a state shows. */
  const header = (p: Projections) => String(p.lastPosition() ?? "none");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "perpsource-as-of-"));
    store = SqliteEventStore.open(join(dir, "events.sqlite"));
    const config = BacktestConfigSchema.parse({ symbols: ["BTCUSDT"], from: "2025-06-01", to: "2025-06-02" });
    await runBacktest(config, { store, dataRoot: root!, logger });
    await store.flush();
    events = [];
    for await (const e of store.readAll()) events.push(e);
    live = await rebuildProjections(store.readAll());
    head = live.lastPosition()!;
    app = buildHttpServer({ store, projections: live });
    await app.ready();
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a log position p shows the projections folded independently from the events with position ≤ p", async () => {
    expect(events.length).toBeGreaterThan(1000);
    const first = events[0]!.position;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: head + 5 }), async (p) => {
        const expected = p >= head ? live : foldUpTo(events, p);
        for (const [route, view] of [
          ["/positions", (s: Projections) => ({ positions: s.positions() })],
          ["/risk", (s: Projections) => s.risk()],
          ["/runs", (s: Projections) => ({ runs: s.runs() })],
          [
            "/orders?limit=1000",
            (s: Projections) => ({ ...s.orders({ limit: 1000, offset: 0 }), limit: 1000, offset: 0 }),
          ],
        ] as const) {
          const sep = route.includes("?") ? "&" : "?";
          const { body, position } = await shown(`${route}${sep}asOf=${p}`);
          expect(position, `${route} asOf=${p}`).toBe(header(expected));
          expect(body, `${route} asOf=${p}`).toEqual(asJson(view(expected)));
        }
        if (p < first) expect(expected.lastPosition()).toBeNull();
      }),
      { numRuns: 25, examples: [[0], [first - 1], [first], [head - 1], [head]] },
    );
  }, 120_000);

  it("a market time t shows the position form at the last event in global order with eventTime ≤ t", async () => {
    const times = events.map((e) => e.metadata.eventTime);
    const lo = Math.min(...times) - 3_600_000;
    const hi = Math.max(...times) + 3_600_000;
    /** The position the contract resolves t to: the last event with eventTime ≤ t; null when none. */
    const resolve = (t: number) => events.findLast((e) => e.metadata.eventTime <= t)?.position ?? null;
    const check = async (asOf: string, t: number) => {
      const at = resolve(t);
      const byTime = await shown(`/positions?asOf=${asOf}`);
      expect(byTime.position, asOf).toBe(at === null ? "none" : String(at));
      const byPosition = await shown(`/positions?asOf=${at ?? 0}`);
      expect(byTime, asOf).toEqual(byPosition);
      const pnl = await shown(`/pnl?interval=1m&asOf=${asOf}`);
      expect(pnl, asOf).toEqual(await shown(`/pnl?interval=1m&asOf=${at ?? 0}`));
    };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: lo, max: hi }), async (t) => {
        await check(new Date(t).toISOString(), t); // 2025-06-01T12:34:56.789Z
        const second = t - (t % 1000);
        await check(new Date(second).toISOString().replace(".000Z", "Z"), second); // …:56Z
      }),
      { numRuns: 20 },
    );
    // a UTC day is its first ms; before the first event, the empty state
    await check("2025-05-31", Date.parse("2025-05-31T00:00:00Z"));
    expect(await shown("/positions?asOf=2025-05-31")).toEqual({ body: { positions: [] }, position: "none" });
    await check("2025-06-01", Date.parse("2025-06-01T00:00:00Z"));
    await check("2025-06-02", Date.parse("2025-06-02T00:00:00Z"));
    // a time between the first and the last event, and past every event: the live state
    expect((await shown("/positions?asOf=2025-06-01T12:00:00Z")).position).not.toBe(String(head));
    expect(await shown("/positions?asOf=2030-01-01")).toEqual(await shown("/positions"));
  }, 120_000);

  it("with eventTime non-monotonic in global order, a time shows the prefix through the last event with eventTime ≤ it", async () => {
    // the log again, with one OrderAccepted stamped later than the 40 events after it (as a venue's clock may be)
    const k = events.findIndex((e, i) => i > events.length / 2 && e.type === "OrderAccepted");
    const late = events[k + 40]!.metadata.eventTime;
    const copy = new InMemoryEventStore();
    const shifted: RecordedEvent[] = [];
    for (const [i, e] of events.entries()) {
      const metadata = i === k ? { ...e.metadata, eventTime: late } : e.metadata;
      const { eventId, type, data } = e;
      const { recorded } = await copy.append(e.stream, [{ eventId, type, data, metadata }], "any");
      shifted.push(recorded![0]!);
    }
    const server = buildHttpServer({ store: copy, projections: await rebuildProjections(copy.readAll()) });
    try {
      const t = events.slice(k + 1).find((e) => e.metadata.eventTime < late)!.metadata.eventTime;
      const at = shifted.findLast((e) => e.metadata.eventTime <= t)!;
      // the case this test is about: the prefix holds event k although its eventTime is past t
      expect(at.position).toBeGreaterThan(shifted[k]!.position);
      expect(shifted[k]!.metadata.eventTime).toBeGreaterThan(t);
      for (const route of ["/orders?limit=1000", "/positions", "/risk"]) {
        const res = await server.inject(
          `${route}${route.includes("?") ? "&" : "?"}asOf=${new Date(t).toISOString()}`,
        );
        expect(res.statusCode, res.payload).toBe(200);
        expect(res.headers["x-log-position"]).toBe(String(at.position));
        const byPosition = await server.inject(
          `${route}${route.includes("?") ? "&" : "?"}asOf=${at.position}`,
        );
        expect(res.json()).toEqual(byPosition.json());
      }
      const id = shifted[k]!.stream.slice("order-".length);
      const order = await server.inject(`/orders/${id}?asOf=${new Date(t).toISOString()}`);
      expect(order.headers["x-log-position"]).toBe(String(at.position));
      expect(order.json()).toEqual(asJson(foldUpTo(shifted, at.position).order(id)));
    } finally {
      await server.close();
      await copy.close();
    }
  });

  it("follows a live head that moves on: what lies past it is live, what it has passed is folded", async () => {
    const following = createProjections();
    const half = Math.floor(events.length / 2);
    for (const e of events.slice(0, half)) following.apply(e);
    const server = buildHttpServer({ store, projections: () => following });
    const at = async (asOf: string | number) => {
      const res = await server.inject(`/positions?asOf=${asOf}`);
      expect(res.statusCode, res.payload).toBe(200);
      return { body: res.json() as unknown, position: res.headers["x-log-position"] };
    };
    try {
      const mid = events[half - 1]!;
      const later = events[half + 100]!;
      const iso = (e: RecordedEvent) => new Date(e.metadata.eventTime).toISOString();
      // the store holds more than the projections have folded: past their head is their (live) state
      expect((await at(later.position)).position).toBe(String(mid.position));
      expect((await at(iso(later))).position).toBe(String(mid.position));
      for (const e of events.slice(half)) following.apply(e);
      const last = events.findLast((e) => e.metadata.eventTime <= later.metadata.eventTime)!;
      expect(await at(iso(later))).toEqual({
        body: asJson({ positions: foldUpTo(events, last.position).positions() }),
        position: String(last.position),
      });
      expect((await at(later.position)).position).toBe(String(later.position));
    } finally {
      await server.close();
    }
  });

  it("at or past the live head every route shows the live state, and says so in x-log-position", async () => {
    for (const route of ["/positions", "/pnl", "/orders", "/decisions", "/risk", "/runs"]) {
      const now = await shown(route);
      expect(now.position).toBe(String(head));
      for (const asOf of [head, head + 1, Number.MAX_SAFE_INTEGER]) {
        expect(await shown(`${route}?asOf=${asOf}`), `${route}?asOf=${asOf}`).toEqual(now);
      }
    }
  });

  it("an order shows an earlier status as of a position before its fill; before its submission it is not there", async () => {
    const filled = live.orders({ status: "FILLED", limit: 1000 }).orders;
    expect(filled.length).toBeGreaterThan(0);
    const order = filled.at(-1)!;
    const ownEvents = events.filter((e) => e.stream === `order-${order.clientOrderId}`);
    expect(ownEvents.map((e) => e.type)).toContain("OrderFilled");
    const submitted = ownEvents.find((e) => e.type === "OrderSubmitted")!;
    const fill = ownEvents.find((e) => e.type === "OrderFilled")!;
    const before = fill.position - 1;
    const then = await shown(`/orders/${order.clientOrderId}?asOf=${before}`);
    expect(then.position).toBe(String(before));
    const expected = foldUpTo(events, before).order(order.clientOrderId)!;
    expect(then.body).toEqual(asJson(expected));
    expect(then.body).toMatchObject({ status: expect.not.stringMatching(/^FILLED$/), executedQty: "0" });
    expect((await shown(`/orders/${order.clientOrderId}`)).body).toMatchObject({ status: "FILLED" });
    // the list shows it with the same earlier status
    const list = (await shown(`/orders?limit=1000&asOf=${before}`)).body as {
      orders: { clientOrderId: string }[];
    };
    expect(list.orders.find((o) => o.clientOrderId === order.clientOrderId)).toEqual(then.body);
    // before its OrderSubmitted: unknown then
    const absent = await get(`/orders/${order.clientOrderId}?asOf=${submitted.position - 1}`);
    expect(absent.statusCode).toBe(404);
    expect(absent.headers["x-log-position"]).toBe(String(submitted.position - 1));
  });

  it("a bad asOf is a 400 naming asOf and what it accepts, on every projection route", async () => {
    const routes = ["/positions", "/pnl", "/orders", "/orders/ps-x-1", "/decisions", "/risk", "/runs"];
    for (const bad of [
      "-1",
      "abc",
      "1.5",
      "1e3",
      "",
      "2025-13-01",
      "2025-02-30",
      "2025-06-01T00:00:00",
      "99999999999999999",
    ]) {
      for (const route of routes) {
        const res = await get(`${route}?asOf=${encodeURIComponent(bad)}`);
        expect(res.statusCode, `${route}?asOf=${bad}`).toBe(400);
        expect(res.json(), `${route}?asOf=${bad}`).toMatchObject({
          error: "Bad Request",
          field: "asOf",
          message: expect.stringMatching(/^asOf: expected a log position .*2023-09-01T00:00:00Z/),
        });
      }
    }
  });

  it("the response cache keys on asOf: parallel requests for the live and a past state each get their own body", async () => {
    const p = events[Math.floor(events.length / 3)]!.position;
    const past = await shown(`/pnl?interval=1m&asOf=${p}`); // folded and cached
    const now = await shown("/pnl?interval=1m");
    expect(past.position).toBe(String(p));
    expect(past.body).not.toEqual(now.body);
    // /pnl builds its body over several turns of the event loop: the three share builds only with their own kind
    const urls = [
      `/pnl?interval=1m&maxPoints=500`,
      `/pnl?maxPoints=500&interval=1m&asOf=${p}`,
      "/pnl?maxPoints=500&interval=1m",
    ];
    const [a, b, c] = await Promise.all(urls.map(get));
    expect(a!.headers["x-log-position"]).toBe(String(head));
    expect(b!.headers["x-log-position"]).toBe(String(p));
    expect(b!.json()).toEqual((await shown(`/pnl?interval=1m&maxPoints=500&asOf=${p}`)).body);
    expect(b!.json()).not.toEqual(a!.json());
    expect(c!.json()).toEqual(a!.json());
  });

  it("folds a past state once per resolved position: paging, and a time resolving to it, reuse it", async () => {
    // a server of its own, so no earlier request has folded a state yet
    const fresh = buildHttpServer({ store, projections: live });
    const shownBy = async (url: string) => {
      const res = await fresh.inject({ method: "GET", url });
      expect(res.statusCode, `${url}: ${res.payload}`).toBe(200);
      return res.headers["x-log-position"];
    };
    const readAll = vi.spyOn(store, "readAll");
    try {
      const at = events[Math.floor(events.length / 2)]!;
      const folds = () => readAll.mock.calls.filter(([options]) => options?.limit !== undefined).length;
      const before = folds();
      expect(await shownBy(`/orders?limit=1&offset=0&asOf=${at.position}`)).toBe(String(at.position));
      expect(folds()).toBe(before + 1);
      await shownBy(`/orders?limit=1&offset=1&asOf=${at.position}`);
      await shownBy(`/risk?asOf=${at.position}`);
      expect(folds()).toBe(before + 1);
      // the last event with eventTime ≤ at's eventTime: at, or a later one with the same eventTime
      const last = events.findLast((e) => e.metadata.eventTime <= at.metadata.eventTime)!;
      await shownBy(`/positions?asOf=${last.position}`);
      const folded = folds();
      const iso = new Date(at.metadata.eventTime).toISOString();
      expect(await shownBy(`/positions?asOf=${iso}`)).toBe(String(last.position));
      expect(folds()).toBe(folded);
    } finally {
      readAll.mockRestore();
      await fresh.close();
    }
  });
});
