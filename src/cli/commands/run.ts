/**
 * `perpsource run --mode paper|testnet|live`: the configured strategy on live market data (docs/ARCHITECTURE.md,
 * "Live runs"). Paper matches on the simulated venue; testnet and live trade on Binance (or on the local double,
 * `--rest-url`/`--ws-url`) with the key pair of the environment (src/cli/api-keys.ts). Live asks for
 * `--confirm-live`. The same command on the same store continues an unfinished run.
 */
import { registerAlertMetrics } from "../../adapters/alerts/metrics.ts";
import { ProcessMetrics } from "../../adapters/http/process-metrics.ts";
import { timeWrites } from "../../adapters/store/timed.ts";
import { listedSymbolsConfig } from "../../config/schema.ts";
import { operatorChangeTradingState } from "../../engine/risk-operator.ts";
import { startConfiguredAlerts } from "../alerts.ts";
import { API_KEY_ENV, requireApiKeyPair } from "../api-keys.ts";
import { type CliContext, type Flags, UsageError, withContext } from "../context.ts";
import { liveSummaryJsonLine, liveSummaryTable, servingBanner } from "../format.ts";
import { serveUntilSignal } from "../serve.ts";
import { openStoreForLive } from "../store.ts";

/** The REST base URLs of the modes that trade on Binance (binance-usdm.md §7.1). */
const REST_URLS = { testnet: "https://testnet.binancefuture.com", live: "https://fapi.binance.com" } as const;

/**
 * Runs until `--until`, SIGINT or SIGTERM (the run then stops after the input in hand and can be continued),
 * printing the summary (table, or one JSON line with --json). Resolves to the exit code.
 * @throws ConfigError on an invalid configuration (symbols "ALL" included); UsageError on a bad mode, a missing confirmation or key.
 */
export function runCommand(flags: Flags): Promise<number> {
  // Usage is checked before anything is loaded or opened (a UsageError exits 2).
  const mode = flags["mode"];
  if (mode !== "paper" && mode !== "testnet" && mode !== "live")
    throw new UsageError(`--mode must be paper, testnet or live, got ${JSON.stringify(mode)}`);
  if (mode === "live" && flags["confirmLive"] !== true) {
    throw new UsageError(
      "--mode live sends real orders with real money: add --confirm-live to confirm (try --mode testnet first)",
    );
  }
  const keys = mode === "paper" ? undefined : requireApiKeyPair(`--mode ${mode}`);
  const restUrl = stringFlag(flags, "restUrl") ?? (mode === "paper" ? REST_URLS.live : REST_URLS[mode]);
  const wsUrl = stringFlag(flags, "wsUrl");
  const lockstep = flags["lockstep"] === true;
  const ackKey = keys?.apiKey ?? (lockstep ? lockstepKey() : undefined);
  const until = untilOf(stringFlag(flags, "until"));
  const json = flags["json"] === true;
  const action = async ({ cfg, logger, out, err, instruments, brackets }: CliContext): Promise<number> => {
    const config = listedSymbolsConfig(cfg.backtest); // "ALL" is refused when the config is loaded
    const { runLive } = await import("../../engine/live-run.ts");
    const { openLiveMarketFeed } = await import("../../adapters/binance/market-feed.ts");
    const { liveMarketHistory } = await import("../../adapters/binance/market-history.ts");
    const { exchangeTime } = await import("../../adapters/binance/exchange-time.ts");
    // Served: the store's write latency, appends and the WebSocket reconnects go to /metrics.
    const metrics = flags["serve"] === undefined ? undefined : new ProcessMetrics();
    const opened = await openStoreForLive(cfg.store);
    const store = metrics ? timeWrites(opened, metrics.storeWrites) : opened;
    const alerts = await startConfiguredAlerts(store, cfg, logger);
    if (metrics && alerts) registerAlertMetrics(metrics.registry, () => alerts.stats());
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "stopping the run after the input in hand");
      stop.abort();
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      const venue = keys
        ? new (await import("../../adapters/binance/venue.ts")).BinanceVenue({
            restUrl,
            ...(wsUrl ? { wsUrl } : {}),
            testnet: mode === "testnet" && flags["restUrl"] === undefined,
            apiKey: keys.apiKey,
            apiSecret: keys.apiSecret,
            symbols: config.symbols,
            logger,
            lockstep,
            clock: () => Date.now(),
            ...(metrics ? { onReconnect: () => metrics.reconnected("user") } : {}),
          })
        : undefined;
      const serving =
        flags["serve"] === undefined
          ? undefined
          : serveUntilSignal({
              store,
              http: cfg.http,
              logger,
              change: (to, reason) => operatorChangeTradingState(store, to, reason),
              announce: (url) => (json ? err : out)(servingBanner(url)),
              ...(metrics ? { processMetrics: metrics.registry } : {}),
            });
      const summary = await runLive(mode, config, {
        store,
        logger,
        instruments,
        brackets: brackets(),
        startTime: await exchangeTime(restUrl),
        ...(until === undefined ? {} : { until }),
        signal: stop.signal,
        onStop: cfg.live.onStop,
        reconcileEveryMs: cfg.live.reconcileMinutes * 60_000,
        ...(venue ? { venue } : {}),
        history: liveMarketHistory({ symbols: config.symbols, restUrl, logger }),
        openFeed: (from) =>
          openLiveMarketFeed({
            symbols: config.symbols,
            restUrl,
            ...(wsUrl ? { wsUrl } : {}),
            testnet: mode === "testnet" && flags["restUrl"] === undefined,
            logger,
            lockstep,
            from,
            ...(ackKey === undefined ? {} : { apiKey: ackKey }),
            onConnection: (state) => {
              if (state === "up") metrics?.reconnected("market");
              alerts?.marketStream(state);
            },
          }),
      });
      await store.flush();
      out(json ? liveSummaryJsonLine(summary) : liveSummaryTable(summary, cfg.store));
      if (serving) await serving;
      return 0;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await alerts?.close();
      await store.close();
    }
  };
  return withContext(flags, flags, action, { listedSymbolsFor: `run --mode ${mode}` });
}

/** The API key a paper run's lockstep acknowledgements carry (the double checks it): BINANCE_API_KEY. */
function lockstepKey(): string {
  const apiKey = process.env[API_KEY_ENV];
  if (!apiKey)
    throw new UsageError(`${API_KEY_ENV} is not set: the double's lockstep acknowledgements need it`);
  return apiKey;
}

function stringFlag(flags: Flags, key: string): string | undefined {
  const value = flags[key];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/**
 * `--until`: a UTC day (YYYY-MM-DD: the run completes at the end of that day) or an ISO time with zone, as ms.
 * @throws UsageError for anything else.
 */
export function untilOf(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) {
    const ms = Date.parse(`${raw}T00:00:00Z`);
    if (!Number.isNaN(ms)) return ms + 86_400_000;
  } else if (/(Z|[+-]\d{2}:\d{2})$/.test(raw)) {
    const ms = Date.parse(raw);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(
    `--until must be a UTC day (YYYY-MM-DD, inclusive) or an ISO time with a zone, got ${JSON.stringify(raw)}`,
  );
}
