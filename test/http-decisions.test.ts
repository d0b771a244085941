/**
 * GET /decisions over logs the real engine wrote (test/support/decision-runs.ts): filters, paging, the market
 * time bounds as ms, UTC days or ISO times, "why does this order exist" by clientOrderId (protective orders
 * included), 404 for an unknown order, 400 naming a bad parameter, and a body cached per log position.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { z } from "zod";
import { DecisionsResponse, ErrorResponse, PnlResponse } from "../src/adapters/http/schemas.ts";
import { buildHttpServer } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { deterministicEventId } from "../src/events/ids.ts";
import { streams } from "../src/events/streams.ts";
import { type Projections, rebuildProjections } from "../src/projections/index.ts";
import { bracketRun, type DecisionRun, targetRun } from "./support/decision-runs.ts";
import { T0 } from "./support/scenario.ts";

function body<S extends z.ZodType>(schema: S, payload: string): z.output<S> {
  return schema.parse(JSON.parse(payload));
}

/** The projections of `run` and an app serving them. */
async function serve(run: DecisionRun) {
  const projections = await rebuildProjections(run.store.readAll());
  const app = buildHttpServer({ store: run.store, projections });
  await app.ready();
  return { projections, app, get: (url: string) => app.inject({ method: "GET", url }) };
}

describe("GET /decisions", () => {
  let run: DecisionRun;
  let projections: Projections;
  let app: Awaited<ReturnType<typeof serve>>["app"];
  let get: Awaited<ReturnType<typeof serve>>["get"];
  beforeAll(async () => {
    run = await targetRun();
    ({ projections, app, get } = await serve(run));
  });
  afterAll(async () => {
    await app.close();
    await run.store.close();
  });

  const list = async (url: string) => {
    const res = await get(url);
    expect(res.statusCode, res.payload).toBe(200);
    return body(DecisionsResponse, res.payload);
  };
  /** The decisions' times, as the test reads them off the projections. */
  const times = () => projections.decisions().decisions.map((d) => d.time);

  it("lists every decision oldest first with its input, factors, decision and orders, as the projections have it", async () => {
    const res = await get("/decisions");
    expect(res.headers["x-log-position"]).toBe(String(projections.lastPosition()));
    const page = body(DecisionsResponse, res.payload);
    expect(page).toMatchObject({ total: 5, limit: 100, offset: 0 });
    expect(page.decisions).toEqual(JSON.parse(JSON.stringify(projections.decisions().decisions)));
    expect(page.decisions.map((d) => [d.input?.type, d.decision?.type ?? null, d.orders.length])).toEqual([
      ["BarClosed", "TargetPositionSet", 1],
      ["BarClosed", "TargetPositionSet", 1],
      ["BarClosed", null, 0],
      ["BarClosed", "TargetPositionSet", 0],
      ["MarketDataGapDetected", "TargetPositionSet", 1],
    ]);
    expect(page.decisions[1]!.orders[0]).toMatchObject({
      status: "DENIED",
      deniedBy: { rule: "maxOrderNotional" },
    });
    expect(page.decisions[4]!.orders[0]!.fills).toMatchObject([{ price: "2006", realizedPnl: "5" }]);
  });

  it("filters by symbol and by market time (ms, UTC day or ISO time, inclusive) and pages", async () => {
    const t = times();
    expect((await list("/decisions?symbol=BTCUSDT")).total).toBe(0);
    expect((await list("/decisions?symbol=ETHUSDT")).total).toBe(5);
    const between = await list(`/decisions?from=${t[1]}&to=${t[3]}`);
    expect(between.decisions.map((d) => d.time)).toEqual(t.slice(1, 4));
    const iso = (ms: number) => new Date(ms).toISOString();
    expect(await list(`/decisions?from=${iso(t[1]!)}&to=${iso(t[3]!)}`)).toEqual(between);
    // the same instants with an offset: 2024-01-01T01:0x+01:00 is 00:0x UTC (a "+" in a query is a space: %2B)
    const offset = (ms: number) => encodeURIComponent(`${iso(ms + 3_600_000).slice(0, 23)}+01:00`);
    expect(await list(`/decisions?from=${offset(t[1]!)}&to=${offset(t[3]!)}`)).toEqual(between);
    expect((await list("/decisions?from=2024-01-01&to=2024-01-01")).total).toBe(5); // the whole UTC day
    expect((await list("/decisions?to=2023-12-31")).total).toBe(0);
    expect((await list(`/decisions?from=${t[4]! + 1}`)).total).toBe(0);
    const page = await list("/decisions?limit=2&offset=1");
    expect(page).toMatchObject({ total: 5, limit: 2, offset: 1 });
    expect(page.decisions.map((d) => d.time)).toEqual(t.slice(1, 3));
    expect((await list("/decisions?offset=5")).decisions).toEqual([]);
    expect(t[0]).toBeGreaterThanOrEqual(T0);
  });

  it("answers why an order exists: the decision behind it, with its bar and factors", async () => {
    const page = await list("/decisions?clientOrderId=ps-ETHUSDT-000002-T");
    expect(page.total).toBe(1);
    const [decision] = page.decisions;
    expect(decision!.factors?.data).toMatchObject({ factors: { score: 1.5, price: "2002", warm: true } });
    expect(decision!.decision?.data).toMatchObject({
      targetPositionAmt: "3",
      clientOrderId: "ps-ETHUSDT-000002-T",
    });
    expect(decision!.input).toMatchObject({ type: "BarClosed", close: "2002" });
    // the other filters still apply
    expect((await list("/decisions?clientOrderId=ps-ETHUSDT-000002-T&symbol=BTCUSDT")).total).toBe(0);
  });

  it.each([
    ["ps-ETHUSDT-000099-T", "no order ps-ETHUSDT-000099-T"],
    ["nope", "no order nope"],
  ])("an unknown clientOrderId %s → 404 JSON", async (id, message) => {
    const res = await get(`/decisions?clientOrderId=${id}`);
    expect(res.statusCode).toBe(404);
    expect(body(ErrorResponse, res.payload)).toEqual({ error: "Not Found", message });
  });

  it.each([
    ["/decisions?limit=0", "limit"],
    ["/decisions?limit=1001", "limit"],
    ["/decisions?limit=ten", "limit"],
    ["/decisions?offset=-1", "offset"],
    ["/decisions?symbol=ethusdt", "symbol"],
    ["/decisions?from=abc", "from"],
    ["/decisions?from=-5", "from"],
    ["/decisions?from=2024-02-30", "from"],
    ["/decisions?from=2024-02-30T00:00:00Z", "from"],
    ["/decisions?from=2024-01-01T00:00:00", "from"], // no zone
    ["/decisions?to=1e12", "to"],
    ["/decisions?to=99999999999999999999", "to"],
    ["/decisions?from=2024-01-02&to=2024-01-01", "to"],
    ["/decisions?clientOrderId=bad%20id", "clientOrderId"],
    ["/decisions?clientOrderId=", "clientOrderId"],
    ["/decisions?runId=x", "runId"],
    ["/pnl?from=2024-01-01T00:00", "from"],
  ])("GET %s → 400 naming %s", async (url, field) => {
    const res = await get(url);
    expect(res.statusCode).toBe(400);
    const error = body(ErrorResponse, res.payload);
    expect(error).toMatchObject({ error: "Bad Request", field });
    expect(error.message).toMatch(new RegExp(`^${field}: `));
  });

  it("/pnl takes the same market times: a UTC day and an ISO time give the ms bounds' curve", async () => {
    const ms = body(
      PnlResponse,
      (await get(`/pnl?interval=1m&from=${T0}&to=${T0 + 86_400_000 - 1}`)).payload,
    );
    const day = body(
      PnlResponse,
      (await get("/pnl?interval=1m&from=2024-01-01T00:00:00.000Z&to=2024-01-01")).payload,
    );
    expect(day).toEqual(ms);
    expect(ms.equityCurve.totalPoints).toBeGreaterThan(0);
  });

  it("builds a body once per query and log position", async () => {
    const spy = vi.spyOn(projections, "decisions");
    const a = await get("/decisions?symbol=ETHUSDT&limit=3");
    const b = await get("/decisions?limit=3&symbol=ETHUSDT");
    expect(b.payload).toBe(a.payload);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });
});

describe("GET /decisions on a bracket", () => {
  it("leads a protective order and a flatten back to the entry's decision", async () => {
    const run = await bracketRun();
    const { app, get } = await serve(run);
    try {
      for (const id of ["ps-ETHUSDT-000001-E", "ps-ETHUSDT-000001-SL", "ps-ETHUSDT-000001-FL"]) {
        const res = await get(`/decisions?clientOrderId=${id}`);
        const page = body(DecisionsResponse, res.payload);
        expect(page.total).toBe(1);
        const [decision] = page.decisions;
        expect(decision!.decision?.type).toBe("EntrySignalled");
        expect(decision!.followUps.map((f) => f.type)).toEqual([
          "PositionProtectionRequested",
          "PositionUnprotected",
        ]);
        expect(decision!.orders.map((o) => o.clientOrderId)).toContain(id);
      }
    } finally {
      await app.close();
      await run.store.close();
    }
  });

  it("an order no decision caused (a foreign log) → 404 naming it", async () => {
    const store = new InMemoryEventStore();
    const stream = streams.order("manual-1");
    await store.append(
      stream,
      [
        {
          eventId: deterministicEventId("foreign", stream, 0),
          type: "OrderSubmitted",
          data: {
            clientOrderId: "manual-1",
            symbol: "ETHUSDT",
            side: "BUY",
            type: "MARKET",
            purpose: "ENTRY",
            positionSide: "BOTH",
            quantity: "1",
            reduceOnly: false,
          },
          metadata: { correlationId: "foreign", causationId: "operator", eventTime: T0 },
        },
      ],
      "noStream",
    );
    const { app, get } = await serve({ store, events: [] });
    try {
      const res = await get("/decisions?clientOrderId=manual-1");
      expect(res.statusCode).toBe(404);
      expect(body(ErrorResponse, res.payload).message).toBe("no decision behind order manual-1 in the log");
      expect(body(DecisionsResponse, (await get("/decisions")).payload).total).toBe(0);
    } finally {
      await app.close();
      await store.close();
    }
  });
});
