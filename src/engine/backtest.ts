/**
 * A backtest: archive market data → trading engine → simulated venue, into an event store. The run's first event
 * (RunStarted) records its configuration and the sha256 of every input file, so `replay --verify` can re-run it.
 * Deterministic: market time is the only clock in the log, ids derive from the run id, and the run id derives
 * from the configuration and the input files; the same inputs give a byte-identical log (same eventLogSha256).
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import { runMachine } from "../actors/run.machine.ts";
import { type ArchiveFile, archiveMarketEvents, discoverArchive } from "../adapters/market/archive.ts";
import type { MarketEvent } from "../adapters/market/types.ts";
import { SimulatedVenue } from "../adapters/venue/simulated.ts";
import type { BacktestConfig } from "../config/schema.ts";
import { windowOf } from "../config/schema.ts";
import { getInstrument } from "../domain/instruments.ts";
import { EventLogHasher } from "../events/log-hash.ts";
import type { EventStore } from "../events/store.ts";
import { streams } from "../events/streams.ts";
import { createProjections } from "../projections/index.ts";
import { getStrategy } from "../strategies/registry.ts";
import { TradingEngine } from "./trading-engine.ts";

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
  /** walletBalance + unrealized PnL of the positions still open, marked to the last close. */
  equity: string;
  maxDrawdown: string;
  events: number;
  barsPerSec: number;
  eventLogSha256: string;
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
}

/** The data root holds no usable market data for the requested symbols and window. */
export class MissingMarketDataError extends Error {
  override name = "MissingMarketDataError";
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
 * Runs a backtest of `config` on the archive under `deps.dataRoot`, writing to `deps.store` (which must be empty).
 * @throws MissingMarketDataError when the data root lacks klines for a symbol/window, StoreNotEmptyError,
 *   MarketDataError (file:line) for a malformed input row.
 */
export async function runBacktest(config: BacktestConfig, deps: BacktestDeps): Promise<BacktestSummary> {
  const window = windowOf(config);
  let files: ArchiveFile[];
  try {
    files = await discoverArchive(deps.dataRoot, { symbols: config.symbols, ...window });
  } catch (err) {
    throw new MissingMarketDataError((err as Error).message);
  }
  return executeBacktest(config, files, deps);
}

/** Runs a backtest on exactly `files` (the replay verifier passes a recorded manifest). */
export async function executeBacktest(
  config: BacktestConfig,
  files: readonly ArchiveFile[],
  deps: BacktestDeps,
): Promise<BacktestSummary> {
  const { store, logger } = deps;
  const wallClock = deps.wallClock ?? (() => performance.now());
  for await (const _ of store.readAll({ limit: 1 })) {
    throw new StoreNotEmptyError("the store already holds events; a backtest needs an empty store");
  }
  const window = windowOf(config);
  const runId = backtestRunId(config, files);
  const strategy = getStrategy(config.strategy);
  const params = strategy.params.parse(config.smaCross);
  const venue = new SimulatedVenue({
    takerRate: config.feeRates.taker,
    slippage: config.slippage,
    instrument: getInstrument,
  });
  const engine = new TradingEngine({
    store,
    venue,
    runId,
    accountId: config.accountId,
    strategy,
    params,
    instrument: getInstrument,
  });
  const runStream = streams.run(runId);
  const start = { causationId: `run:${runId}`, eventTime: window.from };
  const manifest = files.map(({ path, kind, symbol, sha256, bytes }) => ({
    path,
    kind,
    symbol,
    sha256,
    bytes,
  }));
  const run = EventSourcedActor.create(runStream, runMachine, { store, correlationId: runId });
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
          manifest,
        },
      },
    ],
    start,
  );
  await engine.openAccount(config.initialBalance, start);
  logger.info({ runId, files: files.length, symbols: config.symbols }, "backtest started");

  const began = wallClock();
  let lastTime = window.from;
  const handle = async (e: MarketEvent): Promise<void> => {
    lastTime = e.time;
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
  // Pulled one event at a time: the archive is read only as fast as the engine consumes it, so memory stays
  // bounded however long the window (an RxJS subscription, `archiveMarket$`, would read ahead without limit).
  for await (const e of archiveMarketEvents(files, window)) await handle(e);
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
  deps.onProgress?.({ bars: engine.stats.bars, eventTime: lastTime, ...window });

  const projections = createProjections();
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
    equity,
    maxDrawdown,
    events: hasher.count,
    barsPerSec: Math.round((engine.stats.bars / elapsedMs) * 1000),
    eventLogSha256: hasher.digest(),
  };
  logger.debug(result, "backtest completed");
  return result;
}
