/**
 * Decisions of the symbol actor: pure functions from its snapshot and an input (a closed bar, the entry's fill,
 * an exit's fill) to the events to append, and the order requests those events imply. strategies.md §2.3.
 */
import { protectionPrices, stepSmaCross } from "../domain/strategies/sma-cross.ts";
import type { EventData } from "../events/catalog.ts";
import { clientOrderIdFor } from "./client-order-ids.ts";
import type { SymbolActorEvent, SymbolContext, SymbolState } from "./symbol.machine.ts";

type Submitted = EventData<"OrderSubmitted">;

/**
 * A closed bar: BarClosed, plus EntrySignalled or SignalSuppressed when sma-cross saw a crossover.
 * The strategy sees the position as open in every state but `flat`.
 */
export function decideOnBar(
  ctx: SymbolContext,
  state: SymbolState,
  bar: EventData<"BarClosed">,
): SymbolActorEvent[] {
  const events: SymbolActorEvent[] = [{ type: "BarClosed", data: bar }];
  const { decision } = stepSmaCross(ctx.strategy, bar, {
    params: ctx.params,
    instrument: ctx.instrument,
    positionOpen: state !== "flat",
  });
  if (decision.kind === "signal") {
    events.push({
      type: "EntrySignalled",
      data: {
        symbol: ctx.symbol,
        strategy: "sma-cross",
        direction: decision.direction,
        barOpenTime: bar.openTime,
        barIndex: decision.barIndex,
        smaShort: decision.smaShort,
        smaLong: decision.smaLong,
        referencePrice: decision.referencePrice,
        stopPrice: decision.stopPrice,
        quantity: decision.quantity,
        entryClientOrderId: clientOrderIdFor(ctx.symbol, ctx.signals + 1, "E"),
      },
    });
  } else if (decision.kind === "suppressed") {
    events.push({
      type: "SignalSuppressed",
      data: {
        symbol: ctx.symbol,
        direction: decision.direction,
        barOpenTime: bar.openTime,
        reason: decision.reason,
      },
    });
  }
  return events;
}

/**
 * The entry filled at `entryPrice` for `quantity`: protect it with a stop-loss and a take-profit computed from
 * the fill, or flatten at once when the fill left no risk (risk ≤ 0).
 */
export function decideOnEntryFill(
  ctx: SymbolContext,
  entryPrice: string,
  quantity: string,
): SymbolActorEvent {
  const trade = ctx.trade;
  if (!trade) throw new Error(`${ctx.symbol}: entry fill without an active trade`);
  const n = ctx.signals;
  const p = protectionPrices(
    trade.direction,
    entryPrice,
    trade.plannedStopPrice,
    ctx.params.tpSlRatio,
    ctx.instrument.tickSize,
  );
  if (p.kind === "ok") {
    return {
      type: "PositionProtectionRequested",
      data: {
        symbol: ctx.symbol,
        direction: trade.direction,
        entryClientOrderId: trade.entryClientOrderId,
        entryPrice,
        quantity,
        stopPrice: p.stopPrice,
        takeProfitPrice: p.takeProfitPrice,
        stopClientOrderId: clientOrderIdFor(ctx.symbol, n, "SL"),
        takeProfitClientOrderId: clientOrderIdFor(ctx.symbol, n, "TP"),
      },
    };
  }
  return {
    type: "InvalidRiskAtFill",
    data: {
      symbol: ctx.symbol,
      direction: trade.direction,
      entryClientOrderId: trade.entryClientOrderId,
      entryPrice,
      stopPrice: trade.plannedStopPrice,
      flattenClientOrderId: clientOrderIdFor(ctx.symbol, n, "FL"),
    },
  };
}

/** A protective exit was rejected or lost: flatten the position. */
export function decideOnProtectionFailure(ctx: SymbolContext, reason: string): SymbolActorEvent {
  return {
    type: "PositionUnprotected",
    data: {
      symbol: ctx.symbol,
      reason,
      flattenClientOrderId: clientOrderIdFor(ctx.symbol, ctx.signals, "FL"),
    },
  };
}

const exitSide = (direction: "LONG" | "SHORT"): "BUY" | "SELL" => (direction === "LONG" ? "SELL" : "BUY");

/** The MARKET entry order of an accepted signal. */
export function entryOrder(e: EventData<"EntrySignalled">): Submitted {
  return {
    clientOrderId: e.entryClientOrderId,
    symbol: e.symbol,
    side: e.direction === "LONG" ? "BUY" : "SELL",
    type: "MARKET",
    purpose: "ENTRY",
    positionSide: "BOTH",
    quantity: e.quantity,
    reduceOnly: false,
  };
}

/** The reduce-only STOP_MARKET and TAKE_PROFIT_MARKET bracket, each naming the other as sibling. */
export function protectionOrders(e: EventData<"PositionProtectionRequested">): [Submitted, Submitted] {
  const common = {
    symbol: e.symbol,
    side: exitSide(e.direction),
    positionSide: "BOTH" as const,
    quantity: e.quantity,
    reduceOnly: true,
    workingType: "MARK_PRICE" as const,
    priceProtect: true,
  };
  return [
    {
      ...common,
      clientOrderId: e.stopClientOrderId,
      type: "STOP_MARKET",
      purpose: "STOP_LOSS",
      triggerPrice: e.stopPrice,
      siblingClientOrderId: e.takeProfitClientOrderId,
    },
    {
      ...common,
      clientOrderId: e.takeProfitClientOrderId,
      type: "TAKE_PROFIT_MARKET",
      purpose: "TAKE_PROFIT",
      triggerPrice: e.takeProfitPrice,
      siblingClientOrderId: e.stopClientOrderId,
    },
  ];
}

/** A reduce-only MARKET order closing `quantity` of a `direction` position. */
export function flattenOrder(
  symbol: string,
  clientOrderId: string,
  direction: "LONG" | "SHORT",
  quantity: string,
): Submitted {
  return {
    clientOrderId,
    symbol,
    side: exitSide(direction),
    type: "MARKET",
    purpose: "FLATTEN",
    positionSide: "BOTH",
    quantity,
    reduceOnly: true,
  };
}
