/**
 * A dashboard under test: a real-data backtest in an in-memory store, served by `serveProjections` on a free
 * port with read and control tokens, and Debian's Chromium driven by playwright-core (never a downloaded
 * browser). Used by test/dashboard-browser.test.ts and scripts/screenshots.ts.
 */
import { existsSync } from "node:fs";
import pino from "pino";
import { type Browser, chromium } from "playwright-core";
import { type ProjectionsServer, serveProjections } from "../../src/adapters/http/server.ts";
import { InMemoryEventStore } from "../../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../../src/config/schema.ts";
import { runBacktest } from "../../src/engine/backtest.ts";
import { operatorChangeTradingState } from "../../src/engine/risk-operator.ts";

/** Debian's Chromium (apt package `chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Debian's Chromium is installed. */
export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM);
}

/**
 * A headless Chromium with a fresh profile (playwright's `launch` makes a new temporary user-data-dir and
 * removes it on close; it refuses a `--user-data-dir` argument).
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** The served backtest: its store (to append to), the server's URL, its tokens. */
export interface DashboardServer {
  store: InMemoryEventStore;
  server: ProjectionsServer;
  url: string;
  readToken: string | undefined;
  controlToken: string;
  close(): Promise<void>;
}

/**
 * Backtests `symbols` over [from, to] (UTC days) with the default sma-cross config on the real data at
 * `dataRoot` into an in-memory store and serves it on 127.0.0.1 (any free port), with the control routes behind
 * `controlToken` and the read routes behind `readToken` when given.
 */
export async function serveBacktest(opts: {
  dataRoot: string;
  symbols: string[];
  from: string;
  to: string;
  readToken?: string;
  /** The control routes' token; "" serves without one (control disabled). */
  controlToken?: string;
}): Promise<DashboardServer> {
  const logger = pino({ level: "silent" });
  const store = new InMemoryEventStore();
  const config = BacktestConfigSchema.parse({ symbols: opts.symbols, from: opts.from, to: opts.to });
  await runBacktest(config, { store, dataRoot: opts.dataRoot, logger });
  const controlToken = opts.controlToken ?? "control-token-dashboard-0123456789";
  const server = await serveProjections({
    store,
    host: "127.0.0.1",
    port: 0,
    logger,
    control: { token: controlToken, change: (to, reason) => operatorChangeTradingState(store, to, reason) },
    readToken: opts.readToken,
  });
  return {
    store,
    server,
    url: server.url,
    readToken: opts.readToken,
    controlToken,
    close: () => server.close(),
  };
}
