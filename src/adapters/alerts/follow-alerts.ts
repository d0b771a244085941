/**
 * Alerts on a store's log: the rules (src/alerts/rules.ts) folded over the log that is already there without
 * alerting (their state: equity peak, rejection windows), then over every event appended after, through the
 * store subscription, into the dispatcher. The same for a run writing the store in this process and for
 * `serve` following a store another process writes. The trading path never waits for it: the subscription
 * delivers after the append, and the dispatcher only queues.
 */
import type { Logger } from "pino";
import { type Alert, AlertRules, StreamWatch } from "../../alerts/rules.ts";
import type { AlertsConfig } from "../../config/schema.ts";
import type { RecordedEvent } from "../../events/envelope.ts";
import { type EventStore, StoreReplacedError } from "../../events/store.ts";
import {
  AlertDispatcher,
  type AlertDispatcherOptions,
  type AlertSink,
  type SinkStats,
} from "./dispatcher.ts";
import { telegramSink } from "./telegram.ts";
import { webhookSink } from "./webhook.ts";

/** The tokens of the sinks, from the environment only (src/config/load.ts `alertTokens`). */
export interface AlertTokens {
  telegram?: string;
  webhook?: string;
}

/** Alerts following a store; see `startAlerts`. */
export interface AlertService {
  /** The market feed's connection hook: `down` when it lost the stream, `up` when it is back. */
  marketStream(state: "down" | "up"): void;
  /** Counts per sink, the alerts deduplicated, and the events folded. */
  stats(): { sinks: Record<string, SinkStats>; deduplicated: number; events: number };
  /** Stops following, waits up to `graceMs` (default 2 000) for queued alerts, then drops the rest. */
  close(graceMs?: number): Promise<void>;
}

/** Options of `startAlerts`. */
export interface StartAlertsOptions {
  store: EventStore;
  config: AlertsConfig;
  tokens: AlertTokens;
  logger: Logger;
  /** Replaces the sinks the config names (tests). */
  sinks?: readonly AlertSink[];
  /** Wall clock, ms (default Date.now): dedupe, rate limit, stream outages. */
  now?: () => number;
  /** Passed to the dispatcher (tests: faster retries). */
  dispatch?: Pick<AlertDispatcherOptions, "attempts" | "retryDelayMs" | "sendTimeoutMs">;
}

/** The sinks `config` names: the webhook at `webhook.url`, Telegram to `telegram.chatId` with its token. */
export function configuredSinks(config: AlertsConfig, tokens: AlertTokens): AlertSink[] {
  const sinks: AlertSink[] = [];
  if (config.webhook !== undefined) {
    sinks.push(
      webhookSink({ url: config.webhook.url, ...(tokens.webhook ? { token: tokens.webhook } : {}) }),
    );
  }
  if (config.telegram !== undefined) {
    if (tokens.telegram === undefined) {
      throw new Error(
        "alerts.telegram is set but PERPSOURCE_TELEGRAM_TOKEN is not (the token is read from the environment only)",
      );
    }
    sinks.push(
      telegramSink({
        token: tokens.telegram,
        chatId: config.telegram.chatId,
        ...(config.telegram.apiRoot === undefined ? {} : { apiRoot: config.telegram.apiRoot }),
      }),
    );
  }
  return sinks;
}

/**
 * Folds the stored log into the rules (no alerts for it), then follows the store and sends the alerts of every
 * later event; resolves once the stored log is folded. Resolves undefined, doing nothing, when no sink is
 * configured. A replaced store (`StoreReplacedError`) is folded again from its start, silently; a log that
 * cannot be read or followed (from the first read on) sends one critical alert and stops following (logged,
 * never thrown).
 * @throws Error when alerts.telegram is set without its token.
 */
export async function startAlerts(options: StartAlertsOptions): Promise<AlertService | undefined> {
  const { store, config, logger } = options;
  const sinks = options.sinks ?? configuredSinks(config, options.tokens);
  if (sinks.length === 0) return undefined;
  const now = options.now ?? Date.now;
  const dispatcher = new AlertDispatcher({
    sinks,
    logger,
    dedupeMs: config.dedupeMs,
    ratePerMinute: config.ratePerMinute,
    queueSize: config.queueSize,
    now,
    ...options.dispatch,
  });
  const watch = new StreamWatch(config.streamDownMs);
  const send = (alerts: readonly Alert[]) => {
    for (const alert of alerts) dispatcher.enqueue(alert);
  };
  let rules: AlertRules;
  let events = 0;
  let subscription: { unsubscribe(): void } | undefined;
  let stopped = false;

  const fold = (event: RecordedEvent): Alert[] => {
    events += 1;
    return rules.apply(event);
  };
  const stopFollowing = (error: unknown): void => {
    subscription?.unsubscribe();
    logger.error({ err: error }, "alerts stopped following the event store");
    send([
      {
        key: "alerts:stopped",
        kind: "logUnreadable",
        severity: "critical",
        title: "Alerts stopped following the event log",
        text: String(error),
        at: now(),
        data: { error: String(error) },
      },
    ]);
  };
  /** Folds the stored log silently, then follows the live one. */
  const load = async (): Promise<void> => {
    rules = new AlertRules(config);
    events = 0;
    let after: number | undefined;
    for await (const event of store.readAll()) {
      rules.replay(event);
      events += 1;
      after = event.position;
    }
    if (stopped) return;
    subscription = store.subscribe(after === undefined ? {} : { after }).subscribe({
      next: (event) => {
        try {
          send(fold(event));
        } catch (error) {
          stopFollowing(error);
        }
      },
      error: (error: unknown) => {
        if (!(error instanceof StoreReplacedError) || stopped) return stopFollowing(error);
        logger.warn("alerts: the event store was replaced; folding the new log from its start");
        load().catch(stopFollowing);
      },
    });
  };
  try {
    await load();
  } catch (error) {
    stopFollowing(error); // e.g. a CorruptEventError: `serve` reports it on /health, the alert says so
  }

  const timer = setInterval(
    () => send(watch.check(now())),
    Math.max(10, Math.min(1_000, config.streamDownMs / 4)),
  );
  timer.unref();
  logger.info({ sinks: sinks.map((s) => s.name) }, "alerts on");
  return {
    marketStream: (state) => {
      if (state === "down") watch.down(now());
      else send(watch.up(now()));
    },
    stats: () => ({ ...dispatcher.stats(), events }),
    close: async (graceMs) => {
      stopped = true;
      clearInterval(timer);
      subscription?.unsubscribe();
      await dispatcher.close(graceMs);
    },
  };
}
