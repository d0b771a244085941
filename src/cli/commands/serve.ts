/** `perpsource serve`: the projections of an existing store over HTTP. */
import { type Flags, withContext } from "../context.ts";
import { servingBanner } from "../format.ts";
import { serveUntilSignal } from "../serve.ts";
import { openExistingStore } from "../store.ts";

/**
 * Serves the configured store on http.host:http.port until SIGINT/SIGTERM, printing the URL.
 * @throws ConfigError on an invalid configuration.
 */
export function serveCommand(flags: Flags): Promise<number> {
  return withContext(flags, flags, async ({ cfg, logger, out }) => {
    const store = await openExistingStore(cfg.store);
    try {
      const { host, port } = cfg.http;
      await serveUntilSignal({ store, host, port, logger, announce: (url) => out(servingBanner(url)) });
      return 0;
    } finally {
      await store.close();
    }
  });
}
