/**
 * Drives the simulated venue on hand-made 1m bars, routing its reports through `OrderExecution` (the order and
 * account actors, in memory) as the trading engine does, so every report must be a legal transition of the
 * order machine. Records the reports and the submit results.
 */
import { accountMachine } from "../../src/actors/account.machine.ts";
import { EventSourcedActor } from "../../src/actors/event-sourced-actor.ts";
import { type OrderStatus, orderMachine } from "../../src/actors/order.machine.ts";
import type { Tick } from "../../src/adapters/market/ticks.ts";
import { InMemoryEventStore } from "../../src/adapters/store/memory.ts";
import {
  SimulatedVenue,
  type SimulatedVenueOptions,
  type VenueBar,
  type VenueMarkBar,
} from "../../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../../src/domain/instruments.ts";
import { OrderExecution, type SubmitOutcome } from "../../src/engine/order-execution.ts";
import type { OrderRequest, VenueFill, VenueReport } from "../../src/engine/venue.ts";
import { streams } from "../../src/events/streams.ts";

/** 2024-01-01 00:00 UTC. */
export const T0 = 1704067200000;

type Ohlc = [string, string, string, string];

/** The 1m bar `i` minutes after T0 of `symbol` (volume "1000" unless given). */
export function venueBar(
  symbol: string,
  i: number,
  [open, high, low, close]: Ohlc,
  volume = "1000",
): VenueBar {
  const openTime = T0 + i * 60_000;
  return { symbol, openTime, closeTime: openTime + 59_999, open, high, low, close, volume };
}

/** The 1m mark-price bar `i` minutes after T0. */
export function markBar(i: number, [open, high, low, close]: Ohlc): VenueMarkBar {
  return { openTime: T0 + i * 60_000, open, high, low, close };
}

let seq = 0;

/** An order request with defaults (ETHUSDT, one-way, not reduce-only); `id` becomes the clientOrderId. */
export function order(
  id: string,
  fields: Partial<OrderRequest> & Pick<OrderRequest, "side" | "type">,
): OrderRequest {
  return {
    clientOrderId: id,
    symbol: "ETHUSDT",
    purpose: "ENTRY",
    positionSide: "BOTH",
    reduceOnly: false,
    quantity: "1",
    ...fields,
  };
}

/** A venue with the engine's order execution behind it. */
export async function venueHarness(options: Partial<SimulatedVenueOptions> = {}) {
  const store = new InMemoryEventStore();
  const runId = `venue-test-${++seq}`;
  const venue = new SimulatedVenue({
    takerRate: "0.0005",
    makerRate: "0.0002",
    slippage: "0",
    instrument: getInstrument,
    ...options,
  });
  const account = EventSourcedActor.create("account-main", accountMachine, { store, correlationId: runId });
  await account.commit(
    [{ type: "AccountOpened", data: { accountId: "main", asset: "USDT", walletBalance: "100000" } }],
    { causationId: "t", eventTime: T0 },
  );
  const execution = new OrderExecution({ store, runId, venue, account });
  const reports: VenueReport[] = [];
  let now = T0;
  const handle = async (r: VenueReport): Promise<void> => {
    reports.push(r);
    switch (r.kind) {
      case "fill":
        await execution.onFill(r.fill, r.time);
        return;
      case "expired":
        await execution.onExpired(r.clientOrderId, r.reason, r.time, r.expiryReason);
        return;
      case "triggering":
        return execution.onTriggering(r);
      case "triggered":
        return execution.onTriggered(r);
      case "rejected":
        await execution.onRejected(r);
        return;
      default:
        throw new Error(`unexpected report ${r.kind}`);
    }
  };
  return {
    venue,
    reports,
    /** Submits through OrderExecution (OrderSubmitted, then the venue's answer). */
    submit(request: OrderRequest): Promise<SubmitOutcome> {
      return execution.submit(request, { causationId: `test:${request.clientOrderId}`, eventTime: now });
    },
    cancel(symbol: string, clientOrderId: string): Promise<boolean> {
      return execution.cancel(symbol, clientOrderId, "user", { causationId: "test:cancel", eventTime: now });
    },
    /** Matches one bar (and its mark bar); returns the reports it produced. */
    async bar(bar: VenueBar, mark?: VenueMarkBar): Promise<VenueReport[]> {
      const from = reports.length;
      await venue.matchBar(bar, handle, mark);
      now = bar.closeTime;
      return reports.slice(from);
    },
    /** Matches one tick; returns the reports it produced. */
    async tick(tick: Tick): Promise<VenueReport[]> {
      const from = reports.length;
      await venue.matchTick(tick, handle);
      now = tick.time;
      return reports.slice(from);
    },
    /** The order machine's state of `clientOrderId`, rebuilt from its stream. */
    async status(clientOrderId: string): Promise<OrderStatus> {
      const actor = await EventSourcedActor.rehydrate(streams.order(clientOrderId), orderMachine, {
        store,
        correlationId: runId,
      });
      return actor.snapshot.value as OrderStatus;
    },
    fills(clientOrderId?: string): VenueFill[] {
      return reports
        .filter((r): r is Extract<VenueReport, { kind: "fill" }> => r.kind === "fill")
        .map((r) => r.fill)
        .filter((f) => clientOrderId === undefined || f.clientOrderId === clientOrderId);
    },
    kinds(rs: VenueReport[] = reports): string[] {
      return rs.map(
        (r) =>
          `${r.kind}:${"clientOrderId" in r ? r.clientOrderId : r.kind === "fill" ? r.fill.clientOrderId : ""}`,
      );
    },
  };
}
