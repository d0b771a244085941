/**
 * The dashboard: the page at `/` (static: index.html, the ES modules and style.css of this directory at
 * /dashboard/<file>, lightweight-charts' standalone build at /dashboard/lightweight-charts.js; open, since the
 * page holds no data and asks for the read token itself),
 * the read routes the page needs besides the projections' — GET /bars, /fills, /pnl/symbols from the market
 * series (market-series.ts, folded with the served projections) and GET /stream, the log's live Server-Sent
 * Events. A fastify plugin registered by server.ts inside its routes plugin (so the access checks, the 503 of a
 * log that cannot be followed and the OpenAPI document cover it).
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { BAR_INTERVALS } from "../../../domain/bars/intervals.ts";
import type { EventStore } from "../../../events/store.ts";
import type { Projections } from "../../../projections/index.ts";
import type { MarketSeries } from "../../../projections/market-series.ts";
import { type AsOf, ErrorResponse } from "../schemas.ts";
import { parseParams } from "../validation.ts";
import {
  BarsQuery,
  BarsResponse,
  FillsQuery,
  FillsResponse,
  StreamQuery,
  StreamResponse,
  SymbolPnlQuery,
  SymbolPnlResponse,
} from "./schemas.ts";
import { OpenStreams, resumeAfter, streamEvents } from "./stream.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route answers while the projections cannot follow the log (no 503 from the health gate). */
    servedWhileUnhealthy?: boolean;
  }
}

/** The dashboard's routes and what they answer (listed with the API's in `apiRoutes`). */
export const dashboardRoutes: readonly (readonly [string, string])[] = [
  ["GET /", "the dashboard (HTML; asks for the read token when one is set)"],
  ["GET /bars?symbol=&interval=1m&maxPoints=2000&asOf=", "OHLCV bars of a symbol, merged to maxPoints"],
  ["GET /fills?symbol=&limit=&offset=&asOf=", "fills and liquidations, newest first"],
  ["GET /pnl/symbols?asOf=", "PnL per symbol: realized, fees, funding paid and received"],
  ["GET /stream", "Server-Sent Events: one per committed event (Last-Event-ID resumes)"],
];

/** What the dashboard plugin reads. */
export interface DashboardOptions {
  store: EventStore;
  /**
   * The served projections (created with `marketSeries: true`); their last position is where /stream starts
   * without Last-Event-ID.
   */
  live: () => Projections;
  /** Interval of /stream's heartbeat comments, ms (default 15 s). */
  heartbeatMs?: number;
}

/** The page's files: index.html at `/`, every .js and .css module of this directory at `/dashboard/<file>`. */
function assets(dir: string): [url: string, file: string, type: string][] {
  const types: Record<string, string> = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
  };
  const files = readdirSync(dir).filter((f) => extname(f) in types);
  return [
    ["/", "index.html", "text/html; charset=utf-8"],
    ...files.map((f): [string, string, string] => [`/dashboard/${f}`, f, types[extname(f)]!]),
  ];
}

const errors = {
  400: ErrorResponse.describe("a bad parameter: { error, message, field }"),
  401: ErrorResponse.describe("missing or wrong bearer token (WWW-Authenticate: Bearer)"),
  503: ErrorResponse.describe("the log cannot be followed (see GET /health)"),
};
const security = [{ readToken: [] }];
const summary = (route: string) => dashboardRoutes.find(([r]) => r.split("?")[0] === route)![1];

/** Registers the dashboard's page, assets and routes on `app`; their market series follow `opts.store`. */
export async function dashboardPlugin(app: FastifyInstance, opts: DashboardOptions): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const [url, file, type] of assets(here)) {
    const body = readFileSync(join(here, file));
    app.get(
      url,
      { config: { access: "open", servedWhileUnhealthy: true }, schema: { hide: true } },
      (_r, reply) => reply.type(type).header("cache-control", "no-cache").send(body),
    );
  }
  const chartJs = readFileSync(chartLibraryPath());
  app.get(
    "/dashboard/lightweight-charts.js",
    { config: { access: "open", servedWhileUnhealthy: true }, schema: { hide: true } },
    (_r, reply) => reply.type("text/javascript; charset=utf-8").send(chartJs),
  );

  const streams = new OpenStreams();
  app.addHook("preClose", async () => streams.endAll());

  /** The series and the position `asOf` shows (undefined: live); the header names it. */
  const seriesAt = (reply: FastifyReply, asOf: AsOf | undefined) => {
    const series = opts.live().marketSeries();
    const upTo = asOf === undefined ? undefined : shownPosition(series, asOf);
    const shown = upTo === undefined ? series.lastPosition() : upTo;
    reply.header("x-log-position", shown === null ? "none" : String(shown));
    return { series, upTo };
  };

  app.get(
    "/bars",
    {
      schema: {
        summary: summary("GET /bars"),
        querystring: BarsQuery,
        response: { 200: BarsResponse, ...errors },
        security,
      },
    },
    async (request, reply) => {
      const { symbol, interval, maxPoints, asOf } = parseParams(BarsQuery, request.query);
      const at = seriesAt(reply, asOf);
      const symbols = at.series.symbols();
      const shown = symbol ?? symbols[0] ?? null;
      const view =
        shown === null
          ? { totalBars: 0, barsPerPoint: 1, bars: [] }
          : at.series.bars(shown, BAR_INTERVALS[interval], maxPoints, at.upTo);
      return { symbol: shown, interval, symbols, ...view };
    },
  );

  app.get(
    "/fills",
    {
      schema: {
        summary: summary("GET /fills"),
        querystring: FillsQuery,
        response: { 200: FillsResponse, ...errors },
        security,
      },
    },
    async (request, reply) => {
      const { symbol, limit, offset, asOf } = parseParams(FillsQuery, request.query);
      const at = seriesAt(reply, asOf);
      return { ...at.series.fills({ symbol, limit, offset, upTo: at.upTo }), limit, offset };
    },
  );

  app.get(
    "/pnl/symbols",
    {
      schema: {
        summary: summary("GET /pnl/symbols"),
        querystring: SymbolPnlQuery,
        response: { 200: SymbolPnlResponse, ...errors },
        security,
      },
    },
    async (request, reply) => {
      const { asOf } = parseParams(SymbolPnlQuery, request.query);
      const at = seriesAt(reply, asOf);
      return { symbols: at.series.symbolPnl(at.upTo) };
    },
  );

  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  app.get(
    "/stream",
    {
      exposeHeadRoute: false, // a HEAD would open a stream with no body to send it in
      config: { servedWhileUnhealthy: true },
      schema: {
        summary: summary("GET /stream"),
        querystring: StreamQuery,
        response: { 200: { content: { "text/event-stream": { schema: StreamResponse } } }, ...errors },
        security,
      },
    },
    async (request, reply) => {
      parseParams(StreamQuery, request.query);
      const after = resumeAfter(request.headers["last-event-id"], opts.live().lastPosition());
      streamEvents({ store: opts.store, request, reply, after, heartbeatMs, streams });
      return reply;
    },
  );
}

/**
 * The position `asOf` shows in `series`: the last event with position ≤ asOf.position, or with eventTime ≤
 * asOf.time (null: before the first event); undefined when that is the live head (the live state).
 */
function shownPosition(series: MarketSeries, asOf: AsOf): number | null | undefined {
  const position =
    "position" in asOf ? series.positionAtOrBefore(asOf.position) : series.positionAtTime(asOf.time);
  return position === series.lastPosition() ? undefined : position;
}

/** The file of lightweight-charts' standalone production build (defines `window.LightweightCharts`). */
function chartLibraryPath(): string {
  const manifest = createRequire(import.meta.url).resolve("lightweight-charts/package.json");
  return join(dirname(manifest), "dist", "lightweight-charts.standalone.production.js");
}
