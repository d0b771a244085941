/**
 * accountRisk: every position's margin numbers at the marks, the cross legs seeing each other (binance-usdm.md
 * §4.7 TMM1/UPNL1) and the isolated ones only their own wallet. Vector D of §4.7 through the account view.
 */
import { describe, expect, it } from "vitest";
import { marginedPositions } from "../src/actors/account.decide.ts";
import { type AccountContext, positionKey } from "../src/actors/account.machine.ts";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { accountRisk } from "../src/domain/margin/account-risk.ts";
import type { LeverageBracket } from "../src/domain/margin/brackets.ts";

/** One bracket over every notional with the given MMR and cum (vector D gives the rates, not the brackets). */
const flat = (maintMarginRatio: string, cum: string): LeverageBracket[] => [
  {
    bracket: 1,
    initialLeverage: 125,
    notionalFloor: "0",
    notionalCap: "1000000000000",
    maintMarginRatio,
    cum,
  },
];
const rates: Record<string, LeverageBracket[]> = {
  BTCUSDT: flat("0.025", "16300"),
  ETHUSDT: flat("0.1", "135365"),
};
const marks: Record<string, string> = { BTCUSDT: "31967.27", ETHUSDT: "1335.18" };
const d2 = (s: string | null) => canonical(new Dec(s!).toDecimalPlaces(2));

function account(marginType: "ISOLATED" | "CROSSED", isolatedWallet?: string): AccountContext {
  const iw = isolatedWallet === undefined ? {} : { isolatedWallet };
  return {
    accountId: "main",
    walletBalance: "1535443.01",
    dualSidePosition: false,
    settings: { BTCUSDT: { leverage: 20, marginType }, ETHUSDT: { leverage: 20, marginType } },
    positions: {
      [positionKey("BTCUSDT")]: { positionAmt: "109.488", entryPrice: "32481.98", ...iw },
      [positionKey("ETHUSDT")]: { positionAmt: "3683.979", entryPrice: "1456.84", ...iw },
    },
  };
}

describe("accountRisk", () => {
  it("vector D (cross): LP_ETH 1 153.26 and LP_BTC 26 316.89, each counting the other's margin and PnL", () => {
    const views = accountRisk(
      "1535443.01",
      marginedPositions(account("CROSSED")),
      (s) => marks[s],
      (s) => rates[s]!,
    );
    expect(views.map((v) => [v.symbol, d2(v.risk.liquidationPrice)])).toEqual([
      ["BTCUSDT", "26316.89"],
      ["ETHUSDT", "1153.26"],
    ]);
    expect(views.map((v) => d2(v.risk.maintMargin))).toEqual(["71200.81", "356512.51"]);
  });

  it("vector D's isolated variants (1 114.78, 18 778.73) when each position holds the whole wallet as its own", () => {
    const views = accountRisk(
      "3070886.02",
      marginedPositions(account("ISOLATED", "1535443.01")),
      (s) => marks[s],
      (s) => rates[s]!,
    );
    expect(views.map((v) => d2(v.risk.liquidationPrice))).toEqual(["18778.73", "1114.78"]);
  });

  it("leaves out a position with no mark yet", () => {
    const views = accountRisk(
      "1535443.01",
      marginedPositions(account("CROSSED")),
      (s) => (s === "BTCUSDT" ? marks[s] : undefined),
      (s) => rates[s]!,
    );
    expect(views.map((v) => v.symbol)).toEqual(["BTCUSDT"]);
  });
});
