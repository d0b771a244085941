/**
 * The account endpoints' numbers (`GET /fapi/v3/positionRisk`, `/fapi/v3/account`, `/fapi/v3/balance`;
 * binance-usdm.md §4.5–4.7, futures.d.ts FuturesPositionV3, FuturesAccountInformation, FuturesAccountBalance):
 * each position's margin numbers at the mark from `accountRisk`, open-order initial margin from the venue's
 * resting orders (`restingOrders`, `openOrderInitialMargin`), the available balance as the venue's margin check
 * computes it (`available`). Pure over the ledger and the venue's state; USDT amounts as canonical strings.
 */
import { positionKey } from "../../actors/account.machine.ts";
import { available, restingOrders } from "../../adapters/venue/simulated/margin-check.ts";
import type { MatchingState } from "../../adapters/venue/simulated/matching.ts";
import { canonical, Dec } from "../../domain/decimal.ts";
import { accountRisk, crossWalletBalance } from "../../domain/margin/account-risk.ts";
import type { LeverageBracket } from "../../domain/margin/brackets.ts";
import { openOrderInitialMargin } from "../../domain/margin/margin.ts";
import type { Ledger } from "./ledger.ts";
import type { PositionSide } from "./records.ts";

/** What the views read: the ledger, the venue's state, the brackets and the open LIMIT notional per side. */
export interface AccountInputs {
  ledger: Ledger;
  state: MatchingState;
  brackets: (symbol: string) => readonly LeverageBracket[];
  book: (symbol: string, positionSide: PositionSide) => { bids: string; asks: string };
}

/** A symbol's mark as the venue knows it: its last mark price, else its last trade price (undefined before a bar). */
export function markOf(state: MatchingState, symbol: string): string | undefined {
  return state.markPrice[symbol] ?? state.lastPrice[symbol];
}

/** One open position's numbers (FuturesPositionV3's fields, without updateTime). */
function positionViews(x: AccountInputs) {
  const { ledger, state } = x;
  const account = ledger.context();
  const views = ledger.view();
  const resting = restingOrders(state, (s) => state.lastPrice[s]);
  return accountRisk(account.walletBalance, views.positions, (s) => markOf(state, s), x.brackets).map((v) => {
    const orders = resting.get(positionKey(v.symbol, v.positionSide)) ?? [];
    const book = x.book(v.symbol, v.positionSide);
    const openOrderIm = openOrderInitialMargin(v.positionAmt, v.markPrice, orders, v.leverage);
    return {
      symbol: v.symbol,
      positionSide: v.positionSide,
      positionAmt: v.positionAmt,
      entryPrice: v.entryPrice,
      breakEvenPrice: ledger.breakEven(v.positionAmt, v.entryPrice),
      markPrice: v.markPrice,
      unRealizedProfit: v.risk.unrealizedPnl,
      liquidationPrice: v.risk.liquidationPrice ?? "0",
      isolatedMargin: v.risk.isolatedMargin,
      notional: canonical(new Dec(v.positionAmt).times(v.markPrice)),
      marginAsset: "USDT",
      isolatedWallet: v.isolatedWallet ?? "0",
      initialMargin: canonical(new Dec(v.risk.initialMargin).plus(openOrderIm)),
      maintMargin: v.risk.maintMargin,
      positionInitialMargin: v.risk.initialMargin,
      openOrderInitialMargin: openOrderIm,
      adl: 0,
      bidNotional: book.bids,
      askNotional: book.asks,
      marginType: v.marginType,
    };
  });
}

/**
 * `GET /fapi/v3/positionRisk` (of `symbol` when given): the open positions, and a flat row for each position
 * side with open orders but no position (v3 returns "symbols that have positions or open orders").
 * `withOrders`: the (symbol, positionSide) pairs that have open orders (regular or untriggered algo).
 */
export function positionRiskBody(
  x: AccountInputs,
  withOrders: readonly (readonly [string, PositionSide])[],
  symbol?: string,
): Record<string, unknown>[] {
  const open = positionViews(x).map(({ marginType: _, ...v }) => v);
  const key = (s: string, side: string) => `${s}:${side}`;
  const seen = new Set(open.map((v) => key(v.symbol, v.positionSide)));
  const resting = restingOrders(x.state, (s) => x.state.lastPrice[s]);
  const flat = withOrders
    .filter(([s, side]) => !seen.has(key(s, side)))
    .map(([s, side]) => {
      // an order exists only once the symbol has a price (the venue answers -1121 before)
      const mark = markOf(x.state, s)!;
      const orders = resting.get(positionKey(s, side)) ?? [];
      const leverage = x.ledger.settingsOf(s).leverage;
      const openOrderIm = openOrderInitialMargin("0", mark, orders, leverage);
      const book = x.book(s, side);
      return {
        symbol: s,
        positionSide: side,
        positionAmt: "0",
        entryPrice: "0",
        breakEvenPrice: "0",
        markPrice: mark,
        unRealizedProfit: "0",
        liquidationPrice: "0",
        isolatedMargin: "0",
        notional: "0",
        marginAsset: "USDT",
        isolatedWallet: "0",
        initialMargin: openOrderIm,
        maintMargin: "0",
        positionInitialMargin: "0",
        openOrderInitialMargin: openOrderIm,
        adl: 0,
        bidNotional: book.bids,
        askNotional: book.asks,
      };
    });
  return [...open, ...flat]
    .filter((v) => symbol === undefined || v.symbol === symbol)
    .map((v) => ({ ...v, updateTime: x.ledger.updateTime }));
}

/** The account totals (USDT) and the position views they sum. */
function totals(x: AccountInputs) {
  const { ledger, state } = x;
  const account = ledger.context();
  const views = positionViews(x);
  type View = (typeof views)[number];
  const sum = (pick: (v: View) => string, only: (v: View) => boolean = () => true) =>
    canonical(views.filter(only).reduce((s, v) => s.plus(pick(v)), new Dec(0)));
  const resting = restingOrders(state, (s) => state.lastPrice[s]);
  // open-order margin of every position side with resting orders, open or flat
  let openOrderIm = new Dec(0);
  for (const [key, orders] of resting) {
    const [symbol, side = "BOTH"] = key.split(":") as [string, PositionSide | undefined];
    const mark = markOf(state, symbol);
    if (mark === undefined) continue;
    const amt = account.positions[positionKey(symbol, side)]?.positionAmt ?? "0";
    openOrderIm = openOrderIm.plus(
      openOrderInitialMargin(amt, mark, orders, ledger.settingsOf(symbol).leverage),
    );
  }
  const unrealizedProfit = sum((v) => v.unRealizedProfit);
  const positionInitialMargin = sum((v) => v.positionInitialMargin);
  const inputs = { account: ledger.view(), brackets: x.brackets };
  return {
    views,
    walletBalance: account.walletBalance,
    unrealizedProfit,
    marginBalance: canonical(new Dec(account.walletBalance).plus(unrealizedProfit)),
    maintMargin: sum((v) => v.maintMargin),
    positionInitialMargin,
    openOrderInitialMargin: canonical(openOrderIm),
    initialMargin: canonical(openOrderIm.plus(positionInitialMargin)),
    crossWalletBalance: crossWalletBalance(account.walletBalance, ledger.view().positions),
    crossUnPnl: sum(
      (v) => v.unRealizedProfit,
      (v) => v.marginType === "CROSSED",
    ),
    availableBalance: available(inputs, resting, (s) => markOf(state, s)),
  };
}

/** `GET /fapi/v3/account`: totals, the USDT asset and the open positions. */
export function accountBody(x: AccountInputs): Record<string, unknown> {
  const t = totals(x);
  const updateTime = x.ledger.updateTime;
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
    assets: [
      {
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
        updateTime,
      },
    ],
    positions: t.views.map((v) => ({
      symbol: v.symbol,
      positionSide: v.positionSide,
      positionAmt: v.positionAmt,
      unrealizedProfit: v.unRealizedProfit,
      isolatedMargin: v.isolatedMargin,
      notional: v.notional,
      isolatedWallet: v.isolatedWallet,
      initialMargin: v.initialMargin,
      maintMargin: v.maintMargin,
      updateTime,
    })),
  };
}

/** `GET /fapi/v3/balance`: the USDT row. */
export function balanceBody(x: AccountInputs): Record<string, unknown>[] {
  const t = totals(x);
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
      updateTime: x.ledger.updateTime,
    },
  ];
}
