/**
 * The HTTP API over the projections and the event log (fastify 5; parameters validated with zod, see
 * schemas.ts): read-only routes, and the operator's control routes (POST /control/halt|resume, bearer token). Every bad parameter is a 400 `{ error, message, field }`, an unknown route a 404 JSON, and
 * an unexpected failure a 500 JSON without stack trace. The projection routes' JSON bodies are built once per
 * (route, normalised query, log position) and cached (cache.ts), so parallel identical requests cost one
 * serialisation and /health stays responsive while a heavy body is asked for many times.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { STATUS_CODES } from "node:http";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
} from "fastify";
import type { Logger } from "pino";
import type { OperatorOutcome } from "../../engine/risk-operator.ts";
import type { RecordedEvent } from "../../events/envelope.ts";
import type { EventStore } from "../../events/store.ts";
import type { Projections } from "../../projections/index.ts";
import { cacheKey, ResponseCache } from "./cache.ts";
import { followProjections, type LogHealth } from "./follow-projections.ts";
import { pnlBody } from "./pnl-body.ts";
import {
  ControlBody,
  DecisionsQuery,
  EventsQuery,
  NoQuery,
  OrderParams,
  OrdersQuery,
  PnlQuery,
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
}

/** The operator's control routes: the bearer token they require, and how to change the trading state. */
export interface ControlOptions {
  /** The token (from PERPSOURCE_CONTROL_TOKEN); undefined or empty: the control routes are disabled. */
  token: string | undefined;
  /**
   * Appends the operator's change to the store's risk stream (`operatorChangeTradingState`); an error with a
   * 4xx `statusCode` (NoRiskStreamError: 409) is answered with that status.
   */
  change(to: "HALTED" | "ACTIVE", reason: string): Promise<OperatorOutcome>;
}

/** The routes of the API with their query parameters and what they return (for banners and docs). */
export const apiRoutes: readonly (readonly [string, string])[] = [
  ["GET /health", "events folded so far; status incomplete while the latest run has no RunCompleted"],
  ["GET /runs", "each run, completed or not, with its counters and last event"],
  ["GET /positions", "position per symbol (flat ones included), marked to the last close"],
  [
    "GET /pnl?interval=1h&from=&to=&maxPoints=2000",
    "wallet, PnL, fees, funding, drawdown and the equity curve",
  ],
  ["GET /orders?symbol=&status=&type=&limit=&offset=", "orders, a page at a time"],
  ["GET /orders/:clientOrderId", "one order"],
  [
    "GET /decisions?symbol=&from=&to=&clientOrderId=&limit=&offset=",
    "each decision with its bar, factors, orders and fills; clientOrderId: why that order exists",
  ],
  ["GET /risk", "exposure, leverage and margin; trading state, denials, each limit and its use"],
  ["GET /events?stream=&from=&limit=", "the event log"],
  ["POST /control/halt {reason}", "operator: halt trading (bearer token PERPSOURCE_CONTROL_TOKEN)"],
  ["POST /control/resume {reason}", "operator: resume trading (bearer token PERPSOURCE_CONTROL_TOKEN)"],
];

/** The fastify app with every route, error and not-found handler registered (not listening yet). */
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

  const cache = new ResponseCache();
  /**
   * Sends the body `build()` makes, built once per (route, params, log position) (see ResponseCache), with the
   * position it shows in the `x-log-position` header ("none" for an empty log).
   */
  const cached = async (reply: FastifyReply, route: string, params: object, build: () => Promise<Buffer>) => {
    const projections = now();
    const version = { source: projections, position: projections.lastPosition() };
    const { body, position } = await cache.get(cacheKey(route, params), version, build);
    return reply
      .type("application/json; charset=utf-8")
      .header("x-log-position", position === null ? "none" : String(position))
      .send(body);
  };
  const json = async (value: unknown) => Buffer.from(JSON.stringify(value));

  const health = deps.health ?? (() => ({ status: "ok" }) as const);
  app.addHook("onRequest", async (request, reply) => {
    const state = health();
    if (state.status === "ok" || request.url === "/health" || request.url.startsWith("/events")) return;
    return reply.code(503).send({ error: "Service Unavailable", message: state.error.message });
  });

  app.get("/health", async (request, reply) => {
    parseParams(NoQuery, request.query);
    const projections = now();
    const run = projections.latestRun();
    const body = {
      status: run !== null && !run.completed ? "incomplete" : "ok",
      runId: run?.runId ?? null,
      lastPosition: projections.lastPosition(),
      events: projections.eventCount(),
      lastEventTime: projections.lastEventTime(),
    };
    const state = health();
    if (state.status === "ok") return body;
    return reply.code(503).send({ ...body, status: "error", error: state.error });
  });

  app.get("/runs", async (request, reply) => {
    const params = parseParams(NoQuery, request.query);
    return cached(reply, "/runs", params, () => json({ runs: now().runs() }));
  });

  app.get("/positions", async (request, reply) => {
    const params = parseParams(NoQuery, request.query);
    return cached(reply, "/positions", params, () => json({ positions: now().positions() }));
  });

  app.get("/pnl", async (request, reply) => {
    const params = parseParams(PnlQuery, request.query);
    return cached(reply, "/pnl", params, () => pnlBody(now(), params));
  });

  app.get("/orders", async (request, reply) => {
    const query = parseParams(OrdersQuery, request.query);
    return cached(reply, "/orders", query, () =>
      json({ ...now().orders(query), limit: query.limit, offset: query.offset }),
    );
  });

  app.get("/orders/:clientOrderId", async (request, reply) => {
    parseParams(NoQuery, request.query);
    const { clientOrderId } = parseParams(OrderParams, request.params);
    const order = now().order(clientOrderId);
    if (!order) return reply.code(404).send({ error: "Not Found", message: `no order ${clientOrderId}` });
    return order;
  });

  app.get("/decisions", async (request, reply) => {
    const query = parseParams(DecisionsQuery, request.query);
    const { clientOrderId } = query;
    if (clientOrderId !== undefined && !now().decisionOf(clientOrderId)) {
      const message = now().order(clientOrderId)
        ? `no decision behind order ${clientOrderId} in the log`
        : `no order ${clientOrderId}`;
      return reply.code(404).send({ error: "Not Found", message });
    }
    return cached(reply, "/decisions", query, () =>
      json({ ...now().decisions(query), limit: query.limit, offset: query.offset }),
    );
  });

  app.get("/risk", async (request, reply) => {
    const params = parseParams(NoQuery, request.query);
    return cached(reply, "/risk", params, () => json(now().risk()));
  });

  app.get("/events", async (request) => {
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
  });

  for (const [path, to] of [
    ["/control/halt", "HALTED"],
    ["/control/resume", "ACTIVE"],
  ] as const) {
    app.post(path, async (request, reply) => {
      parseParams(NoQuery, request.query);
      const control = deps.control;
      if (!control?.token) {
        return clientError(
          reply,
          403,
          "the control routes are disabled: set PERPSOURCE_CONTROL_TOKEN in the server's environment to enable them",
        );
      }
      if (!bearerMatches(request.headers.authorization, control.token)) {
        return clientError(
          reply.header("www-authenticate", 'Bearer realm="perpsource control"'),
          401,
          "missing or wrong bearer token (Authorization: Bearer <PERPSOURCE_CONTROL_TOKEN>)",
        );
      }
      const { reason } = parseParams(ControlBody, request.body ?? undefined);
      // A run without a risk stream answers 409 (NoRiskStreamError's statusCode, see the error handler).
      const outcome = await control.change(to, reason);
      return outcome.changed
        ? { changed: true, tradingState: outcome.change.to, stream: outcome.stream, change: outcome.change }
        : { changed: false, tradingState: outcome.state, stream: outcome.stream, change: null };
    });
  }

  return app;
}

/** Whether `header` is `Bearer <token>` (compared in constant time over the sha256 of both). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
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
