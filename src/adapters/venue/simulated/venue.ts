/**
 * The simulated venue of backtests: the `Venue` port over the pure matching core (`matching.ts`, where every
 * assumption is stated; the intrabar path in `intrabar-path.ts`). Deterministic: order, algo and trade ids are
 * sequence numbers; its state is JSON (`snapshot()` / `restore()`, part of a checkpoint).
 *
 * `matchBar` hands each report to the handler and awaits it before the next matching step, so reactions (a
 * sibling canceled after a fill, a protective order submitted after an entry) take effect before the venue
 * matches on.
 */

import { positionKey } from "../../../actors/account.machine.ts";
import type { Instrument } from "../../../domain/instruments.ts";
import type { LeverageBracket } from "../../../domain/margin/brackets.ts";
import type {
  CancelResult,
  OrderRequest,
  SubmitResult,
  Venue,
  VenueReportHandler,
} from "../../../engine/venue.ts";
import type { EventData } from "../../../events/catalog.ts";
import type { Tick } from "../../market/ticks.ts";
import { INTRABAR_PATH_MODES, type IntrabarPathMode } from "./intrabar-path.ts";
import {
  clearOfLiquidation,
  type LiquidationGroup,
  type LiquidationPriceCache,
  liquidationGroups,
  liquidationStep,
  type VenueAccountView,
} from "./liquidation.ts";
import { marginViolation } from "./margin-check.ts";
import {
  cancelOrder,
  checkSteps,
  endBar,
  fundingReports,
  initialMatchingState,
  type MarkBar,
  type MatchingOptions,
  type MatchingState,
  matchStep,
  startBar,
  submitOrder,
} from "./matching.ts";
import { isQuietBar, passQuietBar } from "./quiet-bar.ts";
import { advanceClock, endTick, startTick, tickBar, tickStep } from "./tick-matching.ts";

/**
 * Settings of the simulated venue. Rates, slippage and participation are ratios as decimal strings
 * (0.0005 = 0.05 %); latencies in ms of market time. Only the first three are required; the defaults keep the
 * walking skeleton's fills.
 */
export interface SimulatedVenueOptions {
  /** Taker commission rate. */
  takerRate: string;
  /** Taker slippage: BUY × (1 + slippage), SELL × (1 − slippage). */
  slippage: string;
  instrument: (symbol: string) => Instrument;
  /** Maker commission rate (default "0.0002", binance-usdm.md §4.3 VIP 0). */
  makerRate?: string;
  /** Intrabar path assumption (default "stopFirst"). */
  intrabarPath?: IntrabarPathMode;
  /** Resting LIMITs fill when the market trades "through" their price (default) or "touch"es it. */
  limitFillRule?: "through" | "touch";
  /** Max share of a bar's volume our fills take (default: no cap). */
  participationRate?: string;
  /** Submit → matching engine (default 0). */
  submitLatencyMs?: number;
  /** Trigger → regular order in the matching engine (default 0). */
  triggerLatencyMs?: number;
  /** Untriggered conditional orders across all symbols (default 200, binance-usdm.md §1.2). */
  maxOpenConditionalOrders?: number;
  /**
   * Hedge mode (`dualSidePosition`, binance-usdm.md §4.1): LONG and SHORT positions per symbol, orders must carry
   * LONG/SHORT positionSide and no reduceOnly (default false: one-way mode, BOTH).
   */
  dualSidePosition?: boolean;
  /**
   * Margin: the booked account and the symbols' leverage brackets, for the margin checks at submit
   * (margin-check.ts: -2027, -2019) and liquidation (liquidation.ts). Absent: neither is checked.
   */
  margin?: {
    account: () => VenueAccountView;
    brackets: (symbol: string) => readonly LeverageBracket[];
  };
}

/** The venue's defaults for the optional settings. */
export const SIMULATED_VENUE_DEFAULTS = {
  makerRate: "0.0002",
  intrabarPath: "stopFirst",
  limitFillRule: "through",
  submitLatencyMs: 0,
  triggerLatencyMs: 0,
  maxOpenConditionalOrders: 200,
} as const;

/** A bar as the venue sees it: prices as decimal strings, times in ms; volume (base asset) for participation. */
export type VenueBar = Pick<
  EventData<"BarClosed">,
  "symbol" | "openTime" | "closeTime" | "open" | "high" | "low" | "close"
> &
  Partial<Pick<EventData<"BarClosed">, "volume">>;

/** A 1m mark-price bar of the same minute as the trade bar (quote asset). */
export type VenueMarkBar = MarkBar;

/** A settlement as the venue sees it. fundingRate is a ratio per interval; markPrice in USDT. */
export type VenueFundingSettlement = Pick<
  EventData<"FundingRateSettled">,
  "symbol" | "fundingTime" | "fundingRate" | "markPrice"
>;

/** The simulated venue's whole state as JSON (a checkpoint's part). */
export type SimulatedVenueState = MatchingState;

function resolveOptions(o: SimulatedVenueOptions): MatchingOptions {
  const d = SIMULATED_VENUE_DEFAULTS;
  const options: MatchingOptions = {
    instrument: o.instrument,
    takerRate: o.takerRate,
    makerRate: o.makerRate ?? d.makerRate,
    slippage: o.slippage,
    intrabarPath: o.intrabarPath ?? d.intrabarPath,
    limitFillRule: o.limitFillRule ?? d.limitFillRule,
    participationRate: o.participationRate,
    submitLatencyMs: o.submitLatencyMs ?? d.submitLatencyMs,
    triggerLatencyMs: o.triggerLatencyMs ?? d.triggerLatencyMs,
    maxOpenConditionalOrders: o.maxOpenConditionalOrders ?? d.maxOpenConditionalOrders,
    dualSidePosition: o.dualSidePosition ?? false,
  };
  if (!INTRABAR_PATH_MODES.includes(options.intrabarPath))
    throw new Error(`SimulatedVenueOptions.intrabarPath: unknown mode "${options.intrabarPath}"`);
  for (const key of ["submitLatencyMs", "triggerLatencyMs", "maxOpenConditionalOrders"] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 0)
      throw new Error(`SimulatedVenueOptions.${key}: expected an integer ≥ 0, got ${options[key]}`);
  }
  const rate = options.participationRate;
  if (rate !== undefined && !(/^\d+(\.\d+)?$/.test(rate) && Number(rate) > 0 && Number(rate) <= 1))
    throw new Error(`SimulatedVenueOptions.participationRate: expected a ratio in (0, 1], got "${rate}"`);
  return options;
}

/** The backtest venue. */
export class SimulatedVenue implements Venue {
  /** In-process: nothing leaves it, so intents need not be flushed before a submit. */
  readonly external = false;
  private readonly options: MatchingOptions;
  private readonly margin: SimulatedVenueOptions["margin"];
  private readonly liquidationPrices: LiquidationPriceCache = new Map();
  /** Per symbol, its hedge-mode position keys (`SYMBOL:LONG`, `SYMBOL:SHORT`), built once. */
  private readonly sideKeys = new Map<string, [string, string]>();
  /** Per symbol: its liquidation groups and what they were computed from (a cache, not venue state). */
  private readonly liquidationGroups = new Map<
    string,
    { account: VenueAccountView; key: string; groups: LiquidationGroup[] }
  >();
  private state: MatchingState = initialMatchingState();

  /** @throws Error naming the option when one is invalid. */
  constructor(options: SimulatedVenueOptions) {
    this.options = resolveOptions(options);
    this.margin = options.margin;
  }

  /** The venue's state, for a checkpoint (JSON; restore() takes it back). */
  snapshot(): SimulatedVenueState {
    return this.state;
  }

  /**
   * Replaces the venue's state with `state` (from `snapshot()`). The state's position mode is in its contents: a
   * hedge-mode state keys positions `SYMBOL:LONG` / `SYMBOL:SHORT` and its orders are LONG / SHORT, a one-way
   * state keys them by symbol and its orders are BOTH (so one-way states, and checkpoints written before hedge
   * mode, are unchanged; a state with neither positions nor orders fits both modes).
   * @throws Error when `state` is not a state of this venue (e.g. a checkpoint of an older format), or is one of
   * the other position mode (naming the position key or the order that says so).
   */
  restore(state: SimulatedVenueState): void {
    if (!state || !Array.isArray(state.orders) || typeof state.orderSeq !== "number" || !state.bars)
      throw new Error("SimulatedVenue.restore: not a simulated venue state of this version");
    const hedge = this.options.dualSidePosition;
    const venue = hedge ? "a hedge-mode (dualSidePosition) venue" : "a one-way venue";
    const badKey = Object.keys(state.positions ?? {}).find((k) => /:(LONG|SHORT)$/.test(k) !== hedge);
    if (badKey !== undefined)
      throw new Error(`SimulatedVenue.restore: position "${badKey}" cannot be restored into ${venue}`);
    const badOrder = state.orders.find((o) => (o.request.positionSide !== "BOTH") !== hedge);
    if (badOrder !== undefined)
      throw new Error(
        `SimulatedVenue.restore: order ${badOrder.request.clientOrderId} (positionSide ${badOrder.request.positionSide}) cannot be restored into ${venue}`,
      );
    this.state = state;
  }

  async submit(order: OrderRequest): Promise<SubmitResult> {
    const { state, result } = submitOrder(this.state, order, this.options);
    if (result.accepted && this.margin) {
      const inputs = { account: this.margin.account(), brackets: this.margin.brackets };
      const short = marginViolation(this.state, order, inputs);
      if (short) return { accepted: false, code: short.code, reason: short.reason };
    }
    this.state = state;
    return result;
  }

  async cancel(symbol: string, clientOrderId: string): Promise<CancelResult> {
    const { state, result } = cancelOrder(this.state, symbol, clientOrderId);
    this.state = state;
    return result;
  }

  /** The venue's own (signed) position in `symbol` on `positionSide` (BOTH in one-way mode), base asset. */
  positionAmt(symbol: string, positionSide: "BOTH" | "LONG" | "SHORT" = "BOTH"): string {
    return this.state.positions[positionKey(symbol, positionSide)] ?? "0";
  }

  /**
   * Matches the working orders of `bar.symbol` against one closed bar (and its 1m mark-price bar, when given:
   * MARK_PRICE triggers then watch it), reporting each execution to `handle` and awaiting it before the next.
   */
  async matchBar(bar: VenueBar, handle: VenueReportHandler, mark?: VenueMarkBar): Promise<void> {
    if (this.passQuietBar(bar, mark)) return;
    this.state = startBar(this.state, bar, mark, this.options);
    let steps = 0;
    let liquidationChecked = false;
    for (let r = matchStep(this.state, bar, mark, this.options); r; ) {
      checkSteps(++steps, bar);
      this.state = r.state;
      for (const report of r.reports) await handle(report);
      if (!liquidationChecked && this.state.bars[bar.symbol]?.phase === "path") {
        liquidationChecked = true;
        await this.checkLiquidation(bar, mark, handle);
      }
      r = matchStep(this.state, bar, mark, this.options);
    }
    if (!liquidationChecked) await this.checkLiquidation(bar, mark, handle);
    this.state = endBar(this.state, bar, mark, this.options);
  }

  /**
   * Passes `bar` when it is quiet (quiet-bar.ts: nothing can happen in it but the clock and last prices move)
   * and its mark crosses no liquidation price, synchronously, with nothing to report: true. False when it must
   * be matched (`matchBar`), which then does everything.
   */
  passQuietBar(bar: VenueBar, mark?: VenueMarkBar): boolean {
    if (!isQuietBar(this.state, bar, mark, this.options) || this.liquidates(bar, mark)) return false;
    this.state = passQuietBar(this.state, bar, mark);
    return true;
  }

  /**
   * Whether the bar's mark crosses the liquidation price of a position of the symbol (before the bar is matched).
   * Most bars are far from it: the symbol's liquidation groups are kept while what they depend on is unchanged
   * (`liquidationGroups`: the booked account, the venue's positions of the symbol, the other cross positions'
   * marks, and for a hedge pair the symbol's mark), and only a bar that comes near a price runs the exact step.
   */
  private liquidates(bar: VenueBar, mark: VenueMarkBar | undefined): boolean {
    const margin = this.margin;
    if (!margin) return false;
    const account = margin.account();
    if (account.positions.length === 0) return false;
    const watched = mark ?? bar;
    const symbol = bar.symbol;
    const key = this.liquidationKey(symbol, account, watched.open);
    let memo = this.liquidationGroups.get(symbol);
    if (memo?.account !== account || memo.key !== key) {
      const inputs = { account, brackets: margin.brackets };
      const groups = liquidationGroups(this.state, symbol, watched.open, inputs, this.liquidationPrices);
      memo = { account, key, groups };
      this.liquidationGroups.set(symbol, memo);
    }
    if (memo.groups.length === 0 || clearOfLiquidation(memo.groups, watched)) return false;
    const inputs = { account, brackets: margin.brackets };
    return liquidationStep(this.state, bar, mark, this.options, inputs, this.liquidationPrices) !== undefined;
  }

  /** What a symbol's liquidation groups depend on besides the account view (see `liquidates`). */
  private liquidationKey(symbol: string, account: VenueAccountView, markOpen: string): string {
    const p = this.state.positions;
    let sides = this.sideKeys.get(symbol);
    if (sides === undefined) {
      sides = [`${symbol}:LONG`, `${symbol}:SHORT`];
      this.sideKeys.set(symbol, sides);
    }
    let key = `${p[symbol] ?? ""}|${p[sides[0]] ?? ""}|${p[sides[1]] ?? ""}`;
    let open = 0;
    for (const q of account.positions) {
      if (q.symbol === symbol) open++;
      else if (q.marginType === "CROSSED")
        key += `|${q.symbol}=${this.state.markPrice[q.symbol] ?? this.state.lastPrice[q.symbol] ?? ""}`;
    }
    return open === 2 ? `${key}|${markOpen}` : key;
  }

  /**
   * Matches the working orders of `tick.symbol` against one tick (a trade, a bookTicker update or a mark price;
   * rules in tick-matching.ts), reporting each execution to `handle` and awaiting it before the next. Ticks of a
   * symbol must come in time order and not while a bar of it is being matched. Once the tick is applied, the
   * liquidation is checked when it moved the mark (a mark tick; a trade while the symbol has no mark): on the
   * move from the previous mark to this one, as liquidation.ts checks a bar's mark.
   * @throws Error when the tick is before the symbol's clock.
   */
  async matchTick(tick: Tick, handle: VenueReportHandler): Promise<void> {
    const previousMark = this.tickMark(tick.symbol);
    this.state = startTick(this.state, tick);
    let steps = 0;
    let liquidationChecked = false;
    for (let r = tickStep(this.state, tick, this.options); r; r = tickStep(this.state, tick, this.options)) {
      checkSteps(++steps, tickBar(tick, this.state));
      this.state = r.state;
      for (const report of r.reports) await handle(report);
      if (!liquidationChecked && this.state.bars[tick.symbol]?.phase === "path") {
        liquidationChecked = true;
        await this.checkTickLiquidation(tick, previousMark, handle);
      }
    }
    this.state = endTick(this.state, tick);
  }

  /**
   * Ends a minute of `symbol` matched on ticks at `closeTime`: the symbol's clock moves to it (when behind), so
   * orders sent at the bar's close reach the venue at closeTime + latency, as after `matchBar`.
   */
  closeTickMinute(symbol: string, closeTime: number): void {
    this.state = advanceClock(this.state, symbol, closeTime);
  }

  /** The symbol's mark as the liquidation watches it on ticks: the mark price, else the last trade. */
  private tickMark(symbol: string): string | undefined {
    return this.state.markPrice[symbol] ?? this.state.lastPrice[symbol];
  }

  /** Liquidation on a tick that moved the mark from `previous` (see `matchTick`). */
  private async checkTickLiquidation(tick: Tick, previous: string | undefined, handle: VenueReportHandler) {
    const { symbol, time } = tick;
    const moved =
      tick.kind === "mark" || (tick.kind === "trade" && this.state.markPrice[symbol] === undefined);
    if (!moved) return;
    const now = this.tickMark(symbol)!;
    const open = previous ?? now;
    const [low, high] = Number(open) <= Number(now) ? [open, now] : [now, open];
    const move: VenueBar = { symbol, openTime: time, closeTime: time, open, high, low, close: now };
    await this.checkLiquidation(move, undefined, handle);
  }

  /** Liquidates the symbol's position when the bar's mark crosses its liquidation price (liquidation.ts). */
  private async checkLiquidation(bar: VenueBar, mark: VenueMarkBar | undefined, handle: VenueReportHandler) {
    const margin = this.margin;
    if (!margin) return;
    const inputs = { account: margin.account(), brackets: margin.brackets };
    const r = liquidationStep(this.state, bar, mark, this.options, inputs, this.liquidationPrices);
    if (!r) return;
    this.state = r.state;
    for (const report of r.reports) await handle(report);
  }

  /** Charges funding on each of the venue's positions in `s.symbol` (hedge mode: each side), binance-usdm.md §4.4. */
  async settleFunding(s: VenueFundingSettlement, handle: VenueReportHandler): Promise<void> {
    for (const report of fundingReports(this.state, s)) await handle(report);
  }
}
