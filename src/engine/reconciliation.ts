/**
 * Reconciliation, the pure part (issue 7 item 4; NautilusTrader's `reconcile_*` is the model): the engine's view
 * of its working orders, positions and wallet against the venue's snapshot (open orders, open algo orders,
 * positionRisk, account), taken after the venue recovered what its stream lost (missed fills, order ends and
 * funding, handed to the engine as ordinary venue reports: src/adapters/binance/reconcile.ts).
 *
 * What is left is a discrepancy, and each calls for a trading state (the strictest wins):
 * - `unknownOrder`: an order open at the venue that the engine does not have working (another client's, or one
 *   the engine thinks ended) → REDUCING: the engine cannot account for what it may do.
 * - `unknownPosition`: a position at the venue where the engine is flat → REDUCING.
 * - `positionMismatch`: both have the position and the amounts differ → HALTED (cannot be explained).
 * - `orderNotAtVenue`: an order the engine has working that the venue neither lists open nor ended → HALTED.
 * - `walletMismatch`: the USDT wallet balances differ → HALTED.
 * Amounts are compared as decimals ("0.010" = "0.01"); nothing is rounded, there is no tolerance.
 */
import { Dec } from "../domain/decimal.ts";

/** One-way mode: BOTH; hedge mode: LONG or SHORT. */
export type ReconciledPositionSide = "BOTH" | "LONG" | "SHORT";

/** A position as a signed amount (base asset, decimal string; negative = short). */
export interface PositionAmount {
  symbol: string;
  positionSide: ReconciledPositionSide;
  positionAmt: string;
}

/** An order the engine has working (not ended). */
export interface WorkingOrderView {
  clientOrderId: string;
  symbol: string;
  /** A conditional order (Algo Order API). */
  algo: boolean;
  /** A triggered conditional order's matching-engine order id (its regular order at the venue). */
  triggeredOrderId?: string;
  /** Filled so far (base asset, decimal string). */
  executedQty: string;
}

/** What the engine holds, for a reconciliation. */
export interface EngineView {
  orders: readonly WorkingOrderView[];
  /** Open positions only (a flat one is absent). */
  positions: readonly PositionAmount[];
  /** USDT wallet balance. */
  walletBalance: string;
  /**
   * Per traded symbol, the market time (ms) after which funding payments may be missing from the log: the
   * latest settlement the engine booked, or the run's start (or last checkpoint) when it booked none.
   */
  fundingSince: Readonly<Record<string, number>>;
  /** Per symbol, the fundingTime of the last settlement the engine recorded (FundingRateSettled), if any. */
  lastSettlement: Readonly<Record<string, number>>;
}

/** An order open at the venue (`GET /fapi/v1/openOrders`, `GET /fapi/v1/openAlgoOrders`). */
export interface VenueOpenOrder {
  clientOrderId: string;
  symbol: string;
  /** Listed by openAlgoOrders (an untriggered conditional order). */
  algo: boolean;
  /** The venue's order id (orderId, or algoId for an algo order). */
  orderId: string;
  side: string;
  type: string;
  /** Original quantity ("0" for closePosition). */
  quantity: string;
  price: string;
}

/** What the venue says, read after its recovery (`GET openOrders`, `openAlgoOrders`, `account`). */
export interface VenueSnapshot {
  openOrders: readonly VenueOpenOrder[];
  /** Positions with a non-zero amount. */
  positions: readonly PositionAmount[];
  walletBalance: string;
}

/** A difference between the engine and the venue (module docstring). */
export type Discrepancy =
  | { kind: "unknownOrder"; order: VenueOpenOrder }
  | { kind: "unknownPosition"; symbol: string; positionSide: ReconciledPositionSide; venue: string }
  | {
      kind: "positionMismatch";
      symbol: string;
      positionSide: ReconciledPositionSide;
      engine: string;
      venue: string;
    }
  | { kind: "orderNotAtVenue"; clientOrderId: string; symbol: string }
  | { kind: "walletMismatch"; engine: string; venue: string };

/** The trading state a reconciliation calls for. */
export type ReconciliationAction = "none" | "REDUCING" | "HALTED";

/** The discrepancies, the state they call for, and a one-line reason with the numbers behind it. */
export interface ReconciliationOutcome {
  discrepancies: Discrepancy[];
  action: ReconciliationAction;
  /** Every discrepancy in words (empty when there is none). */
  reason: string;
  /** The numbers behind the discrepancies, decimal strings (e.g. `walletBalance.engine`, `BTCUSDT.venue`). */
  numbers: Record<string, string>;
}

/** Compares `engine` with `venue` (module docstring). Pure; the order of the inputs does not matter. */
export function reconcile(engine: EngineView, venue: VenueSnapshot): ReconciliationOutcome {
  const discrepancies: Discrepancy[] = [];
  const byId = new Map(engine.orders.map((o) => [o.clientOrderId, o]));
  const triggered = new Set(engine.orders.flatMap((o) => (o.triggeredOrderId ? [o.triggeredOrderId] : [])));
  const listed = new Set<string>();
  for (const order of sortedOrders(venue.openOrders)) {
    const mine = byId.get(order.clientOrderId);
    // A triggered conditional order is a regular order at the venue (its clientOrderId is the algo's on the
    // double, unconfirmed on Binance: matched by its order id too).
    if ((mine && mine.symbol === order.symbol) || (!order.algo && triggered.has(order.orderId))) {
      listed.add(mine?.clientOrderId ?? idOfTriggered(engine, order.orderId));
      continue;
    }
    discrepancies.push({ kind: "unknownOrder", order });
  }
  for (const o of [...engine.orders].sort((a, b) => compare(a.clientOrderId, b.clientOrderId)))
    if (!listed.has(o.clientOrderId))
      discrepancies.push({ kind: "orderNotAtVenue", clientOrderId: o.clientOrderId, symbol: o.symbol });
  const engineAmounts = amounts(engine.positions);
  const venueAmounts = amounts(venue.positions);
  const keys = [...new Set([...engineAmounts.keys(), ...venueAmounts.keys()])].sort(compare);
  for (const key of keys) {
    const e = engineAmounts.get(key) ?? new Dec(0);
    const v = venueAmounts.get(key) ?? new Dec(0);
    if (e.eq(v)) continue;
    const [symbol, positionSide] = key.split(":") as [string, ReconciledPositionSide];
    if (e.isZero()) discrepancies.push({ kind: "unknownPosition", symbol, positionSide, venue: v.toFixed() });
    else
      discrepancies.push({
        kind: "positionMismatch",
        symbol,
        positionSide,
        engine: e.toFixed(),
        venue: v.toFixed(),
      });
  }
  if (!new Dec(engine.walletBalance).eq(venue.walletBalance))
    discrepancies.push({
      kind: "walletMismatch",
      engine: new Dec(engine.walletBalance).toFixed(),
      venue: new Dec(venue.walletBalance).toFixed(),
    });
  return {
    discrepancies,
    action: actionOf(discrepancies),
    reason: discrepancies.map(describe).join("; "),
    numbers: numbersOf(discrepancies),
  };
}

/** The state a discrepancy calls for (module docstring). */
export function actionFor(d: Discrepancy): Exclude<ReconciliationAction, "none"> {
  return d.kind === "unknownOrder" || d.kind === "unknownPosition" ? "REDUCING" : "HALTED";
}

/** The strictest state the discrepancies call for. */
function actionOf(discrepancies: readonly Discrepancy[]): ReconciliationAction {
  let action: ReconciliationAction = "none";
  for (const d of discrepancies) {
    const a = actionFor(d);
    if (a === "HALTED") return a;
    action = a;
  }
  return action;
}

/** A discrepancy in words, with its numbers. */
export function describe(d: Discrepancy): string {
  switch (d.kind) {
    case "unknownOrder":
      return (
        `unknown ${d.order.algo ? "algo " : ""}order ${d.order.clientOrderId} (${d.order.symbol} ${d.order.side} ` +
        `${d.order.type} ${d.order.quantity} @ ${d.order.price}, venue id ${d.order.orderId}) open at the venue`
      );
    case "unknownPosition":
      return `unknown position ${d.symbol} ${d.positionSide} ${d.venue} at the venue (engine flat)`;
    case "positionMismatch":
      return `position ${d.symbol} ${d.positionSide}: engine ${d.engine}, venue ${d.venue}`;
    case "orderNotAtVenue":
      return `order ${d.clientOrderId} (${d.symbol}) working in the engine, not open at the venue`;
    case "walletMismatch":
      return `USDT wallet: engine ${d.engine}, venue ${d.venue}`;
  }
}

function numbersOf(discrepancies: readonly Discrepancy[]): Record<string, string> {
  const numbers: Record<string, string> = {};
  for (const d of discrepancies) {
    if (d.kind === "walletMismatch") {
      numbers["walletBalance.engine"] = d.engine;
      numbers["walletBalance.venue"] = d.venue;
    } else if (d.kind === "positionMismatch" || d.kind === "unknownPosition") {
      const key = d.positionSide === "BOTH" ? d.symbol : `${d.symbol}:${d.positionSide}`;
      numbers[`${key}.engine`] = d.kind === "positionMismatch" ? d.engine : "0";
      numbers[`${key}.venue`] = d.venue;
    }
  }
  return numbers;
}

/** Non-zero amounts by `symbol:positionSide`, summed (a listing may repeat a key). */
function amounts(positions: readonly PositionAmount[]): Map<string, Dec> {
  const out = new Map<string, Dec>();
  for (const p of positions) {
    const key = `${p.symbol}:${p.positionSide}`;
    out.set(key, (out.get(key) ?? new Dec(0)).plus(p.positionAmt));
  }
  for (const [key, amount] of out) if (amount.isZero()) out.delete(key);
  return out;
}

function idOfTriggered(engine: EngineView, orderId: string): string {
  return engine.orders.find((o) => o.triggeredOrderId === orderId)!.clientOrderId;
}

function sortedOrders(orders: readonly VenueOpenOrder[]): VenueOpenOrder[] {
  return [...orders].sort(
    (a, b) =>
      compare(a.symbol, b.symbol) ||
      compare(a.clientOrderId, b.clientOrderId) ||
      compare(a.orderId, b.orderId),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
