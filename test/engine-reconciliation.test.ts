/**
 * The pure reconciliation (src/engine/reconciliation.ts): the engine's view against the venue's snapshot.
 * Properties: a venue that says what the engine holds has no discrepancy whatever the listing order or the
 * decimals' spelling; each kind of difference is found, named with both numbers and calls for its state; the
 * outcome does not depend on the order of the inputs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  actionFor,
  type EngineView,
  type PositionAmount,
  reconcile,
  type VenueOpenOrder,
  type VenueSnapshot,
} from "../src/engine/reconciliation.ts";

const symbolArb = fc.constantFrom("BTCUSDT", "ETHUSDT", "SOLUSDT");
/** A non-zero decimal with up to 3 places, as the engine writes it (canonical). */
const amountArb = fc
  .integer({ min: -50_000, max: 50_000 })
  .filter((n) => n !== 0)
  .map((n) => (n / 1000).toString());
const positionsArb = fc
  .uniqueArray(fc.tuple(symbolArb, amountArb), { selector: ([s]) => s, maxLength: 3 })
  .map((rows) =>
    rows.map(([symbol, positionAmt]): PositionAmount => ({ symbol, positionSide: "BOTH", positionAmt })),
  );
const walletArb = fc.integer({ min: 0, max: 10_000_000 }).map((n) => (n / 100).toString());

/** An engine view of `n` working orders and the venue's listing of the same orders. */
const ordersArb = fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 999 }), symbolArb, fc.boolean()), {
  selector: ([n]) => n,
  maxLength: 6,
});

function views(
  rows: [number, string, boolean][],
  positions: PositionAmount[],
  wallet: string,
): { engine: EngineView; venue: VenueSnapshot } {
  const engine: EngineView = {
    orders: rows.map(([n, symbol, algo]) => ({
      clientOrderId: `ps-${symbol}-${n}-E`,
      symbol,
      algo,
      executedQty: "0",
    })),
    positions,
    walletBalance: wallet,
    fundingSince: {},
    lastSettlement: {},
  };
  const venue: VenueSnapshot = {
    openOrders: rows.map(([n, symbol, algo]) => openOrder(`ps-${symbol}-${n}-E`, symbol, algo, String(n))),
    // The venue spells decimals its own way ("0.0100" for "0.01").
    positions: positions.map((p) => ({
      ...p,
      positionAmt: `${p.positionAmt}${p.positionAmt.includes(".") ? "00" : ".000"}`,
    })),
    walletBalance: `${wallet}${wallet.includes(".") ? "0" : ".00000000"}`,
  };
  return { engine, venue };
}

function openOrder(clientOrderId: string, symbol: string, algo: boolean, orderId: string): VenueOpenOrder {
  return {
    clientOrderId,
    symbol,
    algo,
    orderId,
    side: "BUY",
    type: algo ? "STOP_MARKET" : "LIMIT",
    quantity: "0.01",
    price: "90000",
  };
}

describe("reconcile", () => {
  it("finds nothing when the venue holds what the engine holds, in any order and spelling", () => {
    fc.assert(
      fc.property(ordersArb, positionsArb, walletArb, fc.boolean(), (rows, positions, wallet, reverse) => {
        const { engine, venue } = views(rows, positions, wallet);
        const listed = reverse ? { ...venue, openOrders: [...venue.openOrders].reverse() } : venue;
        const outcome = reconcile(engine, listed);
        expect(outcome).toEqual({ discrepancies: [], action: "none", reason: "", numbers: {} });
      }),
    );
  });

  it("an order open at the venue that the engine does not have is unknown: REDUCING", () => {
    fc.assert(
      fc.property(ordersArb, positionsArb, walletArb, symbolArb, (rows, positions, wallet, symbol) => {
        const { engine, venue } = views(rows, positions, wallet);
        const foreign = openOrder("web_8fJ2kq", symbol, false, "77");
        const outcome = reconcile(engine, { ...venue, openOrders: [...venue.openOrders, foreign] });
        expect(outcome.discrepancies).toEqual([{ kind: "unknownOrder", order: foreign }]);
        expect(outcome.action).toBe("REDUCING");
        expect(outcome.reason).toContain("web_8fJ2kq");
      }),
    );
  });

  it("an order the engine has working that the venue does not list: HALTED", () => {
    fc.assert(
      fc.property(
        ordersArb.filter((r) => r.length > 0),
        walletArb,
        (rows, wallet) => {
          const { engine, venue } = views(rows, [], wallet);
          const [missing, ...rest] = venue.openOrders;
          const outcome = reconcile(engine, { ...venue, openOrders: rest });
          expect(outcome.discrepancies).toEqual([
            { kind: "orderNotAtVenue", clientOrderId: missing!.clientOrderId, symbol: missing!.symbol },
          ]);
          expect(outcome.action).toBe("HALTED");
        },
      ),
    );
  });

  it("a triggered conditional order is known by its matching-engine order id", () => {
    const engine: EngineView = {
      orders: [
        {
          clientOrderId: "ps-BTCUSDT-3-SL",
          symbol: "BTCUSDT",
          algo: true,
          triggeredOrderId: "42",
          executedQty: "0",
        },
      ],
      positions: [],
      walletBalance: "100",
      fundingSince: {},
      lastSettlement: {},
    };
    const child = { ...openOrder("another-id", "BTCUSDT", false, "42"), type: "MARKET" };
    expect(reconcile(engine, { openOrders: [child], positions: [], walletBalance: "100" }).action).toBe(
      "none",
    );
  });

  it("positions: unknown where the engine is flat (REDUCING), a mismatch otherwise (HALTED), both numbers named", () => {
    fc.assert(
      fc.property(symbolArb, amountArb, amountArb, walletArb, (symbol, a, b, wallet) => {
        fc.pre(a !== b);
        const flat = reconcile(
          { orders: [], positions: [], walletBalance: wallet, fundingSince: {}, lastSettlement: {} },
          {
            openOrders: [],
            positions: [{ symbol, positionSide: "BOTH", positionAmt: b }],
            walletBalance: wallet,
          },
        );
        expect(flat.discrepancies).toEqual([
          { kind: "unknownPosition", symbol, positionSide: "BOTH", venue: b },
        ]);
        expect(flat.action).toBe("REDUCING");
        expect(flat.numbers).toEqual({ [`${symbol}.engine`]: "0", [`${symbol}.venue`]: b });
        const differs = reconcile(
          {
            orders: [],
            positions: [{ symbol, positionSide: "BOTH", positionAmt: a }],
            walletBalance: wallet,
            fundingSince: {},
            lastSettlement: {},
          },
          {
            openOrders: [],
            positions: [{ symbol, positionSide: "BOTH", positionAmt: b }],
            walletBalance: wallet,
          },
        );
        expect(differs.discrepancies).toEqual([
          { kind: "positionMismatch", symbol, positionSide: "BOTH", engine: a, venue: b },
        ]);
        expect(differs.action).toBe("HALTED");
        expect(differs.reason).toBe(`position ${symbol} BOTH: engine ${a}, venue ${b}`);
      }),
    );
  });

  it("a wallet that differs by any amount halts, with both balances", () => {
    fc.assert(
      fc.property(walletArb, fc.integer({ min: 1, max: 1_000_000 }), (wallet, cents) => {
        const venue = (Number(wallet) * 100 + cents) / 100;
        const outcome = reconcile(
          { orders: [], positions: [], walletBalance: wallet, fundingSince: {}, lastSettlement: {} },
          { openOrders: [], positions: [], walletBalance: venue.toString() },
        );
        expect(outcome.action).toBe("HALTED");
        expect(outcome.numbers).toEqual({
          "walletBalance.engine": wallet,
          "walletBalance.venue": venue.toString(),
        });
      }),
    );
  });

  it("the strictest state wins and the outcome does not depend on the listing order", () => {
    fc.assert(
      fc.property(
        ordersArb,
        ordersArb,
        positionsArb,
        positionsArb,
        walletArb,
        walletArb,
        (r1, r2, p1, p2, w1, w2) => {
          const engine = views(r1, p1, w1).engine;
          const venue = views(r2, p2, w2).venue;
          const outcome = reconcile(engine, venue);
          const shuffled = reconcile(
            { ...engine, orders: [...engine.orders].reverse(), positions: [...engine.positions].reverse() },
            {
              ...venue,
              openOrders: [...venue.openOrders].reverse(),
              positions: [...venue.positions].reverse(),
            },
          );
          expect(shuffled).toEqual(outcome);
          const actions = outcome.discrepancies.map(actionFor);
          const expected = actions.includes("HALTED")
            ? "HALTED"
            : actions.includes("REDUCING")
              ? "REDUCING"
              : "none";
          expect(outcome.action).toBe(expected);
        },
      ),
    );
  });
});
