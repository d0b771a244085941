/**
 * Fixture builder for catalog events with valid, realistic data (BTCUSDT around 2025-05-04). Every event gets
 * a fresh deterministic id within its `scope`; streams are suffixed with the scope so fixtures of different
 * tests never share a stream, even in a shared EventStoreDB.
 */
import type { EventMetadata, NewEvent } from "../../src/events/envelope.ts";
import { deterministicEventId } from "../../src/events/ids.ts";

/** 2025-05-04T00:00:00Z, ms. */
export const FIXTURE_START = 1_746_316_800_000;
const MINUTE = 60_000;

/** Builds scoped stream names and catalog events with unique ids. */
export class FixtureEvents {
  private sequence = 0;

  constructor(readonly scope: string) {}

  /** `symbol-SYMBOL-scope`. */
  symbolStream(symbol = "BTCUSDT"): string {
    return `symbol-${symbol}-${this.scope}`;
  }

  /** `order-CLIENTORDERID-scope`. */
  orderStream(clientOrderId: string): string {
    return `order-${clientOrderId}-${this.scope}`;
  }

  /** Whether `stream` was named by this builder. */
  owns(stream: string): boolean {
    return stream.endsWith(`-${this.scope}`);
  }

  /** Metadata of the fixture's run: correlationId `run-scope`, the given causation and market time. */
  metadata(eventTime: number, causationId = `run-${this.scope}`): EventMetadata {
    return { correlationId: `run-${this.scope}`, causationId, eventTime };
  }

  /** The closed 1m bar number `minute` after FIXTURE_START (prices in USDT, volume in BTC). */
  barClosed(minute: number, symbol = "BTCUSDT"): NewEvent {
    const openTime = FIXTURE_START + minute * MINUTE;
    const cents = 9_450_000 + ((minute * 37) % 500);
    const price = (c: number) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`;
    return this.event(
      "BarClosed",
      {
        symbol,
        interval: "1m",
        openTime,
        closeTime: openTime + MINUTE - 1,
        open: price(cents),
        high: price(cents + 120),
        low: price(cents - 80),
        close: price(cents + 15),
        volume: `${12 + (minute % 7)}.417`,
      },
      openTime + MINUTE - 1,
    );
  }

  /** A reduce-only STOP_MARKET exit with every optional field set (the bracket's stop-loss leg). */
  stopLossSubmitted(clientOrderId: string, eventTime: number, causationId?: string): NewEvent {
    return this.event(
      "OrderSubmitted",
      {
        clientOrderId,
        symbol: "BTCUSDT",
        side: "SELL",
        type: "STOP_MARKET",
        purpose: "STOP_LOSS",
        positionSide: "BOTH",
        quantity: "0.012",
        reduceOnly: true,
        triggerPrice: "93870.10",
        workingType: "MARK_PRICE",
        priceProtect: true,
        siblingClientOrderId: `${clientOrderId}-TP`,
      },
      eventTime,
      causationId,
    );
  }

  /** A MARKET entry order (no optional fields). */
  entrySubmitted(clientOrderId: string, eventTime: number, causationId?: string): NewEvent {
    return this.event(
      "OrderSubmitted",
      {
        clientOrderId,
        symbol: "BTCUSDT",
        side: "BUY",
        type: "MARKET",
        purpose: "ENTRY",
        positionSide: "BOTH",
        quantity: "0.012",
        reduceOnly: false,
      },
      eventTime,
      causationId,
    );
  }

  /** The complete fill of a 0.012 BTC taker order at 94 512.30 USDT (commission 0.05 %). */
  orderFilled(clientOrderId: string, eventTime: number, causationId?: string): NewEvent {
    return this.event(
      "OrderFilled",
      {
        clientOrderId,
        symbol: "BTCUSDT",
        side: "BUY",
        tradeId: "5821934467",
        price: "94512.30",
        quantity: "0.012",
        cumulativeQuantity: "0.012",
        commission: "0.5670738",
        commissionAsset: "USDT",
        maker: false,
        status: "FILLED",
      },
      eventTime,
      causationId,
    );
  }

  /** An event of any type with a fresh id (data is not checked here: tests use it for invalid data too). */
  event(type: string, data: unknown, eventTime: number, causationId?: string): NewEvent {
    return {
      eventId: deterministicEventId(`fixture-${this.scope}`, "event", this.sequence++),
      type,
      data,
      metadata: this.metadata(eventTime, causationId),
    } as NewEvent;
  }
}
