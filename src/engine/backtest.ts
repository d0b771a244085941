/**
 * A backtest: archive market data → trading engine → simulated venue, into an event store. The run's first event
 * (RunStarted) records its configuration and the sha256 of every input file, so `replay --verify` can re-run it.
 * Deterministic: market time is the only clock in the log, ids derive from the run id, and the run id derives
 * from the configuration and the input files; the same inputs give a byte-identical log (same eventLogSha256).
 *
 * The run is cut into units of work, each ending with a RunCheckpointed and a flush (units-of-work.ts); the
 * strategy warms up on the bars before the window first (warm-up.ts). `resumeBacktest` continues a killed run from its last checkpoint: the actors and
 * the venue are restored from it, the market events it covers are skipped, and the events the run had written
 * after it are written again with the same ids and content, which every store takes as idempotent retries. The
 * resumed log is the uninterrupted one, byte for byte.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { lastValueFrom } from "rxjs";
import { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import { runMachine } from "../actors/run.machine.ts";
import {
  type ArchiveFile,
  archiveMarketEvents,
  discoverArchive,
  discoverTickFiles,
} from "../adapters/market/archive.ts";
import { MarketCoverage } from "../adapters/market/coverage.ts";
import { ParseThread } from "../adapters/market/parse-thread.ts";
import { openTickFeed } from "../adapters/market/tick-feed.ts";
import { isTickKind, type MarketEvent } from "../adapters/market/types.ts";
import { observeAppends } from "../adapters/store/observed.ts";
import type { SimulatedVenue } from "../adapters/venue/simulated/venue.ts";
import type { BacktestConfig, BacktestRequest } from "../config/schema.ts";
import { ALL_SYMBOLS, windowOf } from "../config/schema.ts";
import { bundledInstrumentCatalog, type InstrumentCatalog } from "../domain/instruments.catalog.ts";
import {
  bundledLeverageBracketCatalog,
  type LeverageBracketCatalog,
} from "../domain/margin/brackets.catalog.ts";
import type { EventData } from "../events/catalog.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import { consumeInOrder } from "../market/pull.ts";
import { getStrategy, strategyParams } from "../strategies/registry.ts";
import { createKernel } from "./kernel.ts";
import { LogFold, readBackFold } from "./log-fold.ts";
import { readRecordedRun, recordedInputs } from "./recorded-run.ts";
import { CannotResumeError, UnitsOfWork } from "./units-of-work.ts";
import { backtestSymbols, MissingMarketDataError } from "./universe.ts";
import { warmUp, warmUpWindow } from "./warm-up.ts";

export { MissingMarketDataError } from "./universe.ts";

/** The end-of-run summary. Money in USDT as decimal strings; barsPerSec from the wall clock (not in the log). */
export interface BacktestSummary {
  runId: string;
  bars: number;
  orders: number;
  /** Orders the pre-trade risk engine denied (OrderDenied). */
  ordersDenied: number;
  fills: number;
  /** Fills as a maker (OrderFilled maker: true). */
  makerFills: number;
  /** Fills that left their order PARTIALLY_FILLED. */
  partialFills: number;
  /** Positions the venue liquidated (PositionLiquidated). */
  liquidations: number;
  realizedPnl: string;
  fees: string;
  funding: string;
  /** realizedPnl − fees + funding. */
  netPnl: string;
  /** Σ unrealized PnL of the positions still open, marked to the last bar's markPrice, else its close. */
  unrealizedPnl: string;
  /** walletBalance + unrealizedPnl. */
  equity: string;
  maxDrawdown: string;
  /** The trading state at the end (ACTIVE, REDUCING, HALTED). */
  tradingState: string;
  /** Holes in the market data (MarketDataGapDetected) over all symbols. */
  gaps: number;
  /**
   * Bars, over all symbols with 1m mark-price files, that had no mark kline of their minute (the venue watched
   * the trade bar there; see the warnings). 0 without such files.
   */
  barsWithoutMark: number;
  /** Funding settlements per symbol in the window (0: the symbol had no funding data; see the warnings). */
  fundingSettlements: Record<string, number>;
  /** Per symbol, market time (ms) from which its strategy was warm; absent when it never was. */
  warmFrom: Record<string, number>;
  /**
   * The symbols `--symbols ALL` found kline files of and did not trade, each with the reason (src/engine/universe.ts);
   * empty when the symbols were listed, and in a resumed run's summary (the run records the symbols it trades).
   */
  skippedSymbols: Record<string, string>;
  /** Whether the run reached the end of its window (RunCompleted). */
  completed: boolean;
  events: number;
  barsPerSec: number;
  eventLogSha256: string;
  /** Data problems found on the way (gaps, missing funding or mark prices), one line each, for stderr. */
  warnings: string[];
}

/** Progress of a running backtest; times in ms. */
export interface BacktestProgress {
  bars: number;
  eventTime: number;
  from: number;
  to: number;
}

/** What a backtest needs besides its configuration. */
export interface BacktestDeps {
  store: EventStore;
  dataRoot: string;
  logger: Logger;
  onProgress?: (p: BacktestProgress) => void;
  /** Wall clock for barsPerSec only (ms); defaults to performance.now. Never reaches the event log. */
  wallClock?: () => number;
  /** The run's instruments (default: the bundled exchangeInfo snapshot); recorded in RunStarted. */
  instruments?: InstrumentCatalog;
  /** The run's leverage brackets (default: the bundled snapshot); recorded in RunStarted. */
  brackets?: LeverageBracketCatalog;
  /**
   * The thread that parses the archive (default: one started for the run and stopped after it). A caller that
   * starts it early (before discovering the files) hides its start-up; the caller then closes it.
   */
  parseThread?: ParseThread;
}

/** The store already holds events; a backtest writes a log of its own. */
export class StoreNotEmptyError extends Error {
  override name = "StoreNotEmptyError";
}

/** Deterministic run id: `bt-` + 16 hex of sha256(config, input files). */
export function backtestRunId(config: BacktestConfig, files: readonly ArchiveFile[]): string {
  const h = createHash("sha256")
    .update(JSON.stringify(config))
    .update(JSON.stringify(files.map((f) => [f.path, f.sha256])))
    .digest("hex");
  return `bt-${h.slice(0, 16)}`;
}

/**
 * Runs a backtest of `request` on the archive under `deps.dataRoot`, writing to `deps.store` (which must be empty).
 * Symbols `"ALL"` are resolved first (`backtestSymbols`): the run trades and records that list, a symbol's kline
 * files need not cover the whole window (what they lack is a gap), and the summary lists the skipped symbols.
 * @throws MissingMarketDataError when the data root lacks klines for a listed symbol/window or `"ALL"` finds no
 *   symbol, StoreNotEmptyError, MarketDataError (file:line) for a malformed input row, UnknownSymbolError
 *   (naming the instruments snapshot).
 */
export async function runBacktest(request: BacktestRequest, deps: BacktestDeps): Promise<BacktestSummary> {
  const instruments = deps.instruments ?? bundledInstrumentCatalog();
  const { config, skipped } = await backtestSymbols(request, deps.dataRoot, instruments);
  if (request.symbols === ALL_SYMBOLS) {
    deps.logger.info(
      { symbols: config.symbols, skipped: Object.keys(skipped) },
      `--symbols ALL: ${config.symbols.length} symbols`,
    );
  }
  for (const symbol of config.symbols) instruments.get(symbol);
  const window = windowOf(config);
  const symbols = config.symbols;
  // Tick files (--ticks) are run inputs like the archive files: checked before anything is written, in the
  // manifest, re-checked by a replay. A symbol with trades files and no kline file takes its bars from its trades.
  const tickFiles = config.venue.ticks
    ? await discoverTickFiles(deps.dataRoot, config.venue.ticks, symbols)
    : [];
  const barsFromTrades = [...new Set(tickFiles.filter((f) => f.kind === "trades").map((f) => f.symbol))];
  let files: ArchiveFile[];
  try {
    // "ALL" trades a symbol wherever its files hold bars in the window; listed symbols must be covered.
    const partial = request.symbols === ALL_SYMBOLS;
    files = await discoverArchive(deps.dataRoot, { symbols, ...window }, { barsFromTrades, partial });
  } catch (err) {
    throw new MissingMarketDataError((err as Error).message);
  }
  const before = warmUpWindow(config);
  if (before !== undefined) {
    // The files of the window and whatever files hold bars (and, for a strategy consuming funding, settlements
    // from 8 h earlier) before it: the warm-up reads what there is.
    files = await discoverArchive(
      deps.dataRoot,
      { symbols, from: before.fundingFrom ?? before.from, to: window.to },
      { partial: true },
    );
  }
  const summary = await executeBacktest(config, [...files, ...tickFiles], deps);
  const warnings = Object.entries(skipped).map(
    ([symbol, reason]) => `--symbols ALL skipped ${symbol}: ${reason}`,
  );
  return { ...summary, skippedSymbols: skipped, warnings: [...warnings, ...summary.warnings] };
}

/**
 * Continues the run recorded in `deps.store` from its last checkpoint (or its start) to the end of its window.
 * @throws CannotResumeError when the run already completed or an input file is missing or changed; Error when
 *   the store holds no run.
 */
export async function resumeBacktest(deps: BacktestDeps): Promise<BacktestSummary> {
  const recorded = await readRecordedRun(deps.store);
  if (recorded.completed) {
    throw new CannotResumeError(`run ${recorded.started.runId} already completed: nothing to resume`);
  }
  const { files, problems } = await recordedInputs(recorded.started, deps.dataRoot);
  if (problems.length > 0) {
    throw new CannotResumeError(`cannot resume run ${recorded.started.runId}: ${problems.join("; ")}`);
  }
  return executeBacktest(recorded.config, files, deps, { checkpoint: recorded.lastCheckpoint });
}

/**
 * Runs a backtest on exactly `files` (the replay verifier passes a recorded manifest). With `resume`, continues
 * the run already in the store from `resume.checkpoint` (its start when undefined).
 */
export async function executeBacktest(
  config: BacktestConfig,
  files: readonly ArchiveFile[],
  deps: BacktestDeps,
  resume?: { checkpoint: EventData<"RunCheckpointed"> | undefined },
): Promise<BacktestSummary> {
  // A fresh run folds its log (hash, projections) as the store accepts it; a resumed run, or a store that does
  // not report its writes, reads the log back at the end instead (log-fold.ts).
  const fold = resume ? undefined : new LogFold();
  // The archive is parsed on a thread of its own, beside the engine (same events, see parse-thread.ts).
  const parseThread = deps.parseThread ?? new ParseThread();
  try {
    return await execute(config, files, deps, resume, fold, parseThread);
  } finally {
    await Promise.all([fold?.close(), deps.parseThread ? undefined : parseThread.close()]);
  }
}

async function execute(
  config: BacktestConfig,
  files: readonly ArchiveFile[],
  deps: BacktestDeps,
  resume: { checkpoint: EventData<"RunCheckpointed"> | undefined } | undefined,
  fold: LogFold | undefined,
  parseThread: ParseThread,
): Promise<BacktestSummary> {
  const { logger } = deps;
  const store = fold ? observeAppends(deps.store, fold.observe) : deps.store;
  const catalog = deps.instruments ?? bundledInstrumentCatalog();
  const wallClock = deps.wallClock ?? (() => performance.now());
  if (!resume) {
    for await (const _ of store.readAll({ limit: 1 })) {
      throw new StoreNotEmptyError("the store already holds events; a backtest needs an empty store");
    }
  }
  const window = windowOf(config);
  const runId = backtestRunId(config, files);
  const bracketCatalog = deps.brackets ?? bundledLeverageBracketCatalog();
  const strategy = getStrategy(config.strategy);
  checkLeverage(
    strategy.symbolSettings(strategyParams(strategy, config)).leverage,
    config.symbols,
    bracketCatalog,
  );
  // The venue matches a symbol with tick files (in the manifest) on its ticks, minute by minute.
  const ticks = files.some((f) => isTickKind(f.kind)) ? openTickFeed(files, config.symbols) : undefined;
  const {
    engine,
    simulated,
    step: kernelStep,
  } = createKernel({
    config,
    runId,
    store,
    instruments: catalog,
    brackets: bracketCatalog,
    ticks,
  });
  const venue = simulated as SimulatedVenue;
  const runStream = streams.run(runId);
  const start = { causationId: `run:${runId}`, eventTime: window.from };
  const actorDeps = { store, correlationId: runId };
  let run: EventSourcedActor<typeof runMachine>;
  const checkpoint = resume?.checkpoint;
  if (resume) {
    run = await EventSourcedActor.rehydrate(runStream, runMachine, actorDeps);
    if (run.streamRevision < 0)
      throw new CannotResumeError(`the store holds no run ${runId} for these inputs`);
  } else {
    run = EventSourcedActor.create(runStream, runMachine, actorDeps);
    await run.commit(
      [
        {
          type: "RunStarted",
          data: {
            runId,
            mode: "backtest",
            strategy: config.strategy,
            symbols: config.symbols,
            from: window.from,
            to: window.to,
            config: config as unknown as Record<string, unknown>,
            manifest: files.map(({ path, kind, symbol, sha256, bytes }) => ({
              path,
              kind,
              symbol,
              sha256,
              bytes,
            })),
            instruments: { source: catalog.source, snapshotDate: catalog.snapshotDate },
            brackets: { source: bracketCatalog.source, snapshotDate: bracketCatalog.snapshotDate },
          },
        },
      ],
      start,
    );
  }
  const units = new UnitsOfWork({ runId, run, store, engine, venue, checkpoint });
  if (!checkpoint) {
    const before = warmUpWindow(config);
    if (before !== undefined) await warmUp(engine, files, before);
    await engine.openAccount(config.initialBalance, start);
  }
  logger.info(
    { runId, files: files.length, symbols: config.symbols, resumedAfter: checkpoint?.marketEvents ?? 0 },
    resume ? "backtest resumed" : "backtest started",
  );

  const began = wallClock();
  const barsBefore = engine.stats.bars;
  let lastTime = window.from;
  const { onProgress } = deps;
  // Without a progress callback the kernel's step is the handler (no wrapping promise per market event).
  const handle = onProgress
    ? async (e: MarketEvent): Promise<void> => {
        await kernelStep(e);
        if (e.kind === "bar" && engine.stats.bars % 5000 === 0) {
          onProgress({ bars: engine.stats.bars, eventTime: e.time, ...window });
        }
      }
    : kernelStep;
  const coverage = new MarketCoverage();
  const step = (e: MarketEvent): Promise<void> => {
    lastTime = e.time;
    return units.step(e, handle);
  };
  // The market feed as a pulled RxJS stream: the archive is read at most READ_AHEAD events ahead of the engine, so
  // memory stays flat however long the window.
  try {
    await lastValueFrom(
      consumeInOrder(archiveMarketEvents(files, window, { coverage, parseThread }), step, {
        window: READ_AHEAD,
      }),
      { defaultValue: undefined },
    );
  } finally {
    await ticks?.close();
  }
  units.checkComplete();
  const elapsedMs = Math.max(wallClock() - began, 1e-3);
  await run.commit(
    [
      {
        type: "RunCompleted",
        data: { runId, bars: engine.stats.bars, fundingSettlements: engine.stats.fundingSettlements },
      },
    ],
    { causationId: `run:${runId}`, eventTime: lastTime },
  );
  await store.flush();
  deps.onProgress?.({ bars: engine.stats.bars, eventTime: lastTime, ...window });

  const folded = fold?.complete ? await fold.result() : await readBackFold(deps.store.readAll());
  const { realizedPnl, fees, funding, netPnl, equity, maxDrawdown, makerFills, partialFills, liquidations } =
    folded.summary;
  const result: BacktestSummary = {
    runId,
    bars: engine.stats.bars,
    orders: engine.stats.orders,
    ordersDenied: folded.ordersDenied,
    fills: engine.stats.fills,
    makerFills,
    partialFills,
    liquidations,
    realizedPnl,
    fees,
    funding,
    netPnl,
    unrealizedPnl: folded.unrealizedPnl,
    equity,
    maxDrawdown,
    tradingState: engine.tradingState,
    gaps: coverage.totals.gaps,
    barsWithoutMark: coverage.totals.barsWithoutMark,
    fundingSettlements: Object.fromEntries(coverage.symbols.map((c) => [c.symbol, c.fundingSettlements])),
    warmFrom: engine.warmFrom(),
    skippedSymbols: {},
    completed: true,
    events: folded.events,
    barsPerSec: Math.round(((engine.stats.bars - barsBefore) / elapsedMs) * 1000),
    eventLogSha256: folded.eventLogSha256,
    warnings: coverage.warnings(),
  };
  logger.debug(result, "backtest completed");
  return result;
}

/**
 * Market events the feed may read ahead of the engine: enough that the reader is not woken for every event, few
 * enough to keep memory flat (the parse thread holds at most three batches of rows per file besides).
 */
const READ_AHEAD = 32;

/** A leverage a symbol's brackets do not allow (Binance answers -4028 to the leverage change, §4.1). */
export class LeverageNotAllowedError extends Error {
  override name = "LeverageNotAllowedError";
}

/**
 * Checks that every symbol allows `leverage` (its first bracket's initialLeverage, binance-usdm.md §4.6).
 * @throws LeverageNotAllowedError naming the symbol, its maximum and the bracket snapshot.
 */
function checkLeverage(leverage: number, symbols: readonly string[], brackets: LeverageBracketCatalog): void {
  for (const symbol of symbols) {
    const max = brackets.get(symbol).brackets[0]?.initialLeverage;
    if (max !== undefined && leverage > max) {
      throw new LeverageNotAllowedError(
        `leverage ${leverage} is above ${symbol}'s maximum of ${max} (-4028, leverage brackets of ` +
          `${brackets.snapshotDate}, ${brackets.source}); lower it with --leverage`,
      );
    }
  }
}
