/**
 * User-data messages in Binance's wire format (binance-usdm.md §2.4 ALGO_UPDATE, §3.2 ORDER_TRADE_UPDATE, §3.3
 * ACCOUNT_UPDATE, §3.4 ACCOUNT_CONFIG_UPDATE). The keys of each message are those of the real messages in
 * ../shared/data/binance/futures/um/user-data/ (test/exchange-sim-exchange.test.ts compares them), with the
 * optional keys Binance documents only where they apply: `AP`/`cr` on trailing stops, `er` on expiries, `rm` on a
 * rejected algo order.
 */
import { type AlgoRecord, avgPrice, type OrderRecord } from "./records.ts";

/** Execution type `x` of ORDER_TRADE_UPDATE. */
export type ExecutionType = "NEW" | "TRADE" | "CANCELED" | "EXPIRED" | "CALCULATED";

/** The fill of a TRADE / CALCULATED execution. */
export interface WireFill {
  tradeId: number;
  price: string;
  quantity: string;
  commission: string;
  maker: boolean;
  realizedPnl: string;
  time: number;
}

/**
 * ORDER_TRADE_UPDATE of `order` (its state after the execution). `E` event time, `T` the transaction time.
 * `bids`/`asks`: the symbol's open LIMIT notional per side after the execution (`b`, `a`).
 */
export function orderTradeUpdate(
  order: OrderRecord,
  x: ExecutionType,
  at: { E: number; T: number },
  book: { bids: string; asks: string },
  fill?: WireFill,
  expiryReason?: number,
): Record<string, unknown> {
  const trailing = order.origType === "TRAILING_STOP_MARKET";
  const o: Record<string, unknown> = {
    s: order.symbol,
    c: order.clientOrderId,
    S: order.side,
    o: order.type,
    f: order.timeInForce,
    q: order.origQty,
    p: order.price,
    ap: avgPrice(order),
    sp: order.stopPrice,
    x,
    X: order.status,
    i: order.orderId,
    l: fill?.quantity ?? "0",
    z: order.executedQty,
    L: fill?.price ?? "0",
    n: fill?.commission ?? "0",
    N: "USDT",
    T: fill?.time ?? at.T,
    t: fill?.tradeId ?? 0,
    b: book.bids,
    a: book.asks,
    m: fill?.maker ?? false,
    R: order.reduceOnly,
    wt: order.workingType,
    ot: order.origType,
    ps: order.positionSide,
    cp: order.closePosition,
    ...(trailing ? { AP: order.activatePrice ?? "0", cr: order.priceRate ?? "0" } : {}),
    rp: fill?.realizedPnl ?? "0",
    pP: order.priceProtect,
    si: 0,
    ss: 0,
    V: order.selfTradePreventionMode,
    pm: "NONE",
    gtd: order.goodTillDate,
    ...(x === "EXPIRED" ? { er: String(expiryReason ?? 0) } : {}),
  };
  return { e: "ORDER_TRADE_UPDATE", T: at.T, E: at.E, o };
}

/**
 * ALGO_UPDATE of `algo` in its current status. `child`: the triggered order (TRIGGERED, FINISHED carry its
 * `ap`, `aq`, `act`). The key set per status is the real messages': CANCELED carries no V/wt/pm/cp/pP; NEW and
 * CANCELED carry `ia` (the 2026 captures; the 2025 TRIGGERING/TRIGGERED/FINISHED ones do not).
 */
export function algoUpdate(
  algo: AlgoRecord,
  at: { E: number; T: number },
  child?: OrderRecord,
): Record<string, unknown> {
  const X = algo.algoStatus;
  const o: Record<string, unknown> = {
    caid: algo.clientAlgoId,
    aid: algo.algoId,
    at: "CONDITIONAL",
    o: algo.orderType,
    s: algo.symbol,
    S: algo.side,
    ps: algo.positionSide,
    f: algo.timeInForce,
    q: algo.quantity,
    X,
    ai: algo.actualOrderId,
  };
  if (X === "TRIGGERED" || X === "FINISHED") {
    o.ap = child ? avgPrice(child) : "0";
    o.aq = child?.executedQty ?? "0";
    o.act = child?.type ?? "MARKET";
  }
  o.tp = algo.triggerPrice;
  o.p = algo.price;
  if (X !== "CANCELED") {
    o.V = algo.selfTradePreventionMode;
    o.wt = algo.workingType;
    o.pm = "NONE";
    o.cp = algo.closePosition;
    o.pP = algo.priceProtect;
  }
  o.R = algo.reduceOnly;
  if (algo.callbackRate !== undefined) o.cr = algo.callbackRate;
  o.tt = algo.triggerTime;
  o.gtd = algo.goodTillDate;
  if (X === "NEW" || X === "CANCELED" || X === "REJECTED" || X === "EXPIRED") o.ia = false;
  if (X === "REJECTED") o.rm = algo.rejectReason ?? "";
  return { e: "ALGO_UPDATE", T: at.T, E: at.E, o };
}

/** One position row of ACCOUNT_UPDATE `P`. */
export interface WirePosition {
  symbol: string;
  positionSide: "BOTH" | "LONG" | "SHORT";
  positionAmt: string;
  entryPrice: string;
  breakEvenPrice: string;
  /** Accumulated realized PnL of the position (pre-fee), `cr`. */
  accumulatedRealized: string;
  unrealizedPnl: string;
  marginType: "ISOLATED" | "CROSSED";
  isolatedWallet: string;
}

/** ACCOUNT_UPDATE with reason `m`: the USDT balance (wallet, cross wallet, `bc` balance change) and positions. */
export function accountUpdate(
  m: "ORDER" | "FUNDING_FEE" | "MARGIN_TYPE_CHANGE",
  at: { E: number; T: number },
  balance: { walletBalance: string; crossWalletBalance: string; balanceChange: string },
  positions: readonly WirePosition[],
): Record<string, unknown> {
  return {
    e: "ACCOUNT_UPDATE",
    T: at.T,
    E: at.E,
    a: {
      B: [
        {
          a: "USDT",
          wb: balance.walletBalance,
          cw: balance.crossWalletBalance,
          bc: balance.balanceChange,
        },
      ],
      P: positions.map((p) => ({
        s: p.symbol,
        pa: p.positionAmt,
        ep: p.entryPrice,
        cr: p.accumulatedRealized,
        up: p.unrealizedPnl,
        mt: p.marginType === "ISOLATED" ? "isolated" : "cross",
        iw: p.isolatedWallet,
        ps: p.positionSide,
        ma: "USDT",
        bep: p.breakEvenPrice,
      })),
      m,
    },
  };
}

/** ACCOUNT_CONFIG_UPDATE of a symbol's leverage (`ac`). */
export function accountConfigUpdate(at: { E: number; T: number }, symbol: string, leverage: number) {
  return { e: "ACCOUNT_CONFIG_UPDATE", T: at.T, E: at.E, ac: { s: symbol, l: leverage } };
}
