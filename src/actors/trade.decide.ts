/**
 * Decisions of the trade actor: pure functions from its snapshot and an input (a strategy's decision, the
 * entry's fill, a failed exit) to the events to append, and the order requests those events imply.
 * strategies.md §2.3 (brackets), binance-usdm.md §2.3 (order types).
 *
 * Position mode (`dualSidePosition`, binance-usdm.md §2.2, §4.1): in one-way mode every order is BOTH and exits
 * are reduce-only; in hedge mode an order names the side of the trade it belongs to (a LONG trade: entry
 * BUY/LONG, stop, take-profit and flatten SELL/LONG; a SHORT trade mirrored) and never carries reduceOnly (Binance
 * rejects it in hedge mode): the position side makes an exit a close, which the venue caps at that side.
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
  /** Signed position size now, base asset (hedge mode: the net, LONG + SHORT). */
  positionAmt: string;
  /** Hedge mode: the LONG (≥ 0) and SHORT (≤ 0) positions now, base asset; absent in one-way mode. */
  sides?: { long: string; short: string };
  /** Whether the last target order is still working. */
  orderPending: boolean;
  instrument: Instrument;
}

/**
 * A target position (strategies.md §0 "Numbers", binance-usdm.md §1): the change Δ = target − position is floored
 * to the MARKET_LOT_SIZE step and sent as one MARKET order, reduce-only when it only reduces the position (same
 * side, smaller, or flat). No order when an earlier one is pending, when the strategy holds (`intent.hold`, its
 * own sizing's reason), when Δ floors to 0 (`atTarget`), or when a non-reduce-only change is worth less than
 * MIN_NOTIONAL at the reference price (`belowMinNotional`).
 * @returns TargetPositionSet, and the order request when one is sent.
 */
export function decideOnTarget(
  ctx: TradeContext,
  intent: TargetIntent,
  origin: DecisionOrigin,
  now: TargetContext,
): { event: TradeActorEvent; order?: Submitted; second?: Submitted } {
  if (now.sides) return decideOnHedgeTarget(ctx, intent, origin, { ...now, sides: now.sides });
  const current = toDec(now.positionAmt, "positionAmt");
  const target = toDec(intent.positionAmt, "target positionAmt");
  const delta = target.minus(current);
  const { instrument } = now;
  const quantity = floorToStep(delta.abs(), instrument.marketStepSize, instrument.marketMinQty);
  const reduceOnly = target.isZero() || (target.times(current).gt(0) && target.abs().lt(current.abs()));
  let reason: EventData<"TargetPositionSet">["reason"];
  if (now.orderPending) reason = "orderPending";
  else if (intent.hold !== undefined) reason = intent.hold;
  else if (quantity.isZero()) reason = delta.isZero() ? "atTarget" : "belowMinNotional";
  else if (
    !reduceOnly &&
    quantity.times(toDec(intent.referencePrice, "referencePrice")).lt(new Dec(instrument.minNotional))
  ) {
    reason = "belowMinNotional";
  }
  const clientOrderId =
    reason === undefined ? clientOrderIdFor(ctx.symbol, ctx.targetOrders + 1, "T") : undefined;
  const event = targetPositionSet(ctx, intent, origin, now, clientOrderId ? [clientOrderId] : [], reason);
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
 * The TargetPositionSet of a target decision: the ids of the orders it sends (none, one, or two in hedge mode:
 * `clientOrderId`, `secondClientOrderId`), else the reason it sends none.
 */
function targetPositionSet(
  ctx: TradeContext,
  intent: TargetIntent,
  origin: DecisionOrigin,
  now: TargetContext,
  ids: readonly string[],
  reason: EventData<"TargetPositionSet">["reason"],
): TradeActorEvent {
  return {
    type: "TargetPositionSet",
    data: {
      symbol: ctx.symbol,
      strategy: origin.strategy,
      paramsVersion: origin.paramsVersion,
      barOpenTime: origin.barOpenTime,
      targetPositionAmt: intent.positionAmt,
      positionAmt: now.positionAmt,
      referencePrice: intent.referencePrice,
      ...(ids.length > 0 ? { clientOrderId: ids[0]! } : { reason }),
      ...(ids.length > 1 ? { secondClientOrderId: ids[1]! } : {}),
      signal: { ...intent.signal },
    },
  };
}

/** One side's move towards its goal in hedge mode: the MARKET order's side, quantity and whether it closes. */
interface SideMove {
  positionSide: "LONG" | "SHORT";
  side: "BUY" | "SELL";
  quantity: Dec;
  closes: boolean;
}

/**
 * A target position in hedge mode: the target's sign names the side that should hold it, the other side is
 * closed. Up to two MARKET orders, in this order: the close of the other side (BUY/SHORT or SELL/LONG of its
 * whole size), then the move of the target's side from its position to the target (BUY/LONG or SELL/SHORT to
 * add, the reverse to close part of it); a target of 0 closes both sides (SHORT first). A long → short flip is
 * thus SELL/LONG (close) then SELL/SHORT (open). Sizes are floored to MARKET_LOT_SIZE; an opening move worth
 * less than MIN_NOTIONAL at the reference price is dropped (`belowMinNotional` when nothing is left), no order
 * when an earlier one is pending. The first order's id is TargetPositionSet.clientOrderId, the second's
 * `secondClientOrderId`; none carries reduceOnly (binance-usdm.md §4.1).
 */
function decideOnHedgeTarget(
  ctx: TradeContext,
  intent: TargetIntent,
  origin: DecisionOrigin,
  now: TargetContext & { sides: { long: string; short: string } },
): { event: TradeActorEvent; order?: Submitted; second?: Submitted } {
  const { instrument } = now;
  const target = toDec(intent.positionAmt, "target positionAmt");
  const long = toDec(now.sides.long, "LONG positionAmt");
  const short = toDec(now.sides.short, "SHORT positionAmt");
  const floor = (q: Dec) => floorToStep(q, instrument.marketStepSize, instrument.marketMinQty);
  const move = (positionSide: "LONG" | "SHORT", from: Dec, to: Dec): SideMove | undefined => {
    const delta = to.minus(from);
    if (delta.isZero()) return undefined;
    const closes = to.abs().lt(from.abs());
    return { positionSide, side: delta.isPos() ? "BUY" : "SELL", quantity: floor(delta.abs()), closes };
  };
  const wanted = [
    target.gt(0) || target.isZero() ? move("SHORT", short, new Dec(0)) : undefined,
    target.lt(0) || target.isZero() ? move("LONG", long, new Dec(0)) : undefined,
    target.gt(0) ? move("LONG", long, target) : undefined,
    target.lt(0) ? move("SHORT", short, target) : undefined,
  ].filter((m): m is SideMove => m !== undefined);
  const minNotional = new Dec(instrument.minNotional);
  const reference = toDec(intent.referencePrice, "referencePrice");
  const moves = wanted.filter(
    (m) => !m.quantity.isZero() && (m.closes || !m.quantity.times(reference).lt(minNotional)),
  );
  let reason: EventData<"TargetPositionSet">["reason"];
  if (now.orderPending) reason = "orderPending";
  else if (intent.hold !== undefined) reason = intent.hold;
  else if (moves.length === 0) reason = wanted.length === 0 ? "atTarget" : "belowMinNotional";
  const ids =
    reason === undefined
      ? moves.map((_, i) => clientOrderIdFor(ctx.symbol, ctx.targetOrders + 1 + i, "T"))
      : [];
  const event = targetPositionSet(ctx, intent, origin, now, ids, reason);
  const orders = ids.map(
    (clientOrderId, i): Submitted => ({
      clientOrderId,
      symbol: ctx.symbol,
      side: moves[i]!.side,
      type: "MARKET",
      purpose: "TARGET",
      positionSide: moves[i]!.positionSide,
      quantity: formatAtScale(moves[i]!.quantity, instrument.marketStepSize),
      reduceOnly: false,
    }),
  );
  return {
    event,
    ...(orders[0] ? { order: orders[0] } : {}),
    ...(orders[1] ? { second: orders[1] } : {}),
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

/** The positionSide of a `direction` trade's orders: BOTH in one-way mode, the direction in hedge mode. */
const sideOf = (direction: "LONG" | "SHORT", dualSidePosition: boolean) =>
  dualSidePosition ? direction : ("BOTH" as const);

/** The MARKET entry order of an accepted signal (hedge mode: on the signal's side, module comment). */
export function entryOrder(e: EventData<"EntrySignalled">, dualSidePosition = false): Submitted {
  return {
    clientOrderId: e.entryClientOrderId,
    symbol: e.symbol,
    side: e.direction === "LONG" ? "BUY" : "SELL",
    type: "MARKET",
    purpose: "ENTRY",
    positionSide: sideOf(e.direction, dualSidePosition),
    quantity: e.quantity,
    reduceOnly: false,
  };
}

/**
 * The STOP_MARKET and TAKE_PROFIT_MARKET bracket, each naming the other as sibling: reduce-only in one-way mode,
 * closes of the trade's side in hedge mode (module comment).
 */
export function protectionOrders(
  e: EventData<"PositionProtectionRequested">,
  dualSidePosition = false,
): [Submitted, Submitted] {
  const common = {
    symbol: e.symbol,
    side: exitSide(e.direction),
    positionSide: sideOf(e.direction, dualSidePosition),
    quantity: e.quantity,
    reduceOnly: !dualSidePosition,
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

/**
 * A MARKET order closing `quantity` of a `direction` position: reduce-only in one-way mode, a close of the
 * `direction` side in hedge mode.
 */
export function flattenOrder(
  symbol: string,
  clientOrderId: string,
  direction: "LONG" | "SHORT",
  quantity: string,
  dualSidePosition = false,
): Submitted {
  return {
    clientOrderId,
    symbol,
    side: exitSide(direction),
    type: "MARKET",
    purpose: "FLATTEN",
    positionSide: sideOf(direction, dualSidePosition),
    quantity,
    reduceOnly: !dualSidePosition,
  };
}
