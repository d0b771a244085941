/** Serving the projections over HTTP until the process is told to stop. */
import type { Logger } from "pino";
import { type ControlOptions, serveProjections } from "../adapters/http/server.ts";
import type { EventStore } from "../events/store.ts";

/** The environment variable holding the control routes' bearer token (unset or empty: routes disabled). */
export const CONTROL_TOKEN_ENV = "PERPSOURCE_CONTROL_TOKEN";

/**
 * Starts the projections HTTP server on host:port, reports its URL through `announce`, and resolves once
 * SIGINT or SIGTERM arrived and the server is closed. The store stays open (the caller closes it). The control
 * routes use `change` with the token of $PERPSOURCE_CONTROL_TOKEN (unset: disabled).
 */
export async function serveUntilSignal(opts: {
  store: EventStore;
  host: string;
  port: number;
  logger: Logger;
  announce: (url: string) => void;
  change: ControlOptions["change"];
}): Promise<void> {
  const token = process.env[CONTROL_TOKEN_ENV] || undefined;
  const server = await serveProjections({
    store: opts.store,
    host: opts.host,
    port: opts.port,
    logger: opts.logger,
    control: { token, change: opts.change },
  });
  if (token === undefined) opts.logger.info(`control routes disabled: ${CONTROL_TOKEN_ENV} is not set`);
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
