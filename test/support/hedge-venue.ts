/**
 * A hedge-mode simulated venue on hand-made BTCUSDT bars (§4.6's bracket table), with its reports booked by the
 * engine's OrderExecution on an account actor opened with `dualSidePosition` (as a backtest wires them), and the
 * venue's margin checks and liquidation reading that account.
 */
import { marginedPositions } from "../../src/actors/account.decide.ts";
import { accountMachine, positionKey } from "../../src/actors/account.machine.ts";
import { EventSourcedActor } from "../../src/actors/event-sourced-actor.ts";
import { InMemoryEventStore } from "../../src/adapters/store/memory.ts";
import { SimulatedVenue } from "../../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../../src/domain/instruments.ts";
import { OrderExecution } from "../../src/engine/order-execution.ts";
import type { OrderRequest, VenueReport } from "../../src/engine/venue.ts";
import { SPEC_BTC_BRACKETS } from "./btc-brackets.ts";
import { T0, venueBar } from "./venue-harness.ts";

/** The symbol traded. */
export const S = "BTCUSDT";
let runs = 0;
export type Ohlc = [string, string, string, string];

/** A hedge-mode venue with margin and liquidation (fees 0 unless given), and the account that books its reports. */
export async function hedgeVenue(
  marginType: "ISOLATED" | "CROSSED",
  walletBalance = "100000",
  leverage = 10,
  fees = { taker: "0", maker: "0" },
) {
  const store = new InMemoryEventStore();
  const runId = `hedge-${++runs}`;
  const account = EventSourcedActor.create("account-main", accountMachine, { store, correlationId: runId });
  const cause = { causationId: "t", eventTime: T0 };
  await account.commit(
    [
      {
        type: "AccountOpened",
        data: { accountId: "main", asset: "USDT", walletBalance, dualSidePosition: true },
      },
      { type: "SymbolConfigured", data: { symbol: S, leverage, marginType } },
    ],
    cause,
  );
  const venue = new SimulatedVenue({
    takerRate: fees.taker,
    makerRate: fees.maker,
    slippage: "0",
    instrument: getInstrument,
    dualSidePosition: true,
    margin: {
      account: () => ({
        walletBalance: account.snapshot.context.walletBalance,
        positions: marginedPositions(account.snapshot.context),
        settings: account.snapshot.context.settings,
      }),
      brackets: () => SPEC_BTC_BRACKETS,
    },
  });
  const execution = new OrderExecution({ store, runId, venue, account });
  const reports: VenueReport[] = [];
  let now = T0;
  const handle = async (r: VenueReport): Promise<void> => {
    reports.push(r);
    if (r.kind === "fill") await execution.onFill(r.fill, r.time);
    else if (r.kind === "expired")
      await execution.onExpired(r.clientOrderId, r.reason, r.time, r.expiryReason);
    else if (r.kind === "triggering") await execution.onTriggering(r);
    else if (r.kind === "triggered") await execution.onTriggered(r);
    else if (r.kind === "rejected") await execution.onRejected(r);
    else if (r.kind === "funding") await execution.onFunding(r.funding, "t:funding", r.time);
    else if (r.kind === "liquidation") await execution.onLiquidation(r);
  };
  let i = 0;
  return {
    store,
    venue,
    account,
    reports,
    submit: (o: OrderRequest) => execution.submit(o, { causationId: `t:${o.clientOrderId}`, eventTime: now }),
    async bar(ohlc: Ohlc): Promise<VenueReport[]> {
      const from = reports.length;
      const b = venueBar(S, i++, ohlc);
      await venue.matchBar(b, handle);
      now = b.closeTime;
      return reports.slice(from);
    },
    async funding(fundingRate: string, markPrice: string): Promise<VenueReport[]> {
      const from = reports.length;
      await venue.settleFunding({ symbol: S, fundingTime: now + 1, fundingRate, markPrice }, handle);
      return reports.slice(from);
    },
    booked: (side: "LONG" | "SHORT") => account.snapshot.context.positions[positionKey(S, side)],
  };
}
