/**
 * A live run (paper, testnet, live): the kernel of a backtest (kernel.ts) fed by a live market feed instead of
 * the archive. Paper matches on the simulated venue in-process; testnet and live send orders to an external venue
 * whose fills and funding arrive as reports (the user data stream). Market events and venue reports go through
 * one queue, so the engine handles one input at a time, in the order they arrived.
 *
 * The log is self-contained: every market input the strategy consumed is in it (BarClosed with the minute's whole
 * mark kline, FundingRateSettled, MarketDataGapDetected, and the warm-up's bars and settlements in WarmUpRecorded), every
 * order's intent is appended before the venue sees it (the store is flushed before an external submit), and a unit of work (a checkpoint of the engine and the simulated venue, then a flush) ends
 * after the run's opening and after every input, market event or venue report. The run id derives from the mode
 * and the configuration, so the same command on the same store finds its run again: an unfinished one continues
 * from its last checkpoint (the feed then starts after the checkpoint's bar), a completed one is refused. On an
 * external venue, what the killed run wrote after that checkpoint (one input's events at most) is handled again
 * first (live-restart.ts: the venue adopts the working orders and queries the orders in doubt).
 *
 * Time in the log is the exchange's: a bar's closeTime, a report's transaction time; the run's `from` is the
 * exchange time at its start (`startTime`).
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { concatMap, fromEvent, lastValueFrom, NEVER, type Observable, takeUntil, takeWhile } from "rxjs";
import { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import { runMachine } from "../actors/run.machine.ts";
import type { MarketEvent } from "../adapters/market/types.ts";
import { observeAppends } from "../adapters/store/observed.ts";
import type { BacktestConfig, LiveConfig } from "../config/schema.ts";
import { canonical, Dec } from "../domain/decimal.ts";
import type { InstrumentCatalog } from "../domain/instruments.catalog.ts";
import type { LeverageBracketCatalog } from "../domain/margin/brackets.catalog.ts";
import type { EventData } from "../events/catalog.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import { getStrategy, strategyParams } from "../strategies/registry.ts";
import type { BacktestSummary } from "./backtest.ts";
import { createKernel } from "./kernel.ts";
import { LiveReconciler } from "./live-reconciliation.ts";
import {
  adoptWorkingOrders,
  fencedStore,
  type LogTail,
  RecordedAnswers,
  readLogTail,
  rederiveTail,
  tailStart,
} from "./live-restart.ts";
import { LogFold, type LogFoldResult, readBackFold } from "./log-fold.ts";
import { type RecordedRun, readRecordedRun } from "./recorded-run.ts";
import type { TradingEngine } from "./trading-engine.ts";
import { CannotResumeError, UnitsOfWork } from "./units-of-work.ts";
import type { ExternalVenue, VenueAccount, VenueReport, VenueReportHandler } from "./venue.ts";
import { type WarmUpWindow, warmUpWindow } from "./warm-up.ts";
import { recordWarmUp } from "./warm-up-record.ts";

/** The modes of a live run. */
export type LiveMode = "paper" | "testnet" | "live";

/**
 * A live market feed (src/adapters/binance/market-feed.ts): market events in order, as the archive feed gives
 * them; `processed` is called after each one was handled (a lockstep rehearsal acknowledges it there).
 */
export interface LiveMarketFeed {
  readonly events: Observable<MarketEvent>;
  processed(event: MarketEvent): Promise<void>;
  close(): Promise<void>;
}

/** What a live run needs besides its configuration. */
export interface LiveRunDeps {
  store: EventStore;
  logger: Logger;
  /**
   * Opens the market feed from minute `from` (ms): the start's minute for a new run (the warm-up ends there), a
   * continued run's earliest next bar over its symbols (what the run already has is dropped by symbol).
   */
  openFeed: (from: number) => LiveMarketFeed;
  /** testnet and live: the exchange. Paper: absent (the simulated venue). */
  venue?: ExternalVenue;
  instruments: InstrumentCatalog;
  brackets: LeverageBracketCatalog;
  /** Exchange time at the start (ms): the run's `from`. */
  startTime: number;
  /**
   * The closed bars (and gaps) of every symbol in a window before the start, for the strategy's warm-up (REST
   * klines, each bar with its taker buy volume when the exchange sent one), in market order; with
   * `window.fundingFrom` (a strategy consuming funding) also the settlements with fundingFrom ≤ fundingTime < to
   * (`GET /fapi/v1/fundingRate`). Absent: the strategy starts cold.
   */
  history?: (window: WarmUpWindow) => AsyncIterable<MarketEvent>;
  /**
   * Market time at which the run completes (ms, exclusive, like a backtest's window end): once every symbol's
   * bar closing at `until` − 1 (or a gap reaching `until`) was handled, or at the first market event after it
   * (not handled).
   */
  until?: number;
  /** Aborting it stops the run after the input in hand (the run is then unfinished and can be continued). */
  signal?: AbortSignal;
  /**
   * What stopping (the signal, `until`, a failure) does with the working orders: `keep` them at the venue (the
   * default), or `cancel` them, each recorded as OrderCanceled with reason `shutdown` (config `live.onStop`).
   */
  onStop?: LiveConfig["onStop"];
  /**
   * An external venue is reconciled with (live-reconciliation.ts) at start, at its resync points and whenever
   * market time crosses a multiple of this (ms; default 30 minutes).
   */
  reconcileEveryMs?: number;
}

/**
 * The end-of-run summary of a live run: the backtest summary's counts and money (USDT as decimal strings, same
 * meanings), with the mode and whether the run was continued.
 */
export type LiveRunSummary = Pick<
  BacktestSummary,
  | "runId"
  | "completed"
  | "bars"
  | "orders"
  | "fills"
  | "realizedPnl"
  | "fees"
  | "funding"
  | "netPnl"
  | "unrealizedPnl"
  | "equity"
  | "maxDrawdown"
  | "tradingState"
  | "warmFrom"
  | "events"
  | "eventLogSha256"
> & {
  mode: LiveMode;
  /** Whether an earlier, unfinished run of the same command was continued. */
  continued: boolean;
};

/** A live run's unit of work: one market event (a minute of market time holds at most a few). */
const LIVE_UNIT = { marketEvents: 1, marketMs: 0 } as const;

/** The run id of a live run: `<mode>-` + 16 hex of sha256(mode, configuration without the backtest window). */
export function liveRunId(mode: LiveMode, config: BacktestConfig): string {
  const h = createHash("sha256")
    .update(JSON.stringify([mode, tradingConfig(config)]))
    .digest("hex");
  return `${mode}-${h.slice(0, 16)}`;
}

/** The configuration a live run records: the backtest's without its window. */
function tradingConfig(config: BacktestConfig): Record<string, unknown> {
  const { from: _from, to: _to, ...trading } = config;
  return trading;
}

/**
 * Runs (or continues) the live run of `config` in `mode` until `deps.until` or the abort signal.
 * @throws CannotResumeError when the store holds another run or this run completed; the feed's or venue's errors.
 */
export async function runLive(
  mode: LiveMode,
  config: BacktestConfig,
  deps: LiveRunDeps,
): Promise<LiveRunSummary> {
  if ((mode === "paper") !== (deps.venue === undefined)) {
    throw new Error(`mode ${mode} needs ${mode === "paper" ? "no external venue" : "an external venue"}`);
  }
  const runId = liveRunId(mode, config);
  const recorded = await findRun(deps.store, runId);
  const fold = recorded ? undefined : new LogFold();
  try {
    return await execute(mode, config, deps, runId, recorded, fold);
  } finally {
    await fold?.close();
  }
}

async function execute(
  mode: LiveMode,
  config: BacktestConfig,
  deps: LiveRunDeps,
  runId: string,
  recorded: RecordedRun | undefined,
  fold: LogFold | undefined,
): Promise<LiveRunSummary> {
  const { logger } = deps;
  // A continued run notes what it re-appends while it opens: the killed run's tail must all be derived again.
  const appended = new Set<string>();
  let opening = recorded !== undefined;
  const fenced = fencedStore(deps.store);
  const store = observeAppends(fenced.store, (events, batch) => {
    if (fold) fold.observe(events);
    else if (opening) for (const e of batch) appended.add(e.eventId);
  });
  const answers = deps.venue && recorded ? new RecordedAnswers(deps.venue) : undefined;
  const kernel = createKernel({
    config,
    runId,
    store,
    instruments: deps.instruments,
    brackets: deps.brackets,
    venue: answers ?? deps.venue,
    recordMarkKline: true,
  });
  const { engine } = kernel;
  const actorDeps = { store, correlationId: runId };
  // A run continued before its first checkpoint opens again at its recorded start.
  const startTime = recorded?.started.from ?? deps.startTime;
  const cause = { causationId: `run:${runId}`, eventTime: startTime };
  let run: EventSourcedActor<typeof runMachine>;
  const checkpoint = recorded?.lastCheckpoint;
  if (recorded) {
    run = await EventSourcedActor.rehydrate(streams.run(runId), runMachine, actorDeps);
  } else {
    run = EventSourcedActor.create(streams.run(runId), runMachine, actorDeps);
    await run.commit(
      [
        {
          type: "RunStarted",
          data: {
            runId,
            mode,
            strategy: config.strategy,
            symbols: config.symbols,
            from: startTime,
            to: deps.until ?? startTime,
            config: tradingConfig(config),
            manifest: [],
            instruments: { source: deps.instruments.source, snapshotDate: deps.instruments.snapshotDate },
            brackets: { source: deps.brackets.source, snapshotDate: deps.brackets.snapshotDate },
          },
        },
      ],
      cause,
    );
  }
  // A continued run restores its actors from the checkpoint; the feed starts after its last bar.
  const units = new UnitsOfWork({
    runId,
    run,
    store,
    engine,
    venue: kernel.simulated,
    checkpoint,
    unit: LIVE_UNIT,
    skipCovered: false,
  });
  const queue = new SerialQueue();
  let lastTime = deps.startTime;
  const reconciler =
    deps.venue &&
    new LiveReconciler({
      engine,
      venue: deps.venue,
      logger,
      fundingFallback: (checkpoint && resumeFrom(engine, config.symbols)) || startTime,
      afterReport: (report) => units.checkpointAt(report.time),
    });
  // Each venue report is an input, streamed or recovered by a reconciliation round: a unit of work of its own.
  const handleReport = async (report: VenueReport): Promise<void> => {
    if (reconciler) await reconciler.handle(report);
    else {
      await engine.onVenueReport(report);
      await units.checkpointAt(report.time);
    }
  };
  const onReport: VenueReportHandler = (report) => queue.run(() => handleReport(report));
  // The killed run's tail (external venue): the venue adopts the working orders and takes the tail's orders in doubt.
  let tail: LogTail | undefined;
  let tailFrom: number | undefined;
  if (recorded && deps.venue) {
    tailFrom = await tailStart(store, runId, run.streamRevision);
    tail = await readLogTail(store, runId, tailFrom);
    await adoptWorkingOrders(deps.venue, store, engine.workingOrders());
    for (const { request, result } of tail.answers.values())
      if (result.accepted)
        deps.venue.adopt({
          request,
          orderId: result.orderId,
          executedQty: "0",
          tradeIds: [],
          triggering: false,
        });
    deps.venue.inDoubt(tail.inDoubt);
    answers?.record(tail);
  }
  const started = deps.venue?.start(venueSettings(config), onReport);
  // Queued before any report the venue's stream can bring: the opening, then the tail handled again.
  const opened = queue.run(async () => {
    const account = await started;
    if (!checkpoint) {
      const warmUp = liveWarmUpWindow(config, startTime);
      if (warmUp && deps.history) {
        // Recorded in the log (WarmUpRecorded), so a replay warms up on the same bars and settlements; a run killed
        // while it opened re-appends none of the parts it recorded.
        const history = deps.history(warmUp);
        const window = { from: warmUp.from, to: warmUp.to };
        const already = recorded ? await recordedWarmUp(store, runId) : [];
        await recordWarmUp({
          run,
          engine,
          runId,
          symbols: config.symbols,
          window,
          history,
          cause,
          recorded: already,
        });
      }
      await engine.openAccount(openingBalance(config, account, logger), cause);
    }
    if (tail) {
      fenced.fence(tailFrom);
      await rederiveTail(
        tail,
        async (input) => {
          if (input.kind === "market") await units.step(input.event, kernel.step);
          else if (input.kind === "report") await handleReport(input.report);
          else await cancelOnStop(engine, units, runId, input.cause.eventTime, logger);
        },
        appended,
      );
      fenced.fence(undefined);
      if (tail.events.length > 0)
        logger.info({ runId, events: tail.events.length }, "log tail handled again");
    }
    if (!checkpoint) await units.checkpointAt(startTime);
    opening = false;
  });
  await opened.catch(async (error: unknown) => {
    await deps.venue?.close().catch(() => undefined);
    throw error;
  });
  // Reconciliation: at start, at the venue's resync points, periodically on market time. A round is no unit of
  // work of its own: what it writes is covered by the next input's checkpoint. A restart before that handles the
  // reports it recovered again from the log and leaves its verdict to the risk engine (live-restart.ts); a replay,
  // which cannot ask the venue again, writes the verdict back at its place (recorded-inputs.ts, out-of-band).
  const reconcile = async (trigger: "start" | "resync" | "periodic"): Promise<void> => {
    await reconciler!.run(trigger, lastTime);
  };
  const everyMs = deps.reconcileEveryMs ?? DEFAULT_RECONCILE_MS;
  let nextReconciliation = Math.floor(lastTime / everyMs) * everyMs + everyMs;
  let reconcileFailure: unknown;
  let stopped = false;
  if (reconciler) {
    await queue.run(() => reconcile("start"));
    deps.venue?.onResync?.(() => {
      if (stopped) return; // the venue closes: nothing more to reconcile in this run
      queue
        .run(() => reconcile("resync"))
        .catch((error: unknown) => {
          reconcileFailure ??= error;
        });
    });
  }
  logger.info(
    { runId, mode, symbols: config.symbols, continued: recorded !== undefined },
    "live run started",
  );

  const startMinute = Math.floor(startTime / ONE_MINUTE_MS) * ONE_MINUTE_MS;
  const feed = deps.openFeed((checkpoint && resumeFrom(engine, config.symbols)) || startMinute);
  const until = deps.until ?? Number.POSITIVE_INFINITY;
  let completed = false;
  const reached = new Set<string>();
  const stop$ = deps.signal ? fromEvent(deps.signal, "abort") : NEVER;
  try {
    if (!deps.signal?.aborted) {
      await lastValueFrom(
        feed.events.pipe(
          takeWhile((e) => {
            if (e.time > until) completed = true;
            return !completed;
          }),
          concatMap(async (e) => {
            if (isNew(engine, e)) {
              await queue.run(() => units.step(e, kernel.step));
              lastTime = e.time;
            }
            if (reconcileFailure !== undefined) throw reconcileFailure;
            if (reconciler && e.time >= nextReconciliation) {
              nextReconciliation = Math.floor(e.time / everyMs) * everyMs + everyMs;
              await queue.run(() => reconcile("periodic"));
            }
            // The run completes once every symbol's market data reached `until`.
            if (reaches(e, until)) reached.add(symbolOf(e));
            if (reached.size === config.symbols.length) completed = true;
            await feed.processed(e);
          }),
          takeWhile(() => !completed),
          takeUntil(stop$),
        ),
        { defaultValue: undefined },
      );
    }
  } finally {
    stopped = true;
    await feed.close();
    await queue.idle();
    if (deps.onStop === "cancel") await queue.run(() => cancelOnStop(engine, units, runId, lastTime, logger));
    await deps.venue?.close();
  }
  if (reconcileFailure !== undefined) throw reconcileFailure;
  if (completed) {
    await run.commit(
      [
        {
          type: "RunCompleted",
          data: { runId, bars: engine.stats.bars, fundingSettlements: engine.stats.fundingSettlements },
        },
      ],
      { causationId: `run:${runId}`, eventTime: lastTime },
    );
  }
  await store.flush();
  const folded: LogFoldResult = fold?.complete
    ? await fold.result()
    : await readBackFold(deps.store.readAll());
  const { realizedPnl, fees, funding, netPnl, equity, maxDrawdown } = folded.summary;
  const summary: LiveRunSummary = {
    runId,
    mode,
    completed,
    continued: recorded !== undefined,
    bars: engine.stats.bars,
    orders: engine.stats.orders,
    fills: engine.stats.fills,
    realizedPnl,
    fees,
    funding,
    netPnl,
    unrealizedPnl: folded.unrealizedPnl,
    equity,
    maxDrawdown,
    tradingState: engine.tradingState,
    warmFrom: engine.warmFrom(),
    events: folded.events,
    eventLogSha256: folded.eventLogSha256,
  };
  logger.info(summary, completed ? "live run completed" : "live run stopped");
  return summary;
}

/** The account settings the strategy declares, for an external venue's start. */
function venueSettings(config: BacktestConfig) {
  const strategy = getStrategy(config.strategy);
  const { leverage, marginType } = strategy.symbolSettings(strategyParams(strategy, config));
  return { leverage, marginType, dualSidePosition: config.hedgeMode === true };
}

/**
 * The USDT wallet a new run's account opens with: the external venue's at its start (the log then agrees with
 * the venue, which reconciliation compares exactly), else (paper) `backtest.initialBalance`. A venue wallet that
 * differs from `initialBalance` is logged; an equal one keeps the configuration's spelling.
 */
function openingBalance(config: BacktestConfig, account: VenueAccount | undefined, logger: Logger): string {
  if (account === undefined) return config.initialBalance;
  const venue = new Dec(account.walletBalance);
  if (venue.eq(config.initialBalance)) return config.initialBalance;
  logger.warn(
    { walletBalance: canonical(venue), initialBalance: config.initialBalance },
    "the account opens with the venue's USDT wallet, not backtest.initialBalance",
  );
  return canonical(venue);
}

/**
 * Cancels the run's working orders as it stops (`onStop: cancel`) and checkpoints what that changed. A failure is
 * logged, not thrown: the run's own outcome (or error) stands, and the orders left are the venue's to report.
 */
async function cancelOnStop(
  engine: TradingEngine,
  units: UnitsOfWork,
  runId: string,
  time: number,
  logger: Logger,
): Promise<void> {
  try {
    const canceled = await engine.cancelWorkingOrders("shutdown", {
      causationId: `stop:${runId}`,
      eventTime: time,
    });
    if (canceled.length > 0) await units.checkpointNow();
    logger.info({ canceled }, "run stopping: working orders canceled");
  } catch (error) {
    logger.error({ error: (error as Error).message }, "run stopping: canceling the working orders failed");
  }
}

/** Whether the engine has not had market event `e` yet (a restarted feed may deliver it again). */
function isNew(engine: TradingEngine, e: MarketEvent): boolean {
  switch (e.kind) {
    case "bar": {
      const next = engine.marketCursor(e.bar.symbol).expectedOpenTime;
      return next === undefined || e.bar.openTime >= next;
    }
    case "gap": {
      const next = engine.marketCursor(e.gap.symbol).expectedOpenTime;
      return next === undefined || e.gap.toOpenTime > next;
    }
    case "funding": {
      const last = engine.marketCursor(e.funding.symbol).lastFundingTime;
      return last === undefined || e.funding.fundingTime > last;
    }
  }
}

/**
 * The window before a live run's start that warms its strategy up: `warmupBars` (default: the strategy's own) bars
 * of its first interval, ending at the start's minute, with `fundingFrom` 8 h before its first bar when the
 * strategy consumes funding (warm-up.ts `WarmUpWindow`); undefined for none.
 */
export function liveWarmUpWindow(config: BacktestConfig, startTime: number): WarmUpWindow | undefined {
  const window = warmUpWindow(config);
  if (window === undefined) return undefined;
  const to = Math.floor(startTime / ONE_MINUTE_MS) * ONE_MINUTE_MS;
  const from = to - (window.to - window.from);
  return window.fundingFrom === undefined
    ? { from, to }
    : { from, to, fundingFrom: from - (window.from - window.fundingFrom) };
}

const ONE_MINUTE_MS = 60_000;
/** Default period of a live run's reconciliation with its venue (market time). */
const DEFAULT_RECONCILE_MS = 30 * ONE_MINUTE_MS;

/** Whether market event `e` brings its symbol to `until`: the bar closing at `until` − 1, a gap up to it. */
function reaches(e: MarketEvent, until: number): boolean {
  if (e.kind === "bar") return e.bar.closeTime >= until - 1;
  if (e.kind === "gap") return e.gap.toOpenTime >= until;
  return false;
}

/** The symbol of a market event. */
function symbolOf(e: MarketEvent): string {
  return e.kind === "bar" ? e.bar.symbol : e.kind === "funding" ? e.funding.symbol : e.gap.symbol;
}

/** The earliest market time a continued run still wants: the least next bar openTime over its symbols. */
function resumeFrom(engine: TradingEngine, symbols: readonly string[]): number | undefined {
  const next = symbols.map((s) => engine.marketCursor(s).expectedOpenTime);
  return next.some((t) => t === undefined) ? undefined : Math.min(...(next as number[]));
}

/** The WarmUpRecorded events of run `runId`, in log order. */
async function recordedWarmUp(store: EventStore, runId: string): Promise<EventData<"WarmUpRecorded">[]> {
  const found: EventData<"WarmUpRecorded">[] = [];
  for await (const e of store.readStream(streams.run(runId)))
    if (e.type === "WarmUpRecorded") found.push(e.data as EventData<"WarmUpRecorded">);
  return found;
}

/**
 * The run `runId` in `store`: undefined when the store is empty.
 * @throws CannotResumeError when the store holds another run, or this one completed.
 */
async function findRun(store: EventStore, runId: string): Promise<RecordedRun | undefined> {
  for await (const _ of store.readAll({ limit: 1 })) {
    const recorded = await readRecordedRun(store);
    if (recorded.started.runId !== runId) {
      throw new CannotResumeError(
        `the store holds run ${recorded.started.runId} (${recorded.started.mode}), not ${runId}: a live run ` +
          "continues only its own run; use another store",
      );
    }
    if (recorded.completed) throw new CannotResumeError(`run ${runId} already completed`);
    return recorded;
  }
  return undefined;
}

/** Runs tasks one at a time, in the order they were queued. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task queued before it; resolves or rejects with it. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves when every queued task has ended. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
