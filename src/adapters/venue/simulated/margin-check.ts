/**
 * The simulated venue's margin checks at submit (binance-usdm.md §4.5, §5.2), pure, after the order passed every
 * other check: -2027 when the position's worst-case notional with its resting orders and the new one exceeds the
 * cap of its leverage's bracket (`checkMaxPosition`), and -2019 when the margin the order costs (the rise of the
 * margin requirement plus its open loss, `orderMarginCost`) exceeds the available balance: the cross wallet plus
 * the cross positions' unrealized PnL, less the cross positions' initial margin and every position's open-order
 * initial margin (`availableBalance`). Conditional orders are not checked before they trigger (the Algo service
 * does no margin check until then, §2.4), nor are reduce-only and closePosition orders. A MARKET order is valued
 * at the last price. Hedge mode: each (symbol, positionSide) is a position of its own with its own resting
 * orders (binance-usdm.md §4.1; margin.ts `openOrderInitialMargin` per side), and a close (SELL on LONG, BUY on
 * SHORT) is exempt like a reduce-only order.
 */
import { DEFAULT_SYMBOL_SETTINGS } from "../../../actors/account.decide.ts";
import { positionKey } from "../../../actors/account.machine.ts";
import { isConditionalType } from "../../../actors/order.machine.ts";
import { canonical, Dec } from "../../../domain/decimal.ts";
import { accountRisk, crossWalletBalance } from "../../../domain/margin/account-risk.ts";
import {
  availableBalance,
  checkMarginSufficient,
  checkMaxPosition,
  openOrderInitialMargin,
  type RestingOrder,
} from "../../../domain/margin/margin.ts";
import { closingOrder } from "../../../domain/orders/closing.ts";
import type { OrderRequest } from "../../../engine/venue.ts";
import type { MarginInputs } from "./liquidation.ts";
import type { MatchingState } from "./matching.ts";

/**
 * The margin check's answer to a new order: a rejection with Binance's code and message (and the numbers), or
 * undefined when it passes.
 */
export function marginViolation(
  state: MatchingState,
  order: OrderRequest,
  inputs: MarginInputs,
): { code: number; reason: string } | undefined {
  if (isConditionalType(order.type) || closingOrder(order)) return undefined;
  if (order.quantity === undefined) return undefined;
  const { account, brackets } = inputs;
  const symbol = order.symbol;
  const last = (s: string) => state.lastPrice[s];
  const mark = (s: string) => state.markPrice[s] ?? state.lastPrice[s];
  const { leverage } = account.settings[symbol] ?? DEFAULT_SYMBOL_SETTINGS;
  const resting = restingOrders(state, last);
  const positionAmt =
    account.positions.find((p) => p.symbol === symbol && p.positionSide === order.positionSide)
      ?.positionAmt ?? "0";
  const markPrice = mark(symbol);
  if (markPrice === undefined) return undefined;
  const input = {
    position: { positionAmt },
    markPrice,
    restingOrders: resting.get(positionKey(symbol, order.positionSide)) ?? [],
    order: { side: order.side, quantity: order.quantity, price: order.price ?? last(symbol)! },
    leverage,
  };
  const tooLarge = checkMaxPosition(input, brackets(symbol));
  if (tooLarge?.code === -2027) {
    return {
      code: tooLarge.code,
      reason: `${tooLarge.message} (notional ${tooLarge.notional} > ${tooLarge.maxNotional} at ${leverage}x)`,
    };
  }
  const short = checkMarginSufficient(input, available(inputs, resting, mark));
  if (short?.code === -2019) {
    return {
      code: short.code,
      reason: `${short.message} (cost ${short.cost} > available ${short.availableBalance} USDT)`,
    };
  }
  return undefined;
}

/**
 * The regular orders working at the venue by `positionKey` (the symbol in one-way mode; the untriggered conditional
 * ones and closes need no margin).
 */
export function restingOrders(
  state: MatchingState,
  last: (symbol: string) => string | undefined,
): Map<string, RestingOrder[]> {
  const out = new Map<string, RestingOrder[]>();
  for (const o of state.orders) {
    const r = o.request;
    if (o.stage === "algo" || r.quantity === undefined || closingOrder(r)) continue;
    const price = r.price ?? last(r.symbol);
    const quantity = new Dec(r.quantity).minus(o.executedQty);
    if (price === undefined || quantity.lte(0)) continue;
    const key = positionKey(r.symbol, r.positionSide);
    const list = out.get(key) ?? [];
    list.push({ side: r.side, quantity: canonical(quantity), price });
    out.set(key, list);
  }
  return out;
}

/** Available balance for a new order (USDT): `availableBalance` of the cross wallet (module comment). */
export function available(
  { account, brackets }: MarginInputs,
  resting: Map<string, RestingOrder[]>,
  mark: (symbol: string) => string | undefined,
): string {
  const views = accountRisk(account.walletBalance, account.positions, mark, brackets);
  let crossUpnl = new Dec(0);
  let inUse = new Dec(0);
  for (const v of views) {
    if (v.marginType !== "CROSSED") continue;
    crossUpnl = crossUpnl.plus(v.risk.unrealizedPnl);
    inUse = inUse.plus(v.risk.initialMargin);
  }
  for (const [key, orders] of resting) {
    const [symbol, side = "BOTH"] = key.split(":") as [string, "LONG" | "SHORT" | undefined];
    const markPrice = mark(symbol);
    if (markPrice === undefined) continue;
    const positionAmt =
      account.positions.find((p) => p.symbol === symbol && p.positionSide === side)?.positionAmt ?? "0";
    const { leverage } = account.settings[symbol] ?? DEFAULT_SYMBOL_SETTINGS;
    inUse = inUse.plus(openOrderInitialMargin(positionAmt, markPrice, orders, leverage));
  }
  const crossWallet = crossWalletBalance(account.walletBalance, account.positions);
  return availableBalance(crossWallet, canonical(crossUpnl), canonical(inUse));
}
