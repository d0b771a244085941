/**
 * The user-data schemas and fold on the real messages of futures/um/user-data/ (and sequences derived from
 * them: partial fills, a triggered order's fill, a liquidation, a funding fee), and the property that any
 * duplication or reordering of a sequence folds to the same reports as the clean sequence.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type OrderTradeUpdate,
  parseUserDataMessage,
  UserDataError,
  type UserDataMessage,
} from "../src/adapters/binance/user-data.ts";
import { type TrackedOrder, UserDataFold } from "../src/adapters/binance/user-data-fold.ts";
import type { VenueReport } from "../src/engine/venue.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("binance user-data messages");
const dir = root ? join(root, "futures", "um", "user-data") : "";

/** Every message of a file (JSON lines, or one JSON document), with file:line. */
function messagesOf(file: string): { where: string; raw: unknown }[] {
  const text = readFileSync(join(dir, file), "utf8");
  if (file.endsWith(".json")) return [{ where: file, raw: JSON.parse(text) }];
  return text
    .split("\n")
    .map((line, i) => ({ where: `${file}:${i + 1}`, line }))
    .filter(({ line }) => line.trim() !== "")
    .map(({ where, line }) => ({ where, raw: JSON.parse(line) }));
}

function parsed(file: string): UserDataMessage[] {
  return messagesOf(file).map(({ raw }) => parseUserDataMessage(raw) as UserDataMessage);
}

function fold(
  messages: readonly UserDataMessage[],
  orders: readonly TrackedOrder[],
  setup?: (f: UserDataFold) => void,
) {
  const f = new UserDataFold();
  for (const o of orders) f.track(o);
  setup?.(f);
  const reports: VenueReport[] = [];
  const funding = [];
  for (const m of messages) {
    const r = f.apply(m);
    reports.push(...r.reports);
    funding.push(...r.funding);
  }
  return { fold: f, reports, funding };
}

/** Reports per clientOrderId in order (liquidations under their order id), as canonical JSON. */
function byOrder(reports: readonly VenueReport[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of reports) {
    const id =
      r.kind === "fill"
        ? r.fill.clientOrderId
        : r.kind === "liquidation"
          ? r.liquidation.clientOrderId
          : r.kind === "funding"
            ? `funding:${r.funding.symbol}`
            : r.clientOrderId;
    out[id] = [...(out[id] ?? []), JSON.stringify(r)];
  }
  return out;
}

const otus = (messages: UserDataMessage[]) =>
  messages.filter((m): m is OrderTradeUpdate => m.e === "ORDER_TRADE_UPDATE");

describe.skipIf(!root)("user-data messages (real data)", () => {
  const files = root ? readdirSync(dir).sort() : [];

  it("parses every real message, keeping the exact decimal strings", () => {
    expect(files.length).toBeGreaterThan(0);
    for (const file of files)
      for (const { where, raw } of messagesOf(file)) {
        const message = parseUserDataMessage(raw);
        expect(message.e, where).toBe((raw as { e: string }).e);
        if (message.e === "ORDER_TRADE_UPDATE")
          expect(message.o.L, where).toBe((raw as { o: { L: string } }).o.L);
      }
  });

  it("names the event type and field of a bad message", () => {
    const [first] = otus(parsed("BTCUSDT-2024-11-18-open-close-roundtrip.jsonl"));
    const bad = structuredClone(messagesOf("BTCUSDT-2024-11-18-open-close-roundtrip.jsonl")[1]!.raw) as {
      o: { z: unknown };
    };
    bad.o.z = 0.002;
    expect(first).toBeDefined();
    expect(() => parseUserDataMessage(bad)).toThrow(UserDataError);
    expect(() => parseUserDataMessage(bad)).toThrow(/^ORDER_TRADE_UPDATE\.o\.z: /);
    expect(parseUserDataMessage({ e: "STRATEGY_UPDATE", E: 1 })).toEqual({
      e: "unknown",
      type: "STRATEGY_UPDATE",
    });
  });

  it("folds the BTCUSDT round trip into two fills with Binance's exact numbers", () => {
    const messages = parsed("BTCUSDT-2024-11-18-open-close-roundtrip.jsonl");
    const orders = otus(messages).map((m) => ({ clientOrderId: m.o.c, symbol: m.o.s, algo: false }));
    const { reports } = fold(messages, orders);
    const fills = otus(messages).filter((m) => m.o.x === "TRADE");
    expect(reports).toEqual(
      fills.map((m) => ({
        kind: "fill",
        time: m.o.T,
        fill: {
          symbol: m.o.s,
          clientOrderId: m.o.c,
          tradeId: m.o.t,
          side: m.o.S,
          price: m.o.L,
          quantity: m.o.l,
          commission: m.o.n,
          cumulativeQuantity: m.o.z,
          status: "FILLED",
          maker: m.o.m,
        },
      })),
    );
    expect(reports.map((r) => r.kind === "fill" && r.fill.commission)).toEqual(["0.09173990", "0.09085320"]);
  });

  it("folds the DOGEUSDT stop: TRIGGERING then TRIGGERED with the `ai` link; FINISHED without TRIGGERED waits", () => {
    const messages = parsed("DOGEUSDT-2025-12-11-algo-update-stop-market.jsonl");
    const ids = [...new Set(messages.map((m) => (m.e === "ALGO_UPDATE" ? m.o.caid : "")))];
    const { fold: f, reports } = fold(
      messages,
      ids.map((id) => ({ clientOrderId: id, symbol: "DOGEUSDT", algo: true })),
    );
    expect(reports).toEqual([
      {
        kind: "triggering",
        time: 1765431097019,
        symbol: "DOGEUSDT",
        clientOrderId: ids[0],
        workingType: "CONTRACT_PRICE",
        triggeredAt: "0.13855",
      },
      {
        kind: "triggered",
        time: 1765431097030,
        symbol: "DOGEUSDT",
        clientOrderId: ids[0],
        orderId: "88937381063",
        actualType: "MARKET",
      },
    ]);
    expect(f.triggeredOrderId(ids[0]!)).toBe("88937381063");
    expect(f.heldBack().orders).toEqual({ [ids[1]!]: 1 });
    // A query showed the second stop finished: its missing steps are folded from the FINISHED update.
    expect(f.release(ids[1]!).map((r) => r.kind)).toEqual(["triggering", "triggered"]);
    expect(f.triggeredOrderId(ids[1]!)).toBe("88937381064");
    expect(f.heldBack().orders).toEqual({});
  });

  it("links the triggered order's ORDER_TRADE_UPDATE by `ai`, whatever its `c`, and waits for the link", () => {
    const algo = parsed("DOGEUSDT-2025-12-11-algo-update-stop-market.jsonl").slice(0, 3);
    const fillTemplate = otus(parsed("BTCUSDT-2024-11-18-open-close-roundtrip.jsonl"))[1]!;
    const fill = structuredClone(fillTemplate);
    Object.assign(fill.o, {
      s: "DOGEUSDT",
      c: "trigger-child",
      i: "88937381063",
      L: "0.13856",
      l: "38",
      z: "38",
    });
    const caid = (algo[0] as { o: { caid: string } }).o.caid;
    const orders = [{ clientOrderId: caid, symbol: "DOGEUSDT", algo: true }];
    // The fill arrives before the algo updates: it waits for TRIGGERED.
    const early = fold([fill, ...algo], orders).reports;
    const inOrder = fold([...algo.slice(0, 2), fill, algo[2]!], orders).reports;
    expect(early).toEqual(inOrder);
    expect(inOrder.map((r) => r.kind)).toEqual(["triggering", "triggered", "fill"]);
    const last = inOrder[2]!;
    expect(last.kind === "fill" && last.fill).toMatchObject({
      clientOrderId: caid,
      price: "0.13856",
      quantity: "38",
    });
  });

  it("reports an algo CANCELED we did not ask for as expired, and none for our own cancel", () => {
    const messages = parsed("DOTUSDT-2026-09-19-algo-update-new-cancel.jsonl");
    const caid = (messages[0] as { o: { caid: string } }).o.caid;
    const orders = [{ clientOrderId: caid, symbol: "DOTUSDT", algo: true }];
    expect(fold(messages, orders).reports).toEqual([
      {
        kind: "expired",
        time: 1789835583244,
        symbol: "DOTUSDT",
        clientOrderId: caid,
        reason: "canceled at the venue",
      },
    ]);
    expect(fold(messages, orders, (f) => f.setCancelRequested(caid, true)).reports).toEqual([]);
  });

  it("gives an STP expiry without `er` er 1, and links an adopted triggered order by its order id", () => {
    const [newMsg] = otus(parsed("BTCUSDT-2024-11-18-open-close-roundtrip.jsonl"));
    const stp = structuredClone(newMsg!);
    Object.assign(stp.o, { x: "EXPIRED", X: "EXPIRED_IN_MATCH" });
    const [report] = fold([stp], [{ clientOrderId: stp.o.c, symbol: "BTCUSDT", algo: false }]).reports;
    expect(report).toMatchObject({ kind: "expired", expiryReason: 1 });
    const child = structuredClone(stp);
    Object.assign(child.o, { c: "another-c", i: "777", er: 2 });
    const adopted = {
      clientOrderId: "ps-BTCUSDT-9-SL",
      symbol: "BTCUSDT",
      algo: true,
      triggeredOrderId: "777",
    };
    expect(fold([child], [adopted]).reports).toEqual([
      {
        kind: "expired",
        time: child.T,
        symbol: "BTCUSDT",
        clientOrderId: "ps-BTCUSDT-9-SL",
        reason: "EXPIRED_IN_MATCH at the venue (er 2)",
        expiryReason: 2,
      },
    ]);
  });

  it("takes the BNFCR ACCOUNT_UPDATE (credits mode) without a funding notice", () => {
    const { reports, funding } = fold(parsed("account-update-bnfcr-2026-06-16.json"), []);
    expect(reports).toEqual([]);
    expect(funding).toEqual([]);
  });

  it("turns ACCOUNT_UPDATE FUNDING_FEE into one funding notice per payment, duplicates folded once", () => {
    const update = parsed("BTCUSDT-2024-11-18-open-close-roundtrip.jsonl")[2]! as Extract<
      UserDataMessage,
      { e: "ACCOUNT_UPDATE" }
    >;
    const isolated = structuredClone(update);
    isolated.a.m = "FUNDING_FEE";
    isolated.a.B[0]!.bc = "-0.01835";
    isolated.a.P[0]!.mt = "isolated";
    const cross = structuredClone(isolated);
    cross.a.P = [];
    cross.T += 1;
    const { funding } = fold([isolated, isolated, cross], []);
    expect(funding).toEqual([
      {
        time: update.T,
        asset: "USDT",
        fundingFee: "-0.01835",
        position: { symbol: "BTCUSDT", positionSide: "BOTH", positionAmt: "0.002" },
      },
      { time: update.T + 1, asset: "USDT", fundingFee: "-0.01835" },
    ]);
  });

  it("turns an autoclose- order's CALCULATED fills into one liquidation report", () => {
    const messages = parsed("BTCUSDT-2024-11-18-open-close-roundtrip.jsonl");
    const [open, close] = [messages[2]!, messages[6]!];
    const liq = structuredClone(otus(messages)[3]!);
    Object.assign(liq.o, {
      c: "autoclose-1731955175166",
      x: "CALCULATED",
      o: "LIQUIDATION",
      rp: "-1.77340000",
    });
    const { reports } = fold([open, close, liq, liq], []);
    expect(reports).toEqual([
      {
        kind: "liquidation",
        time: liq.o.T,
        liquidation: {
          symbol: "BTCUSDT",
          clientOrderId: "autoclose-1731955175166",
          positionSide: "BOTH",
          marginType: "CROSSED",
          positionAmt: "0.002",
          entryPrice: "91739.9",
          markPrice: "90853.20000",
          liquidationPrice: "90853.20000",
          price: "90853.20000",
          maintMargin: "0",
          realizedPnl: "-1.7734",
          clearanceFee: "0",
          insuranceFundCovered: "0",
          walletBalance: "640.89671759",
        },
      },
    ]);
  });

  /** Sequences for the property: each real file, and partial fills derived from the real fill. */
  function sequences(): { name: string; messages: UserDataMessage[]; orders: TrackedOrder[] }[] {
    const out = files
      .filter((file) => file.endsWith(".jsonl"))
      .map((file) => {
        const messages = parsed(file);
        const orders: TrackedOrder[] = [];
        for (const m of messages) {
          if (m.e === "ORDER_TRADE_UPDATE") orders.push({ clientOrderId: m.o.c, symbol: m.o.s, algo: false });
          if (m.e === "ALGO_UPDATE") orders.push({ clientOrderId: m.o.caid, symbol: m.o.s, algo: true });
        }
        return { name: file, messages, orders };
      });
    const btc = parsed("BTCUSDT-2024-11-18-open-close-roundtrip.jsonl");
    const [newMsg, filled] = [otus(btc)[0]!, otus(btc)[1]!];
    const part = (t: number, l: string, z: string, X: string): OrderTradeUpdate => {
      const m = structuredClone(filled);
      Object.assign(m.o, { t: String(t), l, z, X, n: "0.04586995" });
      return m;
    };
    const partial = [
      newMsg,
      part(5612428004, "0.001", "0.001", "PARTIALLY_FILLED"),
      part(5612428005, "0.0005", "0.0015", "PARTIALLY_FILLED"),
      part(5612428006, "0.0005", "0.002", "FILLED"),
    ];
    out.push({
      name: "partial fills",
      messages: partial,
      orders: [{ clientOrderId: newMsg.o.c, symbol: "BTCUSDT", algo: false }],
    });
    const canceled = structuredClone(filled);
    Object.assign(canceled.o, { x: "CANCELED", X: "CANCELED", l: "0", z: "0.0015", t: "0" });
    out.push({
      name: "partial fills then canceled",
      messages: [...partial.slice(0, 3), canceled],
      orders: [{ clientOrderId: newMsg.o.c, symbol: "BTCUSDT", algo: false }],
    });
    const [open, close] = [btc[2]!, btc[6]!];
    const liq = structuredClone(otus(btc)[3]!);
    Object.assign(liq.o, { c: "autoclose-1731955175166", x: "CALCULATED", o: "LIQUIDATION" });
    out.push({ name: "liquidation", messages: [open, close, liq], orders: [] });
    return out;
  }

  it("folds any duplication and reordering of a sequence to the clean sequence's reports (property)", () => {
    for (const { name, messages, orders } of sequences()) {
      const clean = byOrder(fold(messages, orders).reports);
      expect(Object.keys(clean).length, name).toBeGreaterThan(0);
      const n = messages.length;
      const shuffled = fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 2 * n }).chain((dups) => {
        const all = [...messages.keys(), ...dups];
        return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
      });
      fc.assert(
        fc.property(shuffled, (order) => {
          expect(
            byOrder(
              fold(
                order.map((i) => messages[i]!),
                orders,
              ).reports,
            ),
            name,
          ).toEqual(clean);
        }),
        { numRuns: 200 },
      );
    }
  });

  it("an order adopted after a restart with its fills so far folds only the fills after them (property)", () => {
    const partial = sequences().find((s) => s.name === "partial fills")!;
    const clean = fold(partial.messages, partial.orders).reports;
    const fills = clean.filter((r): r is Extract<VenueReport, { kind: "fill" }> => r.kind === "fill");
    expect(fills).toHaveLength(3);
    const n = partial.messages.length;
    const cut = fc.integer({ min: 0, max: fills.length });
    const shuffled = fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 2 * n }).chain((dups) => {
      const all = [...partial.messages.keys(), ...dups];
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
    });
    fc.assert(
      fc.property(cut, shuffled, (k, order) => {
        // The restarted run's log holds the first k fills: the order is adopted with them.
        const known = fills.slice(0, k);
        const adopted = new UserDataFold();
        adopted.track(partial.orders[0]!, {
          filled: known.at(-1)?.fill.cumulativeQuantity ?? "0",
          tradeIds: known.map((r) => r.fill.tradeId),
          triggering: false,
        });
        const reports = order.flatMap((i) => adopted.apply(partial.messages[i]!).reports);
        expect(reports).toEqual(fills.slice(k));
      }),
      { numRuns: 200 },
    );
  });
});
