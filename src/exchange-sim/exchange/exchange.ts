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
import { createActor } from "xstate";
import {
  DEFAULT_SYMBOL_SETTINGS,
  decideFillBooking,
  decideFundingBooking,
  marginedPositions,
} from "../../actors/account.decide.ts";
import {
  type AccountContext,
  accountMachine,
  positionKey,
  type SymbolSettings,
} from "../../actors/account.machine.ts";
import type { VenueAccountView } from "../../adapters/venue/simulated/liquidation.ts";
import { available, restingOrders } from "../../adapters/venue/simulated/margin-check.ts";
import type { MatchingState } from "../../adapters/venue/simulated/matching.ts";
import {
  SimulatedVenue,
  type VenueBar,
  type VenueFundingSettlement,
  type VenueMarkBar,
} from "../../adapters/venue/simulated/venue.ts";
import { unrealizedPnl } from "../../domain/accounting.ts";
import { canonical, Dec } from "../../domain/decimal.ts";
import type { InstrumentCatalog } from "../../domain/instruments.catalog.ts";
import { accountRisk, crossWalletBalance } from "../../domain/margin/account-risk.ts";
import type { LeverageBracketCatalog } from "../../domain/margin/brackets.catalog.ts";
import { maxNotionalFor } from "../../domain/margin/brackets.ts";
import { openOrderInitialMargin } from "../../domain/margin/margin.ts";
import type { OrderRequest, VenueReport } from "../../engine/venue.ts";
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

const CONDITIONAL_TYPES = [
  "STOP",
  "STOP_MARKET",
  "TAKE_PROFIT",
  "TAKE_PROFIT_MARKET",
  "TRAILING_STOP_MARKET",
] as const;
const TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX", "GTD"] as const;
const STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"] as const;
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
  private readonly ledger = createActor(accountMachine);
  private readonly settings: Record<string, SymbolSettings> = {};
  private readonly orders: OrderRecord[] = [];
  private readonly algos: AlgoRecord[] = [];
  /** Working orders by the venue's key (clientOrderId; a triggered algo order keeps its clientAlgoId). */
  private readonly working = new Map<string, Working>();
  private readonly trades: TradeRecord[] = [];
  private readonly incomes: IncomeRecord[] = [];
  /** Accumulated realized PnL (pre-fee) per position key: ACCOUNT_UPDATE `cr`. */
  private readonly accumulated = new Map<string, string>();
  private orderSeq = 0;
  private algoSeq = 1_000_000_000;
  private tradeSeq = 0;
  private tranSeq = 0;
  private updateTime = 0;
  private view?: { context: AccountContext; settings: number; view: VenueAccountView };
  private settingsVersion = 0;
  private listener?: UserEventListener;
  private chain: Promise<void> = Promise.resolve();
  private listenerError: unknown;

  /** @throws Error when a symbol is not in the instruments or the brackets, or the balance is not a decimal. */
  constructor(options: SimExchangeOptions) {
    this.instruments = options.instruments;
    this.bracketCatalog = options.brackets;
    this.symbols = new Set(options.symbols);
    this.rates = {
      takerRate: options.takerRate ?? SIM_EXCHANGE_DEFAULTS.takerRate,
      makerRate: options.makerRate ?? SIM_EXCHANGE_DEFAULTS.makerRate,
      slippage: options.slippage ?? SIM_EXCHANGE_DEFAULTS.slippage,
    };
    for (const symbol of options.symbols) {
      this.instruments.get(symbol);
      const max = this.bracketCatalog.get(symbol).brackets[0]!.initialLeverage;
      this.settings[symbol] = {
        leverage: Math.min(DEFAULT_SYMBOL_SETTINGS.leverage, max),
        marginType: DEFAULT_SYMBOL_SETTINGS.marginType,
      };
    }
    this.ledger.start();
    this.ledger.send({
      type: "AccountOpened",
      data: { accountId: "sim", asset: "USDT", walletBalance: canonical(new Dec(options.walletBalance)) },
    });
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
    const request = this.orderRequest(
      p,
      symbol,
      type,
      p.raw("newClientOrderId") ?? `sim-o${this.orderSeq + 1}`,
    );
    await this.submit(request);
    const order = this.newOrderRecord(request, {});
    this.working.set(request.clientOrderId, { order });
    this.queue(this.otu(order, "NEW", this.now));
    return orderShape(order);
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
    const request = this.orderRequest(p, symbol, type as ConditionalType, clientAlgoId);
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
      ...(request.activatePrice === undefined ? {} : { activatePrice: request.activatePrice }),
      ...(request.callbackRate === undefined ? {} : { callbackRate: request.callbackRate }),
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
    return orderShape(await this.cancelWorking(order));
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
      .map(orderShape);
  }

  /** GET /fapi/v1/allOrders: the symbol's orders from `orderId`, or in [startTime, endTime], else the latest. */
  allOrders(p: Params): Record<string, unknown>[] {
    const symbol = this.symbolParam(p);
    const from = p.integer("orderId");
    const list = this.orders.filter((o) => o.symbol === symbol && (from === undefined || o.orderId >= from));
    return window(list, p, (o) => o.time, limitOf(p, 500, 1000), from !== undefined).map(orderShape);
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
    return window(list, p, (a) => a.createTime, limitOf(p, 500, 1000), from !== undefined).map((a) =>
      this.algoAnswer(a, true),
    );
  }

  // ── account ───────────────────────────────────────────────────────────────────────────────────────────

  /** GET /fapi/v1/userTrades: the symbol's fills from `fromId`, or in [startTime, endTime], else the latest. */
  userTrades(p: Params): TradeRecord[] {
    const symbol = this.symbolParam(p);
    const from = p.integer("fromId");
    const list = this.trades.filter((t) => t.symbol === symbol && (from === undefined || t.id >= from));
    return window(list, p, (t) => t.time, limitOf(p, 500, 1000), from !== undefined).map((t) => ({ ...t }));
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
    const list = this.incomes.filter(
      (i) => (symbol === undefined || i.symbol === symbol) && (type === undefined || i.incomeType === type),
    );
    return window(list, p, (i) => i.time, limitOf(p, 100, 1000), false).map((i) => ({ ...i }));
  }

  /** GET /fapi/v3/positionRisk: the open positions (of `symbol`), with their margin numbers at the mark. */
  positionRisk(p: Params): Record<string, unknown>[] {
    const symbol = p.raw("symbol") === undefined ? undefined : this.symbolParam(p);
    return this.positionViews()
      .filter((v) => symbol === undefined || v.symbol === symbol)
      .map((v) => ({
        symbol: v.symbol,
        positionSide: v.positionSide,
        positionAmt: v.positionAmt,
        entryPrice: v.entryPrice,
        breakEvenPrice: v.breakEvenPrice,
        markPrice: v.markPrice,
        unRealizedProfit: v.unrealizedPnl,
        liquidationPrice: v.liquidationPrice,
        isolatedMargin: v.isolatedMargin,
        notional: v.notional,
        marginAsset: "USDT",
        isolatedWallet: v.isolatedWallet,
        initialMargin: canonical(new Dec(v.positionInitialMargin).plus(v.openOrderInitialMargin)),
        maintMargin: v.maintMargin,
        positionInitialMargin: v.positionInitialMargin,
        openOrderInitialMargin: v.openOrderInitialMargin,
        adl: 0,
        bidNotional: v.bidNotional,
        askNotional: v.askNotional,
        updateTime: this.updateTime,
      }));
  }

  /** GET /fapi/v3/account: the USDT asset, the account totals and the open positions. */
  account(): Record<string, unknown> {
    const t = this.totals();
    const asset = {
      asset: "USDT",
      walletBalance: t.walletBalance,
      unrealizedProfit: t.unrealizedProfit,
      marginBalance: t.marginBalance,
      maintMargin: t.maintMargin,
      initialMargin: t.initialMargin,
      positionInitialMargin: t.positionInitialMargin,
      openOrderInitialMargin: t.openOrderInitialMargin,
      crossWalletBalance: t.crossWalletBalance,
      crossUnPnl: t.crossUnPnl,
      availableBalance: t.availableBalance,
      maxWithdrawAmount: t.availableBalance,
      updateTime: this.updateTime,
    };
    return {
      totalInitialMargin: t.initialMargin,
      totalMaintMargin: t.maintMargin,
      totalWalletBalance: t.walletBalance,
      totalUnrealizedProfit: t.unrealizedProfit,
      totalMarginBalance: t.marginBalance,
      totalPositionInitialMargin: t.positionInitialMargin,
      totalOpenOrderInitialMargin: t.openOrderInitialMargin,
      totalCrossWalletBalance: t.crossWalletBalance,
      totalCrossUnPnl: t.crossUnPnl,
      availableBalance: t.availableBalance,
      maxWithdrawAmount: t.availableBalance,
      assets: [asset],
      positions: t.views.map((v) => ({
        symbol: v.symbol,
        positionSide: v.positionSide,
        positionAmt: v.positionAmt,
        unrealizedProfit: v.unrealizedPnl,
        isolatedMargin: v.isolatedMargin,
        notional: v.notional,
        isolatedWallet: v.isolatedWallet,
        initialMargin: canonical(new Dec(v.positionInitialMargin).plus(v.openOrderInitialMargin)),
        maintMargin: v.maintMargin,
        updateTime: this.updateTime,
      })),
    };
  }

  /** GET /fapi/v3/balance: the USDT balance. */
  balance(): Record<string, unknown>[] {
    const t = this.totals();
    return [
      {
        accountAlias: "sim",
        asset: "USDT",
        balance: t.walletBalance,
        crossWalletBalance: t.crossWalletBalance,
        crossUnPnl: t.crossUnPnl,
        availableBalance: t.availableBalance,
        maxWithdrawAmount: t.availableBalance,
        marginAvailable: true,
        updateTime: this.updateTime,
      },
    ];
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
    const current = this.settings[symbol]!;
    const positions = this.symbolPositions(symbol);
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
    this.settings[symbol] = { ...current, leverage };
    this.settingsVersion++;
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
    const current = this.settings[symbol]!;
    if (current.marginType === wanted) throw new BinanceError(-4046, "No need to change margin type.");
    if (this.hasOpenOrders(symbol))
      throw new BinanceError(-4047, "Margin type cannot be changed if there exists open orders.");
    if (this.symbolPositions(symbol).length > 0)
      throw new BinanceError(-4048, "Margin type cannot be changed if there exists position.");
    this.settings[symbol] = { ...current, marginType: wanted };
    this.settingsVersion++;
    const sides: PositionSide[] = this.dualSidePosition ? ["LONG", "SHORT"] : ["BOTH"];
    this.queue(
      accountUpdate(
        "MARGIN_TYPE_CHANGE",
        { E: this.now, T: this.now },
        this.balanceRow("0"),
        sides.map((side) => this.positionRow(symbol, side)),
      ),
    );
    return { code: 200, msg: "success" };
  }

  /** GET /fapi/v1/positionSide/dual. */
  positionMode(): { dualSidePosition: boolean } {
    return { dualSidePosition: this.dualSidePosition };
  }

  /** POST /fapi/v1/positionSide/dual: -4059 unchanged, -4067 open orders, -4068 a position (§4.1). */
  async setPositionMode(p: Params): Promise<Record<string, unknown>> {
    const dual = p.boolean("dualSidePosition");
    if (dual === undefined) throw mandatory("dualSidePosition");
    if (dual === this.dualSidePosition) throw new BinanceError(-4059, "No need to change position side.");
    if (this.orders.some(isOpen) || this.algos.some((a) => a.algoStatus === "NEW"))
      throw new BinanceError(-4067, "Position side cannot be changed if there exists open orders.");
    if (Object.keys(this.context().positions).length > 0)
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
    return { ...this.ledger.getSnapshot().context, settings: { ...this.settings } };
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
    const booking = decideFillBooking(this.context(), f, order.positionSide);
    this.ledger.send({ type: "FillBooked", data: booking });
    order.executedQty = f.cumulativeQuantity;
    order.cumQuote = canonical(new Dec(order.cumQuote).plus(new Dec(f.price).times(f.quantity)));
    order.status = f.status;
    order.updateTime = report.time;
    const fill = this.bookTrade(order, report.time, {
      price: f.price,
      quantity: f.quantity,
      commission: f.commission,
      maker: f.maker,
      realizedPnl: booking.realizedPnl,
    });
    if (f.status === "FILLED") this.working.delete(f.clientOrderId);
    this.queue(
      accountUpdate("ORDER", this.at(report.time), this.balanceRow("0"), [
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
      origQty: algo.quantity,
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
    const booking = decideFundingBooking(this.context(), report.funding);
    this.ledger.send({ type: "FundingFeeBooked", data: booking });
    const { symbol, positionSide = "BOTH", fundingFee } = report.funding;
    this.addIncome(symbol, "FUNDING_FEE", fundingFee, report.time, "");
    this.updateTime = report.time;
    const isolated = this.settings[symbol]!.marginType === "ISOLATED";
    this.queue(
      accountUpdate(
        "FUNDING_FEE",
        this.at(report.time),
        this.balanceRow(fundingFee),
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
    this.ledger.send({ type: "PositionLiquidated", data: l });
    order.status = "FILLED";
    order.executedQty = qty;
    order.cumQuote = canonical(new Dec(qty).times(l.price));
    const fill = this.bookTrade(order, report.time, {
      price: l.price,
      quantity: qty,
      commission: "0",
      maker: false,
      realizedPnl: l.realizedPnl,
    });
    if (!new Dec(l.clearanceFee).isZero())
      this.addIncome(l.symbol, "INSURANCE_CLEAR", canonical(new Dec(l.clearanceFee).neg()), report.time, "");
    this.queue(
      accountUpdate("ORDER", this.at(report.time), this.balanceRow("0"), [
        this.positionRow(l.symbol, l.positionSide),
      ]),
    );
    this.queue(this.otu(order, "CALCULATED", report.time, fill));
  }

  /** Records a fill as a trade (and its income entries) and returns it in wire form. */
  private bookTrade(
    order: OrderRecord,
    time: number,
    f: { price: string; quantity: string; commission: string; maker: boolean; realizedPnl: string },
  ): WireFill {
    const id = ++this.tradeSeq;
    this.trades.push({
      symbol: order.symbol,
      id,
      orderId: order.orderId,
      side: order.side,
      price: f.price,
      qty: f.quantity,
      quoteQty: canonical(new Dec(f.price).times(f.quantity)),
      realizedPnl: f.realizedPnl,
      commission: f.commission,
      commissionAsset: "USDT",
      time,
      positionSide: order.positionSide,
      buyer: order.side === "BUY",
      maker: f.maker,
    });
    const key = positionKey(order.symbol, order.positionSide);
    this.accumulated.set(key, canonical(new Dec(this.accumulated.get(key) ?? "0").plus(f.realizedPnl)));
    if (!new Dec(f.realizedPnl).isZero())
      this.addIncome(order.symbol, "REALIZED_PNL", f.realizedPnl, time, String(id));
    if (!new Dec(f.commission).isZero())
      this.addIncome(order.symbol, "COMMISSION", canonical(new Dec(f.commission).neg()), time, String(id));
    this.updateTime = time;
    return { tradeId: id, time, ...f };
  }

  private addIncome(symbol: string, incomeType: IncomeType, income: string, time: number, tradeId: string) {
    this.incomes.push({
      symbol,
      incomeType,
      income,
      asset: "USDT",
      info: incomeType,
      time,
      tranId: ++this.tranSeq,
      tradeId,
    });
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
        account: () => this.accountView(),
        brackets: (symbol) => this.bracketCatalog.get(symbol).brackets,
      },
    });
    if (state) venue.restore(state);
    return venue;
  }

  /** The venue's view of the ledger, rebuilt only when the ledger or the settings changed. */
  private accountView(): VenueAccountView {
    const context = this.ledger.getSnapshot().context;
    if (this.view?.context !== context || this.view.settings !== this.settingsVersion) {
      const account = this.context();
      this.view = {
        context,
        settings: this.settingsVersion,
        view: {
          walletBalance: account.walletBalance,
          positions: marginedPositions(account),
          settings: account.settings,
        },
      };
    }
    return this.view.view;
  }

  private async submit(request: OrderRequest): Promise<void> {
    if (this.working.has(request.clientOrderId))
      throw new BinanceError(-4116, "ClientOrderId is duplicated.");
    const result = await this.venue.submit(request);
    if (!result.accepted) throw new BinanceError(result.code, result.reason);
  }

  /** The venue's OrderRequest of an order's parameters (Binance's names, §2.2 / §2.4). */
  private orderRequest(
    p: Params,
    symbol: string,
    type: OrderRequest["type"],
    clientOrderId: string,
  ): OrderRequest {
    const side = p.oneOf("side", ["BUY", "SELL"], -1117, "Invalid side.");
    if (side === undefined) throw mandatory("side");
    const positionSide =
      p.oneOf(
        "positionSide",
        ["BOTH", "LONG", "SHORT"],
        -4061,
        "Order's position side does not match user's setting.",
      ) ?? "BOTH";
    const priceMatch = p.raw("priceMatch");
    if (priceMatch !== undefined && priceMatch !== "NONE")
      throw new BinanceError(
        -1130,
        "Data sent for parameter 'priceMatch' is not valid (the double does not support priceMatch).",
      );
    const optional = {
      quantity: p.decimal("quantity"),
      price: p.decimal("price"),
      timeInForce: p.oneOf("timeInForce", TIME_IN_FORCE, -1115, "Invalid timeInForce."),
      goodTillDate: p.integer("goodTillDate"),
      triggerPrice: p.decimal("triggerPrice"),
      workingType: p.oneOf(
        "workingType",
        ["MARK_PRICE", "CONTRACT_PRICE"],
        -1130,
        "Data sent for parameter 'workingType' is not valid.",
      ),
      priceProtect: p.boolean("priceProtect"),
      closePosition: p.boolean("closePosition"),
      activatePrice: p.decimal("activatePrice"),
      callbackRate: p.decimal("callbackRate"),
      selfTradePreventionMode: p.oneOf(
        "selfTradePreventionMode",
        STP_MODES,
        -1130,
        "Data sent for parameter 'selfTradePreventionMode' is not valid.",
      ),
    };
    const request: Record<string, unknown> = {
      clientOrderId,
      symbol,
      side,
      type,
      purpose: "ENTRY",
      positionSide,
      reduceOnly: p.boolean("reduceOnly") ?? false,
    };
    for (const [k, v] of Object.entries(optional)) if (v !== undefined) request[k] = v;
    return request as unknown as OrderRequest;
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

  private symbolPositions(symbol: string) {
    return Object.entries(this.context().positions)
      .filter(([k]) => k === symbol || k.startsWith(`${symbol}:`))
      .map(([, q]) => q);
  }

  /** The symbol's mark: the venue's last mark price, else its last trade price; undefined before any bar. */
  private markOf(symbol: string): string | undefined {
    const s = this.venue.snapshot();
    return s.markPrice[symbol] ?? s.lastPrice[symbol];
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

  private balanceRow(balanceChange: string) {
    const account = this.context();
    return {
      walletBalance: account.walletBalance,
      crossWalletBalance: crossWalletBalance(account.walletBalance, marginedPositions(account)),
      balanceChange,
    };
  }

  /** breakEvenPrice: entry × (1 + takerRate) long, × (1 − takerRate) short, "0" flat (module comment). */
  private breakEven(positionAmt: string, entryPrice: string): string {
    const amt = new Dec(positionAmt);
    if (amt.isZero()) return "0";
    const factor = amt.isPositive()
      ? new Dec(1).plus(this.rates.takerRate)
      : new Dec(1).minus(this.rates.takerRate);
    return canonical(new Dec(entryPrice).times(factor));
  }

  private positionRow(symbol: string, side: PositionSide): WirePosition {
    const key = positionKey(symbol, side);
    const p = this.context().positions[key];
    const mark = this.markOf(symbol);
    const amt = p?.positionAmt ?? "0";
    const entry = p?.entryPrice ?? "0";
    return {
      symbol,
      positionSide: side,
      positionAmt: amt,
      entryPrice: entry,
      breakEvenPrice: this.breakEven(amt, entry),
      accumulatedRealized: this.accumulated.get(key) ?? "0",
      unrealizedPnl: p && mark ? unrealizedPnl(p, mark) : "0",
      marginType: this.settings[symbol]!.marginType,
      isolatedWallet: p?.isolatedWallet ?? "0",
    };
  }

  /** Every open position with its margin numbers at the mark (accountRisk) and its open orders' margin. */
  private positionViews() {
    const account = this.context();
    const positions = marginedPositions(account);
    const brackets = (s: string) => this.bracketCatalog.get(s).brackets;
    const state = this.venue.snapshot();
    const resting = restingOrders(state, (s) => state.lastPrice[s]);
    return accountRisk(account.walletBalance, positions, (s) => this.markOf(s), brackets).map((v) => {
      const orders = resting.get(positionKey(v.symbol, v.positionSide)) ?? [];
      const book = this.bookNotional(v.symbol, v.positionSide);
      return {
        symbol: v.symbol,
        positionSide: v.positionSide,
        positionAmt: v.positionAmt,
        entryPrice: v.entryPrice,
        breakEvenPrice: this.breakEven(v.positionAmt, v.entryPrice),
        markPrice: v.markPrice,
        unrealizedPnl: v.risk.unrealizedPnl,
        liquidationPrice: v.risk.liquidationPrice ?? "0",
        isolatedMargin: v.risk.isolatedMargin,
        notional: canonical(new Dec(v.positionAmt).times(v.markPrice)),
        isolatedWallet: v.isolatedWallet ?? "0",
        positionInitialMargin: v.risk.initialMargin,
        openOrderInitialMargin: openOrderInitialMargin(v.positionAmt, v.markPrice, orders, v.leverage),
        maintMargin: v.risk.maintMargin,
        marginType: v.marginType,
        bidNotional: book.bids,
        askNotional: book.asks,
      };
    });
  }

  /** The account totals of `account` / `balance` (USDT). */
  private totals() {
    const account = this.context();
    const views = this.positionViews();
    const sum = (
      pick: (v: (typeof views)[number]) => string,
      only?: (v: (typeof views)[number]) => boolean,
    ) => canonical(views.filter((v) => !only || only(v)).reduce((s, v) => s.plus(pick(v)), new Dec(0)));
    const cross = (v: (typeof views)[number]) => v.marginType === "CROSSED";
    const unrealizedProfit = sum((v) => v.unrealizedPnl);
    const positionInitialMargin = sum((v) => v.positionInitialMargin);
    const state = this.venue.snapshot();
    const resting = restingOrders(state, (s) => state.lastPrice[s]);
    let openOrderIm = new Dec(0);
    for (const [key, orders] of resting) {
      const [symbol, side = "BOTH"] = key.split(":") as [string, PositionSide | undefined];
      const mark = this.markOf(symbol);
      if (mark === undefined) continue;
      const amt = account.positions[positionKey(symbol, side)]?.positionAmt ?? "0";
      openOrderIm = openOrderIm.plus(
        openOrderInitialMargin(amt, mark, orders, this.settings[symbol]!.leverage),
      );
    }
    const openOrderInitialMargin_ = canonical(openOrderIm);
    const inputs = {
      account: this.accountView(),
      brackets: (s: string) => this.bracketCatalog.get(s).brackets,
    };
    return {
      views,
      walletBalance: account.walletBalance,
      unrealizedProfit,
      marginBalance: canonical(new Dec(account.walletBalance).plus(unrealizedProfit)),
      maintMargin: sum((v) => v.maintMargin),
      positionInitialMargin,
      openOrderInitialMargin: openOrderInitialMargin_,
      initialMargin: canonical(new Dec(positionInitialMargin).plus(openOrderInitialMargin_)),
      crossWalletBalance: crossWalletBalance(account.walletBalance, marginedPositions(account)),
      crossUnPnl: sum((v) => v.unrealizedPnl, cross),
      availableBalance: available(inputs, resting, (s) => this.markOf(s)),
    };
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

/**
 * A history window as Binance's history endpoints answer: with `startTime`/`endTime` (or `fromStart`, an id
 * lower bound) the first `limit` items from there, else the latest `limit` items. Items are in time order.
 */
function window<T>(list: T[], p: Params, time: (x: T) => number, limit: number, fromStart: boolean): T[] {
  const start = p.integer("startTime");
  const end = p.integer("endTime");
  if (start !== undefined && end !== undefined && end < start)
    throw new BinanceError(-1130, "Data sent for parameter 'endTime' is not valid.");
  const within = list.filter(
    (x) => (start === undefined || time(x) >= start) && (end === undefined || time(x) <= end),
  );
  return fromStart || start !== undefined ? within.slice(0, limit) : within.slice(-limit);
}
