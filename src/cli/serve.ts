/** Serving the projections over HTTP until the process is told to stop. */
import type { Logger } from "pino";
import { serveProjections } from "../adapters/http/server.ts";
import type { EventStore } from "../events/store.ts";

/**
 * Starts the projections HTTP server on host:port, reports its URL through `announce`, and resolves once
 * SIGINT or SIGTERM arrived and the server is closed. The store stays open (the caller closes it).
 */
export async function serveUntilSignal(opts: {
  store: EventStore;
  host: string;
  port: number;
  logger: Logger;
  announce: (url: string) => void;
}): Promise<void> {
  const server = await serveProjections({
    store: opts.store,
    host: opts.host,
    port: opts.port,
    logger: opts.logger,
  });
  opts.announce(server.url);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (s: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(s);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  opts.logger.info({ signal }, "stopping the HTTP server");
  await server.close();
}
