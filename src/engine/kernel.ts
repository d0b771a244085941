/**
 * The kernel of a run, the same in every mode: the trading engine over a venue, and the one step that hands it a
 * market event. Only the venue differs: the simulated venue (backtest, paper) matches each bar (or its minute's
 * ticks) before the engine sees the bar and settles funding itself; an external venue (testnet, live) reports its
 * fills and funding on its own (the user data stream), so the step only routes the market facts.
 */
import { marginedPositions } from "../actors/account.decide.ts";
import type { AccountContext } from "../actors/account.machine.ts";
import type { TickFeed } from "../adapters/market/tick-feed.ts";
import { isPriced, type MarketEvent, type MarkPriceKline } from "../adapters/market/types.ts";
import type { VenueAccountView } from "../adapters/venue/simulated/liquidation.ts";
import { SimulatedVenue } from "../adapters/venue/simulated/venue.ts";
import type { BacktestConfig } from "../config/schema.ts";
import type { InstrumentCatalog } from "../domain/instruments.catalog.ts";
import type { LeverageBracketCatalog } from "../domain/margin/brackets.catalog.ts";
import type { EventData } from "../events/catalog.ts";
import type { EventStore } from "../events/store.ts";
import { getStrategy, strategyParams } from "../strategies/registry.ts";
import { riskLimitsOf } from "./risk-engine.ts";
import { matchTickMinute } from "./tick-minutes.ts";
import { TradingEngine } from "./trading-engine.ts";
import type { Venue } from "./venue.ts";

/** What a kernel is built from. */
export interface KernelOptions {
  config: BacktestConfig;
  runId: string;
  store: EventStore;
  instruments: InstrumentCatalog;
  brackets: LeverageBracketCatalog;
  /** An external venue (testnet, live). Absent: the simulated venue, configured by `config`. */
  venue?: Venue;
  /** Tick files to match the simulated venue on (backtest `--ticks`). */
  ticks?: TickFeed;
  /**
   * Whether BarClosed records the whole mark-price kline of its minute (markOpen, markHigh, markLow besides
   * markPrice): a live run's, whose marks are in no file (default false: a backtest's log is unchanged).
   */
  recordMarkKline?: boolean;
}

/** A run's engine and venue, and the step that feeds them one market event. */
export interface Kernel {
  engine: TradingEngine;
  /** The simulated venue, when the run matches in-process (its state is part of a checkpoint). */
  simulated: SimulatedVenue | undefined;
  /** Hands one market event to the venue and the engine (await it before the next). */
  step(e: MarketEvent): Promise<void>;
}

/** Builds the kernel of a run (see the module comment). */
export function createKernel(options: KernelOptions): Kernel {
  const { config, runId, store, instruments, brackets, ticks } = options;
  const instrument = (symbol: string) => instruments.get(symbol);
  const strategy = getStrategy(config.strategy);
  const params = strategyParams(strategy, config);
  const simulated = options.venue ? undefined : simulatedVenue(config, instruments, brackets, () => engine);
  const engine: TradingEngine = new TradingEngine({
    store,
    venue: options.venue ?? (simulated as SimulatedVenue),
    runId,
    accountId: config.accountId,
    strategy,
    params,
    instrument,
    brackets: (symbol) => brackets.get(symbol).brackets,
    symbols: config.symbols,
    riskLimits: riskLimitsOf(config.risk),
    dualSidePosition: config.hedgeMode === true,
  });
  const onBar = (e: Extract<MarketEvent, { kind: "bar" }>): Promise<void> =>
    // The mark at the bar's close goes into BarClosed (only when there is one: default logs unchanged).
    engine.onBar(e.mark ? { ...e.bar, ...markFields(e.mark, options.recordMarkKline) } : e.bar);
  const onFunding = async (e: Extract<MarketEvent, { kind: "funding" }>): Promise<void> => {
    // Before the symbol's first bar nothing prices a settlement: only the strategies learn its rate.
    if (!isPriced(e.funding)) return engine.onUnpricedFunding(e.funding);
    await engine.onFundingRate(e.funding);
    if (simulated) await simulated.settleFunding(e.funding, engine.onVenueReport);
  };
  // Not an async function: a quiet bar (most bars) hands the engine's promise back without wrapping it in
  // another one; an error still comes as a rejection.
  const dispatch = (e: MarketEvent): Promise<void> => {
    try {
      switch (e.kind) {
        case "bar":
          if (simulated) {
            if (ticks?.has(e.bar.symbol))
              return matchTickMinute(simulated, ticks, e.bar, engine.onVenueReport).then(() => onBar(e));
            // Most bars are quiet for the venue (nothing to match): then nothing to await either.
            if (!simulated.passQuietBar(e.bar, e.mark))
              return simulated.matchBar(e.bar, engine.onVenueReport, e.mark).then(() => onBar(e));
          }
          return onBar(e);
        case "funding":
          return onFunding(e);
        case "gap":
          return engine.onGap(e.gap, e.time);
      }
    } catch (error) {
      return Promise.reject(error);
    }
  };
  // Decisions held for an earlier time go out before this event reaches the venue (TradingEngine.onBar).
  const step = (e: MarketEvent): Promise<void> => {
    const released = engine.releaseBefore(e.time);
    return released ? released.then(() => dispatch(e)) : dispatch(e);
  };
  return { engine, simulated, step };
}

/** BarClosed's mark fields: the close, and with `kline` the open, high and low too. */
function markFields(
  mark: MarkPriceKline,
  kline: boolean | undefined,
): Pick<EventData<"BarClosed">, "markPrice" | "markOpen" | "markHigh" | "markLow"> {
  return kline
    ? { markPrice: mark.close, markOpen: mark.open, markHigh: mark.high, markLow: mark.low }
    : { markPrice: mark.close };
}

/** The simulated venue of `config`, its margin checks on the engine's booked account. */
function simulatedVenue(
  config: BacktestConfig,
  instruments: InstrumentCatalog,
  brackets: LeverageBracketCatalog,
  engine: () => TradingEngine,
): SimulatedVenue {
  /** The venue's view of the account, rebuilt only when the account actor's context changed. */
  let viewOf: { account: AccountContext; view: VenueAccountView } | undefined;
  return new SimulatedVenue({
    takerRate: config.feeRates.taker,
    makerRate: config.feeRates.maker,
    slippage: config.slippage,
    instrument: (symbol) => instruments.get(symbol),
    ...config.venue,
    dualSidePosition: config.hedgeMode === true,
    margin: {
      account: (): VenueAccountView => {
        const account: AccountContext = engine().accountState;
        if (account !== viewOf?.account) {
          const positions = marginedPositions(account);
          viewOf = {
            account,
            view: { walletBalance: account.walletBalance, positions, settings: account.settings },
          };
        }
        return viewOf.view;
      },
      brackets: (symbol) => brackets.get(symbol).brackets,
    },
  });
}
