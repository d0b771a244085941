/**
 * A backtest: archive market data → trading engine → simulated venue, into an event store. The run's first event
 * (RunStarted) records its configuration and the sha256 of every input file, so `replay --verify` can re-run it.
 * Deterministic: market time is the only clock in the log, ids derive from the run id, and the run id derives
 * from the configuration and the input files; the same inputs give a byte-identical log (same eventLogSha256).
 *
 * Units of work: after every `UNIT.marketEvents` market events or `UNIT.marketMs` of market time (whichever comes
 * first, so the points are deterministic) the run appends a RunCheckpointed with the engine's and the venue's
 * state and flushes the store. `resumeBacktest` continues a killed run from its last checkpoint: the actors and
 * the venue are restored from it, the market events it covers are skipped, and the events the run had written
 * after it are written again with the same ids and content, which every store takes as idempotent retries. The
 * resumed log is the uninterrupted one, byte for byte.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { lastValueFrom } from "rxjs";
import { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import { runMachine } from "../actors/run.machine.ts";
import { type ArchiveFile, archiveMarketEvents, discoverArchive } from "../adapters/market/archive.ts";
import { MarketCoverage } from "../adapters/market/coverage.ts";
import type { MarketEvent } from "../adapters/market/types.ts";
import { SimulatedVenue, type SimulatedVenueState } from "../adapters/venue/simulated.ts";
import type { BacktestConfig } from "../config/schema.ts";
import { windowOf } from "../config/schema.ts";
import { BAR_INTERVALS } from "../domain/bars/intervals.ts";
import { bundledInstrumentCatalog, type InstrumentCatalog } from "../domain/instruments.catalog.ts";
import type { EventData } from "../events/catalog.ts";
import { EventLogHasher } from "../events/log-hash.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import { consumeInOrder } from "../market/pull.ts";
import { createProjections } from "../projections/index.ts";
import { getStrategy, strategyParams } from "../strategies/registry.ts";
import { readRecordedRun, recordedInputs } from "./recorded-run.ts";
import { type EngineCheckpoint, TradingEngine } from "./trading-engine.ts";

/** A unit of work ends after this many market events or this much market time (ms), whichever first. */
export const UNIT = { marketEvents: 2_000, marketMs: 6 * 3_600_000 } as const;

/** The end-of-run summary. Money in USDT as decimal strings; barsPerSec from the wall clock (not in the log). */
export interface BacktestSummary {
  runId: string;
  bars: number;
  orders: number;
  fills: number;
  realizedPnl: string;
  fees: string;
  funding: string;
  /** realizedPnl − fees + funding. */
  netPnl: string;
  /** Σ unrealized PnL of the positions still open, marked to the last close. */
  unrealizedPnl: string;
  /** walletBalance + unrealizedPnl. */
  equity: string;
  maxDrawdown: string;
  /** Holes in the market data (MarketDataGapDetected) over all symbols. */
  gaps: number;
  /** Funding settlements per symbol in the window (0: the symbol had no funding data; see the warnings). */
  fundingSettlements: Record<string, number>;
  /** Per symbol, market time (ms) from which its strategy was warm; absent when it never was. */
  warmFrom: Record<string, number>;
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
}

/** The data root holds no usable market data for the requested symbols and window. */
export class MissingMarketDataError extends Error {
  override name = "MissingMarketDataError";
}

/** The store already holds events; a backtest writes a log of its own. */
export class StoreNotEmptyError extends Error {
  override name = "StoreNotEmptyError";
}

/** `--resume` on a store whose run cannot be continued (completed, or its inputs changed). */
export class CannotResumeError extends Error {
  override name = "CannotResumeError";
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
 * Runs a backtest of `config` on the archive under `deps.dataRoot`, writing to `deps.store` (which must be empty).
 * @throws MissingMarketDataError when the data root lacks klines for a symbol/window, StoreNotEmptyError,
 *   MarketDataError (file:line) for a malformed input row, UnknownSymbolError (naming the instruments snapshot).
 */
export async function runBacktest(config: BacktestConfig, deps: BacktestDeps): Promise<BacktestSummary> {
  const instruments = deps.instruments ?? bundledInstrumentCatalog();
  for (const symbol of config.symbols) instruments.get(symbol);
  const window = windowOf(config);
  const symbols = config.symbols;
  let files: ArchiveFile[];
  try {
    files = await discoverArchive(deps.dataRoot, { symbols, ...window });
  } catch (err) {
    throw new MissingMarketDataError((err as Error).message);
  }
  const warmUp = warmUpWindow(config);
  if (warmUp !== undefined) {
    // The files of the window and whatever files hold bars before it (the warm-up reads what there is).
    files = await discoverArchive(
      deps.dataRoot,
      { symbols, from: warmUp.from, to: window.to },
      { partial: true },
    );
  }
  return executeBacktest(config, files, deps);
}

/**
 * The market time before the window that warms the strategy up: `warmupBars` (default: the strategy's own
 * `warmupBars`) bars of its first interval before `from`; undefined for no warm-up.
 */
export function warmUpWindow(config: BacktestConfig): { from: number; to: number } | undefined {
  const strategy = getStrategy(config.strategy);
  const params = strategyParams(strategy, config);
  const bars = config.warmupBars ?? strategy.warmupBars(params);
  if (bars === 0) return undefined;
  const interval = strategy.inputs(params).intervals[0] ?? "1m";
  const from = windowOf(config).from;
  return { from: from - bars * BAR_INTERVALS[interval], to: from };
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

/** The state a RunCheckpointed carries. */
interface CheckpointState {
  engine: EngineCheckpoint;
  venue: SimulatedVenueState;
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
  const { store, logger } = deps;
  const catalog = deps.instruments ?? bundledInstrumentCatalog();
  const instrument = (symbol: string) => catalog.get(symbol);
  const wallClock = deps.wallClock ?? (() => performance.now());
  if (!resume) {
    for await (const _ of store.readAll({ limit: 1 })) {
      throw new StoreNotEmptyError("the store already holds events; a backtest needs an empty store");
    }
  }
  const window = windowOf(config);
  const runId = backtestRunId(config, files);
  const strategy = getStrategy(config.strategy);
  const params = strategyParams(strategy, config);
  const venue = new SimulatedVenue({
    takerRate: config.feeRates.taker,
    slippage: config.slippage,
    instrument,
  });
  const engine = new TradingEngine({
    store,
    venue,
    runId,
    accountId: config.accountId,
    strategy,
    params,
    instrument,
  });
  const runStream = streams.run(runId);
  const start = { causationId: `run:${runId}`, eventTime: window.from };
  const actorDeps = { store, correlationId: runId };
  let run: EventSourcedActor<typeof runMachine>;
  let skip = 0;
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
          },
        },
      ],
      start,
    );
  }
  const warmUp = warmUpWindow(config);
  if (warmUp !== undefined && !checkpoint) {
    for await (const e of archiveMarketEvents(files, warmUp)) {
      if (e.kind === "bar") engine.warmUp({ kind: "bar", bar: e.bar }, e.time);
      else if (e.kind === "gap") engine.warmUp({ kind: "gap", gap: e.gap }, e.time);
    }
  }
  if (checkpoint) {
    const state = checkpoint.state as unknown as CheckpointState;
    engine.restore(state.engine);
    venue.restore(state.venue);
    skip = checkpoint.marketEvents;
  } else {
    await engine.openAccount(config.initialBalance, start);
  }
  logger.info(
    { runId, files: files.length, symbols: config.symbols, resumedAfter: skip },
    resume ? "backtest resumed" : "backtest started",
  );

  const began = wallClock();
  const barsBefore = engine.stats.bars;
  let lastTime = window.from;
  let marketEvents = 0;
  let unit = { events: 0, since: Number.NaN };
  const handle = async (e: MarketEvent): Promise<void> => {
    switch (e.kind) {
      case "bar":
        await venue.matchBar(e.bar, engine.onVenueReport);
        await engine.onBar(e.bar);
        if (deps.onProgress && engine.stats.bars % 5000 === 0) {
          deps.onProgress({ bars: engine.stats.bars, eventTime: e.time, ...window });
        }
        return;
      case "funding":
        await engine.onFundingRate(e.funding);
        await venue.settleFunding(e.funding, engine.onVenueReport);
        return;
      case "gap":
        await engine.onGap(e.gap, e.time);
        return;
    }
  };
  const coverage = new MarketCoverage();
  const step = async (e: MarketEvent): Promise<void> => {
    marketEvents += 1;
    lastTime = e.time;
    if (marketEvents <= skip) {
      if (marketEvents === skip) checkCursor(checkpoint!, e);
      return;
    }
    await handle(e);
    if (Number.isNaN(unit.since)) unit.since = e.time;
    unit.events += 1;
    if (unit.events >= UNIT.marketEvents || e.time - unit.since >= UNIT.marketMs) {
      const state: CheckpointState = { engine: engine.checkpoint(), venue: venue.snapshot() };
      await run.commit(
        [
          {
            type: "RunCheckpointed",
            data: {
              runId,
              marketEvents,
              cursor: { time: e.time, kind: e.kind, symbol: marketSymbol(e) },
              state: state as unknown as Record<string, unknown>,
            },
          },
        ],
        { causationId: `run:${runId}`, eventTime: e.time },
      );
      await store.flush();
      unit = { events: 0, since: Number.NaN };
    }
  };
  // The market feed as a pulled RxJS stream: the archive is read one event ahead of the engine at most, so memory
  // stays flat however long the window.
  await lastValueFrom(consumeInOrder(archiveMarketEvents(files, window, { coverage }), step), {
    defaultValue: undefined,
  });
  if (marketEvents < skip) {
    throw new CannotResumeError(
      `the market data now holds ${marketEvents} events, fewer than the ${skip} the checkpoint covers`,
    );
  }
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

  // Every event of this log was checked against its machine by the actor that wrote it: no audit needed here.
  const projections = createProjections({ audit: false });
  const hasher = new EventLogHasher();
  for await (const e of store.readAll()) {
    hasher.add(e);
    projections.apply(e);
  }
  const { realizedPnl, fees, funding, netPnl, equity, maxDrawdown } = projections.summary();
  const result: BacktestSummary = {
    runId,
    bars: engine.stats.bars,
    orders: engine.stats.orders,
    fills: engine.stats.fills,
    realizedPnl,
    fees,
    funding,
    netPnl,
    unrealizedPnl: projections.pnl().unrealizedPnl,
    equity,
    maxDrawdown,
    gaps: coverage.totals.gaps,
    fundingSettlements: Object.fromEntries(coverage.symbols.map((c) => [c.symbol, c.fundingSettlements])),
    warmFrom: engine.warmFrom(),
    completed: true,
    events: hasher.count,
    barsPerSec: Math.round(((engine.stats.bars - barsBefore) / elapsedMs) * 1000),
    eventLogSha256: hasher.digest(),
    warnings: coverage.warnings(),
  };
  logger.debug(result, "backtest completed");
  return result;
}

/** The symbol a market event concerns. */
function marketSymbol(e: MarketEvent): string {
  return e.kind === "bar" ? e.bar.symbol : e.kind === "funding" ? e.funding.symbol : e.gap.symbol;
}

/** On resume, the feed's event at the checkpoint must be the one the checkpoint recorded. */
function checkCursor(checkpoint: EventData<"RunCheckpointed">, e: MarketEvent): void {
  const { cursor } = checkpoint;
  if (cursor.time !== e.time || cursor.kind !== e.kind || cursor.symbol !== marketSymbol(e)) {
    throw new CannotResumeError(
      `the market data changed since the checkpoint: its event ${checkpoint.marketEvents} was ${cursor.kind} ` +
        `${cursor.symbol} at ${cursor.time}, the feed now has ${e.kind} ${marketSymbol(e)} at ${e.time}`,
    );
  }
}
