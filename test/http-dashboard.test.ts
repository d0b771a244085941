/**
 * The dashboard's read routes on a real-data backtest (BTCUSDT+ETHUSDT 2025-06-01..03, sma-cross): GET /bars
 * equals an aggregation of the log's BarClosed events done here, GET /pnl/symbols adds up to GET /pnl, GET /fills
 * holds every booked fill, `asOf` cuts each at the position or market time asked; and GET /stream: one SSE
 * message per appended event, resumed from Last-Event-ID, heartbeats, the read token, the subscription closed
 * when the client goes away, a server that still closes with a stream open.
 */
import { get } from "node:http";
import { Readable } from "node:stream";
import Fastify from "fastify";
import pino from "pino";
import { finalize, Observable } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboardPlugin } from "../src/adapters/http/dashboard/plugin.ts";
import { BarsResponse, FillsResponse, SymbolPnlResponse } from "../src/adapters/http/dashboard/schemas.ts";
import { buildHttpServer, serveProjections } from "../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { Dec } from "../src/domain/decimal.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { deterministicEventId } from "../src/events/ids.ts";
import type { EventStore } from "../src/events/store.ts";
import { streams } from "../src/events/streams.ts";
import { createProjections, rebuildProjections } from "../src/projections/index.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("dashboard routes on a BTCUSDT+ETHUSDT 2025-06-01..03 backtest");
const logger = pino({ level: "silent" });
const READ = "read-token-dashboard-routes-0123";
const HOUR = 3_600_000;

type Bar = EventData<"BarClosed">;

/** Appends a BarClosed of `symbol` one minute after `last` (a 1m bar of the log); resolves its position. */
async function appendBar(store: EventStore, last: Bar, tag: string): Promise<number> {
  const stream = streams.symbol(last.symbol);
  const revision = (await store.streamRevision(stream)) ?? -1;
  const openTime = last.openTime + 60_000;
  const bar: Bar = { ...last, openTime, closeTime: openTime + 59_999, volume: "1" };
  const { position } = await store.append(
    stream,
    [
      {
        eventId: deterministicEventId(tag, stream, revision + 1),
        type: "BarClosed",
        data: bar,
        metadata: { correlationId: tag, causationId: "test", eventTime: bar.closeTime },
      },
    ],
    revision < 0 ? "noStream" : revision,
  );
  return position;
}

/**
 * GET `url` over its own connection (node:http, no agent; fetch's pool may keep a spare connection open that
 * would hold the server's close): the status, the headers, and the body as a web stream.
 */
function getStream(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; type: string | undefined; body: ReadableStream<Uint8Array> }>(
    (resolve, reject) => {
      get(url, { headers, agent: false }, (res) =>
        resolve({
          status: res.statusCode!,
          type: res.headers["content-type"],
          body: Readable.toWeb(res) as ReadableStream<Uint8Array>,
        }),
      ).on("error", reject);
    },
  );
}

/** Reads SSE messages from a response body; `next()` resolves the next message's lines. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next(): Promise<string[]> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          return message.split("\n");
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        buffer += value;
      }
    },
    /** The next `appended` message's id and data. */
    async appended(): Promise<{ id: number; data: Record<string, unknown> }> {
      for (;;) {
        const lines = await this.next();
        if (!lines.includes("event: appended")) continue;
        const id = Number(lines.find((l) => l.startsWith("id: "))!.slice(4));
        const data = JSON.parse(lines.find((l) => l.startsWith("data: "))!.slice(6));
        return { id, data };
      }
    },
    cancel: () => reader.cancel(),
  };
}

describe.skipIf(!root)("dashboard routes on a real-data backtest", () => {
  const store = new InMemoryEventStore();
  let events: RecordedEvent[];
  let app: ReturnType<typeof buildHttpServer>;
  const get = async (url: string) => {
    const res = await app.inject({ url, headers: { authorization: `Bearer ${READ}` } });
    return { status: res.statusCode, body: res.json(), position: res.headers["x-log-position"] };
  };

  beforeAll(async () => {
    const config = BacktestConfigSchema.parse({
      symbols: ["BTCUSDT", "ETHUSDT"],
      from: "2025-06-01",
      to: "2025-06-03",
    });
    await runBacktest(config, { store, dataRoot: root!, logger });
    events = [];
    for await (const e of store.readAll()) events.push(e);
    app = buildHttpServer({ store, projections: await rebuildProjections(store.readAll()), readToken: READ });
    await app.ready();
  }, 120_000);
  afterAll(() => app?.close());

  const barsOf = (symbol: string, upTo = Number.POSITIVE_INFINITY) =>
    events
      .filter((e) => e.type === "BarClosed" && e.position <= upTo && (e.data as Bar).symbol === symbol)
      .map((e) => e.data as Bar);

  it("GET /bars: the log's 1m bars, and hourly bars aggregated from them (open, max high, min low, close, Σ volume)", async () => {
    const minutes = barsOf("BTCUSDT");
    expect(minutes.length).toBe(3 * 1440);
    const all = await get("/bars?symbol=BTCUSDT&maxPoints=20000");
    expect(all.status).toBe(200);
    BarsResponse.parse(all.body);
    expect(all.body.symbols).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(all.body.totalBars).toBe(minutes.length);
    expect(all.body.bars.map((b: { time: number }) => b.time)).toEqual(minutes.map((b) => b.openTime));

    const hourly = (await get("/bars?symbol=BTCUSDT&interval=1h")).body;
    // the extremes as the strings of the bars that hold them, the volume summed exactly
    const expected = new Map<
      number,
      { open: string; high: string; low: string; close: string; volume: Dec }
    >();
    for (const b of minutes) {
      const hour = b.openTime - (b.openTime % HOUR);
      const h = expected.get(hour);
      if (!h) {
        expected.set(hour, {
          open: b.open,
          high: b.high,
          low: b.low,
          close: b.close,
          volume: new Dec(b.volume),
        });
      } else {
        if (new Dec(b.high).gt(h.high)) h.high = b.high;
        if (new Dec(b.low).lt(h.low)) h.low = b.low;
        h.close = b.close;
        h.volume = h.volume.plus(b.volume);
      }
    }
    expect(hourly.totalBars).toBe(72);
    expect(hourly.barsPerPoint).toBe(1);
    expect(hourly.bars).toEqual(
      [...expected].map(([time, h]) => ({
        time,
        open: h.open,
        high: h.high,
        low: h.low,
        close: h.close,
        volume: h.volume.toFixed(),
      })),
    );
    // downsampled to 10 points: 8 hours each, the extremes kept
    const ten = (await get("/bars?symbol=BTCUSDT&interval=1h&maxPoints=10")).body;
    expect(ten.barsPerPoint).toBe(8);
    expect(ten.bars.length).toBe(9);
    const highest = Dec.max(...minutes.map((b) => b.high)).toFixed();
    expect(Dec.max(...ten.bars.map((b: { high: string }) => b.high)).toFixed()).toBe(highest);
    // no symbol: the first of the log
    expect((await get("/bars?interval=1d")).body).toMatchObject({ symbol: "BTCUSDT", totalBars: 3 });
  });

  it("GET /pnl/symbols adds up to GET /pnl; GET /fills holds every booked fill, newest first", async () => {
    const pnl = (await get("/pnl")).body;
    const { body } = await get("/pnl/symbols");
    SymbolPnlResponse.parse(body);
    expect(body.symbols.map((s: { symbol: string }) => s.symbol)).toEqual(["BTCUSDT", "ETHUSDT"]);
    const sum = (key: string) =>
      Dec.sum(...body.symbols.map((s: Record<string, string>) => s[key]!)).toFixed();
    expect(sum("realizedPnl")).toBe(new Dec(pnl.realizedPnl).toFixed());
    expect(sum("fees")).toBe(new Dec(pnl.fees).toFixed());
    expect(new Dec(sum("fundingReceived")).minus(sum("fundingPaid")).toFixed()).toBe(
      new Dec(pnl.funding).toFixed(),
    );
    expect(sum("netPnl")).toBe(new Dec(pnl.netPnl).toFixed());
    expect(body.symbols.reduce((n: number, s: { fills: number }) => n + s.fills, 0)).toBe(pnl.fills);
    const payments = body.symbols.reduce(
      (n: number, s: { fundingPayments: number }) => n + s.fundingPayments,
      0,
    );
    expect(payments).toBe(pnl.fundingPayments);
    expect(payments).toBeGreaterThan(0);

    const fills = (await get("/fills?limit=1000")).body;
    FillsResponse.parse(fills);
    const booked = events.filter((e) => e.type === "FillBooked");
    expect(fills.total).toBe(booked.length + pnl.liquidations);
    expect(fills.fills.map((f: { position: number }) => f.position)).toEqual(
      booked.map((e) => e.position).reverse(),
    );
    const page = (await get("/fills?symbol=ETHUSDT&limit=5&offset=2")).body;
    const eth = fills.fills.filter((f: { symbol: string }) => f.symbol === "ETHUSDT");
    expect(page).toMatchObject({ total: eth.length, limit: 5, offset: 2, fills: eth.slice(2, 7) });
  });

  it("asOf: a position or a market time cuts /bars, /fills and /pnl/symbols there and names it in x-log-position", async () => {
    const booked = events.filter((e) => e.type === "FillBooked");
    const middle = booked[Math.floor(booked.length / 2)]!;
    const fills = await get(`/fills?limit=1000&asOf=${middle.position}`);
    expect(fills.position).toBe(String(middle.position));
    expect(fills.body.fills.map((f: { position: number }) => f.position)).toEqual(
      booked
        .filter((e) => e.position <= middle.position)
        .map((e) => e.position)
        .reverse(),
    );
    const bars = await get(`/bars?symbol=ETHUSDT&maxPoints=20000&asOf=${middle.position}`);
    expect(bars.body.totalBars).toBe(barsOf("ETHUSDT", middle.position).length);
    const bySymbol = (await get(`/pnl/symbols?asOf=${middle.position}`)).body.symbols;
    const fillCount = bySymbol.reduce((n: number, s: { fills: number }) => n + s.fills, 0);
    expect(fillCount).toBe(booked.filter((e) => e.position <= middle.position).length);

    // a market time: the last event at or before it
    const time = middle.metadata.eventTime + 1;
    const lastAt = events.filter((e) => e.metadata.eventTime <= time).at(-1)!;
    const byTime = await get(`/fills?limit=1&asOf=${new Date(time).toISOString()}`);
    expect(byTime.position).toBe(String(lastAt.position));
    // before the log, past its head, and bad values
    expect((await get("/fills?asOf=2000-01-01T00:00:00Z")).body).toMatchObject({ total: 0, fills: [] });
    expect((await get("/fills?asOf=2000-01-01T00:00:00Z")).position).toBe("none");
    const head = events.at(-1)!.position;
    expect((await get(`/fills?asOf=${head + 1000}`)).position).toBe(String(head));
    for (const bad of ["-1", "1.5", "yesterday", "2025-06-01T00:00:00"]) {
      const res = await get(`/bars?asOf=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.field).toBe("asOf");
    }
  });
});

describe("GET /stream", () => {
  /** A store whose live subscriptions are counted while open. */
  function countingStore() {
    const store = new InMemoryEventStore();
    let open = 0;
    const subscribe = store.subscribe.bind(store);
    store.subscribe = (options) =>
      new Observable<RecordedEvent>((subscriber) => {
        open++;
        return subscribe(options)
          .pipe(finalize(() => open--))
          .subscribe(subscriber);
      });
    return { store, open: () => open };
  }
  const bar = (minute: number): Bar => {
    const openTime = 1_748_736_000_000 + minute * 60_000;
    return {
      symbol: "BTCUSDT",
      interval: "1m",
      openTime,
      closeTime: openTime + 59_999,
      open: "100",
      high: "101",
      low: "99",
      close: "100.5",
      volume: "2",
    };
  };

  it("sends one message per appended event, resumes after Last-Event-ID, needs the read token, closes the subscription with the client", async () => {
    const { store, open } = countingStore();
    let last = bar(0);
    const positions: number[] = [
      await appendBar(store, { ...last, openTime: last.openTime - 60_000 }, "sse"),
    ];
    for (let i = 0; i < 3; i++) {
      positions.push(await appendBar(store, last, "sse"));
      last = { ...last, openTime: last.openTime + 60_000, closeTime: last.closeTime + 60_000 };
    }
    const served = await serveProjections({ store, host: "127.0.0.1", port: 0, logger, readToken: READ });
    const auth = { authorization: `Bearer ${READ}` };
    try {
      expect((await getStream(`${served.url}/stream`)).status).toBe(401);
      const bad = await getStream(`${served.url}/stream`, { ...auth, "last-event-id": "x" });
      expect(bad.status).toBe(400);
      expect(JSON.parse(await new Response(bad.body).text())).toMatchObject({ field: "Last-Event-ID" });

      // live: from the head on
      const baseline = open();
      const live = await getStream(`${served.url}/stream`, auth);
      expect(live.type).toBe("text/event-stream; charset=utf-8");
      const reader = sseReader(live.body);
      expect(await reader.next()).toEqual(["retry: 2000", ": connected"]);
      const appended = await appendBar(store, last, "sse");
      expect(await reader.appended()).toEqual({
        id: appended,
        data: {
          position: appended,
          type: "BarClosed",
          stream: "symbol-BTCUSDT",
          eventTime: last.closeTime + 60_000,
        },
      });
      expect(open()).toBe(baseline + 1);

      // resumed: every event after Last-Event-ID, in order, then live
      const resumed = await getStream(`${served.url}/stream`, {
        ...auth,
        "last-event-id": String(positions[1]),
      });
      const again = sseReader(resumed.body);
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) ids.push((await again.appended()).id);
      expect(ids).toEqual([positions[2], positions[3], appended]);
      expect(open()).toBe(baseline + 2);

      await reader.cancel();
      await again.cancel();
      for (let i = 0; i < 100 && open() > baseline; i++) await new Promise((r) => setTimeout(r, 10));
      expect(open()).toBe(baseline);

      // a server closes with a stream open (the stream is ended)
      const left = sseReader((await getStream(`${served.url}/stream`, auth)).body);
      await left.next();
    } finally {
      await served.close();
    }
    expect(open()).toBe(0);
  });

  it("sends heartbeat comments every heartbeatMs", async () => {
    const store = new InMemoryEventStore();
    const app = Fastify();
    // as buildHttpServer: the zod schemas document, the handlers validate
    app.setValidatorCompiler(() => (value) => ({ value }));
    app.setSerializerCompiler(() => (value) => JSON.stringify(value));
    await app.register(dashboardPlugin, { store, live: () => createProjections(), heartbeatMs: 50 });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const reader = sseReader((await getStream(`${url}/stream`)).body);
      await reader.next();
      const started = Date.now();
      expect(await reader.next()).toEqual([": heartbeat"]);
      expect(await reader.next()).toEqual([": heartbeat"]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    } finally {
      await app.close();
    }
  });
});
