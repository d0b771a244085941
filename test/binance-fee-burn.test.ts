/**
 * Commissions are booked in USDT, so the Binance venue refuses at start an account that pays fees in BNB
 * (`GET /fapi/v1/feeBurn`, binance-usdm.md §4.3), before any order; the double keeps the toggle
 * (`POST /fapi/v1/feeBurn`) as Binance does. Against the double over real BTCUSDT+ETHUSDT data.
 */
import { USDMClient } from "binance";
import { afterEach, describe, expect, it } from "vitest";
import { exchangeTime } from "../src/adapters/binance/exchange-time.ts";
import { BinanceVenue } from "../src/adapters/binance/venue.ts";
import { Dec } from "../src/domain/decimal.ts";
import type { ExchangeSim } from "../src/exchange-sim/server.ts";
import { API_KEY, API_SECRET, config, logger, startDouble } from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("feeBurn against exchange-sim (BTCUSDT, ETHUSDT 2025-05-05)");

let sim: ExchangeSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe.skipIf(!root)("feeBurn", () => {
  it("an account paying fees in BNB is refused at start, one paying in USDT starts; the double keeps the toggle", async () => {
    const double = await startDouble(root!);
    sim = double.sim;
    const client = new USDMClient({
      api_key: API_KEY,
      api_secret: API_SECRET,
      baseUrl: double.url,
      disableTimeSync: true,
    });
    client.setTimeOffset((await exchangeTime(double.url)) - Date.now()); // the double's clock is the replay's
    expect(await client.getBNBBurnStatus()).toEqual({ feeBurn: false });
    await client.setBNBBurnEnabled({ feeBurn: "true" });
    expect(await client.getBNBBurnStatus()).toEqual({ feeBurn: true });

    const venue = () =>
      new BinanceVenue({
        restUrl: double.url,
        wsUrl: double.url.replace(/^http/, "ws"),
        apiKey: API_KEY,
        apiSecret: API_SECRET,
        symbols: config.symbols,
        logger,
        clock: () => Date.now(),
      });
    const settings = { leverage: 10, marginType: "ISOLATED" as const, dualSidePosition: false };
    const refused = venue();
    await expect(refused.start(settings, async () => {})).rejects.toThrow(
      "the account pays fees in BNB (feeBurn): perpsource books commissions in USDT; turn it off",
    );
    await refused.close();

    await client.setBNBBurnEnabled({ feeBurn: "false" });
    const accepted = venue();
    const account = await accepted.start(settings, async () => {});
    // The account's wallet, which a new run opens its account with.
    expect(account.walletBalance).toBe(accepted.account?.walletBalance);
    expect(new Dec(account.walletBalance).eq(config.initialBalance)).toBe(true);
    await accepted.close();
  }, 60_000);
});
