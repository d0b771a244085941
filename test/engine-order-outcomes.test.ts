/**
 * How the kernel reacts when a trade's order ends at the venue without completing (binance-usdm.md §3.1
 * statuses and expiry reasons, §2.4 algo rejections): a partly filled entry is protected for what filled at its
 * average price; an entry that expired with nothing filled fails the trade; a stop-loss rejected after its
 * trigger leaves the position unprotected, so it is flattened and the take-profit canceled. The venue is scripted:
 * the test sends the reports a real venue would.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { TradingEngine } from "../src/engine/trading-engine.ts";
import type { CancelResult, OrderRequest, SubmitResult, Venue, VenueFill } from "../src/engine/venue.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import type { Strategy } from "../src/strategies/strategy.ts";
import { bar, dataOf, T0 } from "./support/scenario.ts";

const S = "ETHUSDT";

/** Enters LONG 0.5 at its first bar, stop at the bar's low, take-profit at 2 × the risk. */
const once: Strategy<Record<string, never>, { entered: boolean }> = {
  name: "once",
  configKey: "once",
  paramsVersion: 1,
  params: z.strictObject({}),
  inputs: () => ({ intervals: ["1m"], funding: false }),
  warmupBars: () => 0,
  symbolSettings: () => ({ leverage: 5, marginType: "CROSSED" as const }),
  init: () => ({ entered: false }),
  isWarm: () => true,
  step(state, input) {
    if (input.kind !== "bar" || state.entered) return { state, decision: { kind: "none" } };
    return {
      state: { entered: true },
      decision: {
        kind: "entry",
        direction: "LONG",
        quantity: "0.5",
        referencePrice: input.bar.close,
        stopPrice: input.bar.low,
        takeProfitRiskMultiple: "2",
        signal: {},
      },
    };
  },
};

/** Accepts every order and cancel; the test reports executions itself. */
class ScriptedVenue implements Venue {
  readonly external = false;
  readonly submitted: OrderRequest[] = [];
  readonly canceled: string[] = [];
  async submit(order: OrderRequest): Promise<SubmitResult> {
    this.submitted.push(order);
    return { accepted: true, orderId: String(this.submitted.length) };
  }
  async cancel(_symbol: string, clientOrderId: string): Promise<CancelResult> {
    this.canceled.push(clientOrderId);
    return { canceled: true };
  }
}

async function started() {
  const store = new InMemoryEventStore();
  const venue = new ScriptedVenue();
  const engine = new TradingEngine({
    store,
    venue,
    runId: "outcomes",
    accountId: "main",
    strategy: once,
    params: {},
    instrument: getInstrument,
    brackets: () => [],
    symbols: [S],
  });
  await engine.openAccount("10000", { causationId: "t", eventTime: T0 });
  await engine.onBar(bar(S, 0, ["2000", "2004", "1990", "2002"]));
  const entry = venue.submitted[0]!;
  expect(entry).toMatchObject({ purpose: "ENTRY", type: "MARKET", quantity: "0.5" });
  const events = async () => {
    const out: RecordedEvent[] = [];
    for await (const e of store.readAll()) out.push(e);
    return out;
  };
  return { engine, venue, entry, events };
}

const fill = (
  clientOrderId: string,
  tradeId: string,
  price: string,
  quantity: string,
  cumulativeQuantity: string,
  status: VenueFill["status"],
): VenueFill => ({
  symbol: S,
  clientOrderId,
  tradeId,
  side: "BUY",
  price,
  quantity,
  cumulativeQuantity,
  status,
  maker: false,
  commission: "0",
});

describe("orders that end without completing", () => {
  it("a partly filled entry whose rest expired is protected for what filled, at its average price", async () => {
    const { engine, venue, entry, events } = await started();
    const time = T0 + 120_000;
    const id = entry.clientOrderId;
    await engine.onVenueReport({
      kind: "fill",
      time,
      fill: fill(id, "1", "2000", "0.2", "0.2", "PARTIALLY_FILLED"),
    });
    await engine.onVenueReport({
      kind: "fill",
      time,
      fill: fill(id, "2", "2003", "0.1", "0.3", "PARTIALLY_FILLED"),
    });
    expect(venue.submitted).toHaveLength(1); // nothing follows a partial fill while the entry still works
    await engine.onVenueReport({
      kind: "expired",
      time,
      symbol: S,
      clientOrderId: id,
      reason: "MARKET order could not be filled completely",
      expiryReason: 9,
    });
    // (0.2 × 2000 + 0.1 × 2003) / 0.3 = 2001; stop at the signal bar's low 1990, risk 11, take-profit 2023.
    expect(dataOf(await events(), "PositionProtectionRequested")).toEqual([
      expect.objectContaining({
        entryPrice: "2001",
        quantity: "0.3",
        stopPrice: "1990.00",
        takeProfitPrice: "2023.00",
      }),
    ]);
    expect(venue.submitted.slice(1).map((o) => [o.purpose, o.type, o.quantity, o.triggerPrice])).toEqual([
      ["STOP_LOSS", "STOP_MARKET", "0.3", "1990.00"],
      ["TAKE_PROFIT", "TAKE_PROFIT_MARKET", "0.3", "2023.00"],
    ]);
  });

  it("an entry that expired with nothing filled fails the trade", async () => {
    const { engine, venue, entry, events } = await started();
    await engine.onVenueReport({
      kind: "expired",
      time: T0 + 120_000,
      symbol: S,
      clientOrderId: entry.clientOrderId,
      reason: "self-trade prevention",
      expiryReason: 1,
    });
    const log = await events();
    expect(dataOf(log, "EntryFailed")).toEqual([
      { symbol: S, entryClientOrderId: entry.clientOrderId, reason: "self-trade prevention" },
    ]);
    expect(dataOf(log, "OrderExpired")).toEqual([
      { clientOrderId: entry.clientOrderId, reason: "self-trade prevention", expiryReason: 1 },
    ]);
    expect(venue.submitted).toHaveLength(1);
  });

  it("a stop-loss rejected at its trigger (algo TRIGGERING → REJECTED) flattens the position and cancels the take-profit", async () => {
    const { engine, venue, entry, events } = await started();
    const time = T0 + 120_000;
    await engine.onVenueReport({
      kind: "fill",
      time,
      fill: fill(entry.clientOrderId, "1", "2002", "0.5", "0.5", "FILLED"),
    });
    const [stop, takeProfit] = venue.submitted.slice(1);
    expect([stop!.purpose, takeProfit!.purpose]).toEqual(["STOP_LOSS", "TAKE_PROFIT"]);
    const later = time + 60_000;
    const sid = stop!.clientOrderId;
    await engine.onVenueReport({
      kind: "triggering",
      time: later,
      symbol: S,
      clientOrderId: sid,
      workingType: "MARK_PRICE",
      triggeredAt: "1990",
    });
    await engine.onVenueReport({
      kind: "rejected",
      time: later,
      symbol: S,
      clientOrderId: sid,
      code: -2010,
      reason: "priceProtect: mark and last differ by more than triggerProtect",
    });
    const log = await events();
    expect(dataOf(log, "PositionUnprotected")).toEqual([
      expect.objectContaining({
        reason: expect.stringContaining("-2010: priceProtect"),
      }),
    ]);
    expect(venue.canceled).toEqual([takeProfit!.clientOrderId]);
    expect(venue.submitted.at(-1)).toMatchObject({
      purpose: "FLATTEN",
      type: "MARKET",
      side: "SELL",
      quantity: "0.5",
      reduceOnly: true,
    });
  });
});
