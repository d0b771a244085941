/**
 * The simulated venue of backtests (strategies.md §0 "Backtest fills", binance-usdm.md §1.2, §2.3, §4.3, §4.4).
 *
 * - MARKET orders fill at the next bar's open × (1 ± slippage) (BUY +, SELL −); one submitted while a bar's open
 *   is being processed (e.g. a flatten after an entry fill) fills at that same open.
 * - STOP_MARKET / TAKE_PROFIT_MARKET trigger on the bar's high/low (last-price bars); when both legs are touched
 *   inside one bar the stop fills first. A bar that opens beyond the trigger fills at the open (gap), otherwise at
 *   the trigger; slippage applies to both. A conditional order that would trigger at once is rejected (-2021).
 * - Every fill is a taker fill: commission = price × quantity × takerRate, in USDT.
 * - Reduce-only orders never increase or flip the venue's position: the quantity is capped at the position, and
 *   an order with nothing to reduce expires.
 * - Funding: at a settlement, a non-zero position pays −positionAmt × markPrice × fundingRate.
 * - Exchange filters (tick, step, min notional, min/max quantity) are checked on submit, MIN_NOTIONAL at the last
 *   price (the backtest's mark); violations are rejected with Binance's error codes.
 */
import { commission, fillPriceWithSlippage, fundingFee } from "../../domain/accounting.ts";
import { Dec } from "../../domain/decimal.ts";
import { checkOrderFilters, type Instrument } from "../../domain/instruments.ts";
import type {
  CancelResult,
  OrderRequest,
  SubmitResult,
  Venue,
  VenueReportHandler,
} from "../../engine/venue.ts";
import type { EventData } from "../../events/catalog.ts";

/** Settings of the simulated venue. Rates and slippage are ratios (0.0005 = 0.05 %). */
export interface SimulatedVenueOptions {
  takerRate: string;
  slippage: string;
  instrument: (symbol: string) => Instrument;
}

/** A bar as the venue sees it: prices as decimal strings, times in ms. */
export type VenueBar = Pick<
  EventData<"BarClosed">,
  "symbol" | "openTime" | "closeTime" | "open" | "high" | "low" | "close"
>;

/** A settlement as the venue sees it. fundingRate is a ratio per interval; markPrice in USDT. */
export type VenueFundingSettlement = Pick<
  EventData<"FundingRateSettled">,
  "symbol" | "fundingTime" | "fundingRate" | "markPrice"
>;

interface WorkingOrder {
  request: OrderRequest;
  /** Trigger as a number, for comparisons only (prices have ≤ 15 significant digits, so order is exact). */
  trigger: number;
}

const isConditional = (o: OrderRequest) => o.type !== "MARKET";

function workingOrder(request: OrderRequest): WorkingOrder {
  return { request, trigger: request.triggerPrice === undefined ? Number.NaN : Number(request.triggerPrice) };
}

/** True when `price` has reached the trigger of a conditional order (binance-usdm.md §2.3). */
function touched(o: WorkingOrder, high: number, low: number): boolean {
  const { side, type } = o.request;
  const upward = (type === "STOP_MARKET") === (side === "BUY"); // BUY stop / SELL take-profit fire on a rise
  return upward ? high >= o.trigger : low <= o.trigger;
}

/** The simulated venue's whole state as JSON (a checkpoint's part). Quantities in base asset, prices in quote. */
export interface SimulatedVenueState {
  /** Working orders in submission order (conditional triggers are matched in that order). */
  working: OrderRequest[];
  /** Signed position per symbol. */
  positions: Record<string, string>;
  /** Last known price per symbol (the last bar's close). */
  lastPrice: Record<string, string>;
  orderSeq: number;
  tradeSeq: number;
}

/** The backtest venue. Deterministic: order and trade ids are sequence numbers. */
export class SimulatedVenue implements Venue {
  /** In-process: nothing leaves it, so intents need not be flushed before a submit. */
  readonly external = false;
  private readonly working = new Map<string, WorkingOrder>();
  private readonly positions = new Map<string, InstanceType<typeof Dec>>();
  private readonly lastPrice = new Map<string, string>();
  private orderSeq = 0;
  private tradeSeq = 0;

  constructor(private readonly options: SimulatedVenueOptions) {}

  /** The venue's state, for a checkpoint. */
  snapshot(): SimulatedVenueState {
    return {
      working: [...this.working.values()].map((w) => w.request),
      positions: Object.fromEntries([...this.positions].map(([symbol, amt]) => [symbol, amt.toFixed()])),
      lastPrice: Object.fromEntries(this.lastPrice),
      orderSeq: this.orderSeq,
      tradeSeq: this.tradeSeq,
    };
  }

  /** Replaces the venue's state with `state` (from `snapshot()`). */
  restore(state: SimulatedVenueState): void {
    this.working.clear();
    for (const request of state.working) this.working.set(request.clientOrderId, workingOrder(request));
    this.positions.clear();
    for (const [symbol, amt] of Object.entries(state.positions)) this.positions.set(symbol, new Dec(amt));
    this.lastPrice.clear();
    for (const [symbol, price] of Object.entries(state.lastPrice)) this.lastPrice.set(symbol, price);
    this.orderSeq = state.orderSeq;
    this.tradeSeq = state.tradeSeq;
  }

  async submit(order: OrderRequest): Promise<SubmitResult> {
    if (this.working.has(order.clientOrderId)) {
      return { accepted: false, code: -4116, reason: "ClientOrderId is duplicated." };
    }
    const last = this.lastPrice.get(order.symbol);
    if (last === undefined)
      return { accepted: false, code: -1121, reason: `no market price yet for ${order.symbol}` };
    if (order.type !== "MARKET" && order.type !== "STOP_MARKET" && order.type !== "TAKE_PROFIT_MARKET")
      return { accepted: false, code: -1116, reason: "Invalid orderType." };
    if (order.quantity === undefined)
      return { accepted: false, code: -1102, reason: "Mandatory parameter 'quantity' was not sent." };
    const violations = checkOrderFilters(this.options.instrument(order.symbol), {
      type: order.type,
      quantity: order.quantity,
      triggerPrice: order.triggerPrice,
      markPrice: last,
      reduceOnly: order.reduceOnly,
    });
    const first = violations[0];
    if (first) return { accepted: false, code: first.code, reason: first.message };
    const w = workingOrder(order);
    if (isConditional(order)) {
      const p = Number(last);
      if (touched(w, p, p)) {
        return { accepted: false, code: -2021, reason: "Order would immediately trigger." };
      }
    }
    this.working.set(order.clientOrderId, w);
    this.orderSeq += 1;
    return { accepted: true, orderId: String(this.orderSeq) };
  }

  async cancel(symbol: string, clientOrderId: string): Promise<CancelResult> {
    const w = this.working.get(clientOrderId);
    if (!w || w.request.symbol !== symbol)
      return { canceled: false, code: -2011, reason: "Unknown order sent." };
    this.working.delete(clientOrderId);
    return { canceled: true };
  }

  /** The venue's own (signed) position in `symbol`, base asset. */
  positionAmt(symbol: string): string {
    return (this.positions.get(symbol) ?? new Dec(0)).toFixed();
  }

  /**
   * Matches the working orders of `bar.symbol` against one closed bar, reporting each execution to `handle`
   * (awaited, so reactions such as sibling cancels and new orders take effect before the next match).
   */
  async matchBar(bar: VenueBar, handle: VenueReportHandler): Promise<void> {
    this.lastPrice.set(bar.symbol, bar.open);
    for (let o = this.nextMarketOrder(bar.symbol); o; o = this.nextMarketOrder(bar.symbol)) {
      await this.execute(o, bar.open, bar.openTime, handle);
    }
    const high = Number(bar.high);
    const low = Number(bar.low);
    const open = Number(bar.open);
    for (
      let o = this.nextTriggered(bar.symbol, high, low);
      o;
      o = this.nextTriggered(bar.symbol, high, low)
    ) {
      const gapped = touched(o, open, open);
      const triggeredAt = gapped ? bar.open : o.request.triggerPrice!;
      const { symbol, clientOrderId } = o.request;
      const time = bar.closeTime;
      await handle({
        kind: "triggering",
        time,
        symbol,
        clientOrderId,
        workingType: "CONTRACT_PRICE",
        triggeredAt,
      });
      this.orderSeq += 1;
      const orderId = String(this.orderSeq);
      await handle({ kind: "triggered", time, symbol, clientOrderId, orderId, actualType: "MARKET" });
      await this.execute(o, triggeredAt, time, handle);
    }
    this.lastPrice.set(bar.symbol, bar.close);
  }

  /** Charges funding on the venue's position in `s.symbol`, if any (binance-usdm.md §4.4). */
  async settleFunding(s: VenueFundingSettlement, handle: VenueReportHandler): Promise<void> {
    const amt = this.positions.get(s.symbol);
    if (!amt || amt.isZero()) return;
    await handle({
      kind: "funding",
      time: s.fundingTime,
      funding: {
        symbol: s.symbol,
        fundingTime: s.fundingTime,
        fundingRate: s.fundingRate,
        markPrice: s.markPrice,
        positionAmt: amt.toFixed(),
        fundingFee: fundingFee(amt.toFixed(), s.markPrice, s.fundingRate),
      },
    });
  }

  private nextMarketOrder(symbol: string): WorkingOrder | undefined {
    for (const o of this.working.values()) {
      if (o.request.symbol === symbol && o.request.type === "MARKET") return o;
    }
    return undefined;
  }

  /** The next conditional order the bar triggers: stops before take-profits, then submission order. */
  private nextTriggered(symbol: string, high: number, low: number): WorkingOrder | undefined {
    let takeProfit: WorkingOrder | undefined;
    for (const o of this.working.values()) {
      if (o.request.symbol !== symbol || !isConditional(o.request) || !touched(o, high, low)) continue;
      if (o.request.type === "STOP_MARKET") return o;
      takeProfit ??= o;
    }
    return takeProfit;
  }

  private async execute(o: WorkingOrder, modelPrice: string, time: number, handle: VenueReportHandler) {
    const { request } = o;
    this.working.delete(request.clientOrderId);
    const position = this.positions.get(request.symbol) ?? new Dec(0);
    const sign = request.side === "BUY" ? 1 : -1;
    let quantity = new Dec(request.quantity ?? "0");
    if (request.reduceOnly) {
      const reduces = position.isNeg() ? sign > 0 : position.isPos() ? sign < 0 : false;
      if (!reduces) {
        await handle({
          kind: "expired",
          time,
          symbol: request.symbol,
          clientOrderId: request.clientOrderId,
          reason: "reduce-only order would not reduce the position",
        });
        return;
      }
      quantity = Dec.min(quantity, position.abs());
    }
    const price = fillPriceWithSlippage(modelPrice, request.side, this.options.slippage);
    this.positions.set(request.symbol, position.plus(quantity.times(sign)));
    this.tradeSeq += 1;
    const qty = quantity.toFixed();
    await handle({
      kind: "fill",
      time,
      fill: {
        symbol: request.symbol,
        clientOrderId: request.clientOrderId,
        tradeId: String(this.tradeSeq),
        side: request.side,
        price,
        quantity: qty,
        cumulativeQuantity: qty,
        status: "FILLED",
        maker: false,
        commission: commission(price, qty, this.options.takerRate),
      },
    });
  }
}
