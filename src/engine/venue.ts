/**
 * The venue port: where orders go and where executions come from. The simulated venue
 * (src/adapters/venue/simulated.ts) implements it for backtests; paper, testnet and live adapters implement the
 * same port, so the engine and actors do not change between modes.
 */
import type { FillReport, FundingReport } from "../actors/account.decide.ts";
import type { EventData } from "../events/catalog.ts";

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
  | { kind: "expired"; time: number; symbol: string; clientOrderId: string; reason: string }
  | { kind: "funding"; time: number; funding: FundingReport };

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
