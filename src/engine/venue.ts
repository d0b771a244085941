/**
 * The venue port: where orders go and where executions come from. The simulated venue
 * (src/adapters/venue/simulated/) implements it for backtests; paper, testnet and live adapters implement the
 * same port, so the engine and actors do not change between modes.
 */
import type { FillReport, FundingReport } from "../actors/account.decide.ts";
import type { EventData } from "../events/catalog.ts";
import type { EngineView, VenueSnapshot } from "./reconciliation.ts";

/** An order as the engine recorded it (OrderSubmitted). */
export type OrderRequest = EventData<"OrderSubmitted">;

/** The venue's answer to a new order: its order id, or a rejection with a Binance error code. */
export type SubmitResult =
  | { accepted: true; orderId: string }
  | { accepted: false; code: number; reason: string };

/** The venue's answer to a cancel request. */
export type CancelResult = { canceled: true } | { canceled: false; code: number; reason: string };

/** A fill as reported by the venue (ORDER_TRADE_UPDATE with execution type TRADE). */
export interface VenueFill extends FillReport {
  cumulativeQuantity: string;
  status: "PARTIALLY_FILLED" | "FILLED";
  maker: boolean;
}

/** What the venue reports asynchronously; `time` is the market time of the fact (ms). */
export type VenueReport =
  | { kind: "fill"; time: number; fill: VenueFill }
  /** A conditional order's condition was met on `workingType`'s price `triggeredAt` (algo TRIGGERING). */
  | {
      kind: "triggering";
      time: number;
      symbol: string;
      clientOrderId: string;
      workingType: "MARK_PRICE" | "CONTRACT_PRICE";
      triggeredAt: string;
    }
  /** The triggered order is in the matching engine as a regular order with its own id (algo TRIGGERED). */
  | {
      kind: "triggered";
      time: number;
      symbol: string;
      clientOrderId: string;
      orderId: string;
      actualType: "MARKET" | "LIMIT";
    }
  /** The matching engine rejected a triggered order (e.g. priceProtect, -2019 margin); Binance code. */
  | { kind: "rejected"; time: number; symbol: string; clientOrderId: string; code: number; reason: string }
  /** Binance's expiry reason `er` (§3.1) when known: 1/3 STP (EXPIRED_IN_MATCH), 2 IOC, 5 liquidation, … */
  | {
      kind: "expired";
      time: number;
      symbol: string;
      clientOrderId: string;
      reason: string;
      expiryReason?: number;
    }
  | { kind: "funding"; time: number; funding: FundingReport }
  /** The venue liquidated a position (binance-usdm.md §4.7–4.8); its orders were expired (er 5) first. */
  | { kind: "liquidation"; time: number; liquidation: EventData<"PositionLiquidated"> };

/** Receives venue reports; the venue awaits it before producing the next one. */
export type VenueReportHandler = (report: VenueReport) => Promise<void>;

/** Order entry at a venue. */
export interface Venue {
  /**
   * True when `submit` and `cancel` reach outside the process (a real exchange): the store is then flushed
   * before each, so no order leaves before its intent is durable (docs/ARCHITECTURE.md, the group-commit rule).
   */
  readonly external: boolean;
  /** Sends a new order. Resolves with the acknowledgement or the rejection; never throws for a rejection. */
  submit(order: OrderRequest): Promise<SubmitResult>;
  /** Cancels a working order. */
  cancel(symbol: string, clientOrderId: string): Promise<CancelResult>;
}

/** Account settings an external venue applies to every symbol at start (binance-usdm.md §4.1). */
export interface VenueSettings {
  leverage: number;
  marginType: "ISOLATED" | "CROSSED";
  /** Hedge mode (LONG and SHORT positions per symbol); false: one-way. */
  dualSidePosition: boolean;
}

/** The account at the venue when `start` returned. */
export interface VenueAccount {
  /** USDT wallet balance (decimal string): a new live run's account opens with it. */
  walletBalance: string;
}

/**
 * An order the venue is handed after a restart (`ExternalVenue.adopt`): working at the venue as far as the log
 * knows, with what the log holds of it.
 */
export interface AdoptedOrder {
  request: OrderRequest;
  /** The venue's order id (the algoId of a conditional order), when the log holds its acceptance. */
  orderId?: string;
  /** A triggered conditional order's matching-engine order id (OrderTriggered). */
  triggeredOrderId?: string;
  /** A conditional order whose OrderTriggering the log holds and whose OrderTriggered it does not. */
  triggering: boolean;
  /** Quantity filled so far (base asset, the log's cumulativeQuantity; "0" when none). */
  executedQty: string;
  /** The tradeIds of its fills in the log. */
  tradeIds: readonly string[];
}

/**
 * A venue outside the process (testnet, live: src/adapters/binance/venue.ts). `start` sets the account up with
 * `settings` and opens the report stream: each report is handed to `onReport` and awaited before the next.
 * After a restart (src/engine/live-restart.ts), before `start`: `adopt` each order the restored engine has
 * working (its reports are then recognised, its cancel goes to the right endpoint), and `inDoubt` the orders whose
 * intent the log holds without the venue's answer.
 */
export interface ExternalVenue extends Venue {
  start(settings: VenueSettings, onReport: VenueReportHandler): Promise<VenueAccount>;
  close(): Promise<void>;
  /** Registers an order the engine has working (after a restart). */
  adopt(order: AdoptedOrder): void;
  /**
   * Orders that may or may not have reached the venue (their intent is in the log, the answer is not): the first
   * `submit` of each asks the venue for it by clientOrderId instead of sending it; found, it is accepted with its
   * order id and never sent; absent, it is sent, once.
   */
  inDoubt(orders: readonly OrderRequest[]): void;
  /**
   * Reconciliation (src/engine/reconciliation.ts): recovers what the report stream lost for `view` (missed
   * fills, order ends, funding), handing each report to `deliver` in order — reports already given to
   * `onReport` and not yet handled among them (the caller drops the one it gets twice) — and resolves with how
   * many it recovered and the venue's state after that (`recover: false`: the state only, after the reports
   * already queued; `allFunding`: look for lost funding payments of every symbol, not only after a settlement
   * the engine recorded). Called from the task that owns the engine.
   */
  reconcile?(
    view: EngineView,
    deliver: VenueReportHandler,
    options?: { recover?: boolean; allFunding?: boolean },
  ): Promise<VenueReconciliation>;
  /** Registers a listener for the points where the report stream may have lost reports (reconnect, …). */
  onResync?(listener: () => void): void;
}

/** A request to an external venue failed (refused, banned, timed out, unavailable): the venue adapters' base. */
export class VenueRequestError extends Error {
  override name = "VenueRequestError";
}

/** What `ExternalVenue.reconcile` recovered and read. */
export interface VenueReconciliation {
  /** Reports recovered and delivered. */
  recovered: number;
  snapshot: VenueSnapshot;
}
