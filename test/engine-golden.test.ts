/**
 * Golden vectors of strategies.md §2.4 run end to end through the engine, the actors and the simulated venue:
 * vector 8 (backtest arithmetic: take-profit, stop-loss and gap exits) and the funding rule of §0.
 */
import { describe, expect, it } from "vitest";
import { dataOf, runScenario, type ScenarioInput, T0, vector8 } from "./support/scenario.ts";

const S = vector8.symbol;
const options = vector8.options;
const setup = vector8.inputs();
const exitBar = (ohlc: [string, string, string, string]): ScenarioInput => vector8.inputs(ohlc)[7]!;

describe("strategies.md §2.4 vector 8 through the engine", () => {
  it("signals at close 100 with stop 99, enters at 100.01, targets 103.04", async () => {
    const { events } = await runScenario(setup, options);
    const [signal] = dataOf(events, "EntrySignalled");
    expect(signal).toMatchObject({
      direction: "LONG",
      referencePrice: "100.00",
      stopPrice: "99.00",
      quantity: "5.000",
    });
    const [protection] = dataOf(events, "PositionProtectionRequested");
    expect(protection).toMatchObject({ entryPrice: "100.01", stopPrice: "99.00", takeProfitPrice: "103.04" });
    const submitted = dataOf(events, "OrderSubmitted");
    expect(submitted.map((o) => [o.type, o.side, o.reduceOnly])).toEqual([
      ["MARKET", "BUY", false],
      ["STOP_MARKET", "SELL", true],
      ["TAKE_PROFIT_MARKET", "SELL", true],
    ]);
  });

  it("take-profit exit: gross 15.09848, fees 0.406079392, net 14.692400608", async () => {
    const { events, engine } = await runScenario(
      [...setup, exitBar(["101", "103.5", "100.8", "103"])],
      options,
    );
    const fills = dataOf(events, "FillBooked");
    expect(fills.map((f) => f.price)).toEqual(["100.01", "103.029696"]);
    expect(fills[1]!.realizedPnl).toBe("15.09848");
    const fees = fills.reduce((s, f) => s + Number(f.commission), 0);
    expect(fees).toBeCloseTo(0.406079392, 12);
    expect(engine.accountState.walletBalance).toBe("1014.692400608");
    expect(dataOf(events, "OrderCanceled")).toEqual([
      { clientOrderId: "ps-ETHUSDT-000001-SL", reason: "siblingFilled" },
    ]);
    expect(dataOf(events, "PositionClosed")[0]).toMatchObject({ exitPurpose: "TAKE_PROFIT" });
  });

  it("stop-loss exit: gross −5.0995, net −5.4975002", async () => {
    const { engine, events } = await runScenario(
      [...setup, exitBar(["100", "100.2", "98.9", "99.5"])],
      options,
    );
    expect(dataOf(events, "FillBooked")[1]).toMatchObject({ price: "98.9901", realizedPnl: "-5.0995" });
    expect(engine.accountState.walletBalance).toBe("994.5024998");
  });

  it("a bar that opens below the stop fills at the open (gap): net −7.9962503", async () => {
    const { engine, events } = await runScenario(
      [...setup, exitBar(["98.5", "98.6", "98.2", "98.4"])],
      options,
    );
    expect(dataOf(events, "FillBooked")[1]).toMatchObject({ price: "98.49015" });
    expect(engine.accountState.walletBalance).toBe("992.0037497");
  });

  it("stop first when both legs are touched inside one bar", async () => {
    const { events } = await runScenario([...setup, exitBar(["100", "104", "98.9", "101"])], options);
    expect(dataOf(events, "PositionClosed")[0]).toMatchObject({ exitPurpose: "STOP_LOSS" });
  });
});

describe("funding (strategies.md §0, binance-usdm.md §4.4)", () => {
  const funding = (minute: number, rate: string): ScenarioInput => ({
    kind: "funding",
    funding: {
      symbol: S,
      fundingTime: T0 + minute * 60_000 + 3,
      fundingRate: rate,
      fundingIntervalHours: 8,
      markPrice: "100",
      markPriceSource: "markPriceKline",
    },
  });

  it("a long position pays notional × rate when the rate is positive; a flat account pays nothing", async () => {
    const { events, engine } = await runScenario(
      [
        ...setup.slice(0, 6),
        funding(6, "0.001"),
        ...setup.slice(6),
        funding(7, "0.001"),
        funding(8, "-0.002"),
      ],
      options,
    );
    // The funding before bar 6 comes before the entry at bar 6's open: not charged.
    const booked = dataOf(events, "FundingFeeBooked");
    expect(booked.map((b) => [b.positionAmt, b.fundingFee])).toEqual([
      ["5", "-0.5"],
      ["5", "1"],
    ]);
    expect(engine.accountState.walletBalance).toBe("1000.29998"); // 1000 − 0.20002 commission − 0.5 + 1
  });
});
