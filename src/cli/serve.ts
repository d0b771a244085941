/** Serving the projections over HTTP until the process is told to stop. */
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  CONTROL_TOKEN_ENV,
  type ControlOptions,
  READ_TOKEN_ENV,
  serveProjections,
} from "../adapters/http/server.ts";
import type { AppConfig } from "../config/schema.ts";
import type { EventStore } from "../events/store.ts";

/**
 * Starts the projections HTTP server on `http.host`:`http.port`, reports its URL through `announce`, and
 * resolves once SIGINT or SIGTERM arrived and the server is closed. The store stays open (the caller closes it).
 * The read routes need `http.readToken` when it is set; the control routes use `change` and need
 * `http.controlToken` (unset: disabled).
 */
export async function serveUntilSignal(opts: {
  store: EventStore;
  http: AppConfig["http"];
  logger: Logger;
  announce: (url: string) => void;
  change: ControlOptions["change"];
  /** The serving process's own metrics (`ProcessMetrics.registry`), served on /metrics with the log's. */
  processMetrics?: Registry;
}): Promise<void> {
  const { host, port, readToken, controlToken } = opts.http;
  const server = await serveProjections({
    ...(opts.processMetrics ? { processMetrics: opts.processMetrics } : {}),
    store: opts.store,
    host,
    port,
    logger: opts.logger,
    control: { token: controlToken, change: opts.change },
    readToken,
  });
  if (controlToken === undefined) {
    opts.logger.info(`control routes disabled: ${CONTROL_TOKEN_ENV} (http.controlToken) is not set`);
  }
  if (readToken === undefined) {
    opts.logger.info(`read routes open: ${READ_TOKEN_ENV} (http.readToken) is not set`);
  }
  opts.announce(server.url);
  const signal = await signalled();
  opts.logger.info({ signal }, "stopping the HTTP server");
  await server.close();
}

/** Resolves with the signal's name at the first SIGINT or SIGTERM. */
export function signalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (s: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(s);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
