/**
 * The exchange core of the local Binance USDⓈ-M double (issue 7 item 6): one USDT-margined account behind one API
 * key, matched on replayed 1m bars by the simulated venue (`SimulatedVenue`: every matching, trigger, margin-check
 * and liquidation rule is the venue's, src/adapters/venue/simulated/matching.ts), booked by the account's pure
 * decisions (`decideFillBooking`, `decideFundingBooking`; the account machine applies them), and spoken in
 * Binance's REST shapes (records.ts) and user-data messages (wire.ts).
 *
 * Rules of the double, beyond the venue's:
 * - MARKET orders fill at the next bar's open (the venue's rule): they stay NEW until then, whatever
 *   `newOrderRespType` asks (RESULT returns the current state);
 * - ids are sequences: orderId from 1 (regular, triggered and liquidation orders), algoId from 1000000001,
 *   tradeId and income tranId from 1;
 * - a fill emits ACCOUNT_UPDATE (m ORDER) then ORDER_TRADE_UPDATE (x TRADE), the order of the real capture
 *   (BTCUSDT-2024-11-18-open-close-roundtrip.jsonl); a triggered order's fill that completes it then emits
 *   ALGO_UPDATE FINISHED;
 * - a liquidation (venue: orders expired with er 5 first) emits ORDER_TRADE_UPDATE NEW then CALCULATED of an
 *   `autoclose-…` LIQUIDATION order; its trade has commission 0 and the clearance fee is income INSURANCE_CLEAR;
 * - breakEvenPrice (`bep`) = entry × (1 ± takerRate), long +, short − (binance-usdm.md §4.2: UNCONFIRMED; it
 *   reproduces the real capture's bep);
 * - user events are delivered one at a time, in order, through the listener; `onBar` / `onFunding` await each
 *   before the venue goes on (lockstep), REST calls queue theirs and answer without waiting (a client that
 *   waits for its REST answer before acking a message cannot deadlock the double).
 */

import { type AccountContext, positionKey } from "../../actors/account.machine.ts";
import type { MatchingState } from "../../adapters/venue/simulated/matching.ts";
import {
  SimulatedVenue,
  type VenueBar,
  type VenueFundingSettlement,
  type VenueMarkBar,
} from "../../adapters/venue/simulated/venue.ts";
import { canonical, Dec, toDec } from "../../domain/decimal.ts";
import type { InstrumentCatalog } from "../../domain/instruments.catalog.ts";
import type { LeverageBracketCatalog } from "../../domain/margin/brackets.catalog.ts";
import { maxNotionalFor } from "../../domain/margin/brackets.ts";
import type { OrderRequest, VenueReport } from "../../engine/venue.ts";
import { type AccountInputs, accountBody, balanceBody, markOf, positionRiskBody } from "./account-view.ts";
import { Ledger } from "./ledger.ts";
import { CONDITIONAL_TYPES, historyWindow, orderRequest } from "./order-params.ts";
import { BinanceError, limitOf, mandatory, type Params } from "./params.ts";
import {
  type AlgoRecord,
  algoShape,
  avgPrice,
  type ConditionalType,
  type IncomeRecord,
  type IncomeType,
  isOpen,
  type OrderRecord,
  type OrderStatus,
  orderShape,
  type PositionSide,
  type TradeRecord,
} from "./records.ts";
import {
  accountConfigUpdate,
  accountUpdate,
  algoUpdate,
  type ExecutionType,
  orderTradeUpdate,
  type WireFill,
  type WirePosition,
} from "./wire.ts";

/** Settings of the double (contract: /work/notes/live-contract.md). Rates and slippage are ratios as strings. */
export interface SimExchangeOptions {
  instruments: InstrumentCatalog;
  brackets: LeverageBracketCatalog;
  /** The symbols the double trades (others: -1121). */
  symbols: readonly string[];
  /** Initial USDT wallet balance, e.g. "10000". */
  walletBalance: string;
  /** Default: the backtest's, 0.0005 / 0.0002 / 0.0001 (so a lockstep run fills as a backtest does). */
  takerRate?: string;
  makerRate?: string;
  slippage?: string;
}

/** The double's defaults: the backtest's fee rates and slippage (src/config/schema.ts). */
export const SIM_EXCHANGE_DEFAULTS = {
  takerRate: "0.0005",
  makerRate: "0.0002",
  slippage: "0.0001",
} as const;

/** One user-data message in wire format. */
export type UserEvent = Record<string, unknown>;
/** Receives each user-data message; the double awaits it (see the module comment). */
export type UserEventListener = (message: UserEvent) => Promise<void>;

type Working = { order?: OrderRecord; algo?: AlgoRecord };

const DONE = "The operation of cancel all open order is done.";

/** The double's exchange: orders, algo orders, the account ledger and its user events. */
export class SimExchange {
  /** Current exchange time (ms): the replay's market time, set by the server before each step. */
  now = 0;
  private readonly instruments: InstrumentCatalog;
  private readonly bracketCatalog: LeverageBracketCatalog;
  private readonly symbols: ReadonlySet<string>;
  private readonly rates: { takerRate: string; makerRate: string; slippage: string };
  private venue: SimulatedVenue;
  private dualSidePosition = false;
  /** Whether fees are paid in BNB (`feeBurn`); the double records it, and charges USDT regardless (§4.3). */
  private feeBurn = false;
  private readonly ledger: Ledger;
  private readonly orders: OrderRecord[] = [];
  private readonly algos: AlgoRecord[] = [];
  /** Working orders by the venue's key (clientOrderId; a triggered algo order keeps its clientAlgoId). */
  private readonly working = new Map<string, Working>();
  private orderSeq = 0;
  private algoSeq = 1_000_000_000;
  private listener?: UserEventListener;
  private chain: Promise<void> = Promise.resolve();
  private listenerError: unknown;

  /**
   * @throws Error naming the option when the balance or a rate is not a decimal ≥ 0; UnknownSymbolError /
   * UnknownBracketSymbolError for a symbol the instruments or the brackets do not list.
   */
  constructor(options: SimExchangeOptions) {
    this.instruments = options.instruments;
    this.bracketCatalog = options.brackets;
    this.symbols = new Set(options.symbols);
    this.rates = {
      takerRate: options.takerRate ?? SIM_EXCHANGE_DEFAULTS.takerRate,
      makerRate: options.makerRate ?? SIM_EXCHANGE_DEFAULTS.makerRate,
      slippage: options.slippage ?? SIM_EXCHANGE_DEFAULTS.slippage,
    };
    for (const [key, value] of Object.entries({ walletBalance: options.walletBalance, ...this.rates }))
      if (toDec(value, `SimExchangeOptions.${key}`).isNegative())
        throw new Error(`SimExchangeOptions.${key}: expected a decimal ≥ 0, got "${value}"`);
    for (const symbol of options.symbols) this.instruments.get(symbol);
    const maxLeverage = (symbol: string) => this.brackets(symbol)[0]!.initialLeverage;
    this.ledger = new Ledger(options.walletBalance, options.symbols, maxLeverage, this.rates.takerRate);
    this.venue = this.makeVenue(false);
  }

  // ── the server's side ─────────────────────────────────────────────────────────────────────────────────

  /** Resolves once every user event queued so far was delivered. @throws the listener's failure, if any. */
  async idle(): Promise<void> {
    await this.delivered();
  }

  /** Sets the one listener of user-data messages (replacing any earlier one). */
  onUserEvent(listener: UserEventListener): void {
    this.listener = listener;
  }

  /**
   * Matches one closed 1m bar of a traded symbol (SimulatedVenue.matchBar rules), with its 1m mark bar when
   * there is one; every user event it causes is delivered and awaited before matching goes on.
   * @throws the listener's failure (the bar then stays half matched: the double cannot go on), or an Error for
   * a symbol the double does not trade.
   */
  async onBar(bar: VenueBar, mark?: VenueMarkBar): Promise<void> {
    this.tradedSymbol(bar.symbol);
    await this.delivered();
    await this.venue.matchBar(bar, (r) => this.onReport(r), mark);
  }

  /** Charges a funding settlement on the symbol's positions (binance-usdm.md §4.4), events awaited. */
  async onFunding(settlement: VenueFundingSettlement): Promise<void> {
    this.tradedSymbol(settlement.symbol);
    await this.delivered();
    await this.venue.settleFunding(settlement, (r) => this.onReport(r));
  }

  // ── orders ────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * POST /fapi/v1/order: a LIMIT or MARKET order (the five conditional types: -4120, §2.1). Answers the order as
   * it is now (MARKET: NEW until the next bar's open).
   * @throws BinanceError with Binance's code for a bad parameter or a rejection (validateOrder, the venue).
   */
  async newOrder(p: Params): Promise<Record<string, unknown>> {
    const symbol = this.symbolParam(p);
    const type = p.required("type");
    if ((CONDITIONAL_TYPES as readonly string[]).includes(type))
      throw new BinanceError(
        -4120,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
      );
    if (type !== "LIMIT" && type !== "MARKET") throw new BinanceError(-1116, "Invalid orderType.");
    p.oneOf(
      "newOrderRespType",
      ["ACK", "RESULT"],
      -1130,
      "Data sent for parameter 'newOrderRespType' is not valid.",
    );
    const request = orderRequest(p, symbol, type, p.raw("newClientOrderId") ?? `sim-o${this.orderSeq + 1}`);
    await this.submit(request);
    const order = this.newOrderRecord(request, {});
    this.working.set(request.clientOrderId, { order });
    this.queue(this.otu(order, "NEW", this.now));
    return orderShape(order, "new");
  }

  /**
   * POST /fapi/v1/algoOrder: a conditional order (algoType CONDITIONAL) in the venue's algo stage; ALGO_UPDATE NEW.
   * @throws BinanceError as `newOrder`.
   */
  async newAlgoOrder(p: Params): Promise<Record<string, unknown>> {
    const algoType = p.required("algoType");
    if (algoType !== "CONDITIONAL")
      throw new BinanceError(-1130, "Data sent for parameter 'algoType' is not valid.");
    const symbol = this.symbolParam(p);
    const type = p.required("type");
    if (!(CONDITIONAL_TYPES as readonly string[]).includes(type))
      throw new BinanceError(-1116, "Invalid orderType.");
    const clientAlgoId = p.raw("clientAlgoId") ?? `sim-a${this.algoSeq + 1}`;
    const request = orderRequest(p, symbol, type as ConditionalType, clientAlgoId);
    await this.submit(request);
    const algo: AlgoRecord = {
      algoId: ++this.algoSeq,
      clientAlgoId,
      symbol,
      side: request.side,
      positionSide: request.positionSide,
      orderType: type as ConditionalType,
      timeInForce: request.timeInForce ?? "GTC",
      quantity: request.quantity ?? "0",
      price: request.price ?? "0",
      triggerPrice: request.triggerPrice ?? "0",
      workingType: request.workingType ?? "CONTRACT_PRICE",
      selfTradePreventionMode: request.selfTradePreventionMode ?? "NONE",
      closePosition: request.closePosition ?? false,
      priceProtect: request.priceProtect ?? false,
      reduceOnly: request.reduceOnly,
      ...this.trailing(request),
      goodTillDate: request.goodTillDate ?? 0,
      algoStatus: "NEW",
      createTime: this.now,
      updateTime: this.now,
      triggerTime: 0,
      actualOrderId: "",
    };
    this.algos.push(algo);
    this.working.set(clientAlgoId, { algo });
    this.queue(algoUpdate(algo, { E: this.now, T: this.now }));
    return this.algoAnswer(algo, false);
  }

  /**
   * DELETE /fapi/v1/order by orderId or origClientOrderId: ORDER_TRADE_UPDATE CANCELED (and ALGO_UPDATE FINISHED
   * for a triggered order). @throws BinanceError -2011 when the order is not open or unknown.
   */
  async cancelOrder(p: Params): Promise<Record<string, unknown>> {
    const symbol = this.symbolParam(p);
    const order = this.findOrder(p, symbol, -2011, "Unknown order sent.");
    if (!isOpen(order)) throw new BinanceError(-2011, "Unknown order sent.");
    return orderShape(await this.cancelWorking(order), "cancel");
  }

  /** DELETE /fapi/v1/allOpenOrders: cancels the symbol's open regular (and triggered) orders. */
  async cancelAllOpenOrders(p: Params): Promise<Record<string, unknown>> {
    const symbol = this.symbolParam(p);
    for (const order of this.orders.filter((o) => o.symbol === symbol && isOpen(o)))
      await this.cancelWorking(order);
    return { code: 200, msg: DONE };
  }

  /** DELETE /fapi/v1/algoOrder by algoId or clientAlgoId: ALGO_UPDATE CANCELED. @throws BinanceError -2011. */
  async cancelAlgoOrder(p: Params): Promise<Record<string, unknown>> {
    const algo = this.findAlgo(p, -2011, "Unknown order sent.");
    if (algo.algoStatus !== "NEW") throw new BinanceError(-2011, "Unknown order sent.");
    await this.cancelAlgo(algo);
    return { algoId: algo.algoId, clientAlgoId: algo.clientAlgoId, code: "200", msg: "success" };
  }

  /** DELETE /fapi/v1/algoOpenOrders: cancels the symbol's untriggered algo orders. */
  async cancelAllAlgoOpenOrders(p: Params): Promise<Record<string, unknown>> {
    const symbol = this.symbolParam(p);
    for (const algo of this.algos.filter((a) => a.symbol === symbol && a.algoStatus === "NEW"))
      await this.cancelAlgo(algo);
    return { code: 200, msg: DONE };
  }

  /** GET /fapi/v1/order by orderId or origClientOrderId (the latest with it). @throws BinanceError -2013. */
  getOrder(p: Params): Record<string, unknown> {
    const symbol = this.symbolParam(p);
    return orderShape(this.findOrder(p, symbol, -2013, "Order does not exist."));
  }

  /** GET /fapi/v1/openOrders (one symbol, or all). */
  openOrders(p: Params): Record<string, unknown>[] {
    const symbol = p.raw("symbol") === undefined ? undefined : this.symbolParam(p);
    return this.orders
      .filter((o) => isOpen(o) && (symbol === undefined || o.symbol === symbol))
      .map((o) => orderShape(o));
  }

  /** GET /fapi/v1/allOrders: the symbol's orders from `orderId`, or in [startTime, endTime], else the latest. */
  allOrders(p: Params): Record<string, unknown>[] {
    const symbol = this.symbolParam(p);
    const from = p.integer("orderId");
    const list = this.orders.filter((o) => o.symbol === symbol && (from === undefined || o.orderId >= from));
    return historyWindow(list, p, (o) => o.time, limitOf(p, 500, 1000), from !== undefined).map((o) =>
      orderShape(o),
    );
  }

  /** GET /fapi/v1/algoOrder by algoId or clientAlgoId. @throws BinanceError -2013. */
  getAlgoOrder(p: Params): Record<string, unknown> {
    return this.algoAnswer(this.findAlgo(p, -2013, "Order does not exist."), true);
  }

  /** GET /fapi/v1/openAlgoOrders: algo orders not yet triggered (NEW, TRIGGERING). */
  openAlgoOrders(p: Params): Record<string, unknown>[] {
    const symbol = p.raw("symbol") === undefined ? undefined : this.symbolParam(p);
    return this.algos
      .filter(
        (a) => (a.algoStatus === "NEW" || a.algoStatus === "TRIGGERING") && (!symbol || a.symbol === symbol),
      )
      .map((a) => this.algoAnswer(a, true));
  }

  /** GET /fapi/v1/allAlgoOrders: the symbol's algo orders from `algoId`, or in [startTime, endTime]. */
  allAlgoOrders(p: Params): Record<string, unknown>[] {
    const symbol = this.symbolParam(p);
    const from = p.integer("algoId");
    const list = this.algos.filter((a) => a.symbol === symbol && (from === undefined || a.algoId >= from));
    return historyWindow(list, p, (a) => a.createTime, limitOf(p, 500, 1000), from !== undefined).map((a) =>
      this.algoAnswer(a, true),
    );
  }

  // ── account ───────────────────────────────────────────────────────────────────────────────────────────

  /** GET /fapi/v1/userTrades: the symbol's fills from `fromId`, or in [startTime, endTime], else the latest. */
  userTrades(p: Params): TradeRecord[] {
    const symbol = this.symbolParam(p);
    const from = p.integer("fromId");
    const list = this.ledger.trades.filter(
      (t) => t.symbol === symbol && (from === undefined || t.id >= from),
    );
    return historyWindow(list, p, (t) => t.time, limitOf(p, 500, 1000), from !== undefined).map((t) => ({
      ...t,
    }));
  }

  /** GET /fapi/v1/income: REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR entries, filtered. */
  income(p: Params): IncomeRecord[] {
    const symbol = p.raw("symbol") === undefined ? undefined : this.symbolParam(p);
    const type = p.oneOf<IncomeType>(
      "incomeType",
      ["REALIZED_PNL", "COMMISSION", "FUNDING_FEE", "INSURANCE_CLEAR"],
      -1130,
      "Data sent for parameter 'incomeType' is not valid.",
    );
    const list = this.ledger.incomes.filter(
      (i) => (symbol === undefined || i.symbol === symbol) && (type === undefined || i.incomeType === type),
    );
    return historyWindow(list, p, (i) => i.time, limitOf(p, 100, 1000), false).map((i) => ({ ...i }));
  }

  /** GET /fapi/v3/positionRisk: the open positions (of `symbol`), with their margin numbers at the mark. */
  positionRisk(p: Params): Record<string, unknown>[] {
    const symbol = p.raw("symbol") === undefined ? undefined : this.symbolParam(p);
    const withOrders = new Map<string, [string, PositionSide]>();
    for (const o of [...this.orders.filter(isOpen), ...this.algos.filter((a) => a.algoStatus === "NEW")])
      withOrders.set(`${o.symbol}:${o.positionSide}`, [o.symbol, o.positionSide]);
    return positionRiskBody(this.accountInputs(), [...withOrders.values()], symbol);
  }

  /** GET /fapi/v3/account: the USDT asset, the account totals and the open positions. */
  account(): Record<string, unknown> {
    return accountBody(this.accountInputs());
  }

  /** GET /fapi/v3/balance: the USDT balance. */
  balance(): Record<string, unknown>[] {
    return balanceBody(this.accountInputs());
  }

  /** GET /fapi/v1/commissionRate. */
  commissionRate(p: Params): Record<string, unknown> {
    const symbol = this.symbolParam(p);
    return { symbol, makerCommissionRate: this.rates.makerRate, takerCommissionRate: this.rates.takerRate };
  }

  /**
   * POST /fapi/v1/leverage: -4028 outside 1…the first bracket's initialLeverage; -4161 lowering an isolated
   * position's leverage; -2027 when the position's notional exceeds the new leverage's cap. ACCOUNT_CONFIG_UPDATE.
   */
  async setLeverage(p: Params): Promise<Record<string, unknown>> {
    const symbol = this.symbolParam(p);
    const raw = p.required("leverage");
    const leverage = Number(raw);
    const brackets = this.bracketCatalog.get(symbol).brackets;
    if (!/^[0-9]{1,3}$/.test(raw) || leverage < 1 || leverage > brackets[0]!.initialLeverage)
      throw new BinanceError(-4028, `Leverage ${raw} is not valid`);
    const current = this.ledger.settingsOf(symbol);
    const positions = this.ledger.positionsOf(symbol);
    if (positions.length > 0) {
      if (current.marginType === "ISOLATED" && leverage < current.leverage)
        throw new BinanceError(
          -4161,
          "Leverage reduction is not supported in Isolated Margin Mode with open positions.",
        );
      const cap = new Dec(maxNotionalFor(brackets, leverage));
      const mark = this.markOf(symbol) ?? "0";
      for (const q of positions)
        if (new Dec(q.positionAmt).abs().times(mark).gt(cap))
          throw new BinanceError(-2027, "Exceeded the maximum allowable position at current leverage.");
    }
    this.ledger.configure(symbol, { ...current, leverage });
    this.queue(accountConfigUpdate({ E: this.now, T: this.now }, symbol, leverage));
    return { leverage, maxNotionalValue: maxNotionalFor(brackets, leverage), symbol };
  }

  /** POST /fapi/v1/marginType: -4046 unchanged, -4047 open orders, -4048 a position; ACCOUNT_UPDATE. */
  async setMarginType(p: Params): Promise<Record<string, unknown>> {
    const symbol = this.symbolParam(p);
    const wanted = p.raw("marginType")?.toUpperCase();
    if (wanted === undefined) throw mandatory("marginType");
    if (wanted !== "ISOLATED" && wanted !== "CROSSED")
      throw new BinanceError(-1130, "Data sent for parameter 'marginType' is not valid.");
    const current = this.ledger.settingsOf(symbol);
    if (current.marginType === wanted) throw new BinanceError(-4046, "No need to change margin type.");
    if (this.hasOpenOrders(symbol))
      throw new BinanceError(-4047, "Margin type cannot be changed if there exists open orders.");
    if (this.ledger.positionsOf(symbol).length > 0)
      throw new BinanceError(-4048, "Margin type cannot be changed if there exists position.");
    this.ledger.configure(symbol, { ...current, marginType: wanted });
    const sides: PositionSide[] = this.dualSidePosition ? ["LONG", "SHORT"] : ["BOTH"];
    this.queue(
      accountUpdate(
        "MARGIN_TYPE_CHANGE",
        { E: this.now, T: this.now },
        this.ledger.balance("0"),
        sides.map((side) => this.positionRow(symbol, side)),
      ),
    );
    return { code: 200, msg: "success" };
  }

  /** GET /fapi/v1/positionSide/dual. */
  positionMode(): { dualSidePosition: boolean } {
    return { dualSidePosition: this.dualSidePosition };
  }

  /** GET /fapi/v1/feeBurn. */
  feeBurnStatus(): { feeBurn: boolean } {
    return { feeBurn: this.feeBurn };
  }

  /** POST /fapi/v1/feeBurn: `feeBurn` "true"/"false" (binance-usdm.md §4.3; all symbols). */
  setFeeBurn(p: Params): { code: number; msg: string } {
    const feeBurn = p.boolean("feeBurn");
    if (feeBurn === undefined) throw mandatory("feeBurn");
    this.feeBurn = feeBurn;
    return { code: 200, msg: "success" };
  }

  /** POST /fapi/v1/positionSide/dual: -4059 unchanged, -4067 open orders, -4068 a position (§4.1). */
  async setPositionMode(p: Params): Promise<Record<string, unknown>> {
    const dual = p.boolean("dualSidePosition");
    if (dual === undefined) throw mandatory("dualSidePosition");
    if (dual === this.dualSidePosition) throw new BinanceError(-4059, "No need to change position side.");
    if (this.orders.some(isOpen) || this.algos.some((a) => a.algoStatus === "NEW"))
      throw new BinanceError(-4067, "Position side cannot be changed if there exists open orders.");
    if (this.ledger.hasPositions())
      throw new BinanceError(-4068, "Position side cannot be changed if there exists position.");
    const state = this.venue.snapshot();
    const positions = Object.fromEntries(
      Object.entries(state.positions).filter(([, v]) => !new Dec(v).isZero()),
    );
    this.venue = this.makeVenue(dual, { ...state, positions });
    this.dualSidePosition = dual;
    return { code: 200, msg: "success" };
  }

  /** GET /fapi/v1/leverageBracket: the symbol's brackets (an object), or every traded symbol's (an array). */
  leverageBracket(p: Params): unknown {
    const shape = (symbol: string) => ({
      symbol,
      brackets: this.bracketCatalog.get(symbol).brackets.map((b) => ({
        bracket: b.bracket,
        initialLeverage: b.initialLeverage,
        notionalCap: Number(b.notionalCap),
        notionalFloor: Number(b.notionalFloor),
        maintMarginRatio: Number(b.maintMarginRatio),
        cum: Number(b.cum),
      })),
    });
    if (p.raw("symbol") !== undefined) return shape(this.symbolParam(p));
    return [...this.symbols].map(shape);
  }

  /** The account ledger (wallet, positions, settings), for audits and tests. */
  context(): AccountContext {
    return this.ledger.context();
  }

  // ── venue reports → ledger, records, user events ──────────────────────────────────────────────────────

  private async onReport(report: VenueReport): Promise<void> {
    switch (report.kind) {
      case "fill":
        this.onFill(report);
        break;
      case "triggering": {
        const algo = this.workingOf(report.clientOrderId).algo!;
        algo.algoStatus = "TRIGGERING";
        algo.triggerTime = report.time;
        algo.updateTime = report.time;
        this.queue(algoUpdate(algo, this.at(report.time)));
        break;
      }
      case "triggered":
        this.onTriggered(report);
        break;
      case "rejected": {
        const algo = this.workingOf(report.clientOrderId).algo!;
        algo.algoStatus = "REJECTED";
        algo.rejectReason = report.reason;
        algo.updateTime = report.time;
        this.working.delete(report.clientOrderId);
        this.queue(algoUpdate(algo, this.at(report.time)));
        break;
      }
      case "expired":
        this.onExpired(report);
        break;
      case "funding":
        this.onFundingReport(report);
        break;
      case "liquidation":
        this.onLiquidation(report);
        break;
    }
    await this.delivered();
  }

  private onFill(report: Extract<VenueReport, { kind: "fill" }>): void {
    const f = report.fill;
    const entry = this.workingOf(f.clientOrderId);
    const order = entry.order;
    if (!order) throw new Error(`SimExchange: fill of ${f.clientOrderId}, which has no working order`);
    order.executedQty = f.cumulativeQuantity;
    order.cumQuote = canonical(new Dec(order.cumQuote).plus(new Dec(f.price).times(f.quantity)));
    order.status = f.status;
    order.updateTime = report.time;
    const fill = this.ledger.bookFill(order, f, f.maker, report.time);
    if (f.status === "FILLED") this.working.delete(f.clientOrderId);
    this.queue(
      accountUpdate("ORDER", this.at(report.time), this.ledger.balance("0"), [
        this.positionRow(order.symbol, order.positionSide),
      ]),
    );
    this.queue(this.otu(order, "TRADE", report.time, fill));
    if (entry.algo && f.status === "FILLED") this.finishAlgo(entry.algo, order, report.time);
  }

  private onTriggered(report: Extract<VenueReport, { kind: "triggered" }>): void {
    const entry = this.workingOf(report.clientOrderId);
    const algo = entry.algo!;
    const child: OrderRecord = {
      ...this.orderFields(algo, report.time),
      type: report.actualType,
      origType: algo.orderType,
      origQty: algo.closePosition ? this.positionSize(algo.symbol, algo.positionSide) : algo.quantity,
      price: report.actualType === "LIMIT" ? algo.price : "0",
      stopPrice: algo.triggerPrice,
      timeInForce: algo.timeInForce,
      algoId: algo.algoId,
    };
    this.orders.push(child);
    entry.order = child;
    algo.algoStatus = "TRIGGERED";
    algo.actualOrderId = String(child.orderId);
    algo.updateTime = report.time;
    this.queue(algoUpdate(algo, this.at(report.time), child));
    this.queue(this.otu(child, "NEW", report.time));
  }

  private onExpired(report: Extract<VenueReport, { kind: "expired" }>): void {
    const entry = this.workingOf(report.clientOrderId);
    this.working.delete(report.clientOrderId);
    const { order, algo } = entry;
    if (order) {
      const stp = report.expiryReason === 1 || report.expiryReason === 3;
      order.status = stp ? "EXPIRED_IN_MATCH" : "EXPIRED";
      order.updateTime = report.time;
      this.queue(this.otu(order, "EXPIRED", report.time, undefined, report.expiryReason));
      if (algo) this.finishAlgo(algo, order, report.time);
      return;
    }
    algo!.algoStatus = "EXPIRED";
    algo!.updateTime = report.time;
    this.queue(algoUpdate(algo!, this.at(report.time)));
  }

  private onFundingReport(report: Extract<VenueReport, { kind: "funding" }>): void {
    this.ledger.bookFunding(report.funding, report.time);
    const { symbol, positionSide = "BOTH", fundingFee } = report.funding;
    const isolated = this.ledger.settingsOf(symbol).marginType === "ISOLATED";
    this.queue(
      accountUpdate(
        "FUNDING_FEE",
        this.at(report.time),
        this.ledger.balance(fundingFee),
        isolated ? [this.positionRow(symbol, positionSide)] : [],
      ),
    );
  }

  private onLiquidation(report: Extract<VenueReport, { kind: "liquidation" }>): void {
    const l = report.liquidation;
    const qty = canonical(new Dec(l.positionAmt).abs());
    const order: OrderRecord = {
      orderId: ++this.orderSeq,
      clientOrderId: l.clientOrderId,
      symbol: l.symbol,
      side: new Dec(l.positionAmt).isPositive() ? "SELL" : "BUY",
      positionSide: l.positionSide,
      type: "LIQUIDATION",
      origType: "LIQUIDATION",
      origQty: qty,
      price: l.price,
      stopPrice: "0",
      timeInForce: "IOC",
      reduceOnly: l.positionSide === "BOTH",
      closePosition: false,
      workingType: "CONTRACT_PRICE",
      priceProtect: false,
      selfTradePreventionMode: "NONE",
      goodTillDate: 0,
      status: "NEW",
      executedQty: "0",
      cumQuote: "0",
      time: report.time,
      updateTime: report.time,
    };
    this.orders.push(order);
    this.queue(this.otu(order, "NEW", report.time));
    order.status = "FILLED";
    order.executedQty = qty;
    order.cumQuote = canonical(new Dec(qty).times(l.price));
    const fill = this.ledger.bookLiquidation(order, l, report.time);
    this.queue(
      accountUpdate("ORDER", this.at(report.time), this.ledger.balance("0"), [
        this.positionRow(l.symbol, l.positionSide),
      ]),
    );
    this.queue(this.otu(order, "CALCULATED", report.time, fill));
  }

  private finishAlgo(algo: AlgoRecord, child: OrderRecord, time: number): void {
    algo.algoStatus = "FINISHED";
    algo.updateTime = time;
    this.queue(algoUpdate(algo, this.at(time), child));
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────────────────

  private makeVenue(dualSidePosition: boolean, state?: MatchingState): SimulatedVenue {
    const venue = new SimulatedVenue({
      ...this.rates,
      instrument: (symbol) => this.instruments.get(symbol),
      dualSidePosition,
      margin: {
        account: () => this.ledger.view(),
        brackets: (symbol) => this.bracketCatalog.get(symbol).brackets,
      },
    });
    if (state) venue.restore(state);
    return venue;
  }

  private async submit(request: OrderRequest): Promise<void> {
    if (this.working.has(request.clientOrderId))
      throw new BinanceError(-4116, "ClientOrderId is duplicated.");
    const result = await this.venue.submit(request);
    if (!result.accepted) throw new BinanceError(result.code, result.reason);
  }
  /**
   * A trailing stop's activatePrice and callbackRate: the venue's effective activatePrice (the latest price at
   * placement when none was sent, binance-usdm.md §2.3); nothing for the other types.
   */
  private trailing(request: OrderRequest): { activatePrice?: string; callbackRate?: string } {
    if (request.type !== "TRAILING_STOP_MARKET") return {};
    const working = this.venue
      .snapshot()
      .orders.find((o) => o.request.clientOrderId === request.clientOrderId);
    const activatePrice = working?.activatePrice ?? request.activatePrice;
    return {
      ...(activatePrice === undefined ? {} : { activatePrice }),
      ...(request.callbackRate === undefined ? {} : { callbackRate: request.callbackRate }),
    };
  }

  private newOrderRecord(r: OrderRequest, extra: Partial<OrderRecord>): OrderRecord {
    const order: OrderRecord = {
      orderId: ++this.orderSeq,
      clientOrderId: r.clientOrderId,
      symbol: r.symbol,
      side: r.side,
      positionSide: r.positionSide,
      type: r.type as "LIMIT" | "MARKET",
      origType: r.type,
      origQty: r.quantity ?? "0",
      price: r.price ?? "0",
      stopPrice: "0",
      timeInForce: r.timeInForce ?? "GTC",
      reduceOnly: r.reduceOnly,
      closePosition: false,
      workingType: "CONTRACT_PRICE",
      priceProtect: false,
      selfTradePreventionMode: r.selfTradePreventionMode ?? "NONE",
      goodTillDate: r.goodTillDate ?? 0,
      status: "NEW",
      executedQty: "0",
      cumQuote: "0",
      time: this.now,
      updateTime: this.now,
      ...extra,
    };
    this.orders.push(order);
    return order;
  }

  /** The fields a triggered child takes from its algo order. */
  private orderFields(a: AlgoRecord, time: number) {
    return {
      orderId: ++this.orderSeq,
      clientOrderId: a.clientAlgoId,
      symbol: a.symbol,
      side: a.side,
      positionSide: a.positionSide,
      reduceOnly: a.reduceOnly,
      closePosition: a.closePosition,
      workingType: a.workingType,
      priceProtect: a.priceProtect,
      selfTradePreventionMode: a.selfTradePreventionMode,
      goodTillDate: a.goodTillDate,
      ...(a.activatePrice === undefined ? {} : { activatePrice: a.activatePrice }),
      ...(a.callbackRate === undefined ? {} : { priceRate: a.callbackRate }),
      status: "NEW" as OrderStatus,
      executedQty: "0",
      cumQuote: "0",
      time,
      updateTime: time,
    };
  }

  private async cancelWorking(order: OrderRecord): Promise<OrderRecord> {
    const result = await this.venue.cancel(order.symbol, order.clientOrderId);
    if (!result.canceled) throw new BinanceError(-2011, "Unknown order sent.");
    const entry = this.working.get(order.clientOrderId);
    this.working.delete(order.clientOrderId);
    order.status = "CANCELED";
    order.updateTime = this.now;
    this.queue(this.otu(order, "CANCELED", this.now));
    if (entry?.algo) this.finishAlgo(entry.algo, order, this.now);
    return order;
  }

  private async cancelAlgo(algo: AlgoRecord): Promise<void> {
    const result = await this.venue.cancel(algo.symbol, algo.clientAlgoId);
    if (!result.canceled) throw new BinanceError(-2011, "Unknown order sent.");
    this.working.delete(algo.clientAlgoId);
    algo.algoStatus = "CANCELED";
    algo.updateTime = this.now;
    this.queue(algoUpdate(algo, { E: this.now, T: this.now }));
  }

  private findOrder(p: Params, symbol: string, code: number, msg: string): OrderRecord {
    const orderId = p.integer("orderId");
    const clientId = p.raw("origClientOrderId");
    if (orderId === undefined && clientId === undefined) throw mandatory("orderId");
    const found =
      orderId !== undefined
        ? this.orders.find((o) => o.orderId === orderId && o.symbol === symbol)
        : this.orders.findLast((o) => o.clientOrderId === clientId && o.symbol === symbol);
    if (!found) throw new BinanceError(code, msg);
    return found;
  }

  private findAlgo(p: Params, code: number, msg: string): AlgoRecord {
    const algoId = p.integer("algoId");
    const clientId = p.raw("clientAlgoId");
    if (algoId === undefined && clientId === undefined) throw mandatory("algoId");
    const found =
      algoId !== undefined
        ? this.algos.find((a) => a.algoId === algoId)
        : this.algos.findLast((a) => a.clientAlgoId === clientId);
    if (!found) throw new BinanceError(code, msg);
    return found;
  }

  private algoAnswer(a: AlgoRecord, query: boolean): Record<string, unknown> {
    const child =
      a.actualOrderId === "" ? undefined : this.orders.find((o) => o.orderId === Number(a.actualOrderId));
    const shape = algoShape(a, child ? avgPrice(child) : "0");
    if (!query)
      for (const k of [
        "actualOrderId",
        "actualPrice",
        "tpTriggerPrice",
        "tpPrice",
        "slTriggerPrice",
        "slPrice",
        "tpOrderType",
      ])
        delete shape[k];
    return shape;
  }

  private symbolParam(p: Params): string {
    const symbol = p.required("symbol");
    if (!this.symbols.has(symbol)) throw new BinanceError(-1121, "Invalid symbol.");
    return symbol;
  }

  private tradedSymbol(symbol: string): void {
    if (!this.symbols.has(symbol))
      throw new Error(`SimExchange: ${symbol} is not a traded symbol of this double`);
  }

  private workingOf(clientOrderId: string): Working {
    const entry = this.working.get(clientOrderId);
    if (!entry) throw new Error(`SimExchange: venue report for ${clientOrderId}, which is not working`);
    return entry;
  }

  private hasOpenOrders(symbol: string): boolean {
    return (
      this.orders.some((o) => o.symbol === symbol && isOpen(o)) ||
      this.algos.some((a) => a.symbol === symbol && a.algoStatus === "NEW")
    );
  }

  /** |positionAmt| of a position side ("0" when flat): a triggered closePosition order's quantity. */
  private positionSize(symbol: string, side: PositionSide): string {
    const p = this.ledger.context().positions[positionKey(symbol, side)];
    return p ? canonical(new Dec(p.positionAmt).abs()) : "0";
  }

  private markOf(symbol: string): string | undefined {
    return markOf(this.venue.snapshot(), symbol);
  }

  private positionRow(symbol: string, side: PositionSide): WirePosition {
    return this.ledger.position(symbol, side, this.markOf(symbol));
  }

  private brackets(symbol: string) {
    return this.bracketCatalog.get(symbol).brackets;
  }

  private accountInputs(): AccountInputs {
    return {
      ledger: this.ledger,
      state: this.venue.snapshot(),
      brackets: (symbol) => this.brackets(symbol),
      book: (symbol, side) => this.bookNotional(symbol, side),
    };
  }

  private at(time: number): { E: number; T: number } {
    return { E: Math.max(this.now, time), T: time };
  }

  private otu(
    order: OrderRecord,
    x: ExecutionType,
    time: number,
    fill?: WireFill,
    er?: number,
  ): Record<string, unknown> {
    return orderTradeUpdate(order, x, this.at(time), this.bookNotional(order.symbol), fill, er);
  }

  /** Σ price × open quantity of the symbol's open LIMIT orders per side (ORDER_TRADE_UPDATE `b`, `a`). */
  private bookNotional(symbol: string, positionSide?: PositionSide): { bids: string; asks: string } {
    let bids = new Dec(0);
    let asks = new Dec(0);
    for (const o of this.orders) {
      if (o.symbol !== symbol || !isOpen(o) || o.type !== "LIMIT") continue;
      if (positionSide !== undefined && o.positionSide !== positionSide) continue;
      const value = new Dec(o.price).times(new Dec(o.origQty).minus(o.executedQty));
      if (o.side === "BUY") bids = bids.plus(value);
      else asks = asks.plus(value);
    }
    return { bids: canonical(bids), asks: canonical(asks) };
  }

  /** Queues a user event after those already queued (a listener's failure is kept for `delivered`). */
  private queue(message: UserEvent): void {
    const listener = this.listener;
    this.chain = this.chain
      .then(() => listener?.(message))
      .catch((error: unknown) => {
        this.listenerError ??= error;
      });
  }

  /** Waits until every queued event was delivered. @throws the listener's first failure since the last call. */
  private async delivered(): Promise<void> {
    await this.chain;
    const error = this.listenerError;
    this.listenerError = undefined;
    if (error !== undefined) throw error;
  }
}
