/**
 * An in-process exchange behind the `ExternalVenue` port, for live runs killed and restarted in-process
 * (test/live-restart.test.ts): the simulated venue matches what the test's feed hands it (`market`, before the run
 * sees the event, as the lockstep double does), its reports go to the run's handler, and it outlives the run it
 * serves. A run that dies while it takes a report misses the reports after it; the next run gets them before the
 * next market event (what a reconciliation would recover). An order in doubt is looked up by clientOrderId
 * before it could be matched twice.
 */
import { Observable } from "rxjs";
import { isPriced, type MarketEvent } from "../../src/adapters/market/types.ts";
import { SimulatedVenue } from "../../src/adapters/venue/simulated/venue.ts";
import type { BacktestConfig } from "../../src/config/schema.ts";
import type { InstrumentCatalog } from "../../src/domain/instruments.catalog.ts";
import type { LiveMarketFeed } from "../../src/engine/live-run.ts";
import type {
  AdoptedOrder,
  CancelResult,
  ExternalVenue,
  OrderRequest,
  SubmitResult,
  VenueReport,
  VenueReportHandler,
} from "../../src/engine/venue.ts";

/** The in-process exchange (module docstring). */
export class ExternalDouble implements ExternalVenue {
  readonly external = true;
  /** clientOrderIds of the orders that reached the matching, in order (the exchange's allOrders). */
  readonly sent: string[] = [];
  /** clientOrderIds looked up because they were in doubt. */
  readonly queried: string[] = [];
  /** What each run adopted at its start. */
  readonly adopted: AdoptedOrder[] = [];
  private readonly sim: SimulatedVenue;
  private readonly orderIds = new Map<string, string>();
  private readonly doubted = new Set<string>();
  private readonly matched = new Set<string>();
  private readonly canceled = new Set<string>();
  private handler: VenueReportHandler | undefined;
  private missed: VenueReport[] = [];

  /** The account's USDT wallet at start (default: the configuration's initial balance). */
  private readonly walletBalance: string;

  constructor(config: BacktestConfig, instruments: InstrumentCatalog, walletBalance = config.initialBalance) {
    this.walletBalance = walletBalance;
    this.sim = new SimulatedVenue({
      takerRate: config.feeRates.taker,
      makerRate: config.feeRates.maker,
      slippage: config.slippage,
      instrument: (symbol) => instruments.get(symbol),
    });
  }

  async start(_settings: unknown, onReport: VenueReportHandler): Promise<{ walletBalance: string }> {
    this.handler = onReport;
    return { walletBalance: this.walletBalance };
  }

  async close(): Promise<void> {
    this.handler = undefined;
  }

  adopt(order: AdoptedOrder): void {
    this.adopted.push(order);
  }

  inDoubt(orders: readonly OrderRequest[]): void {
    for (const o of orders) this.doubted.add(o.clientOrderId);
  }

  async submit(order: OrderRequest): Promise<SubmitResult> {
    if (this.doubted.delete(order.clientOrderId)) {
      this.queried.push(order.clientOrderId);
      const orderId = this.orderIds.get(order.clientOrderId);
      if (orderId !== undefined) return { accepted: true, orderId };
    }
    this.sent.push(order.clientOrderId);
    const result = await this.sim.submit(order);
    if (result.accepted) this.orderIds.set(order.clientOrderId, result.orderId);
    return result;
  }

  /** Cancels at the matching; an order canceled before is canceled (the Binance venue settles -2011 by a query). */
  async cancel(symbol: string, clientOrderId: string): Promise<CancelResult> {
    const result = await this.sim.cancel(symbol, clientOrderId);
    if (result.canceled) this.canceled.add(clientOrderId);
    return result.canceled || !this.canceled.has(clientOrderId) ? result : { canceled: true };
  }

  /** Hands the run what it missed, then matches `e` (once) and reports what it caused. */
  async market(e: MarketEvent): Promise<void> {
    const missed = this.missed;
    this.missed = [];
    for (const r of missed) await this.deliver(r);
    const key = `${e.kind}:${e.time}:${e.kind === "bar" ? e.bar.symbol : e.kind === "funding" ? e.funding.symbol : e.gap.symbol}`;
    if (this.matched.has(key)) return;
    this.matched.add(key);
    if (e.kind === "bar") await this.sim.matchBar(e.bar, this.deliver, e.mark);
    else if (e.kind === "funding" && isPriced(e.funding))
      await this.sim.settleFunding(e.funding, this.deliver);
  }

  /**
   * A live feed of `events` from minute `from` on, each matched here first, one at a time (lockstep);
   * `onProcessed` is told each event the run handled.
   */
  feed(events: readonly MarketEvent[], from: number, onProcessed?: (e: MarketEvent) => void): LiveMarketFeed {
    let ack: (() => void) | undefined;
    let closed = false;
    return {
      events: new Observable<MarketEvent>((subscriber) => {
        void (async () => {
          try {
            for (const e of events) {
              if (closed) return;
              if (e.time < from) continue;
              await this.market(e);
              const processed = new Promise<void>((resolve) => {
                ack = resolve;
              });
              subscriber.next(e);
              await processed;
            }
            subscriber.complete();
          } catch (error) {
            subscriber.error(error);
          }
        })();
        return () => {
          closed = true;
          ack?.();
        };
      }),
      processed: async (e) => {
        onProcessed?.(e);
        ack?.();
      },
      close: async () => {
        closed = true;
        ack?.();
      },
    };
  }

  /** Hands a report to the run; a run that died (its handler threw, or none) misses it and those after it. */
  private readonly deliver = async (report: VenueReport): Promise<void> => {
    if (!this.handler || this.missed.length > 0) {
      this.missed.push(report);
      return;
    }
    try {
      await this.handler(report);
    } catch {
      this.handler = undefined; // the run died on this report: its tail holds what it wrote of it
    }
  };
}
