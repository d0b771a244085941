/**
 * The read-only HTTP API over the projections and the event log (fastify 5; parameters validated with zod,
 * see schemas.ts). Every bad parameter is a 400 `{ error, message, field }`, an unknown route a 404 JSON, and
 * an unexpected failure a 500 JSON without stack trace. The projection routes' JSON bodies are built once per
 * (route, normalised query, log position) and cached (cache.ts), so parallel identical requests cost one
 * serialisation and /health stays responsive while a heavy body is asked for many times.
 */
import { STATUS_CODES } from "node:http";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
} from "fastify";
import type { Logger } from "pino";
import type { RecordedEvent } from "../../events/envelope.ts";
import type { EventStore } from "../../events/store.ts";
import { type Projections, rebuildProjections } from "../../projections/index.ts";
import { cacheKey, ResponseCache } from "./cache.ts";
import { pnlBody } from "./pnl-body.ts";
import { EventsQuery, NoQuery, OrderParams, OrdersQuery, PnlQuery } from "./schemas.ts";
import { BadRequestError, parseParams } from "./validation.ts";

/** What the HTTP server reads: the store (GET /events) and the projections folded from it. */
export interface HttpServerDeps {
  store: EventStore;
  projections: Projections;
  /** Request logging; none when absent. */
  logger?: Logger;
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
  ["GET /orders?symbol=&status=&limit=&offset=", "orders, a page at a time"],
  ["GET /orders/:clientOrderId", "one order"],
  ["GET /risk", "exposure, leverage and margin"],
  ["GET /events?stream=&from=&limit=", "the event log"],
];

/** The fastify app with every route, error and not-found handler registered (not listening yet). */
export function buildHttpServer(deps: HttpServerDeps): FastifyInstance {
  const { store, projections } = deps;
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
    const version = { source: projections, position: projections.lastPosition() };
    const { body, position } = await cache.get(cacheKey(route, params), version, build);
    return reply
      .type("application/json; charset=utf-8")
      .header("x-log-position", position === null ? "none" : String(position))
      .send(body);
  };
  const json = async (value: unknown) => Buffer.from(JSON.stringify(value));

  app.get("/health", async (request) => {
    parseParams(NoQuery, request.query);
    const run = projections.latestRun();
    return {
      status: run !== null && !run.completed ? "incomplete" : "ok",
      runId: run?.runId ?? null,
      lastPosition: projections.lastPosition(),
      events: projections.eventCount(),
      lastEventTime: projections.lastEventTime(),
    };
  });

  app.get("/runs", async (request, reply) => {
    const params = parseParams(NoQuery, request.query);
    return cached(reply, "/runs", params, () => json({ runs: projections.runs() }));
  });

  app.get("/positions", async (request, reply) => {
    const params = parseParams(NoQuery, request.query);
    return cached(reply, "/positions", params, () => json({ positions: projections.positions() }));
  });

  app.get("/pnl", async (request, reply) => {
    const params = parseParams(PnlQuery, request.query);
    return cached(reply, "/pnl", params, () => pnlBody(projections, params));
  });

  app.get("/orders", async (request, reply) => {
    const query = parseParams(OrdersQuery, request.query);
    return cached(reply, "/orders", query, () =>
      json({ ...projections.orders(query), limit: query.limit, offset: query.offset }),
    );
  });

  app.get("/orders/:clientOrderId", async (request, reply) => {
    parseParams(NoQuery, request.query);
    const { clientOrderId } = parseParams(OrderParams, request.params);
    const order = projections.order(clientOrderId);
    if (!order) return reply.code(404).send({ error: "Not Found", message: `no order ${clientOrderId}` });
    return order;
  });

  app.get("/risk", async (request, reply) => {
    const params = parseParams(NoQuery, request.query);
    return cached(reply, "/risk", params, () => json(projections.risk()));
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

  return app;
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
 * Folds the whole store into fresh projections (catch-up via `readAll`), then follows it live via
 * `subscribe({ after: lastPosition })` so a store still being written stays current, and listens on
 * host:port (port 0: any free port). A failing live subscription is logged; the server keeps the state it has.
 * Rejects when the store cannot be read or the port cannot be bound.
 */
export async function serveProjections(opts: {
  store: EventStore;
  host: string;
  port: number;
  logger: Logger;
}): Promise<ProjectionsServer> {
  const { store, logger } = opts;
  const projections = await rebuildProjections(store.readAll());
  const after = projections.lastPosition();
  const subscription = store.subscribe(after === null ? {} : { after }).subscribe({
    next: (event) => projections.apply(event),
    error: (err: unknown) => logger.error({ err }, "projections stopped following the event store"),
  });
  const app = buildHttpServer({ store, projections, logger });
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
