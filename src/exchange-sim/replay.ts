/**
 * The market replay: the archive's merged market events (`archiveMarketEvents`) in order, each one a step at
 * its market time. A funding settlement goes to `exchange.onFunding`; a bar to `exchange.onBar(bar, mark)`,
 * then its minute's market messages: the markPrice ticks (`<sym>@markPrice@1s` and `@markPrice`), the kline
 * once unclosed (`x:false`) and once closed (`x:true`, a lockstep step), after the minute's recorded book and
 * trade messages when there are captures (book-capture.ts). Gaps publish nothing. After each step an
 * expired listenKey is announced. Pacing: `--speed N` releases each event when the wall clock reaches it (one
 * minute of data per 60 000 / N ms); `--lockstep` releases it once every message before it was acked and the
 * clients are ready (a kline subscription of every symbol; a private connection when a listenKey lives).
 * The replay reads ahead of the clock (at most `LOOKAHEAD_MS` of market time) to announce the next funding
 * settlement (`r`, `T`) before it settles, and the first price of each symbol before its first bar.
 */
import type { Logger } from "pino";
import { archiveMarketEvents } from "../adapters/market/archive.ts";
import {
  type ArchiveFile,
  type Bar,
  isPriced,
  type MarketEvent,
  type MarketWindow,
  type MarkPriceKline,
} from "../adapters/market/types.ts";
import type { BookCapture } from "./book-capture.ts";
import type { ReplayClock } from "./clock.ts";
import type { ExchangeCore } from "./exchange-port.ts";
import type { FaultInjector } from "./faults.ts";
import type { Lockstep } from "./lockstep.ts";
import { type MarketHistory, slotOf } from "./market-history.ts";
import type { MarketStreams } from "./market-streams.ts";
import type { UserStream } from "./user-stream.ts";
import { klineMessage, markPriceMessage, markTicks } from "./wire.ts";

/** How far ahead of the clock the replay reads to find a symbol's next settlement, ms of market time. */
export const LOOKAHEAD_MS = 24 * 3_600_000;

/** What the replay drives. */
export interface ReplayDeps {
  files: readonly ArchiveFile[];
  window: MarketWindow;
  /**
   * The history before the window: its bars and settlements are in the REST answers from the start (a
   * client's warm-up), never streamed nor given to the exchange; `window.to` must be the replay's `from`.
   */
  history?: { files: readonly ArchiveFile[]; window: MarketWindow };
  symbols: readonly string[];
  exchange: ExchangeCore;
  clock: ReplayClock;
  published: MarketHistory;
  market: MarketStreams;
  user: UserStream;
  lockstep: Lockstep;
  /** `--speed N`, or undefined in lockstep. */
  speed: number | undefined;
  /** Resolves when the clients are ready for the next step (lockstep; see the module comment). */
  ready: (abort: AbortSignal) => Promise<void>;
  /** The injected faults (faults.ts): told before each step, asked before each closed kline. */
  faults?: FaultInjector;
  /** Recorded book and trade streams: a bar step first publishes the symbol's messages up to its close. */
  book?: BookCapture;
  logger: Logger;
}

/** Where the replay is. */
export type ReplayState = "waiting" | "running" | "finished" | "failed" | "stopped";

/** One replay of the window. */
export class MarketReplay {
  state: ReplayState = "waiting";
  /** Closed klines published (counted when sent, before their ack). */
  barsSent = 0;
  /** Why it failed, when it did. */
  error: string | undefined;
  readonly #abort = new AbortController();
  /** Events read ahead: `#buffer[#head…]` (compacted as it is consumed). */
  #buffer: MarketEvent[] = [];
  #head = 0;
  #source: AsyncIterator<MarketEvent> | undefined;
  #exhausted = false;

  constructor(private readonly deps: ReplayDeps) {}

  /**
   * Replays every event; resolves when the window is done or `stop` was called.
   * @throws MarketDataError (file:line) on a malformed archive file; the state is then "failed".
   */
  async run(): Promise<void> {
    const { deps } = this;
    try {
      await this.prime();
      if (deps.speed !== undefined) deps.clock.pace(deps.speed);
      for (let event = await this.#next(); event !== undefined; event = await this.#next()) {
        deps.clock.setNext(event.time);
        await this.#release(event);
        if (this.#abort.signal.aborted) break;
        this.state = "running";
        deps.clock.beginStep(event.time);
        deps.exchange.now = deps.clock.now();
        try {
          await deps.lockstep.runStep(() => this.#step(event));
        } finally {
          deps.clock.endStep();
        }
      }
      // A paced clock runs on after the last event (clients keep their offset); a lockstep one stays there.
      deps.clock.setNext(Number.POSITIVE_INFINITY);
      this.state = this.#abort.signal.aborted ? "stopped" : "finished";
      deps.logger.info({ barsSent: this.barsSent, state: this.state }, "replay ended");
    } catch (error) {
      if (this.#abort.signal.aborted) {
        this.state = "stopped";
        return;
      }
      this.state = "failed";
      this.error = (error as Error).message;
      throw error;
    } finally {
      await this.#source?.return?.();
    }
  }

  /** Stops the replay before its next step. */
  stop(): void {
    this.#abort.abort();
  }

  async #step(event: MarketEvent): Promise<void> {
    const { deps } = this;
    if (event.kind === "funding") {
      const f = event.funding;
      // A settlement before the symbol's first bar that nothing prices: the archive has no mark to publish.
      if (!isPriced(f)) return;
      deps.published.addFunding(f);
      await deps.exchange.onFunding({
        symbol: f.symbol,
        fundingTime: f.fundingTime,
        fundingRate: f.fundingRate,
        markPrice: f.markPrice,
      });
      deps.published.setUpcomingFunding(f.symbol, await this.#nextFunding(f.symbol, event.time));
    } else if (event.kind === "bar") {
      const { bar, mark } = event;
      await deps.book?.publishUntil(bar.symbol, bar.closeTime);
      deps.published.addBar(bar, mark);
      const { symbol, openTime, closeTime, open, high, low, close, volume } = bar;
      await deps.exchange.onBar({ symbol, openTime, closeTime, open, high, low, close, volume }, mark);
      await this.#publishMinute(bar, mark);
    } else deps.logger.warn({ gap: event.gap }, "gap in the archive: no bars published for it");
    await deps.user.expireDue();
  }

  /** The minute's market messages: mark ticks and the unclosed kline without waiting, then the closed kline. */
  async #publishMinute(bar: Bar, mark: MarkPriceKline | undefined): Promise<void> {
    const { market, lockstep, published, clock } = this.deps;
    const s = bar.symbol.toLowerCase();
    const funding = published.fundingAnnouncement(bar.symbol, clock.now());
    const sends: Promise<void>[] = [];
    for (const tick of markTicks(bar, mark)) {
      const message = markPriceMessage(bar.symbol, tick, funding);
      for (const stream of [`${s}@markPrice@1s`, `${s}@markPrice`])
        sends.push(lockstep.send(() => market.publish(stream, message), false));
    }
    const kline = `${s}@kline_1m`;
    sends.push(lockstep.send(() => market.publish(kline, klineMessage(bar, false, bar.closeTime)), false));
    const closed = () => {
      if (this.deps.faults?.dropClosedKline()) return [];
      this.barsSent++;
      return market.publish(kline, klineMessage(bar, true, bar.closeTime));
    };
    sends.push(lockstep.send(closed, true));
    await Promise.all(sends);
  }

  /**
   * Waits until `event` may go out: the wall clock (speed), or acks and ready clients (lockstep); the faults'
   * between-steps actions (faults.ts) run once nothing waits for an ack, before the clients' readiness is checked.
   */
  async #release(event: MarketEvent): Promise<void> {
    const { deps } = this;
    const signal = this.#abort.signal;
    if (deps.speed !== undefined) {
      const delay = deps.clock.wallDelayUntil(event.time);
      if (delay > 0) await sleep(delay, signal);
      await deps.faults?.beforeStep(event.kind === "bar");
      return;
    }
    await deps.lockstep.idle();
    if (deps.faults !== undefined) {
      await deps.faults.beforeStep(event.kind === "bar");
      await deps.lockstep.idle();
    }
    await deps.ready(signal).catch((error: unknown) => {
      if (!signal.aborted) throw error;
    });
  }

  /**
   * Prepares the first step (once; `run` calls it too): loads the history before the window, each symbol's
   * price (its last bar before the window, else its first bar's open) and its first settlement in sight.
   * @throws MarketDataError (file:line) on a malformed archive file.
   */
  async prime(): Promise<void> {
    if (this.#source !== undefined) return;
    const { deps } = this;
    this.#source = archiveMarketEvents(deps.files, deps.window)[Symbol.asyncIterator]();
    const start = deps.window.from;
    if (deps.history !== undefined && deps.history.files.length > 0)
      for await (const event of archiveMarketEvents(deps.history.files, deps.history.window)) {
        if (event.kind === "bar") deps.published.addBar(event.bar, event.mark);
        else if (event.kind === "funding") deps.published.addFunding(event.funding);
      }
    for (const symbol of deps.symbols) {
      const first = await this.#peek(
        (e) => e.kind === "bar" && e.bar.symbol === symbol,
        start + LOOKAHEAD_MS,
      );
      if (first?.kind === "bar") deps.published.seedMark(symbol, first.mark?.open ?? first.bar.open);
      deps.published.setUpcomingFunding(symbol, await this.#nextFunding(symbol, start - 1));
    }
  }

  /** The first settlement of `symbol` after market time `after`, within `LOOKAHEAD_MS`. */
  async #nextFunding(symbol: string, after: number) {
    const found = await this.#peek(
      (e) => e.kind === "funding" && e.funding.symbol === symbol && e.time > after,
      after + LOOKAHEAD_MS,
    );
    return found?.kind === "funding"
      ? { time: slotOf(found.funding.fundingTime), rate: found.funding.fundingRate }
      : undefined;
  }

  /** The first buffered or upcoming event matching `match` with time ≤ `until`, reading ahead as needed. */
  async #peek(match: (e: MarketEvent) => boolean, until: number): Promise<MarketEvent | undefined> {
    for (let i = this.#head; ; i++) {
      if (i === this.#buffer.length && !(await this.#fill())) return undefined;
      const event = this.#buffer[i]!;
      if (event.time > until) return undefined;
      if (match(event)) return event;
    }
  }

  async #next(): Promise<MarketEvent | undefined> {
    if (this.#head === this.#buffer.length && !(await this.#fill())) return undefined;
    const event = this.#buffer[this.#head++];
    if (this.#head >= 4096) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    return event;
  }

  /** Reads one more event into the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    if (this.#exhausted || this.#source === undefined) return false;
    const r = await this.#source.next();
    if (r.done) {
      this.#exhausted = true;
      return false;
    }
    this.#buffer.push(r.value);
    return true;
  }
}

/** Resolves after `ms` wall ms, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
