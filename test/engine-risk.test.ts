/**
 * The risk engine through the kernel: RiskLimitsSet at start; an illegal change of trading state is refused by
 * the risk machine (IllegalTransitionError, nothing written); the drawdown halt latches through any recovery
 * until an operator resumes; an operator's halt appended by another writer is read before the next check; and
 * OrderExecution records a denied order as OrderDenied without sending it to the venue.
 */
import { describe, expect, it } from "vitest";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { IllegalTransitionError } from "../src/actors/illegal-transition.ts";
import { runMachine } from "../src/actors/run.machine.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import type { RiskLimits } from "../src/domain/risk/types.ts";
import { OrderExecution } from "../src/engine/order-execution.ts";
import { type RiskAccountView, RiskEngine } from "../src/engine/risk-engine.ts";
import { operatorChangeTradingState } from "../src/engine/risk-operator.ts";
import type { OrderRequest, Venue } from "../src/engine/venue.ts";
import type { EventStore } from "../src/events/store.ts";

const RUN = "bt-risk-test";
const T0 = Date.UTC(2025, 4, 5, 0, 0);
const cause = (eventTime: number) => ({ causationId: "test", eventTime });

const entry = (over: Partial<OrderRequest> = {}): OrderRequest => ({
  clientOrderId: "ps-BTCUSDT-000001-E",
  symbol: "BTCUSDT",
  side: "BUY",
  type: "MARKET",
  purpose: "ENTRY",
  positionSide: "BOTH",
  quantity: "1",
  reduceOnly: false,
  ...over,
});

async function events(store: EventStore, stream: string) {
  const out = [];
  for await (const e of store.readStream(stream)) out.push({ type: e.type, data: e.data });
  return out;
}

/** A risk engine on a memory store whose account is `view` (mutable), started at T0. */
async function started(limits: RiskLimits, view: RiskAccountView) {
  const store = new InMemoryEventStore();
  // A recorded run, so that the operator's command finds the run and its account.
  const run = EventSourcedActor.create(`run-${RUN}`, runMachine, { store, correlationId: RUN });
  const config = BacktestConfigSchema.parse({}) as unknown as Record<string, unknown>;
  await run.commit(
    [
      {
        type: "RunStarted",
        data: {
          runId: RUN,
          mode: "backtest",
          strategy: "sma-cross",
          symbols: ["BTCUSDT"],
          from: T0,
          to: T0 + 86_400_000,
          config,
          manifest: [],
        },
      },
    ],
    cause(T0),
  );
  const risk = new RiskEngine({ store, runId: RUN, accountId: "main", limits, view: () => view });
  await risk.start(cause(T0));
  return { store, risk };
}

describe("RiskEngine", () => {
  it("records its limits, every one named (off as null)", async () => {
    const { store, risk } = await started(
      { maxDrawdown: "0.15", orderRate: { orders: 5, windowMs: 1000 } },
      {
        walletBalance: "10000",
        positions: {},
        openOrders: [],
      },
    );
    expect(risk.tradingState).toBe("ACTIVE");
    expect(await events(store, "risk-main")).toEqual([
      {
        type: "RiskLimitsSet",
        data: {
          accountId: "main",
          limits: {
            maxOrderNotional: null,
            maxPositionNotional: null,
            maxGrossExposure: null,
            maxLeverage: null,
            maxOpenPositions: null,
            priceBand: null,
            orderRateOrders: 5,
            orderRateWindowMs: 1000,
            dailyLossLimit: null,
            dailyLossAction: null,
            maxDrawdown: "0.15",
          },
        },
      },
    ]);
  });

  it("the risk machine refuses an illegal change: nothing is written", async () => {
    const { store, risk } = await started({}, { walletBalance: "10000", positions: {}, openOrders: [] });
    const change = (from: "ACTIVE" | "HALTED", to: "ACTIVE" | "HALTED") => ({
      type: "TradingStateChanged" as const,
      data: { accountId: "main", from, to, by: "operator", reason: "test" },
    });
    // HALTED → ACTIVE while ACTIVE, and ACTIVE → ACTIVE, are not transitions of the table.
    await expect(risk.riskActor.commit([change("HALTED", "ACTIVE")], cause(T0))).rejects.toThrow(
      IllegalTransitionError,
    );
    await expect(risk.riskActor.commit([change("ACTIVE", "ACTIVE")], cause(T0))).rejects.toThrow(
      'illegal transition on risk-main: TradingStateChanged is not accepted in state "ACTIVE" (nothing was written)',
    );
    expect(await store.streamRevision("risk-main")).toBe(0);
  });

  it("the drawdown halt latches through a recovery and denies every order until an operator resumes", async () => {
    const view: RiskAccountView = {
      walletBalance: "10000",
      positions: { BTCUSDT: { positionAmt: "100", entryPrice: "100" } },
      openOrders: [],
    };
    const { store, risk } = await started({ maxDrawdown: "0.15" }, view);
    await risk.onMark("BTCUSDT", "110", cause(T0 + 60_000)); // equity 11000: the peak
    await risk.onMark("BTCUSDT", "93.51", cause(T0 + 120_000)); // 9351 > 11000 × 0.85 = 9350
    expect(risk.tradingState).toBe("ACTIVE");
    await risk.onMark("BTCUSDT", "93.5", cause(T0 + 180_000)); // 9350: halt
    expect(risk.tradingState).toBe("HALTED");
    const halted = (await events(store, "risk-main"))[1];
    expect(halted).toEqual({
      type: "TradingStateChanged",
      data: {
        accountId: "main",
        from: "ACTIVE",
        to: "HALTED",
        by: "drawdownHalt",
        reason: "equity 9350 USDT fell 0.15 below the peak 11000 USDT (limit 0.15)",
        numbers: {
          equity: "9350",
          peakEquity: "11000",
          drawdown: "0.15",
          maxDrawdown: "0.15",
          haltEquity: "9350",
        },
      },
    });
    for (const mark of ["120", "200", "50"]) await risk.onMark("BTCUSDT", mark, cause(T0 + 240_000));
    expect(risk.tradingState).toBe("HALTED");
    expect(await risk.check(entry(), T0 + 240_000, "50")).toMatchObject({ rule: "tradingStateHalted" });
    // Closing the position is refused too: HALTED lets nothing through.
    const close = entry({ side: "SELL", reduceOnly: true, quantity: "100", purpose: "FLATTEN" });
    expect(await risk.check(close, T0 + 240_000)).toMatchObject({ rule: "tradingStateHalted" });

    expect(await risk.resume("reviewed", cause(T0 + 300_000))).toMatchObject({
      from: "HALTED",
      to: "ACTIVE",
      by: "operator",
    });
    // The drawdown restarts from the equity at the resume (10000 − 5000 = 5000 at mark 50).
    await risk.onMark("BTCUSDT", "50", cause(T0 + 360_000));
    expect(risk.tradingState).toBe("ACTIVE");
    expect(await risk.check(entry(), T0 + 360_000, "50")).toBeUndefined();
    await risk.onMark("BTCUSDT", "42.5", cause(T0 + 420_000)); // 5000 × 0.85 = 4250
    expect(risk.tradingState).toBe("HALTED");
  });

  it("the daily loss limit moves to REDUCING, lets a reducing order through, and is reset the next UTC day", async () => {
    const view: RiskAccountView = {
      walletBalance: "10000",
      positions: { BTCUSDT: { positionAmt: "1", entryPrice: "100" } },
      openOrders: [],
    };
    const { risk } = await started({ dailyLossLimit: "100" }, view);
    const fill = (realizedPnl: string, commission: string) =>
      ({
        symbol: "BTCUSDT",
        clientOrderId: "x",
        tradeId: "1",
        side: "SELL",
        price: "100",
        quantity: "1",
        commission,
        realizedPnl,
        positionAmt: "1",
        entryPrice: "100",
        walletBalance: "9900",
      }) as const;
    await risk.afterFill(fill("-90", "9.99"), cause(T0 + 3_600_000)); // −99.99
    expect(risk.tradingState).toBe("ACTIVE");
    await risk.afterFill(fill("0", "0.01"), cause(T0 + 7_200_000)); // −100
    expect(risk.tradingState).toBe("REDUCING");
    expect(await risk.check(entry(), T0 + 7_200_000, "100")).toMatchObject({ rule: "tradingStateReducing" });
    expect(
      await risk.check(entry({ side: "SELL", reduceOnly: true, purpose: "FLATTEN" }), T0 + 7_200_000),
    ).toBeUndefined();
    await risk.onMark("BTCUSDT", "100", cause(T0 + 86_400_000 + 59_999));
    expect(risk.tradingState).toBe("ACTIVE");
  });

  it("reads an operator's halt appended by another writer before its next check, and continues after it", async () => {
    const { store, risk } = await started({}, { walletBalance: "10000", positions: {}, openOrders: [] });
    expect(await risk.check(entry(), T0, "100")).toBeUndefined();
    const outcome = await operatorChangeTradingState(store, "HALTED", "kill switch drill");
    expect(outcome).toMatchObject({ changed: true, stream: "risk-main", revision: 1 });
    expect(await risk.check(entry(), T0, "100")).toMatchObject({ rule: "tradingStateHalted" });
    expect(await operatorChangeTradingState(store, "HALTED", "again")).toEqual({
      changed: false,
      state: "HALTED",
      stream: "risk-main",
    });
    await risk.resume("drill over", cause(T0 + 1));
    expect((await events(store, "risk-main")).map((e) => [e.type, (e.data as { by?: string }).by])).toEqual([
      ["RiskLimitsSet", undefined],
      ["TradingStateChanged", "operator"],
      ["TradingStateChanged", "operator"],
    ]);
  });

  it("persists and restores its state (checkpoint)", async () => {
    const view: RiskAccountView = { walletBalance: "10000", positions: {}, openOrders: [] };
    const { store, risk } = await started({ orderRate: { orders: 1, windowMs: 60_000 } }, view);
    expect(await risk.check(entry(), T0, "100")).toBeUndefined();
    const copy = new RiskEngine({
      store,
      runId: RUN,
      accountId: "main",
      limits: risk.limits,
      view: () => view,
    });
    copy.restore(JSON.parse(JSON.stringify(risk.persist())));
    expect(await copy.check(entry(), T0 + 59_999, "100")).toMatchObject({ rule: "orderRate" });
    expect(await copy.check(entry(), T0 + 60_000, "100")).toBeUndefined();
  });
});

describe("OrderExecution with the risk engine", () => {
  it("a denied order gets OrderDenied with the rule and its numbers, and never reaches the venue", async () => {
    const view: RiskAccountView = { walletBalance: "10000", positions: {}, openOrders: [] };
    const { store, risk } = await started({ maxOrderNotional: "1000" }, view);
    const account = EventSourcedActor.create("account-main", accountMachine, { store, correlationId: RUN });
    const sent: string[] = [];
    const venue: Venue = {
      external: false,
      async submit(order) {
        sent.push(order.clientOrderId);
        return { accepted: true, orderId: "1" };
      },
      async cancel() {
        return { canceled: true };
      },
    };
    const execution = new OrderExecution({ store, runId: RUN, venue, account, risk });
    const big = entry({ quantity: "10.01" });
    const outcome = await execution.submit(big, cause(T0), "100");
    expect(outcome).toMatchObject({
      accepted: false,
      reason: "denied by maxOrderNotional: order notional 1001 USDT exceeds the limit 1000 USDT",
    });
    expect(await events(store, "order-ps-BTCUSDT-000001-E")).toEqual([
      { type: "OrderSubmitted", data: big },
      {
        type: "OrderDenied",
        data: {
          clientOrderId: "ps-BTCUSDT-000001-E",
          symbol: "BTCUSDT",
          rule: "maxOrderNotional",
          reason: "order notional 1001 USDT exceeds the limit 1000 USDT",
          numbers: { notional: "1001", limit: "1000", price: "100" },
        },
      },
    ]);
    expect(sent).toEqual([]);
    expect(execution.isWorking(big.clientOrderId)).toBe(false);
    expect(execution.stats).toEqual({ orders: 1, fills: 0, denied: 1 });
    const small = entry({ clientOrderId: "ps-BTCUSDT-000002-E", quantity: "10" });
    expect(await execution.submit(small, cause(T0), "100")).toEqual({ accepted: true });
    expect(sent).toEqual(["ps-BTCUSDT-000002-E"]);
  });
});
