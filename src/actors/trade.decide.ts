/**
 * Decisions of the trade actor: pure functions from its snapshot and an input (a strategy's decision, the
 * entry's fill, a failed exit) to the events to append, and the order requests those events imply.
 * strategies.md §2.3 (brackets), binance-usdm.md §2.3 (order types).
 */
import { protectionPrices } from "../domain/bracket.ts";
import { Dec, floorToStep, formatAtScale, toDec } from "../domain/decimal.ts";
import type { Instrument } from "../domain/instruments.ts";
import type { EventData } from "../events/catalog.ts";
import type { StrategyDecision, TargetIntent } from "../strategies/strategy.ts";
import { clientOrderIdFor } from "./client-order-ids.ts";
import type { TradeActorEvent, TradeContext } from "./trade.machine.ts";

type Submitted = EventData<"OrderSubmitted">;

/** Who decided, and on which bar. */
export interface DecisionOrigin {
  strategy: string;
  paramsVersion: number;
  barOpenTime: number;
}

/**
 * A strategy's decision on a bar: EntrySignalled for an entry (numbering its entry clientOrderId),
 * SignalSuppressed for a suppressed signal, nothing otherwise.
 */
export function decideOnStrategyDecision(
  ctx: TradeContext,
  decision: StrategyDecision,
  origin: DecisionOrigin,
): TradeActorEvent[] {
  if (decision.kind === "suppressed") {
    return [
      {
        type: "SignalSuppressed",
        data: {
          symbol: ctx.symbol,
          strategy: origin.strategy,
          direction: decision.direction,
          barOpenTime: origin.barOpenTime,
          reason: decision.reason,
        },
      },
    ];
  }
  if (decision.kind !== "entry") return [];
  return [
    {
      type: "EntrySignalled",
      data: {
        symbol: ctx.symbol,
        strategy: origin.strategy,
        paramsVersion: origin.paramsVersion,
        direction: decision.direction,
        barOpenTime: origin.barOpenTime,
        referencePrice: decision.referencePrice,
        stopPrice: decision.stopPrice,
        takeProfitRiskMultiple: decision.takeProfitRiskMultiple,
        quantity: decision.quantity,
        entryClientOrderId: clientOrderIdFor(ctx.symbol, ctx.signals + 1, "E"),
        signal: { ...decision.signal },
      },
    },
  ];
}

/** The position and order state a target decision is taken against. */
export interface TargetContext {
  /** Signed position size now, base asset. */
  positionAmt: string;
  /** Whether the last target order is still working. */
  orderPending: boolean;
  instrument: Instrument;
}

/**
 * A target position (strategies.md §0 "Numbers", binance-usdm.md §1): the change Δ = target − position is floored
 * to the MARKET_LOT_SIZE step and sent as one MARKET order, reduce-only when it only reduces the position (same
 * side, smaller, or flat). No order when an earlier one is pending, when Δ floors to 0 (`atTarget`), or when a
 * non-reduce-only change is worth less than MIN_NOTIONAL at the reference price (`belowMinNotional`).
 * @returns TargetPositionSet, and the order request when one is sent.
 */
export function decideOnTarget(
  ctx: TradeContext,
  intent: TargetIntent,
  origin: DecisionOrigin,
  now: TargetContext,
): { event: TradeActorEvent; order?: Submitted } {
  const current = toDec(now.positionAmt, "positionAmt");
  const target = toDec(intent.positionAmt, "target positionAmt");
  const delta = target.minus(current);
  const { instrument } = now;
  const quantity = floorToStep(delta.abs(), instrument.marketStepSize, instrument.marketMinQty);
  const reduceOnly = target.isZero() || (target.times(current).gt(0) && target.abs().lt(current.abs()));
  let reason: "atTarget" | "belowMinNotional" | "orderPending" | undefined;
  if (now.orderPending) reason = "orderPending";
  else if (quantity.isZero()) reason = delta.isZero() ? "atTarget" : "belowMinNotional";
  else if (
    !reduceOnly &&
    quantity.times(toDec(intent.referencePrice, "referencePrice")).lt(new Dec(instrument.minNotional))
  ) {
    reason = "belowMinNotional";
  }
  const clientOrderId =
    reason === undefined ? clientOrderIdFor(ctx.symbol, ctx.targetOrders + 1, "T") : undefined;
  const event: TradeActorEvent = {
    type: "TargetPositionSet",
    data: {
      symbol: ctx.symbol,
      strategy: origin.strategy,
      paramsVersion: origin.paramsVersion,
      barOpenTime: origin.barOpenTime,
      targetPositionAmt: intent.positionAmt,
      positionAmt: now.positionAmt,
      referencePrice: intent.referencePrice,
      ...(clientOrderId ? { clientOrderId } : { reason }),
      signal: { ...intent.signal },
    },
  };
  if (!clientOrderId) return { event };
  return {
    event,
    order: {
      clientOrderId,
      symbol: ctx.symbol,
      side: delta.isPos() ? "BUY" : "SELL",
      type: "MARKET",
      purpose: "TARGET",
      positionSide: "BOTH",
      quantity: formatAtScale(quantity, instrument.marketStepSize),
      reduceOnly,
    },
  };
}

/**
 * The entry filled at `entryPrice` for `quantity`: protect it with a stop-loss and a take-profit computed from
 * the fill, or flatten at once when the fill left no risk (risk ≤ 0).
 */
export function decideOnEntryFill(
  ctx: TradeContext,
  instrument: Instrument,
  entryPrice: string,
  quantity: string,
): TradeActorEvent {
  const trade = ctx.trade;
  if (!trade) throw new Error(`${ctx.symbol}: entry fill without an active trade`);
  const n = ctx.signals;
  const p = protectionPrices(
    trade.direction,
    entryPrice,
    trade.plannedStopPrice,
    trade.takeProfitRiskMultiple,
    instrument.tickSize,
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
export function decideOnProtectionFailure(ctx: TradeContext, reason: string): TradeActorEvent {
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
