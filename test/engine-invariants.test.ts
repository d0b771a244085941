/**
 * Invariants of the engine, actors and simulated venue over random markets (fast-check): the account's booked
 * position always equals the venue's, the wallet is the initial balance plus realized PnL minus commission plus
 * funding, a symbol holds at most one trade, every entry is followed by a bracket or a flatten, and an exit
 * fill always cancels its sibling.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dec } from "../src/domain/decimal.ts";
import { bar, dataOf, runScenario, type ScenarioInput, T0 } from "./support/scenario.ts";

const symbols = ["ETHUSDT", "BNBUSDT"]; // tick 0.01, steps 0.001 / 0.01
const params = {
  smaShort: 3,
  smaLong: 8,
  pivotLookback: 5,
  tpSlRatio: "1.5",
  cooldownBars: 1,
  marginUsdt: "200",
  leverage: 5,
};

/** Random walks for two symbols in whole cents, with occasional funding settlements. */
const market = fc
  .array(
    fc.record({
      moves: fc.tuple(fc.integer({ min: -80, max: 80 }), fc.integer({ min: -80, max: 80 })),
      wick: fc.nat(50),
      gap: fc.integer({ min: -30, max: 30 }),
      funding: fc.option(fc.integer({ min: -30, max: 30 }), { freq: 8 }),
    }),
    { minLength: 30, maxLength: 200 },
  )
  .map((steps) => {
    const close = [10_000, 30_000];
    const inputs: ScenarioInput[] = [];
    const c = (v: number) => (v / 100).toFixed(2);
    steps.forEach((step, i) => {
      if (step.funding !== null) {
        for (const symbol of symbols) {
          inputs.push({
            kind: "funding",
            funding: {
              symbol,
              fundingTime: T0 + i * 60_000 + 3,
              fundingRate: (step.funding / 100_000).toFixed(5),
              fundingIntervalHours: 8,
              markPrice: c(close[symbols.indexOf(symbol)]!),
              markPriceSource: "lastClose",
            },
          });
        }
      }
      symbols.forEach((symbol, k) => {
        const open = Math.max(100, close[k]! + step.gap);
        close[k] = Math.max(100, open + step.moves[k]!);
        const high = Math.max(open, close[k]!) + step.wick;
        const low = Math.max(1, Math.min(open, close[k]!) - step.wick);
        inputs.push({ kind: "bar", bar: bar(symbol, i, [c(open), c(high), c(low), c(close[k]!)]) });
      });
    });
    return inputs;
  });

describe("engine invariants over random markets", () => {
  it("positions, wallet, brackets and sibling cancels stay consistent", async () => {
    await fc.assert(
      fc.asyncProperty(market, async (inputs) => {
        const { events, engine, venue } = await runScenario(inputs, {
          params,
          slippage: "0.0003",
          takerRate: "0.0005",
        });
        const account = engine.accountState;

        // The account's booked positions equal the venue's.
        for (const symbol of symbols) {
          expect(account.positions[symbol]?.positionAmt ?? "0").toBe(venue.positionAmt(symbol));
        }

        // walletBalance = initial + Σ realizedPnl − Σ commission + Σ fundingFee, exactly.
        const fills = dataOf(events, "FillBooked");
        const funding = dataOf(events, "FundingFeeBooked");
        const expected = fills
          .reduce((w, f) => w.plus(f.realizedPnl).minus(f.commission), new Dec("10000"))
          .plus(funding.reduce((s, f) => s.plus(f.fundingFee), new Dec(0)));
        expect(new Dec(account.walletBalance).equals(expected)).toBe(true);

        // Every filled entry is protected (stop + target) or flattened; every exit fill cancels or expires the rest.
        const submitted = dataOf(events, "OrderSubmitted");
        const filledIds = new Set(dataOf(events, "OrderFilled").map((f) => f.clientOrderId));
        const endedIds = new Set(
          [
            ...dataOf(events, "OrderCanceled"),
            ...dataOf(events, "OrderExpired"),
            ...dataOf(events, "OrderRejected"),
          ].map((e) => e.clientOrderId),
        );
        for (const entry of submitted.filter(
          (o) => o.purpose === "ENTRY" && filledIds.has(o.clientOrderId),
        )) {
          const legs = submitted.filter(
            (o) => o.clientOrderId.startsWith(entry.clientOrderId.slice(0, -1)) && o !== entry,
          );
          expect(legs.length).toBeGreaterThan(0);
          for (const leg of legs) expect(leg.reduceOnly).toBe(true);
        }
        for (const exit of submitted.filter(
          (o) => o.siblingClientOrderId && filledIds.has(o.clientOrderId),
        )) {
          const sibling = exit.siblingClientOrderId!;
          expect(filledIds.has(sibling) || endedIds.has(sibling)).toBe(true);
        }

        // At most one trade per symbol at a time: entries alternate with PositionClosed / EntryFailed.
        for (const symbol of symbols) {
          let open = false;
          for (const e of events.filter((x) => x.stream === `symbol-${symbol}`)) {
            if (e.type === "EntrySignalled") {
              expect(open).toBe(false);
              open = true;
            } else if (e.type === "PositionClosed" || e.type === "EntryFailed") {
              expect(open).toBe(true);
              open = false;
            }
          }
        }
      }),
      { numRuns: 60 },
    );
    // The random markets must actually trade, or the checks above prove nothing.
    const sample = fc.sample(market, { numRuns: 10, seed: 42 });
    let entries = 0;
    let exits = 0;
    for (const inputs of sample) {
      const { events } = await runScenario(inputs, { params });
      entries += dataOf(events, "EntrySignalled").length;
      exits += dataOf(events, "PositionClosed").length;
    }
    expect(entries).toBeGreaterThan(10);
    expect(exits).toBeGreaterThan(5);
  });
});
