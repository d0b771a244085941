/**
 * Reconciliation, the Binance side (issue 7 item 4): what the user data stream lost is recovered over REST and
 * folded like stream messages, so the engine gets the venue reports the stream would have given it (same
 * tradeIds, times, prices, hence the same causation ids and events), once: the fold drops what the stream
 * delivers later. Then the venue's state is read for the engine's comparison (src/engine/reconciliation.ts).
 *
 * - **Orders** the engine has working: a conditional order's algo status (`GET /fapi/v1/algoOrder`) gives its
 *   missing steps — TRIGGERING at `triggerTime`, TRIGGERED with `actualOrderId` at its regular order's creation
 *   time, REJECTED (`rejectReason`), CANCELED / EXPIRED before the trigger at `updateTime`; a regular (or
 *   triggered) order's status (`GET /fapi/v1/order`) and, when it filled more than the engine booked, its trades
 *   (`GET /fapi/v1/userTrades`, each one an ORDER_TRADE_UPDATE TRADE with its cumulative quantity), then its end
 *   (CANCELED, EXPIRED, EXPIRED_IN_MATCH at `updateTime`; REST has no expiry reason `er`, so such an end's reason
 *   text lacks it). An order the venue does not know (-2013 / -2011) is left to the comparison.
 * - **Funding** of each traded symbol with a settlement after the engine's last booked payment (every traded
 *   symbol when asked: a wallet differed; the stream's payment may come before the market's settlement) (`GET
 *   /fapi/v1/income` FUNDING_FEE after that payment),
 *   completed like a stream notice (funding.ts: rate and mark from `fundingRate`, each payment once), on the
 *   engine's position of the symbol (hedge mode: its one open side; two open sides: left to the comparison).
 * - **Snapshot**: `GET /fapi/v1/openOrders` and `GET /fapi/v1/openAlgoOrders` of each traded symbol (weight 1
 *   each, where all symbols' would cost 40 each: a reconciliation runs every few minutes), `GET /fapi/v3/account`
 *   (the positions of every symbol and the USDT `walletBalance`).
 */
import type { Logger } from "pino";
import { Dec } from "../../domain/decimal.ts";
import type {
  EngineView,
  VenueOpenOrder,
  VenueSnapshot,
  WorkingOrderView,
} from "../../engine/reconciliation.ts";
import type { VenueReport } from "../../engine/venue.ts";
import { BinanceApiError } from "./errors.ts";
import type { FundingCompleter } from "./funding.ts";
import type { BinanceRest } from "./rest.ts";
import { parseUserDataMessage } from "./user-data.ts";
import type { UserDataFold } from "./user-data-fold.ts";

/** What the recovery works with (the venue's own parts). */
export interface RecoveryContext {
  rest: BinanceRest;
  fold: UserDataFold;
  funding: FundingCompleter;
  symbols: readonly string[];
  logger: Logger;
  /** Hands a report to the engine (after any report the stream folded before it). */
  deliver: (report: VenueReport) => Promise<void>;
}

const NOT_FOUND = new Set([-2011, -2013]);
const FINAL = new Set(["CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"]);

/**
 * Recovers what the stream lost for every order the engine has working, then the funding payments (module
 * docstring); resolves with the number of reports delivered.
 * @throws BinanceApiError when a query fails (other than not found); UserDataError when what REST says
 *   contradicts the fold.
 */
export async function recoverLost(
  ctx: RecoveryContext,
  view: EngineView,
  options: { allFunding?: boolean } = {},
): Promise<number> {
  let delivered = 0;
  const deliver = async (report: VenueReport) => {
    delivered += 1;
    await ctx.deliver(report);
  };
  const counted = { ...ctx, deliver };
  for (const order of [...view.orders].sort((a, b) => (a.clientOrderId < b.clientOrderId ? -1 : 1)))
    await recoverOrder(counted, order);
  await recoverFunding(counted, view, options.allFunding === true);
  return delivered;
}

/** Recovers one working order's lost steps (module docstring). */
export async function recoverOrder(ctx: RecoveryContext, order: WorkingOrderView): Promise<void> {
  const { fold } = ctx;
  const { clientOrderId, symbol } = order;
  fold.track({
    clientOrderId,
    symbol,
    algo: order.algo,
    ...(order.triggeredOrderId === undefined ? {} : { triggeredOrderId: order.triggeredOrderId }),
  });
  let orderId = fold.triggeredOrderId(clientOrderId);
  if (order.algo && orderId === undefined) {
    const algo = await notFoundAsUndefined(
      ctx.rest.request(
        "GET /fapi/v1/algoOrder",
        { weight: 1, orders: 0 },
        (c) => c.getAlgoOrder({ clientAlgoId: clientOrderId } as never),
        { idempotent: true },
      ),
    );
    if (algo === undefined) return;
    const a = algo as unknown as AlgoAnswer;
    const status = String(a.algoStatus);
    if (status === "NEW") return;
    const actual = String(a.actualOrderId ?? "");
    const child =
      actual === "" ? undefined : await getOrder(ctx, symbol, { orderId: Number(actual) }, clientOrderId);
    if (actual !== "" || status === "TRIGGERING" || status === "REJECTED")
      await apply(ctx, algoMessage(a, "TRIGGERING", Number(a.triggerTime)));
    if (actual !== "" && child !== undefined) {
      await apply(ctx, algoMessage(a, "TRIGGERED", Number(child.time), String(child.type)));
      orderId = actual;
    } else if (status === "REJECTED" || status === "CANCELED" || status === "EXPIRED") {
      await apply(ctx, algoMessage(a, status, Number(a.updateTime)));
      return;
    }
    if (orderId === undefined) return;
  }
  const placed = await getOrder(
    ctx,
    symbol,
    orderId === undefined ? { origClientOrderId: clientOrderId } : { orderId: Number(orderId) },
    clientOrderId,
  );
  if (placed === undefined) return;
  const executed = new Dec(String(placed.executedQty));
  if (executed.gt(order.executedQty)) {
    const trades = await ctx.rest.request(
      "GET /fapi/v1/userTrades",
      { weight: 5, orders: 0 },
      (c) => c.getAccountTrades({ symbol, orderId: Number(placed.orderId) } as never),
      { idempotent: true },
    );
    // Filtered here too: an endpoint that ignored `orderId` must not lend us other orders' trades.
    const own = trades
      .filter((t) => String(t.orderId) === String(placed.orderId))
      .sort((a, b) => a.id - b.id);
    let filled = new Dec(0);
    for (const trade of own) {
      filled = filled.plus(String(trade.qty));
      await apply(ctx, tradeMessage(clientOrderId, placed, trade, filled));
    }
  }
  const status = String(placed.status);
  if (FINAL.has(status)) await apply(ctx, endMessage(clientOrderId, placed));
}

/**
 * Recovers funding payments after `view.fundingSince` of each traded symbol (module docstring): only where a
 * settlement came after the last payment booked, unless `all` (the stream's payment may come before the market's
 * settlement).
 */
async function recoverFunding(ctx: RecoveryContext, view: EngineView, all: boolean): Promise<void> {
  for (const symbol of ctx.symbols) {
    const since = view.fundingSince[symbol];
    const settled = view.lastSettlement[symbol];
    // Payments follow settlements: none since the last payment booked, nothing to look for.
    if (since === undefined || (!all && (settled === undefined || settled <= since))) continue;
    const rows = await ctx.rest.request(
      "GET /fapi/v1/income",
      { weight: 30, orders: 0 },
      (c) =>
        c.getIncomeHistory({ symbol, incomeType: "FUNDING_FEE", startTime: since + 1, limit: 1000 } as never),
      { idempotent: true },
    );
    const open = view.positions.filter((p) => p.symbol === symbol);
    for (const row of [...rows].sort((a, b) => a.time - b.time)) {
      if (row.time <= since || row.asset !== "USDT" || new Dec(String(row.income)).isZero()) continue;
      if (open.length !== 1) {
        ctx.logger.warn(
          { symbol, time: row.time, income: String(row.income), openSides: open.length },
          "reconciliation: a funding payment without one open position of the engine: left to the comparison",
        );
        continue;
      }
      const position = open[0]!;
      const reports = await ctx.funding.reports({
        time: row.time,
        asset: "USDT",
        fundingFee: String(row.income),
        position: { symbol, positionSide: position.positionSide, positionAmt: position.positionAmt },
      });
      for (const report of reports) await ctx.deliver(report);
    }
  }
}

/** Reads the venue's open orders, positions and USDT wallet (module docstring). */
export async function readSnapshot(rest: BinanceRest, symbols: readonly string[]): Promise<VenueSnapshot> {
  const regular: Awaited<ReturnType<BinanceRest["client"]["getAllOpenOrders"]>> = [];
  const algos: AlgoAnswer[] = [];
  for (const symbol of symbols) {
    regular.push(
      ...(await rest.request(
        "GET /fapi/v1/openOrders",
        { weight: 1, orders: 0 },
        (c) => c.getAllOpenOrders({ symbol }),
        { idempotent: true },
      )),
    );
    algos.push(
      ...((await rest.request(
        "GET /fapi/v1/openAlgoOrders",
        { weight: 1, orders: 0 },
        (c) => c.getOpenAlgoOrders({ symbol } as never),
        { idempotent: true },
      )) as unknown as AlgoAnswer[]),
    );
  }
  const account = await rest.request(
    "GET /fapi/v3/account",
    { weight: 5, orders: 0 },
    (c) => c.getAccountInformationV3(),
    { idempotent: true },
  );
  const openOrders: VenueOpenOrder[] = [
    ...regular.map((o) => ({
      clientOrderId: String(o.clientOrderId),
      symbol: o.symbol,
      algo: false,
      orderId: String(o.orderId),
      side: String(o.side),
      type: String(o.type),
      quantity: String(o.origQty),
      price: String(o.price),
    })),
    ...algos.map((a) => ({
      clientOrderId: String(a.clientAlgoId),
      symbol: String(a.symbol),
      algo: true,
      orderId: String(a.algoId),
      side: String(a.side),
      type: String(a.orderType),
      quantity: String(a.quantity),
      price: String(a.triggerPrice),
    })),
  ];
  return {
    openOrders,
    positions: account.positions
      .filter((p) => !new Dec(String(p.positionAmt)).isZero())
      .map((p) => ({
        symbol: p.symbol,
        positionSide: p.positionSide as "BOTH" | "LONG" | "SHORT",
        positionAmt: new Dec(String(p.positionAmt)).toFixed(),
      })),
    walletBalance: String(account.assets.find((a) => a.asset === "USDT")?.walletBalance ?? "0"),
  };
}

// ── REST answers as stream messages ──────────────────────────────────────────────────────────────────────

/** The fields of `GET /fapi/v1/algoOrder` / `openAlgoOrders` used here. */
interface AlgoAnswer {
  algoId: number | string;
  clientAlgoId: string;
  symbol: string;
  side: string;
  positionSide: string;
  orderType: string;
  quantity: string;
  price: string;
  triggerPrice: string;
  workingType?: string;
  algoStatus: string;
  triggerTime?: number;
  updateTime: number;
  actualOrderId?: string | number;
  rejectReason?: string;
}

/** The fields of `GET /fapi/v1/order` used here. */
type OrderAnswer = Awaited<ReturnType<BinanceRest["client"]["getOrder"]>>;
type TradeAnswer = Awaited<ReturnType<BinanceRest["client"]["getAccountTrades"]>>[number];

async function getOrder(
  ctx: RecoveryContext,
  symbol: string,
  by: { orderId: number } | { origClientOrderId: string },
  clientOrderId: string,
): Promise<OrderAnswer | undefined> {
  const placed = await notFoundAsUndefined(
    ctx.rest.request(
      "GET /fapi/v1/order",
      { weight: 1, orders: 0 },
      (c) => c.getOrder({ symbol, ...by } as never),
      { idempotent: true },
    ),
  );
  if (placed === undefined)
    ctx.logger.warn({ clientOrderId, ...by }, "reconciliation: order not found at the venue");
  return placed;
}

async function apply(ctx: RecoveryContext, raw: unknown): Promise<void> {
  for (const report of ctx.fold.apply(parseUserDataMessage(raw)).reports) await ctx.deliver(report);
}

function algoMessage(a: AlgoAnswer, X: string, T: number, act?: string): Record<string, unknown> {
  return {
    e: "ALGO_UPDATE",
    E: T,
    T,
    o: {
      caid: a.clientAlgoId,
      aid: a.algoId,
      o: a.orderType,
      s: a.symbol,
      S: a.side,
      ps: a.positionSide,
      q: String(a.quantity),
      X,
      ai: String(a.actualOrderId ?? ""),
      ...(act === undefined ? {} : { act }),
      tp: String(a.triggerPrice),
      p: String(a.price),
      ...(a.workingType ? { wt: a.workingType } : {}),
      ...(X === "REJECTED" ? { rm: a.rejectReason ?? "" } : {}),
    },
  };
}

/** One trade of `placed` as its ORDER_TRADE_UPDATE TRADE (`filled`: the order's cumulative quantity after it). */
export function tradeMessage(
  clientOrderId: string,
  placed: OrderAnswer,
  trade: TradeAnswer,
  filled: Dec,
): Record<string, unknown> {
  return {
    e: "ORDER_TRADE_UPDATE",
    E: trade.time,
    T: trade.time,
    o: {
      s: trade.symbol,
      c: clientOrderId,
      S: trade.side,
      o: String(placed.type),
      q: String(placed.origQty),
      p: String(placed.price),
      ap: String(placed.avgPrice),
      sp: "0",
      x: "TRADE",
      X: filled.eq(String(placed.origQty)) ? "FILLED" : "PARTIALLY_FILLED",
      i: placed.orderId,
      l: String(trade.qty),
      z: filled.toFixed(),
      L: String(trade.price),
      n: String(trade.commission),
      N: trade.commissionAsset,
      T: trade.time,
      t: trade.id,
      m: trade.maker,
      R: false,
      ps: trade.positionSide,
      rp: String(trade.realizedPnl),
    },
  };
}

/** The end of `placed` (CANCELED, EXPIRED, EXPIRED_IN_MATCH) as its ORDER_TRADE_UPDATE at `updateTime`. */
function endMessage(clientOrderId: string, placed: OrderAnswer): Record<string, unknown> {
  const status = String(placed.status);
  const time = Number(placed.updateTime);
  return {
    e: "ORDER_TRADE_UPDATE",
    E: time,
    T: time,
    o: {
      s: placed.symbol,
      c: clientOrderId,
      S: placed.side,
      o: String(placed.type),
      q: String(placed.origQty),
      p: String(placed.price),
      ap: String(placed.avgPrice),
      sp: "0",
      x: status === "CANCELED" ? "CANCELED" : "EXPIRED",
      X: status,
      i: placed.orderId,
      l: "0",
      z: String(placed.executedQty),
      L: "0",
      T: time,
      t: 0,
      m: false,
      R: Boolean(placed.reduceOnly),
      ps: placed.positionSide,
      rp: "0",
    },
  };
}

/** The answer, or undefined when the venue does not know the order (-2011, -2013). */
async function notFoundAsUndefined<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof BinanceApiError && error.kind === "rejected" && NOT_FOUND.has(error.code))
      return undefined;
    throw error;
  }
}
