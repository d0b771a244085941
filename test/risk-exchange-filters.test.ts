/**
 * The risk engine's exchange-filter rule: Binance's stateless checks (validateOrder) deny an order before the
 * venue, with the code, name and field; the market-dependent ones (MIN_NOTIONAL, PERCENT_PRICE at the mark,
 * -2021) are left to the venue. BTCUSDT of the bundled snapshot: stepSize 0.001, tickSize 0.10.
 */
import { describe, expect, it } from "vitest";
import { getInstrument } from "../src/domain/instruments.ts";
import { exchangeFilterDenial } from "../src/domain/risk/exchange-filters.ts";
import type { OrderRequest } from "../src/engine/venue.ts";

const btc = getInstrument("BTCUSDT");
const T = Date.UTC(2025, 4, 5);
const order = (extra: Partial<OrderRequest>): OrderRequest => ({
  clientOrderId: "ps-BTCUSDT-1-E",
  symbol: "BTCUSDT",
  side: "BUY",
  type: "MARKET",
  purpose: "ENTRY",
  positionSide: "BOTH",
  quantity: "0.010",
  reduceOnly: false,
  ...extra,
});
const deny = (o: OrderRequest) => exchangeFilterDenial({ order: o }, btc, "95000", T, false);

describe("the exchange-filter rule", () => {
  it("passes a valid order", () => {
    expect(deny(order({}))).toBeUndefined();
  });

  it("denies a quantity off the step (-4023) and one with too many decimals (-1111), naming code and field", () => {
    expect(deny(order({ quantity: "0.0105" }))).toMatchObject({
      rule: "exchangeFilters",
      numbers: { code: "-1111", field: "quantity" },
    });
    expect(deny(order({ type: "LIMIT", timeInForce: "GTC", price: "95000.05" }))).toMatchObject({
      rule: "exchangeFilters",
      numbers: { code: "-4014", field: "price" },
    });
  });

  it("denies a parameter the type does not take (-1106) and one position side against the mode (-4061)", () => {
    expect(deny(order({ price: "95000" }))?.numbers.code).toBe("-1106");
    expect(deny(order({ positionSide: "LONG" }))?.numbers.code).toBe("-4061");
  });

  it("leaves MIN_NOTIONAL and would-trigger to the venue, which sees the price the order meets", () => {
    expect(deny(order({ quantity: "0.001" }))).toBeUndefined(); // 95 USDT < 100 at this mark: the venue's call
    const stop = order({ type: "STOP_MARKET", side: "SELL", triggerPrice: "96000", reduceOnly: true });
    expect(deny(stop)).toBeUndefined(); // would trigger at once at 95 000: -2021 is the venue's
  });
});
