/**
 * The HTTP API over the projections and the event log (fastify 5; parameters validated with zod, see
 * schemas.ts; the OpenAPI document generated from them at /docs): read routes (behind a bearer token when one is
 * set), and the operator's control routes (POST /control/halt|resume, always a bearer token). Every bad parameter
 * is a 400 `{ error, message, field }`, a missing or wrong token a 401 with `WWW-Authenticate: Bearer`, an
 * unknown route a 404 JSON, and
 * an unexpected failure a 500 JSON without stack trace. The projection routes' JSON bodies are built once per
 * (route, normalised query, log position) and cached (cache.ts), so parallel identical requests cost one
 * serialisation and /health stays responsive while a heavy body is asked for many times. Every projection route
 * takes `?asOf=` (a log position or a market time: the state then, folded from the log's prefix; as-of.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { STATUS_CODES } from "node:http";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
} from "fastify";
import { createJsonSchemaTransform } from "fastify-type-provider-zod";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { OperatorOutcome } from "../../engine/risk-operator.ts";
import type { RecordedEvent } from "../../events/envelope.ts";
import type { EventStore } from "../../events/store.ts";
import type { Projections } from "../../projections/index.ts";
import { PastStates, type StateView } from "./as-of.ts";
import { cacheKey, ResponseCache } from "./cache.ts";
import { dashboardPlugin, dashboardRoutes } from "./dashboard/plugin.ts";
import { followProjections, type LogHealth } from "./follow-projections.ts";
import { metricsRegistry } from "./metrics.ts";
import { pnlBody } from "./pnl-body.ts";
import {
  AsOfQuery,
  ControlBody,
  ControlResponse,
  DecisionsQuery,
  DecisionsResponse,
  ErrorResponse,
  EventsQuery,
  EventsResponse,
  HealthResponse,
  MetricsResponse,
  NoQuery,
  OrderParams,
  OrderResponse,
  OrdersQuery,
  OrdersResponse,
  PnlQuery,
  PnlResponse,
  PositionsResponse,
  RiskResponse,
  RunsResponse,
} from "./schemas.ts";
import { BadRequestError, parseParams } from "./validation.ts";

/** What the HTTP server reads: the store (GET /events) and the projections folded from it. */
export interface HttpServerDeps {
  store: EventStore;
  /** The projections, or a function returning the current ones (a reload replaces them). */
  projections: Projections | (() => Projections);
  /** Request logging; none when absent. */
  logger?: Logger;
  /**
   * Whether the projections still follow the log (default: always ok). In the error state `/health` answers
   * 503 with `status: "error"` and the error, the projection routes 503; `/events` still serves the raw log.
   */
  health?: () => LogHealth;
  /** The operator's control routes; absent or without a token they answer 403 (disabled). */
  control?: ControlOptions;
  /**
   * The bearer token every route but /health and /docs requires (http.readToken, $PERPSOURCE_READ_TOKEN);
   * undefined or empty: the read routes are open.
   */
  readToken?: string | undefined;
  /**
   * Metrics of the serving process that the log does not hold (`ProcessMetrics.registry`: store write latency,
   * events appended, WebSocket reconnects), served on /metrics beside the log's; absent: not served.
   */
  processMetrics?: Registry;
}

/** The environment variable of the read routes' bearer token (config key http.readToken). */
export const READ_TOKEN_ENV = "PERPSOURCE_READ_TOKEN";
/** The environment variable of the control routes' bearer token (config key http.controlToken). */
export const CONTROL_TOKEN_ENV = "PERPSOURCE_CONTROL_TOKEN";
/** The version of the API the OpenAPI document describes. */
const API_VERSION = "1.0.0";

/** The operator's control routes: the bearer token they require, and how to change the trading state. */
export interface ControlOptions {
  /** The token (http.controlToken, $PERPSOURCE_CONTROL_TOKEN); undefined or empty: the control routes are disabled. */
  token: string | undefined;
  /**
   * Appends the operator's change to the store's risk stream (`operatorChangeTradingState`); an error with a
   * 4xx `statusCode` (NoRiskStreamError: 409) is answered with that status.
   */
  change(to: "HALTED" | "ACTIVE", reason: string): Promise<OperatorOutcome>;
}

/**
 * The routes of the API with their query parameters and what they return: the serving banner, and each route's
 * summary in the OpenAPI document (`summaryOf`).
 */
export const apiRoutes: readonly (readonly [string, string])[] = [
  ["GET /health", "events folded so far; status incomplete while the latest run has no RunCompleted"],
  ["GET /runs?asOf=", "each run, completed or not, with its counters and last event"],
  [
    "GET /positions?asOf=",
    "position per symbol (flat ones included), marked to the last mark price (or close)",
  ],
  [
    "GET /pnl?interval=1h&from=&to=&maxPoints=2000&asOf=",
    "wallet, PnL, fees, funding, drawdown and the equity curve",
  ],
  ["GET /orders?symbol=&status=&type=&limit=&offset=&asOf=", "orders, a page at a time"],
  ["GET /orders/:clientOrderId?asOf=", "one order"],
  [
    "GET /decisions?symbol=&from=&to=&clientOrderId=&limit=&offset=&asOf=",
    "each decision with its bar, factors, orders and fills; clientOrderId: why that order exists",
  ],
  ["GET /risk?asOf=", "exposure, leverage and margin; trading state, denials, each limit and its use"],
  ["GET /events?stream=&from=&limit=", "the event log"],
  ["GET /metrics", "Prometheus metrics (text format) of the log, the projections and the process"],
  ...dashboardRoutes,
  ["GET /docs", "the OpenAPI document of these routes (HTML; JSON at /docs/json)"],
  ["POST /control/halt {reason}", "operator: halt trading (bearer token PERPSOURCE_CONTROL_TOKEN)"],
  ["POST /control/resume {reason}", "operator: resume trading (bearer token PERPSOURCE_CONTROL_TOKEN)"],
];

/** Who may call a route: anyone, a holder of the read token (when one is set), a holder of the control token. */
export type RouteAccess = "open" | "read" | "control";

declare module "fastify" {
  // @fastify/swagger declares this interface (swaggerTransform), which would make every other route config
  // key an excess property (the exchange double's `weight` and `security`): the index signature keeps them legal.
  interface FastifyContextConfig {
    /** Who may call the route (default "read"); see `RouteAccess`. */
    access?: RouteAccess;
    [key: string]: unknown;
  }
}

/** Where the OpenAPI document's HTML page is served; its JSON is at `${DOCS_PREFIX}/json`. */
export const DOCS_PREFIX = "/docs";

/** The responses every route may give besides its 200: a bad parameter, a missing token, a failed log. */
const commonResponses = {
  400: ErrorResponse.describe("a bad parameter: { error, message, field }"),
  401: ErrorResponse.describe("missing or wrong bearer token (WWW-Authenticate: Bearer)"),
  500: ErrorResponse.describe("an unexpected failure (details in the server log)"),
  503: ErrorResponse.describe("the projections cannot follow the log"),
};
const readSecurity = [{ readToken: [] }];

/** The description `apiRoutes` gives `route` ("GET /pnl"): the route's summary in the OpenAPI document. */
function summaryOf(route: string): string {
  const entry = apiRoutes.find(
    ([r]) => r === route || r.startsWith(`${route}?`) || r.startsWith(`${route} `),
  );
  if (entry === undefined) throw new Error(`apiRoutes has no entry for ${route}`);
  return entry[1];
}

/**
 * The fastify app with every route, the OpenAPI document (`/docs`: HTML, `/docs/json`), the access checks, and
 * the error and not-found handlers registered (not listening yet; routes are added when the app is readied).
 * Route schemas are the zod schemas of schemas.ts: they document the routes; the handlers parse with them
 * (`parseParams`), so a bad parameter is the API's own 400 body.
 */
export function buildHttpServer(deps: HttpServerDeps): FastifyInstance {
  const { store, projections: source } = deps;
  /** The projections to answer from now (a followed store may swap them on reload). */
  const now = typeof source === "function" ? source : () => source;
  const loggerInstance: FastifyBaseLogger | undefined = deps.logger;
  const options: FastifyServerOptions = {
    // malformed URLs and over-long path parameters, rejected before routing
    frameworkErrors: (error, _request, reply) => clientError(reply, error.statusCode ?? 400, error.message),
  };
  const app = loggerInstance
    ? Fastify({ ...options, loggerInstance })
    : Fastify({ ...options, logger: false });
  // Schemas document the routes; the handlers validate (parseParams) and JSON.stringify serialises.
  app.setValidatorCompiler(() => (value) => ({ value }));
  app.setSerializerCompiler(() => (value) => JSON.stringify(value));

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof BadRequestError) {
      return reply.code(400).send({ error: "Bad Request", message: error.message, field: error.field });
    }
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return clientError(reply, status, error instanceof Error ? error.message : String(error));
    }
    request.log.error({ err: error }, "request failed");
    return reply
      .code(500)
      .send({ error: "Internal Server Error", message: "the request failed; see the server log" });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: "Not Found", message: `no route ${request.method} ${request.url}` }),
  );

  const readToken = deps.readToken || undefined;
  app.addHook("onRequest", async (request, reply) => {
    const url = request.routeOptions.url;
    if (url === DOCS_PREFIX || url?.startsWith(`${DOCS_PREFIX}/`)) return;
    // a route's `config.access` (default "read"); unknown routes too, so they cannot be probed without the token
    const access = request.routeOptions.config.access ?? "read";
    if (access === "open") return;
    if (access === "read") {
      if (readToken === undefined || bearerMatches(request.headers.authorization, readToken)) return;
      return clientError(
        reply.header("www-authenticate", 'Bearer realm="perpsource"'),
        401,
        `missing or wrong bearer token (Authorization: Bearer <${READ_TOKEN_ENV}>)`,
      );
    }
    const token = deps.control?.token || undefined;
    if (token === undefined) {
      return clientError(
        reply,
        403,
        `the control routes are disabled: set ${CONTROL_TOKEN_ENV} in the server's environment ` +
          "(or http.controlToken in the config file) to enable them",
      );
    }
    if (!bearerMatches(request.headers.authorization, token)) {
      return clientError(
        reply.header("www-authenticate", 'Bearer realm="perpsource control"'),
        401,
        `missing or wrong bearer token (Authorization: Bearer <${CONTROL_TOKEN_ENV}>)`,
      );
    }
  });

  const health = deps.health ?? (() => ({ status: "ok" }) as const);
  app.addHook("onRequest", async (request, reply) => {
    const state = health();
    if (state.status === "ok" || request.url === "/health" || request.url.startsWith("/events")) return;
    if (request.routeOptions.config.servedWhileUnhealthy) return;
    return reply.code(503).send({ error: "Service Unavailable", message: state.error.message });
  });

  app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "perpsource HTTP API",
        description:
          "The projections of a perpsource event store (positions, PnL, orders, decisions, risk, the raw log) " +
          "and the operator's control routes. Money and prices are exact decimal strings; times are ms since " +
          `the epoch, UTC. With ${READ_TOKEN_ENV} set, every route but /health needs ` +
          `\`Authorization: Bearer <token>\`; the control routes always need ${CONTROL_TOKEN_ENV}.`,
        version: API_VERSION,
      },
      components: {
        securitySchemes: {
          readToken: { type: "http", scheme: "bearer", description: `${READ_TOKEN_ENV} (when set)` },
          controlToken: { type: "http", scheme: "bearer", description: CONTROL_TOKEN_ENV },
        },
      },
    },
    transform: createJsonSchemaTransform({}),
  });
  app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX });

  const cache = new ResponseCache();
  const pastStates = new PastStates(store, now);
  /**
   * Sends the body `build()` makes from `view`'s projections, built once per (route, params, asOf's resolved
   * position, log position) (see ResponseCache), with the position it shows in the `x-log-position` header
   * ("none" for an empty log). `params` are the route's parameters but `asOf`.
   */
  const cached = async (
    reply: FastifyReply,
    route: string,
    params: object,
    view: StateView,
    build: (projections: Projections) => Promise<Buffer>,
  ) => {
    const { projections } = view;
    const version = { source: projections, position: projections.lastPosition() };
    const key = cacheKey(route, view.past ? { ...params, asOf: view.past.position } : params);
    const { body, position } = await cache.get(key, version, () => build(projections));
    return logPosition(reply.type("application/json; charset=utf-8"), position).send(body);
  };
  const json = async (value: unknown) => Buffer.from(JSON.stringify(value));

  // Routes go in a plugin registered after @fastify/swagger, so its onRoute hook sees every one.
  app.register(async (api) => {
    api.register(dashboardPlugin, { store, live: now });
    api.get(
      "/health",
      {
        config: { access: "open" },
        schema: {
          summary: summaryOf("GET /health"),
          querystring: NoQuery,
          response: { 200: HealthResponse, ...commonResponses },
        },
      },
      async (request, reply) => {
        parseParams(NoQuery, request.query);
        const projections = now();
        const run = projections.latestRun();
        const body = {
          status: run !== null && !run.completed ? "incomplete" : "ok",
          runId: run?.runId ?? null,
          lastPosition: projections.lastPosition(),
          events: projections.eventCount(),
          lastEventTime: projections.lastEventTime(),
          control: deps.control?.token ? ("enabled" as const) : ("disabled" as const),
        };
        const state = health();
        if (state.status === "ok") return body;
        return reply.code(503).send({ ...body, status: "error", error: state.error });
      },
    );

    api.get(
      "/runs",
      {
        schema: {
          summary: summaryOf("GET /runs"),
          querystring: AsOfQuery,
          response: { 200: RunsResponse, ...commonResponses },
          security: readSecurity,
        },
      },
      async (request, reply) => {
        const { asOf, ...params } = parseParams(AsOfQuery, request.query);
        return cached(reply, "/runs", params, await pastStates.at(asOf), (p) => json({ runs: p.runs() }));
      },
    );

    api.get(
      "/positions",
      {
        schema: {
          summary: summaryOf("GET /positions"),
          querystring: AsOfQuery,
          response: { 200: PositionsResponse, ...commonResponses },
          security: readSecurity,
        },
      },
      async (request, reply) => {
        const { asOf, ...params } = parseParams(AsOfQuery, request.query);
        return cached(reply, "/positions", params, await pastStates.at(asOf), (p) =>
          json({ positions: p.positions() }),
        );
      },
    );

    api.get(
      "/pnl",
      {
        schema: {
          summary: summaryOf("GET /pnl"),
          querystring: PnlQuery,
          response: { 200: PnlResponse, ...commonResponses },
          security: readSecurity,
        },
      },
      async (request, reply) => {
        const { asOf, ...params } = parseParams(PnlQuery, request.query);
        return cached(reply, "/pnl", params, await pastStates.at(asOf), (p) => pnlBody(p, params));
      },
    );

    api.get(
      "/orders",
      {
        schema: {
          summary: summaryOf("GET /orders"),
          querystring: OrdersQuery,
          response: { 200: OrdersResponse, ...commonResponses },
          security: readSecurity,
        },
      },
      async (request, reply) => {
        const { asOf, ...query } = parseParams(OrdersQuery, request.query);
        return cached(reply, "/orders", query, await pastStates.at(asOf), (p) =>
          json({ ...p.orders(query), limit: query.limit, offset: query.offset }),
        );
      },
    );

    api.get(
      "/orders/:clientOrderId",
      {
        schema: {
          summary: summaryOf("GET /orders/:clientOrderId"),
          querystring: AsOfQuery,
          params: OrderParams,
          response: { 200: OrderResponse, 404: ErrorResponse, ...commonResponses },
          security: readSecurity,
        },
      },
      async (request, reply) => {
        const { asOf } = parseParams(AsOfQuery, request.query);
        const { clientOrderId } = parseParams(OrderParams, request.params);
        const { projections } = await pastStates.at(asOf);
        logPosition(reply, projections.lastPosition());
        const order = projections.order(clientOrderId);
        if (!order) return reply.code(404).send({ error: "Not Found", message: `no order ${clientOrderId}` });
        return order;
      },
    );

    api.get(
      "/decisions",
      {
        schema: {
          summary: summaryOf("GET /decisions"),
          querystring: DecisionsQuery,
          response: { 200: DecisionsResponse, 404: ErrorResponse, ...commonResponses },
          security: readSecurity,
        },
      },
      async (request, reply) => {
        const { asOf, ...query } = parseParams(DecisionsQuery, request.query);
        const { clientOrderId } = query;
        const view = await pastStates.at(asOf);
        const { projections } = view;
        if (clientOrderId !== undefined && !projections.decisionOf(clientOrderId)) {
          const message = projections.order(clientOrderId)
            ? `no decision behind order ${clientOrderId} in the log`
            : `no order ${clientOrderId}`;
          return logPosition(reply, projections.lastPosition())
            .code(404)
            .send({ error: "Not Found", message });
        }
        return cached(reply, "/decisions", query, view, (p) =>
          json({ ...p.decisions(query), limit: query.limit, offset: query.offset }),
        );
      },
    );

    api.get(
      "/risk",
      {
        schema: {
          summary: summaryOf("GET /risk"),
          querystring: AsOfQuery,
          response: { 200: RiskResponse, ...commonResponses },
          security: readSecurity,
        },
      },
      async (request, reply) => {
        const { asOf, ...params } = parseParams(AsOfQuery, request.query);
        return cached(reply, "/risk", params, await pastStates.at(asOf), (p) => json(p.risk()));
      },
    );

    api.get(
      "/events",
      {
        schema: {
          summary: summaryOf("GET /events"),
          querystring: EventsQuery,
          response: { 200: EventsResponse, ...commonResponses },
          security: readSecurity,
        },
      },
      async (request) => {
        const { stream, from, limit } = parseParams(EventsQuery, request.query);
        const source =
          stream === undefined
            ? store.readAll({ after: from, limit })
            : store.readStream(stream, { fromRevision: from ?? 0, limit });
        const events: RecordedEvent[] = [];
        for await (const e of source) events.push(e);
        const last = events[events.length - 1];
        const next = last === undefined ? null : stream === undefined ? last.position : last.revision + 1;
        return {
          events: events.map(({ stream, revision, position, eventId, type, data, metadata }) => ({
            stream,
            revision,
            position,
            eventId,
            type,
            data,
            metadata,
          })),
          next,
        };
      },
    );

    const metrics = metricsRegistry(now, deps.processMetrics);
    api.get(
      "/metrics",
      {
        schema: {
          summary: summaryOf("GET /metrics"),
          querystring: NoQuery,
          response: {
            200: { content: { [metrics.contentType]: { schema: MetricsResponse } } },
            ...commonResponses,
          },
          security: readSecurity,
        },
      },
      async (request, reply) => {
        parseParams(NoQuery, request.query);
        const body = await metrics.metrics();
        return reply
          .type(metrics.contentType)
          .serializer((text: string) => text)
          .send(body);
      },
    );

    for (const [path, to] of [
      ["/control/halt", "HALTED"],
      ["/control/resume", "ACTIVE"],
    ] as const) {
      api.post(
        path,
        {
          config: { access: "control" },
          schema: {
            summary: summaryOf(`POST ${path}`),
            querystring: NoQuery,
            body: ControlBody,
            response: {
              200: ControlResponse,
              403: ErrorResponse.describe(`the control routes are disabled (no ${CONTROL_TOKEN_ENV})`),
              409: ErrorResponse.describe("the store holds no run, or its run has no risk stream"),
              ...commonResponses,
            },
            security: [{ controlToken: [] }],
          },
        },
        async (request) => {
          parseParams(NoQuery, request.query);
          const { reason } = parseParams(ControlBody, request.body ?? undefined);
          // A store without a run, or a run without a risk stream, answers 409 (NoRecordedRunError's and
          // NoRiskStreamError's statusCode, see the error handler).
          const outcome = await deps.control!.change(to, reason);
          return outcome.changed
            ? {
                changed: true,
                tradingState: outcome.change.to,
                stream: outcome.stream,
                change: outcome.change,
              }
            : { changed: false, tradingState: outcome.state, stream: outcome.stream, change: null };
        },
      );
    }
  });

  return app;
}

/** Whether `header` is `Bearer <token>` (compared in constant time over the sha256 of both). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

/** Sets the `x-log-position` header: the global position of the last event a body shows ("none": no event). */
function logPosition(reply: FastifyReply, position: number | null): FastifyReply {
  return reply.header("x-log-position", position === null ? "none" : String(position));
}

/** Sends a 4xx `{ error: <status text>, message }`. */
function clientError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).send({ error: STATUS_CODES[status] ?? "Client Error", message });
}

/** A listening projections server. */
export interface ProjectionsServer {
  /** e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Stops following the store and closes the server (the store stays open). */
  close(): Promise<void>;
}

/**
 * Folds the whole store into fresh projections, then follows it live so a store still being written stays
 * current (`followProjections`: a replaced store is reloaded; a corrupt event or a failing store puts
 * `/health` in an error state naming the position), and listens on host:port (port 0: any free port).
 * Rejects when the store cannot be read at all or the port cannot be bound.
 */
export async function serveProjections(opts: {
  store: EventStore;
  host: string;
  port: number;
  logger: Logger;
  control?: ControlOptions;
  /** See `HttpServerDeps.readToken`. */
  readToken?: string | undefined;
  /** See `HttpServerDeps.processMetrics`. */
  processMetrics?: Registry;
}): Promise<ProjectionsServer> {
  const { store, logger } = opts;
  const followed = await followProjections(store, logger);
  const subscription = { unsubscribe: followed.stop };
  const app = buildHttpServer({
    store,
    projections: followed.current,
    logger,
    health: followed.health,
    ...(opts.control ? { control: opts.control } : {}),
    readToken: opts.readToken,
    ...(opts.processMetrics ? { processMetrics: opts.processMetrics } : {}),
  });
  try {
    const url = await app.listen({ host: opts.host, port: opts.port });
    return {
      url,
      close: async () => {
        subscription.unsubscribe();
        await app.close();
      },
    };
  } catch (err) {
    subscription.unsubscribe();
    await app.close();
    throw err;
  }
}
