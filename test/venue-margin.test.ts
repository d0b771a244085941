/**
 * The simulated venue's margin checks at submit (binance-usdm.md §4.5, §5.2): -2027 when the position would
 * exceed the bracket cap of its leverage, -2019 when the order costs more margin than is available; reduce-only
 * and untriggered conditional orders are not checked. BTCUSDT with §4.6's bracket table (125× → cap 50 000).
 */
import { describe, expect, it } from "vitest";
import type { VenueAccountView } from "../src/adapters/venue/simulated/liquidation.ts";
import { SimulatedVenue } from "../src/adapters/venue/simulated/venue.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import type { OrderRequest } from "../src/engine/venue.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";
import { bar } from "./support/scenario.ts";

const S = "BTCUSDT";

async function venueWith(account: VenueAccountView) {
  const venue = new SimulatedVenue({
    takerRate: "0.0005",
    slippage: "0",
    instrument: getInstrument,
    margin: { account: () => account, brackets: () => SPEC_BTC_BRACKETS },
  });
  await venue.matchBar(bar(S, 0, ["100000", "100000", "100000", "100000"]), async () => {});
  return venue;
}

const order = (quantity: string, extra: Partial<OrderRequest> = {}): OrderRequest => ({
  clientOrderId: `o-${quantity}-${extra.type ?? "MARKET"}`,
  symbol: S,
  side: "BUY",
  type: "MARKET",
  purpose: "ENTRY",
  positionSide: "BOTH",
  quantity,
  reduceOnly: false,
  ...extra,
});

const flat = (walletBalance: string, leverage: number): VenueAccountView => ({
  walletBalance,
  positions: [],
  settings: { [S]: { leverage, marginType: "CROSSED" } },
});

describe("margin checks at submit", () => {
  it("-2019: a MARKET order whose initial margin exceeds the available balance", async () => {
    const venue = await venueWith(flat("100", 10));
    // 0.011 × 100 000 / 10 = 110 USDT of margin > 100 available.
    expect(await venue.submit(order("0.011"))).toMatchObject({ accepted: false, code: -2019 });
    // 0.01 × 100 000 / 10 = 100: exactly the available balance passes.
    expect(await venue.submit(order("0.01"))).toMatchObject({ accepted: true });
  });

  it("-2019 counts the resting orders' margin and the cross positions' initial margin", async () => {
    const account: VenueAccountView = {
      walletBalance: "300",
      positions: [
        {
          symbol: S,
          positionSide: "BOTH",
          positionAmt: "0.01",
          entryPrice: "100000",
          leverage: 10,
          marginType: "CROSSED",
        },
      ],
      settings: { [S]: { leverage: 10, marginType: "CROSSED" } },
    };
    const venue = await venueWith(account);
    // In use: the position's 100; a resting LIMIT BUY 0.01 @ 99 000 adds 99: 101 left.
    expect(
      await venue.submit(order("0.01", { type: "LIMIT", price: "99000", timeInForce: "GTC" })),
    ).toMatchObject({ accepted: true });
    expect(await venue.submit(order("0.011"))).toMatchObject({ accepted: false, code: -2019 });
    expect(await venue.submit(order("0.01"))).toMatchObject({ accepted: true });
  });

  it("-2027: a position beyond the cap of its leverage's bracket, whatever the wallet", async () => {
    const venue = await venueWith(flat("1000000", 125));
    // 0.6 × 100 000 = 60 000 > 50 000, the cap of bracket 1 (125×).
    expect(await venue.submit(order("0.6"))).toMatchObject({ accepted: false, code: -2027 });
    expect(await venue.submit(order("0.5"))).toMatchObject({ accepted: true });
  });

  it("reduce-only and conditional orders are not margin-checked at submit", async () => {
    const account: VenueAccountView = flat("10000", 10);
    const venue = await venueWith(account);
    expect((await venue.submit(order("0.01"))).accepted).toBe(true);
    await venue.matchBar(bar(S, 1, ["100000", "100000", "100000", "100000"]), async () => {});
    expect(venue.positionAmt(S)).toBe("0.01");
    // The wallet is gone (as booked): nothing that needs margin passes, what reduces does.
    account.walletBalance = "0";
    account.positions = [
      {
        symbol: S,
        positionSide: "BOTH",
        positionAmt: "0.01",
        entryPrice: "100000",
        leverage: 10,
        marginType: "CROSSED",
      },
    ];
    expect(await venue.submit(order("0.001", { clientOrderId: "more" }))).toMatchObject({
      accepted: false,
      code: -2019,
    });
    const reduce = order("0.01", { side: "SELL", reduceOnly: true, clientOrderId: "reduce" });
    expect((await venue.submit(reduce)).accepted).toBe(true);
    const stop = order("1", { type: "STOP_MARKET", triggerPrice: "110000", clientOrderId: "stop" });
    expect((await venue.submit(stop)).accepted).toBe(true);
  });
});
