/**
 * The user-data fold: a pure state machine from user-data messages (user-data.ts) to the engine's
 * `VenueReport`s, each fact once and in order, whatever the stream duplicated or reordered.
 *
 * Rules (binance-usdm.md §2.4, §3.1–§3.4):
 * - **Orders are ours when tracked** (`track`, at submit). A conditional order lives in the algo service under
 *   its clientAlgoId (= our clientOrderId); once triggered, its matching-engine order `ai` is linked to it, so
 *   that order's ORDER_TRADE_UPDATEs are ours whatever their `c` (NautilusTrader sees `c` = clientAlgoId; that is
 *   UNCONFIRMED, §8.6, and not relied on).
 * - **Fills** (`x` = TRADE): once per tradeId; in cumulative order — a fill whose `z` is not the quantity filled
 *   so far plus its `l` waits until the missing fill arrives. Commission must be in USDT (the engine books
 *   USDT); realized PnL and the position after are the engine's own accounting, not `rp`/ACCOUNT_UPDATE.
 * - **Status order**: NEW → PARTIALLY_FILLED → FILLED | CANCELED | EXPIRED[_IN_MATCH]; a message below the
 *   order's current step is a duplicate and dropped (a NEW after FILLED); a final status whose `z` is above the
 *   quantity filled so far waits for the missing fills. Algo: NEW → TRIGGERING → TRIGGERED → FINISHED |
 *   CANCELED | REJECTED | EXPIRED; TRIGGERED waits for TRIGGERING, FINISHED for TRIGGERED, and the triggered
 *   order's own messages wait for TRIGGERED.
 * - **Cancels**: our own cancel's CANCELED is the engine's record (OrderCanceled from the REST answer), so it is
 *   no report; a CANCELED we did not ask for (the app, the system) is reported as `expired`.
 * - **Liquidation**: orders `autoclose-…`, `adl_autoclose`, `settlement_autoclose-…` (§3.2) are the venue's; their
 *   fills (`x` = CALCULATED or TRADE) become one `liquidation` report when the order is FILLED and the account
 *   state around it arrived (ACCOUNT_UPDATEs are kept by transaction time `T`, so their order does not matter).
 * - **Funding**: ACCOUNT_UPDATE `m` = FUNDING_FEE gives the balance change only (and the position when
 *   isolated); the rate and mark price are not in the message, so the fold hands out `FundingNotice`s that the
 *   venue completes over REST (`income`, `fundingRate`).
 * Messages that wait are kept per order (`heldBack`); `release` lets a query (reconciliation) move past a gap.
 */
import { Dec } from "../../domain/decimal.ts";
import type { VenueFill, VenueReport } from "../../engine/venue.ts";
import {
  type AccountUpdate,
  type AlgoStatus,
  type AlgoUpdate,
  type OrderTradeUpdate,
  UserDataError,
  type UserDataMessage,
} from "./user-data.ts";

/** An order the engine sent: `algo` when it went to the Algo Order API (the five conditional types). */
export interface TrackedOrder {
  clientOrderId: string;
  symbol: string;
  algo: boolean;
  /** A conditional order that already triggered (adopted after a restart): its matching-engine order id. */
  triggeredOrderId?: string;
}

/** A funding payment seen on the stream, to be completed over REST (rate, mark, and the symbol when cross). */
export interface FundingNotice {
  /** Transaction time (ms): the settlement. */
  time: number;
  asset: string;
  /** Signed wallet change (`bc`). */
  fundingFee: string;
  /** The isolated position charged (cross funding names no position, §3.3). */
  position?: { symbol: string; positionSide: "BOTH" | "LONG" | "SHORT"; positionAmt: string };
}

/** What one message produced. */
export interface FoldResult {
  reports: VenueReport[];
  funding: FundingNotice[];
  /** The stream's listenKey expired (the SDK re-creates it; reconciliation must follow). */
  listenKeyExpired: boolean;
}

/** A position as ACCOUNT_UPDATE or positionRisk give it. */
export interface VenuePosition {
  symbol: string;
  positionSide: "BOTH" | "LONG" | "SHORT";
  positionAmt: string;
  entryPrice: string;
  marginType: "ISOLATED" | "CROSSED";
  isolatedWallet: string;
}

const ALGO_RANK: Record<AlgoStatus, number> = {
  NEW: 0,
  TRIGGERING: 1,
  TRIGGERED: 2,
  FINISHED: 3,
  CANCELED: 3,
  REJECTED: 3,
  EXPIRED: 3,
};
/** Account states kept per position and asset (a liquidation needs the one or two before it). */
const HISTORY = 32;
const LIQUIDATION_ID = /^(autoclose-|adl_autoclose|settlement_autoclose-)/;

interface OrderState extends TrackedOrder {
  /** Algo step reached (ALGO_RANK), −1 before any ALGO_UPDATE. */
  algoRank: number;
  triggeredOrderId?: string;
  filled: Dec;
  tradeIds: Set<string>;
  /** A final status of the matching-engine order was folded. */
  done: boolean;
  cancelRequested: boolean;
  heldOrders: OrderTradeUpdate[];
  heldAlgo: AlgoUpdate[];
}

interface LiquidationState {
  tradeIds: Set<string>;
  realizedPnl: Dec;
  done: boolean;
}

/** The fold; one per user-data stream (see the module docstring). Not re-entrant. */
export class UserDataFold {
  private readonly orders = new Map<string, OrderState>();
  /** Matching-engine order id → clientOrderId, for triggered algo orders. */
  private readonly byOrderId = new Map<string, string>();
  /** ORDER_TRADE_UPDATEs of orders not (yet) known, by orderId: a triggered order before its link, or foreign. */
  private readonly unlinked = new Map<string, OrderTradeUpdate[]>();
  private readonly liquidations = new Map<string, LiquidationState>();
  /** Each position's states by transaction time `T` (ACCOUNT_UPDATE; the seed at T 0), in T order. */
  private readonly positions = new Map<string, { T: number; p: VenuePosition }[]>();
  /** Each asset's wallet balance by transaction time. */
  private readonly wallets = new Map<string, { T: number; wb: string }[]>();
  /** Liquidation orders FILLED, waiting for the account state around them. */
  private pendingLiquidations: { message: OrderTradeUpdate; realizedPnl: Dec }[] = [];
  private readonly fundingSeen = new Set<string>();

  /**
   * Registers an order the engine sent (before sending it, so that no message of it can be missed). `progress`:
   * an order adopted after a restart, as far as the engine's log has it (its fills, its trigger), so that the
   * messages and queries that follow continue from there.
   */
  track(
    order: TrackedOrder,
    progress?: { filled: string; tradeIds: readonly string[]; triggering: boolean },
  ): void {
    if (this.orders.has(order.clientOrderId)) return;
    if (order.triggeredOrderId !== undefined) this.byOrderId.set(order.triggeredOrderId, order.clientOrderId);
    this.orders.set(order.clientOrderId, {
      ...order,
      algoRank: order.triggeredOrderId !== undefined ? 2 : progress?.triggering ? 1 : -1,
      filled: new Dec(progress?.filled ?? 0),
      tradeIds: new Set(progress?.tradeIds),
      done: false,
      cancelRequested: false,
      heldOrders: [],
      heldAlgo: [],
    });
  }

  /** A tracked order and its matching-engine order id once known (triggered algo orders). */
  tracked(clientOrderId: string): TrackedOrder | undefined {
    const o = this.orders.get(clientOrderId);
    if (!o) return undefined;
    const { symbol, algo, triggeredOrderId } = o;
    return { clientOrderId, symbol, algo, ...(triggeredOrderId === undefined ? {} : { triggeredOrderId }) };
  }

  /** Whether the order was tracked (sent or adopted). */
  isTracked(clientOrderId: string): boolean {
    return this.orders.has(clientOrderId);
  }

  /** Whether the order is tracked as a conditional (algo) order. */
  isAlgo(clientOrderId: string): boolean {
    return this.orders.get(clientOrderId)?.algo ?? false;
  }

  /** A tracked algo order's matching-engine order id once it triggered. */
  triggeredOrderId(clientOrderId: string): string | undefined {
    return this.orders.get(clientOrderId)?.triggeredOrderId;
  }

  /** Our cancel of the order is under way (`false`: it failed): its CANCELED is then no report. */
  setCancelRequested(clientOrderId: string, requested: boolean): void {
    const order = this.orders.get(clientOrderId);
    if (order) order.cancelRequested = requested;
  }

  /** Seeds positions and the USDT wallet from REST (positionRisk, balance) at start. */
  seed(positions: readonly VenuePosition[], wallets: Readonly<Record<string, string>> = {}): void {
    for (const p of positions) this.setPosition(p, 0);
    for (const [asset, balance] of Object.entries(wallets))
      addByTime(this.wallets, asset, { T: 0, wb: balance });
  }

  /** The position last seen (ACCOUNT_UPDATE or seed), if any. */
  position(symbol: string, positionSide: "BOTH" | "LONG" | "SHORT" = "BOTH"): VenuePosition | undefined {
    return this.positions.get(`${symbol}:${positionSide}`)?.at(-1)?.p;
  }

  /** Messages waiting for a missing step, per clientOrderId, and ORDER_TRADE_UPDATEs of unknown orders. */
  heldBack(): { orders: Record<string, number>; unlinkedOrderIds: string[]; liquidations: number } {
    const orders: Record<string, number> = {};
    for (const [id, o] of this.orders) {
      const n = o.heldOrders.length + o.heldAlgo.length;
      if (n > 0) orders[id] = n;
    }
    return {
      orders,
      unlinkedOrderIds: [...this.unlinked.keys()],
      liquidations: this.pendingLiquidations.length,
    };
  }

  /**
   * Folds one message.
   * @throws UserDataError for a message that contradicts what was folded (a fill below the filled quantity under
   *   a new tradeId, a commission in another asset than USDT, a liquidation of an unknown position).
   */
  apply(message: UserDataMessage | { e: "unknown"; type: string }): FoldResult {
    const result: FoldResult = { reports: [], funding: [], listenKeyExpired: false };
    switch (message.e) {
      case "ORDER_TRADE_UPDATE":
        this.onOrderUpdate(message, result.reports);
        break;
      case "ALGO_UPDATE":
        this.onAlgoUpdate(message, result.reports);
        break;
      case "ACCOUNT_UPDATE":
        this.onAccountUpdate(message, result.funding, result.reports);
        break;
      case "listenKeyExpired":
        result.listenKeyExpired = true;
        break;
      // TRADE_LITE precedes its ORDER_TRADE_UPDATE, which has the status, `z` and commission: the fill comes from
      // that one. MARGIN_CALL is advisory; ACCOUNT_CONFIG_UPDATE is the venue's echo of our own settings.
      default:
        break;
    }
    return result;
  }

  /**
   * Folds an algo order's held updates as if its missing algo steps had come (a query showed it moved past
   * them): a missing TRIGGERING is taken from the first later update (its trigger price and time), a missing
   * TRIGGERED from FINISHED (`ai`, `act`). Fills are never skipped over: the triggered order's held messages
   * then fold only as far as they are contiguous (a missing fill comes from `userTrades`).
   */
  release(clientOrderId: string): VenueReport[] {
    const order = this.orders.get(clientOrderId);
    if (!order) return [];
    const reports: VenueReport[] = [];
    const algo = [...order.heldAlgo].sort((a, b) => ALGO_RANK[a.o.X] - ALGO_RANK[b.o.X]);
    order.heldAlgo = [];
    for (const message of algo) {
      const { X } = message.o;
      if (X !== "NEW" && X !== "TRIGGERING" && order.algoRank < 1) {
        reports.push(triggeringOf(order.clientOrderId, message));
        order.algoRank = 1;
      }
      if (X === "FINISHED" && order.algoRank < 2) this.linkTriggered(order, message, reports);
      this.onAlgoUpdate(message, reports);
    }
    const held = [...order.heldOrders].sort((a, b) => new Dec(a.o.z).cmp(b.o.z));
    order.heldOrders = [];
    for (const message of held) this.onOwnOrderUpdate(order, message, reports);
    return reports;
  }

  // ── ORDER_TRADE_UPDATE ─────────────────────────────────────────────────────────────────────────────────

  private onOrderUpdate(message: OrderTradeUpdate, reports: VenueReport[]): void {
    const { c, i } = message.o;
    const linked = this.byOrderId.get(i);
    const order = this.orders.get(linked ?? c);
    if (order) {
      this.onOwnOrderUpdate(order, message, reports);
      return;
    }
    if (LIQUIDATION_ID.test(c)) {
      this.onLiquidationUpdate(message, reports);
      return;
    }
    const waiting = this.unlinked.get(i) ?? [];
    waiting.push(message);
    this.unlinked.set(i, waiting);
  }

  private onOwnOrderUpdate(order: OrderState, message: OrderTradeUpdate, reports: VenueReport[]): void {
    if (order.algo && order.algoRank < 2) {
      order.heldOrders.push(message);
      return;
    }
    if (!this.foldOrderStep(order, message, reports)) {
      order.heldOrders.push(message);
      return;
    }
    this.retryHeld(order, reports);
  }

  /** Folds one step; false when it must wait for an earlier one. */
  private foldOrderStep(order: OrderState, message: OrderTradeUpdate, reports: VenueReport[]): boolean {
    const o = message.o;
    if (order.done) return true;
    switch (o.x) {
      case "TRADE":
      case "CALCULATED": {
        if (order.tradeIds.has(o.t)) return true;
        const expected = order.filled.plus(o.l);
        const z = new Dec(o.z);
        if (z.gt(expected)) return false;
        if (z.lt(expected))
          throw new UserDataError(
            `ORDER_TRADE_UPDATE ${order.clientOrderId} trade ${o.t}: z ${o.z} below the filled ${order.filled.toFixed()} + l ${o.l}`,
          );
        if (o.X !== "FILLED" && o.X !== "PARTIALLY_FILLED")
          throw new UserDataError(`ORDER_TRADE_UPDATE ${order.clientOrderId} trade ${o.t}: status ${o.X}`);
        order.tradeIds.add(o.t);
        order.filled = z;
        if (o.X === "FILLED") order.done = true;
        reports.push({ kind: "fill", time: o.T, fill: fillOf(order.clientOrderId, message, o.X) });
        return true;
      }
      case "CANCELED":
      case "EXPIRED": {
        if (new Dec(o.z).gt(order.filled)) return false;
        order.done = true;
        if (o.x === "CANCELED" && order.cancelRequested) return true;
        reports.push({
          kind: "expired",
          time: message.T,
          symbol: o.s,
          clientOrderId: order.clientOrderId,
          reason: o.x === "CANCELED" ? "canceled at the venue" : expiryText(o.X, o.er),
          // An STP expiry without `er` (older messages) is er 1, so the order ends EXPIRED_IN_MATCH.
          ...(o.x !== "EXPIRED"
            ? {}
            : o.er !== undefined
              ? { expiryReason: o.er }
              : o.X === "EXPIRED_IN_MATCH"
                ? { expiryReason: 1 }
                : {}),
        });
        return true;
      }
      default:
        // NEW (acknowledged by the REST answer already), AMENDMENT (we never modify orders).
        return true;
    }
  }

  private retryHeld(order: OrderState, reports: VenueReport[]): void {
    let progressed = true;
    while (progressed && order.heldOrders.length > 0) {
      progressed = false;
      const held = order.heldOrders;
      order.heldOrders = [];
      for (const message of held) {
        if (this.foldOrderStep(order, message, reports)) progressed = true;
        else order.heldOrders.push(message);
      }
    }
  }

  // ── ALGO_UPDATE ────────────────────────────────────────────────────────────────────────────────────────

  private onAlgoUpdate(message: AlgoUpdate, reports: VenueReport[]): void {
    const order = this.orders.get(message.o.caid);
    if (!order) return; // another client's algo order: reconciliation's business
    if (!this.foldAlgoStep(order, message, reports)) {
      order.heldAlgo.push(message);
      return;
    }
    let progressed = true;
    while (progressed && order.heldAlgo.length > 0) {
      progressed = false;
      const held = order.heldAlgo;
      order.heldAlgo = [];
      for (const m of held) {
        if (this.foldAlgoStep(order, m, reports)) progressed = true;
        else order.heldAlgo.push(m);
      }
    }
  }

  private foldAlgoStep(order: OrderState, message: AlgoUpdate, reports: VenueReport[]): boolean {
    const o = message.o;
    const rank = ALGO_RANK[o.X];
    if (rank <= order.algoRank || order.algoRank === 3) return true; // a duplicate or a stale step
    const time = message.T;
    switch (o.X) {
      case "NEW":
        break;
      case "TRIGGERING":
        reports.push(triggeringOf(order.clientOrderId, message));
        break;
      case "TRIGGERED":
        if (order.algoRank < 1) return false;
        this.linkTriggered(order, message, reports);
        return true;
      case "FINISHED":
        if (order.algoRank < 2) return false;
        break;
      case "REJECTED":
        if (order.algoRank < 1) return false;
        order.done = true;
        reports.push({
          kind: "rejected",
          time,
          symbol: o.s,
          clientOrderId: order.clientOrderId,
          code: 0,
          reason: `algo order rejected at trigger: ${o.rm || "no reason given"}`,
        });
        break;
      case "CANCELED":
      case "EXPIRED":
        // After the trigger, the matching-engine order's own update says how it ended.
        if (order.algoRank < 2) {
          order.done = true;
          if (!(o.X === "CANCELED" && order.cancelRequested))
            reports.push({
              kind: "expired",
              time,
              symbol: o.s,
              clientOrderId: order.clientOrderId,
              reason:
                o.X === "CANCELED"
                  ? "canceled at the venue"
                  : `algo order expired: ${o.rm || "by the system"}`,
            });
        }
        break;
    }
    order.algoRank = rank;
    return true;
  }

  private linkTriggered(order: OrderState, message: AlgoUpdate, reports: VenueReport[]): void {
    const o = message.o;
    if (o.ai === "")
      throw new UserDataError(`ALGO_UPDATE ${order.clientOrderId} ${o.X}: no actual order id ai`);
    order.algoRank = 2;
    order.triggeredOrderId = o.ai;
    this.byOrderId.set(o.ai, order.clientOrderId);
    reports.push({
      kind: "triggered",
      time: message.T,
      symbol: o.s,
      clientOrderId: order.clientOrderId,
      orderId: o.ai,
      actualType: o.act ?? (o.o.endsWith("_MARKET") ? "MARKET" : "LIMIT"),
    });
    const waiting = this.unlinked.get(o.ai) ?? [];
    this.unlinked.delete(o.ai);
    const held = [...order.heldOrders, ...waiting];
    order.heldOrders = [];
    for (const m of held) this.onOwnOrderUpdate(order, m, reports);
  }

  // ── liquidation and account ────────────────────────────────────────────────────────────────────────────

  private onLiquidationUpdate(message: OrderTradeUpdate, reports: VenueReport[]): void {
    const o = message.o;
    const state = this.liquidations.get(o.c) ?? { tradeIds: new Set(), realizedPnl: new Dec(0), done: false };
    this.liquidations.set(o.c, state);
    if (state.done || (o.x !== "TRADE" && o.x !== "CALCULATED") || state.tradeIds.has(o.t)) return;
    state.tradeIds.add(o.t);
    state.realizedPnl = state.realizedPnl.plus(o.rp);
    if (o.X !== "FILLED") return;
    state.done = true;
    this.pendingLiquidations.push({ message, realizedPnl: state.realizedPnl });
    this.settleLiquidations(reports);
  }

  /**
   * A liquidation is reported once the account state around it is known: the position's last open state before
   * it (entry price, margin type) and the first USDT wallet balance at or after it (after the loss and fees).
   * Binance pushes neither the mark that crossed nor the liquidation price: the fill's average price stands for
   * both; maintenance margin, clearance fee and insurance cover are not in the stream either ("0").
   */
  private settleLiquidations(reports: VenueReport[]): void {
    const waiting: typeof this.pendingLiquidations = [];
    for (const pending of this.pendingLiquidations) {
      const o = pending.message.o;
      const T = o.T;
      const open = this.positions
        .get(`${o.s}:${o.ps}`)
        ?.filter((x) => x.T <= T && !new Dec(x.p.positionAmt).isZero())
        .at(-1)?.p;
      const wallet = this.wallets.get("USDT")?.find((x) => x.T >= T);
      if (!open || !wallet) {
        waiting.push(pending);
        continue;
      }
      const closed = new Dec(o.z);
      reports.push({
        kind: "liquidation",
        time: T,
        liquidation: {
          symbol: o.s,
          clientOrderId: o.c.slice(0, 36),
          positionSide: o.ps,
          marginType: open.marginType,
          positionAmt: (o.S === "SELL" ? closed : closed.neg()).toFixed(),
          entryPrice: open.entryPrice,
          markPrice: o.ap,
          liquidationPrice: o.ap,
          price: o.ap,
          maintMargin: "0",
          realizedPnl: pending.realizedPnl.toFixed(),
          clearanceFee: "0",
          insuranceFundCovered: "0",
          walletBalance: wallet.wb,
        },
      });
    }
    this.pendingLiquidations = waiting;
  }

  private onAccountUpdate(message: AccountUpdate, funding: FundingNotice[], reports: VenueReport[]): void {
    const { m, B, P } = message.a;
    for (const p of P)
      this.setPosition(
        {
          symbol: p.s,
          positionSide: p.ps,
          positionAmt: p.pa,
          entryPrice: p.ep,
          marginType: p.mt === "isolated" ? "ISOLATED" : "CROSSED",
          isolatedWallet: p.iw,
        },
        message.T,
      );
    for (const b of B) addByTime(this.wallets, b.a, { T: message.T, wb: b.wb });
    if (this.pendingLiquidations.length > 0) this.settleLiquidations(reports);
    if (m !== "FUNDING_FEE") return;
    for (const b of B) {
      if (new Dec(b.bc).isZero()) continue;
      const key = `${message.T}|${b.a}|${b.wb}|${b.bc}|${P.map((p) => `${p.s}:${p.ps}`).join(",")}`;
      if (this.fundingSeen.has(key)) continue;
      this.fundingSeen.add(key);
      const p = P.length === 1 ? P[0]! : undefined;
      funding.push({
        time: message.T,
        asset: b.a,
        fundingFee: b.bc,
        ...(p ? { position: { symbol: p.s, positionSide: p.ps, positionAmt: p.pa } } : {}),
      });
    }
  }

  private setPosition(p: VenuePosition, T: number): void {
    addByTime(this.positions, `${p.symbol}:${p.positionSide}`, { T, p });
  }
}

/** Inserts `entry` in T order (a later message of the same T goes after: Binance's order within one T). */
function addByTime<E extends { T: number }>(map: Map<string, E[]>, key: string, entry: E): void {
  const list = map.get(key) ?? [];
  const text = JSON.stringify(entry);
  if (list.some((e) => e.T === entry.T && JSON.stringify(e) === text)) return; // a duplicated message
  if (list.length >= HISTORY) list.shift();
  let i = list.length;
  while (i > 0 && list[i - 1]!.T > entry.T) i -= 1;
  list.splice(i, 0, entry);
  map.set(key, list);
}

function fillOf(
  clientOrderId: string,
  message: OrderTradeUpdate,
  status: "PARTIALLY_FILLED" | "FILLED",
): VenueFill {
  const o = message.o;
  const commission = o.n ?? "0";
  if (!new Dec(commission).isZero() && o.N !== "USDT")
    throw new UserDataError(
      `ORDER_TRADE_UPDATE ${clientOrderId} trade ${o.t}: commission ${commission} in ${o.N ?? "no asset"}, expected USDT (turn off paying fees in BNB)`,
    );
  return {
    symbol: o.s,
    clientOrderId,
    tradeId: o.t,
    side: o.S,
    price: o.L,
    quantity: o.l,
    commission,
    cumulativeQuantity: o.z,
    status,
    maker: o.m,
  };
}

/** Binance sends the trigger price, not the price that crossed it: `triggeredAt` is the trigger price. */
function triggeringOf(clientOrderId: string, message: AlgoUpdate): VenueReport {
  const o = message.o;
  return {
    kind: "triggering",
    time: message.T,
    symbol: o.s,
    clientOrderId,
    workingType: o.wt ?? "CONTRACT_PRICE",
    triggeredAt: o.tp,
  };
}

function expiryText(status: string, er: number | undefined): string {
  return er === undefined ? `${status} at the venue` : `${status} at the venue (er ${er})`;
}
