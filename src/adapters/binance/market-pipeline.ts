/**
 * The live market source's state, fed one input at a time (stream messages and resync requests, in arrival
 * order) and answering the market events each input completes. The rules (live-contract.md, binance-usdm.md §4.4,
 * §5.3):
 * - Bars: closed klines only (`k.x`). The origin minute (`from`, else the first closed bar's of any symbol) starts
 *   every symbol's stream; from there its bars are contiguous. A bar at or before a symbol's last minute is dropped (never twice); a bar
 *   after a hole first fetches the missing closed klines over REST for every symbol behind it (a bar of one symbol
 *   proves the minutes before it closed for all) and delivers them in order; a minute REST cannot provide either
 *   becomes a gap (`MarketGap`) when a later bar proves it closed. A fill also fetches the range's settlements.
 * - Resync (after a reconnect or from the stale-data watchdog): the same fill up to the exchange's clock
 *   (`GET /fapi/v1/time`): the minutes closed at least `RESYNC_SETTLE_MS` before it, so REST has their final
 *   values. Only a stale symbol's trailing missing minutes become a gap (nothing else is coming); after a
 *   reconnect they are left for the next bar.
 * - Marks: each bar carries its minute's mark kline from `MinuteMarks`, when complete.
 * - Funding: a markPrice message names the next funding time `T`; when `T` advances, or when a bar closing at or
 *   after a known `T` is about to go out, the settlement at `T` is due. It is fetched from
 *   `GET /fapi/v1/fundingRate` (realized rate and mark price; the interval from the settlement before it) and goes
 *   out before the first bar or gap whose time is at or after its fundingTime, and after the symbol's bar closing
 *   before it. If REST has no such settlement after a few tries, the last estimate of the stream before `T` (`r`,
 *   `p`) is used and a warning logged. When the origin minute starts an hour, a settlement in it (which no mark
 *   could announce) is looked for once over REST too.
 * Every symbol's events are strictly ordered (time, then funding < gap < bar); several symbols' events of one
 * input go out in the archive merge's order (`compareMarketEvents`).
 */
import type { Logger } from "pino";
import type { FundingSettlement, MarketEvent, MarketGap } from "../market/types.ts";
import { MinuteMarks } from "./market-marks.ts";
import { compareMarketEvents } from "./market-order.ts";
import type { MarketRest } from "./market-rest.ts";
import type { FundingRateRow, KlineMessage, MarkPriceMessage } from "./market-wire.ts";
import { MINUTE_MS } from "./market-wire.ts";

const HOUR_MS = 3_600_000;
/** The funding rows asked around a settlement: enough to hold the one before it (intervals are ≤ 8 h). */
const FUNDING_LOOKBACK_MS = 9 * HOUR_MS;
/** Waits before each `GET /fapi/v1/fundingRate` attempt for one settlement (it may lag the settlement). */
const FUNDING_ATTEMPT_DELAYS_MS = [0, 1_000, 3_000];
/** A resync asks only for minutes closed at least this long before the exchange's clock. */
const RESYNC_SETTLE_MS = 2_000;

/** Options of `MarketPipeline`. */
export interface PipelineOptions {
  /** The stream's first minute (ms epoch, floored to the minute); default: the first closed bar's. */
  from?: number;
  /** Waits between fundingRate attempts (default: setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}

/** One input of the pipeline. */
export type PipelineInput =
  | KlineMessage
  | MarkPriceMessage
  /** Fetch what is missing up to the exchange's clock; `stale` symbols' trailing holes become gaps. */
  | { kind: "resync"; reason: "reconnected" | "stale"; stale: readonly string[] }
  /** The market connection dropped: marks of two connections never make one minute. */
  | { kind: "disconnected" };

/** A market event the pipeline completed; `step` for the bar of a closed kline that came over the stream. */
export interface FeedItem {
  event: MarketEvent;
  step: boolean;
}

/** What one input completed: events in order, and whether it was a closed kline that was dropped. */
export interface PipelineOutput {
  items: FeedItem[];
  droppedStep: boolean;
}

interface Due {
  /** The `T` the stream announced, ms epoch. */
  time: number;
  /** Not announced: a settlement in the origin minute is looked for (once, silently absent). */
  probe?: boolean;
  settlement?: FundingSettlement;
}

interface SymbolState {
  /** openTime of the last minute delivered (as a bar or inside a gap). */
  last: number;
  /** time of the last event delivered. */
  lastTime: number;
  /** The latest next funding time announced. */
  knownT?: number;
  /** The last announced estimate (`r`, `p`) before each `T`. */
  estimates: Map<number, { rate: string; markPrice: string }>;
  due: Due[];
  /** Settlements at or before this `T` are done (delivered or skipped). */
  settledThrough: number;
  /** The length of the last interval between two announced `T`, ms. */
  intervalHintMs?: number;
}

type Item =
  | { kind: "bar"; event: MarketEvent & { kind: "bar" }; step: boolean }
  | { kind: "gap"; event: MarketEvent };

/** See the module comment. */
export class MarketPipeline {
  private readonly symbols: readonly string[];
  private readonly state = new Map<string, SymbolState>();
  private readonly marks = new MinuteMarks();
  private readonly sleep: (ms: number) => Promise<void>;
  private origin: number | undefined;

  constructor(
    symbols: readonly string[],
    private readonly rest: MarketRest,
    private readonly logger: Logger,
    options: PipelineOptions = {},
  ) {
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.symbols = [...symbols].sort();
    for (const symbol of this.symbols) {
      this.state.set(symbol, {
        last: Number.NEGATIVE_INFINITY,
        lastTime: Number.NEGATIVE_INFINITY,
        estimates: new Map(),
        due: [],
        settledThrough: Number.NEGATIVE_INFINITY,
      });
    }
    if (options.from !== undefined) this.setOrigin(floorMinute(options.from));
  }

  /** Every symbol's stream starts at minute `origin` (ms epoch). */
  private setOrigin(origin: number): void {
    this.origin = origin;
    for (const s of this.state.values()) {
      s.last = origin - MINUTE_MS;
      s.lastTime = origin - 1;
      // Settlements happen on whole hours; one in the origin minute went before any mark could announce it.
      if (origin % HOUR_MS === 0) s.due.push({ time: origin, probe: true });
    }
  }

  /** Handles one input; see the module comment. Rejects with the REST client's error or a `BinanceWireError`. */
  async handle(input: PipelineInput): Promise<PipelineOutput> {
    switch (input.kind) {
      case "kline":
        return input.closed ? this.onClosedBar(input) : { items: [], droppedStep: false };
      case "markPrice":
        this.onMark(input);
        return { items: [], droppedStep: false };
      case "disconnected":
        this.marks.disconnected();
        return { items: [], droppedStep: false };
      case "resync": {
        if (this.origin === undefined) return { items: [], droppedStep: false };
        const upTo = floorMinute((await this.rest.serverTime()) - RESYNC_SETTLE_MS);
        return { items: await this.fill(upTo, new Set(input.stale), input.reason), droppedStep: false };
      }
    }
  }

  private symbol(symbol: string): SymbolState {
    const s = this.state.get(symbol);
    if (s === undefined)
      throw new RangeError(`live market: message for ${symbol}, not one of ${this.symbols}`);
    return s;
  }

  private async onClosedBar(message: KlineMessage): Promise<PipelineOutput> {
    const bar = message.bar;
    const s = this.symbol(bar.symbol);
    if (this.origin === undefined) this.setOrigin(bar.openTime);
    if (bar.openTime <= s.last) {
      this.logger.debug(
        { symbol: bar.symbol, openTime: bar.openTime },
        "live market: bar already delivered, dropped",
      );
      return { items: [], droppedStep: true };
    }
    const items: FeedItem[] = [];
    if (bar.openTime > s.last + MINUTE_MS) {
      items.push(...(await this.fill(bar.openTime, new Set([bar.symbol]), "jump")));
    }
    const event: MarketEvent & { kind: "bar" } = { kind: "bar", time: bar.closeTime, bar };
    items.push(...(await this.deliver({ kind: "bar", event, step: true })));
    return { items, droppedStep: false };
  }

  private onMark(message: MarkPriceMessage): void {
    const s = this.symbol(message.symbol);
    this.marks.add(message.symbol, message.eventTime, message.markPrice);
    const t = message.nextFundingTime;
    if (message.eventTime < t)
      s.estimates.set(t, { rate: message.fundingRate, markPrice: message.markPrice });
    if (s.knownT !== undefined && t <= s.knownT) return;
    if (s.knownT !== undefined) {
      this.makeDue(s, s.knownT);
      s.intervalHintMs = t - s.knownT;
    }
    s.knownT = t;
  }

  private makeDue(s: SymbolState, time: number): void {
    if (time > s.settledThrough && !s.due.some((d) => d.time === time)) {
      s.due.push({ time });
      s.due.sort((a, b) => a.time - b.time);
    }
  }

  /**
   * Every symbol's missing minutes before `upTo` (a minute, exclusive) from REST, delivered in the merge order;
   * holes before a fetched bar, and `proven` symbols' trailing holes, become gaps.
   */
  private async fill(upTo: number, proven: ReadonlySet<string>, reason: string): Promise<FeedItem[]> {
    const pending: Item[] = [];
    for (const symbol of this.symbols) {
      const s = this.symbol(symbol);
      const from = s.last + MINUTE_MS;
      if (from >= upTo) continue;
      const bars = await this.rest.klines(symbol, from, upTo);
      await this.dueInRange(symbol, s, from, upTo);
      let expected = from;
      const gaps: MarketGap[] = [];
      for (const bar of bars) {
        if (bar.openTime > expected) gaps.push(gapOf(symbol, expected, bar.openTime));
        pending.push({ kind: "bar", event: { kind: "bar", time: bar.closeTime, bar }, step: false });
        expected = bar.openTime + MINUTE_MS;
      }
      if (expected < upTo && proven.has(symbol)) gaps.push(gapOf(symbol, expected, upTo));
      for (const gap of gaps)
        pending.push({ kind: "gap", event: { kind: "gap", time: gap.toOpenTime, gap } });
      this.logger.info(
        { symbol, from, to: upTo, bars: bars.length, gaps, reason },
        bars.length === (upTo - from) / MINUTE_MS
          ? "live market: missing bars filled from REST"
          : "live market: gap",
      );
    }
    pending.sort((a, b) => compareMarketEvents(a.event, b.event));
    const items: FeedItem[] = [];
    for (const item of pending) items.push(...(await this.deliver(item)));
    return items;
  }

  /**
   * Makes the settlements of `symbol` in the minutes [from, upTo) due, fetched: a fill's range, whose marks (if
   * any came) may never have announced them. Idempotent (a retried fill adds nothing twice).
   */
  private async dueInRange(symbol: string, s: SymbolState, from: number, upTo: number): Promise<void> {
    const rows = await this.rest.fundingRates(symbol, from - FUNDING_LOOKBACK_MS, upTo - 1);
    rows.forEach((row, index) => {
      const slot = slotOf(row.fundingTime);
      if (slot < from || slot >= upTo || slot <= s.settledThrough) return;
      const settlement = this.settlementOf(symbol, s, rows, index);
      if (settlement === undefined) return;
      const due = s.due.find((d) => d.time === slot);
      if (due !== undefined) due.settlement ??= settlement;
      else s.due.push({ time: slot, settlement });
    });
    s.due.sort((a, b) => a.time - b.time);
  }

  /** The due settlements that go before `item`, then `item`; advances its symbol. */
  private async deliver(item: Item): Promise<FeedItem[]> {
    const event = item.event;
    const symbol = event.kind === "bar" ? event.bar.symbol : event.kind === "gap" ? event.gap.symbol : "";
    const out = await this.settlementsBefore(symbol, event.time);
    const s = this.symbol(symbol);
    if (item.kind === "bar") {
      const bar = item.event.bar;
      const mark = this.marks.take(symbol, bar.openTime);
      out.push({ event: mark === undefined ? item.event : { ...item.event, mark }, step: item.step });
      s.last = bar.openTime;
    } else if (event.kind === "gap") {
      this.marks.take(symbol, event.gap.toOpenTime - MINUTE_MS);
      out.push({ event, step: false });
      s.last = event.gap.toOpenTime - MINUTE_MS;
    }
    s.lastTime = event.time;
    return out;
  }

  /**
   * The settlements (any symbol) that must go before an event of `symbol` at `time`: due ones with T ≤ time whose
   * symbol is at the settlement (its bar closing before T delivered, nothing after T yet), fetched, with
   * fundingTime ≤ time; in the merge order. Settlements whose fundingTime lies before a symbol's delivered events
   * (announced too late) or before the origin are logged and skipped.
   */
  private async settlementsBefore(symbol: string, time: number): Promise<FeedItem[]> {
    const found: FeedItem[] = [];
    for (const name of this.symbols) {
      const s = this.symbol(name);
      if (s.knownT !== undefined && s.knownT <= time) this.makeDue(s, s.knownT);
      for (const due of [...s.due]) {
        if (due.time > time) break;
        if (this.origin === undefined || floorMinute(due.time) < this.origin || due.time <= s.lastTime) {
          if (this.origin !== undefined && floorMinute(due.time) >= this.origin) {
            this.logger.error(
              { symbol: name, fundingTime: due.time, lastEventTime: s.lastTime },
              "live market: funding settlement announced after the bar closing after it; skipped",
            );
          }
          this.settle(s, due);
          continue;
        }
        const atSettlement = name === symbol || s.lastTime >= floorMinute(due.time) - 1;
        if (!atSettlement) continue;
        due.settlement ??= await this.fetchSettlement(name, s, due.time, due.probe === true);
        if (due.settlement === undefined) {
          this.settle(s, due);
          continue;
        }
        if (due.settlement.fundingTime > time) continue;
        this.settle(s, due);
        const funding = due.settlement;
        found.push({ event: { kind: "funding", time: funding.fundingTime, funding }, step: false });
        s.lastTime = funding.fundingTime;
      }
    }
    return found.sort((a, b) => compareMarketEvents(a.event, b.event));
  }

  private settle(s: SymbolState, due: Due): void {
    s.due = s.due.filter((d) => d !== due);
    s.settledThrough = Math.max(s.settledThrough, due.time);
    for (const t of s.estimates.keys()) if (t <= due.time) s.estimates.delete(t);
  }

  /**
   * `rows[index]` (of `GET /fapi/v1/fundingRate`, in order) as a settlement: its interval from the row before it,
   * else from the stream's announcements, else 8 h; its mark price from the row, else from the stream's estimate
   * (undefined when neither has one).
   */
  private settlementOf(
    symbol: string,
    s: SymbolState,
    rows: readonly FundingRateRow[],
    index: number,
  ): FundingSettlement | undefined {
    const row = rows[index]!;
    const previous = rows[index - 1];
    const intervalMs = previous !== undefined ? row.fundingTime - previous.fundingTime : s.intervalHintMs;
    const markPrice =
      row.markPrice !== "" ? row.markPrice : s.estimates.get(slotOf(row.fundingTime))?.markPrice;
    if (markPrice === undefined) return undefined;
    return {
      symbol,
      fundingTime: row.fundingTime,
      fundingRate: row.fundingRate,
      fundingIntervalHours: intervalMs === undefined ? 8 : Math.max(1, Math.round(intervalMs / HOUR_MS)),
      markPrice,
      markPriceSource: "markPriceKline",
    };
  }

  /** The realized settlement at `time` (see the module comment), or undefined (logged) when nothing gives it. */
  private async fetchSettlement(
    symbol: string,
    s: SymbolState,
    time: number,
    probe: boolean,
  ): Promise<FundingSettlement | undefined> {
    const matches = (fundingTime: number) =>
      probe
        ? fundingTime >= time && fundingTime < time + MINUTE_MS
        : Math.abs(fundingTime - time) < MINUTE_MS;
    for (const delay of probe ? [0] : FUNDING_ATTEMPT_DELAYS_MS) {
      if (delay > 0) await this.sleep(delay);
      let rows: FundingRateRow[];
      try {
        // Never throws out of here: it runs in the middle of a delivery, which a retry must not repeat.
        rows = await this.rest.fundingRates(symbol, time - FUNDING_LOOKBACK_MS, time + MINUTE_MS);
      } catch (error) {
        this.logger.warn(
          { symbol, fundingTime: time, error: String(error) },
          "live market: fundingRate failed",
        );
        continue;
      }
      const index = rows.findIndex((r) => matches(r.fundingTime));
      if (index < 0) continue;
      const settlement = this.settlementOf(symbol, s, rows, index);
      if (settlement === undefined) break;
      return settlement;
    }
    if (probe) {
      this.logger.debug({ symbol, minute: time }, "live market: no settlement in the origin minute");
      return undefined;
    }
    const estimate = s.estimates.get(time);
    if (estimate === undefined || estimate.rate === "") {
      this.logger.error({ symbol, fundingTime: time }, "live market: funding settlement not found; skipped");
      return undefined;
    }
    this.logger.warn(
      { symbol, fundingTime: time, ...estimate },
      "live market: GET /fapi/v1/fundingRate has no settlement; the stream's last estimate is used",
    );
    return {
      symbol,
      fundingTime: time,
      fundingRate: estimate.rate,
      fundingIntervalHours:
        s.intervalHintMs === undefined ? 8 : Math.max(1, Math.round(s.intervalHintMs / HOUR_MS)),
      markPrice: estimate.markPrice,
      markPriceSource: "markPriceKline",
    };
  }
}

function floorMinute(t: number): number {
  return t - (t % MINUTE_MS);
}

/** A settlement's slot: its fundingTime to the nearest minute (the `T` the stream announced; merge.ts's rule). */
function slotOf(fundingTime: number): number {
  return Math.round(fundingTime / MINUTE_MS) * MINUTE_MS;
}

function gapOf(symbol: string, fromOpenTime: number, toOpenTime: number): MarketGap {
  return { symbol, fromOpenTime, toOpenTime, missingBars: (toOpenTime - fromOpenTime) / MINUTE_MS };
}
