import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyFill,
  commission,
  flatPosition,
  type Position,
  unrealizedPnl,
} from "../src/domain/accounting.ts";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { type EventData, type EventType, validateEvent } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { deterministicEventId } from "../src/events/ids.ts";
import { streams } from "../src/events/streams.ts";
import { EquityCurve, keepExtremes, MIN_CURVE_POINTS } from "../src/projections/equity-curve.ts";
import { MONEY_SCALE, toUnits } from "../src/projections/fixed-point.ts";
import {
  createProjections,
  type Projections,
  projectionsDigest,
  rebuildProjections,
} from "../src/projections/index.ts";
import { runScenario, type ScenarioInput, vector8 } from "./support/scenario.ts";

const T0 = 1_704_067_200_000; // 2024-01-01T00:00Z
const MINUTE = 60_000;

/** Builds a schema-valid recorded log in memory (positions 1, 2, …; revisions per stream). */
class LogBuilder {
  readonly events: RecordedEvent[] = [];
  private readonly revisions = new Map<string, number>();
  private readonly orderSides = new Map<string, "BUY" | "SELL">();

  add<T extends EventType>(stream: string, type: T, data: EventData<T>, eventTime: number): this {
    const revision = (this.revisions.get(stream) ?? -1) + 1;
    this.revisions.set(stream, revision);
    this.events.push({
      stream,
      revision,
      position: this.events.length + 1,
      eventId: deterministicEventId("run-test", stream, revision),
      type,
      data: validateEvent(type, data),
      metadata: { correlationId: "test", causationId: "test", eventTime }, // the run id, as a backtest writes
    } as RecordedEvent);
    return this;
  }

  run(config: Record<string, unknown>, symbols = ["BTCUSDT"]): this {
    return this.add(
      streams.run("test"),
      "RunStarted",
      {
        runId: "test",
        mode: "backtest",
        strategy: "sma-cross",
        symbols,
        from: T0,
        to: T0 + 86_400_000,
        config,
        manifest: [],
      },
      T0,
    );
  }

  account(walletBalance: string): this {
    return this.add(
      streams.account("main"),
      "AccountOpened",
      { accountId: "main", asset: "USDT", walletBalance },
      T0,
    );
  }

  /** The 1m bar `minute` after T0, closing at `close`. */
  /** A flat 1m bar at `close`; with `markPrice`, the mark at its close (1m mark-price data). */
  bar(minute: number, close: string, symbol = "BTCUSDT", markPrice?: string): this {
    const openTime = T0 + minute * MINUTE;
    return this.add(
      streams.symbol(symbol),
      "BarClosed",
      {
        symbol,
        interval: "1m",
        openTime,
        closeTime: openTime + MINUTE - 1,
        open: close,
        high: close,
        low: close,
        close,
        volume: "1",
        ...(markPrice === undefined ? {} : { markPrice }),
      },
      openTime + MINUTE - 1,
    );
  }

  submit(
    clientOrderId: string,
    order: {
      side: "BUY" | "SELL";
      quantity: string;
      purpose?: "ENTRY" | "STOP_LOSS" | "TAKE_PROFIT" | "FLATTEN";
    },
    time: number,
    trigger?: { type: "STOP_MARKET" | "TAKE_PROFIT_MARKET"; triggerPrice: string; sibling: string },
    symbol = "BTCUSDT",
  ): this {
    this.orderSides.set(clientOrderId, order.side);
    return this.add(
      streams.order(clientOrderId),
      "OrderSubmitted",
      {
        clientOrderId,
        symbol,
        side: order.side,
        type: trigger?.type ?? "MARKET",
        purpose: order.purpose ?? "ENTRY",
        positionSide: "BOTH",
        quantity: order.quantity,
        reduceOnly: trigger !== undefined,
        ...(trigger && { triggerPrice: trigger.triggerPrice, siblingClientOrderId: trigger.sibling }),
      },
      time,
    ).add(
      streams.order(clientOrderId),
      "OrderAccepted",
      { clientOrderId, orderId: `v-${clientOrderId}` },
      time,
    );
  }

  /** OrderFilled (complete) + FillBooked with the given account state after the fill. */
  fill(
    clientOrderId: string,
    fill: { price: string; quantity: string; commission: string; realizedPnl: string },
    after: { positionAmt: string; entryPrice: string; walletBalance: string },
    time: number,
    symbol = "BTCUSDT",
  ): this {
    const side = this.orderSides.get(clientOrderId)!;
    const tradeId = `t-${clientOrderId}`;
    return this.add(
      streams.order(clientOrderId),
      "OrderFilled",
      {
        clientOrderId,
        symbol,
        side,
        tradeId,
        price: fill.price,
        quantity: fill.quantity,
        cumulativeQuantity: fill.quantity,
        commission: fill.commission,
        commissionAsset: "USDT",
        maker: false,
        status: "FILLED",
      },
      time,
    ).add(
      streams.account("main"),
      "FillBooked",
      {
        symbol,
        clientOrderId,
        tradeId,
        side,
        price: fill.price,
        quantity: fill.quantity,
        commission: fill.commission,
        realizedPnl: fill.realizedPnl,
        ...after,
      },
      time,
    );
  }

  /** OrderTriggering + OrderTriggered of a conditional order (algo TRIGGERING → TRIGGERED, §2.4). */
  trigger(clientOrderId: string, triggeredAt: string, time: number): this {
    return this.add(
      streams.order(clientOrderId),
      "OrderTriggering",
      { clientOrderId, workingType: "CONTRACT_PRICE", triggeredAt },
      time,
    ).add(
      streams.order(clientOrderId),
      "OrderTriggered",
      { clientOrderId, orderId: `me-${clientOrderId}`, actualType: "MARKET" },
      time,
    );
  }

  funding(fee: Omit<EventData<"FundingFeeBooked">, "symbol">, symbol = "BTCUSDT"): this {
    return this.add(streams.account("main"), "FundingFeeBooked", { symbol, ...fee }, fee.fundingTime);
  }
}

function rebuild(events: readonly RecordedEvent[]): Projections {
  const p = createProjections();
  for (const e of events) p.apply(e);
  return p;
}

const at = (minute: number) => T0 + minute * MINUTE;

describe("projections on hand-built logs", () => {
  // A long round trip: buy 2 @ 100.50, pay funding, take profit 2 @ 103.50; taker fee 0.05 %.
  const longTrip = () =>
    new LogBuilder()
      .run({ smaCross: { leverage: 5 } })
      .account("10000")
      .bar(0, "100.00")
      .submit("E1", { side: "BUY", quantity: "2" }, at(1))
      .fill(
        "E1",
        { price: "100.50", quantity: "2", commission: "0.1005", realizedPnl: "0" },
        { positionAmt: "2", entryPrice: "100.5", walletBalance: "9999.8995" },
        at(1),
      )
      .submit("SL1", { side: "SELL", quantity: "2", purpose: "STOP_LOSS" }, at(1), {
        type: "STOP_MARKET",
        triggerPrice: "95.00",
        sibling: "TP1",
      })
      .submit("TP1", { side: "SELL", quantity: "2", purpose: "TAKE_PROFIT" }, at(1), {
        type: "TAKE_PROFIT_MARKET",
        triggerPrice: "103.50",
        sibling: "SL1",
      })
      .bar(1, "101.00")
      .funding({
        fundingTime: at(2),
        fundingRate: "0.0001",
        markPrice: "101",
        positionAmt: "2",
        fundingFee: "-0.0202",
        walletBalance: "9999.8793",
      })
      .bar(2, "99.00")
      .bar(3, "103.00");

  it("marks an open long to the latest close and measures its risk", () => {
    const p = rebuild(longTrip().events);
    expect(p.positions()).toEqual([
      {
        symbol: "BTCUSDT",
        side: "LONG",
        positionAmt: "2",
        entryPrice: "100.5",
        markPrice: "103.00",
        unrealizedPnl: "5",
        notional: "206",
        updateTime: at(1),
        // Never configured: Binance's 20× cross. BTCUSDT's bundled bracket 1 has MMR 0.004, cum 0 (§4.6).
        leverage: 20,
        marginType: "CROSSED",
        isolatedWallet: null,
        initialMargin: "10.3", // 206 / 20
        maintMargin: "0.824", // 206 × 0.004
        marginRatio: "0.000082359814", // 0.824 / (9999.8793 + 5), 12 decimals
        liquidationPrice: null, // (9999.8793 − 201) / (2 × 0.004 − 2) < 0: no liquidation ("--")
      },
    ]);
    const pnl = p.pnl();
    expect(pnl).toMatchObject({
      walletBalance: "9999.8793",
      unrealizedPnl: "5",
      equity: "10004.8793",
      realizedPnl: "0",
      fees: "0.1005",
      funding: "-0.0202",
      netPnl: "-0.1207",
    });
    expect(p.risk()).toEqual({
      equity: "10004.8793",
      grossExposure: "206",
      netExposure: "206",
      leverage: "0.02058995", // 206 / 10004.8793 = 0.020589950…
      configuredLeverage: 5,
      initialMargin: "41.2",
      exposures: [
        {
          symbol: "BTCUSDT",
          positionAmt: "2",
          markPrice: "103.00",
          notional: "206",
          signedNotional: "206",
          initialMargin: "41.2",
        },
      ],
      // A log without a risk stream: no trading state, no limits; the day's net realized PnL is the entry's
      // commission (−0.1005) and the funding fee (−0.0202).
      tradingState: null,
      lastStateChange: null,
      stateChanges: 0,
      ordersDenied: 0,
      deniedByRule: {},
      peakEquity: "10004.8793",
      realizedToday: "-0.1207",
      limits: [],
    });
    expect(p.orders({ status: "NEW" }).orders.map((o) => o.clientOrderId)).toEqual(["SL1", "TP1"]);
  });

  it("books a long round trip with a funding payment and fees", () => {
    const log = longTrip()
      .trigger("TP1", "103.50", at(4) - 1)
      .fill(
        "TP1",
        { price: "103.50", quantity: "2", commission: "0.1035", realizedPnl: "6" },
        { positionAmt: "0", entryPrice: "0", walletBalance: "10005.7758" },
        at(4) - 1,
      )
      .add(
        streams.order("SL1"),
        "OrderCanceled",
        { clientOrderId: "SL1", reason: "siblingFilled" },
        at(4) - 1,
      )
      .bar(4, "104.00")
      .add(streams.run("test"), "RunCompleted", { runId: "test", bars: 5, fundingSettlements: 1 }, at(5) - 1);
    const p = rebuild(log.events);

    expect(p.pnl()).toEqual({
      initialBalance: "10000",
      walletBalance: "10005.7758",
      realizedPnl: "6",
      fees: "0.204",
      funding: "-0.0202",
      liquidationFees: "0",
      insuranceFundCovered: "0",
      netPnl: "5.7758", // 6 − 0.204 − 0.0202 = 10005.7758 − 10000
      unrealizedPnl: "0",
      equity: "10005.7758",
      maxDrawdown: "4.0202", // peak 10000.8995 (bar 1) → trough 9996.8793 (bar 2)
      maxDrawdownRatio: "0.00040198", // 4.0202 / 10000.8995
      fills: 2,
      fundingPayments: 1,
      liquidations: 0,
    });
    expect(p.equityCurve()).toEqual([
      { time: at(1) - 1, equity: "10000" },
      { time: at(2) - 1, equity: "10000.8995" }, // 9999.8995 + 2 × (101 − 100.5)
      { time: at(3) - 1, equity: "9996.8793" }, // 9999.8793 + 2 × (99 − 100.5)
      { time: at(4) - 1, equity: "10004.8793" }, // 9999.8793 + 2 × (103 − 100.5)
      { time: at(5) - 1, equity: "10005.7758" },
    ]);
    expect(p.positions()[0]).toMatchObject({
      side: "FLAT",
      positionAmt: "0",
      unrealizedPnl: "0",
      notional: "0",
    });
    expect(p.risk()).toMatchObject({ grossExposure: "0", netExposure: "0", leverage: "0", exposures: [] });
    expect(p.summary()).toEqual({
      bars: 5,
      orders: 3,
      fills: 2,
      makerFills: 0,
      partialFills: 0,
      liquidations: 0,
      realizedPnl: "6",
      fees: "0.204",
      funding: "-0.0202",
      netPnl: "5.7758",
      walletBalance: "10005.7758",
      equity: "10005.7758",
      maxDrawdown: "4.0202",
      maxDrawdownRatio: "0.00040198",
    });

    const tp = p.order("TP1")!;
    expect(tp).toMatchObject({
      orderId: "v-TP1",
      type: "TAKE_PROFIT_MARKET",
      purpose: "TAKE_PROFIT",
      triggerPrice: "103.50",
      reduceOnly: true,
      siblingClientOrderId: "SL1",
      status: "FILLED",
      algoStatus: "FINISHED",
      triggeredAt: "103.50",
      triggeredOrderId: "me-TP1",
      executedQty: "2",
      avgPrice: "103.5",
      commission: "0.1035",
      submitTime: at(1),
      updateTime: at(4) - 1,
    });
    expect(tp.fills).toEqual([
      {
        tradeId: "t-TP1",
        price: "103.50",
        quantity: "2",
        commission: "0.1035",
        maker: false,
        time: at(4) - 1,
        realizedPnl: "6", // its FillBooked: 2 × (103.50 − 100.50)
      },
    ]);
    expect(p.order("SL1")).toMatchObject({
      status: "CANCELED",
      algoStatus: "CANCELED",
      cancelReason: "siblingFilled",
      executedQty: "0",
    });
    expect(p.orders({ status: "FILLED" }).total).toBe(2);
    expect(p.orders({ type: "TAKE_PROFIT_MARKET" }).orders.map((o) => o.clientOrderId)).toEqual(["TP1"]);
    expect(p.orders({ limit: 1, offset: 1 })).toMatchObject({ total: 3, orders: [{ clientOrderId: "SL1" }] });
    expect(p.runs()).toEqual([
      expect.objectContaining({
        runId: "test",
        startTime: T0,
        completed: true,
        completedTime: at(5) - 1,
        events: log.events.length,
        bars: 5,
        fundingSettlements: 0, // FundingFeeBooked only: no FundingRateSettled in this log
        orders: 3,
        fills: 2,
        lastPosition: log.events.length,
        lastEventTime: at(5) - 1,
      }),
    ]);
    expect(p.bars()).toBe(5);
    expect(p.lastPosition()).toBe(log.events.length);
    expect(p.eventCount()).toBe(log.events.length);
  });

  it("shows a run without RunCompleted as incomplete, with its counters and last event so far", () => {
    const log = longTrip();
    const p = rebuild(log.events);
    const last = log.events[log.events.length - 1]!;
    const run = {
      runId: "test",
      completed: false,
      completedTime: null,
      events: log.events.length,
      bars: 4,
      fundingSettlements: 0,
      orders: 3,
      fills: 1,
      lastPosition: last.position,
      lastEventTime: at(4) - 1,
    };
    expect(p.runs()).toEqual([expect.objectContaining(run)]);
    expect(p.latestRun()).toMatchObject(run);
    expect(p.lastEventTime()).toBe(at(4) - 1);
    // positions are adapter-specific: the snapshot leaves them out
    expect(p.snapshot().runs[0]).not.toHaveProperty("lastPosition");
    expect(p.snapshot().runs[0]).toMatchObject({ completed: false, events: log.events.length });

    // an event of another correlation (no run of that id) counts towards no run; RunCompleted completes it
    expect(last.type).toBe("BarClosed");
    const bar = last.data as { openTime: number; closeTime: number };
    p.apply({
      ...last,
      position: last.position + 1,
      data: { ...bar, openTime: bar.openTime + 60_000, closeTime: bar.closeTime + 60_000 },
      metadata: { ...last.metadata, correlationId: "other" },
    } as typeof last);
    expect(p.latestRun()).toMatchObject({ events: log.events.length, lastPosition: last.position });
    log.add(streams.run("test"), "RunCompleted", { runId: "test", bars: 4, fundingSettlements: 0 }, at(5));
    p.apply({ ...log.events[log.events.length - 1]!, position: last.position + 2 });
    expect(p.latestRun()).toMatchObject({
      completed: true,
      completedTime: at(5),
      events: log.events.length,
      lastPosition: last.position + 2,
    });
  });

  it("counts FundingRateSettled per run", () => {
    const log = new LogBuilder().run({}).add(
      streams.symbol("BTCUSDT"),
      "FundingRateSettled",
      {
        symbol: "BTCUSDT",
        fundingTime: at(1),
        fundingRate: "0.0001",
        fundingIntervalHours: 8,
        markPrice: "100",
        markPriceSource: "lastClose",
      },
      at(1),
    );
    expect(rebuild(log.events).latestRun()).toMatchObject({ fundingSettlements: 1, events: 2 });
    expect(rebuild([]).latestRun()).toBeNull();
  });

  it("marks to the bar's markPrice when the log has one, else to the close (binance-usdm.md §4.2 at the mark)", () => {
    const events = longTrip().bar(4, "103.00", "BTCUSDT", "102.50").events;
    const p = rebuild(events);
    // 2 × (102.50 − 100.5) at the mark, not 2 × (103 − 100.5) at the last price.
    expect(p.position("BTCUSDT")).toMatchObject({ markPrice: "102.50", unrealizedPnl: "4", notional: "205" });
    expect(p.pnl()).toMatchObject({ unrealizedPnl: "4", equity: "10003.8793" });
    const unmarked = rebuild(longTrip().bar(4, "103.00").events);
    expect(unmarked.position("BTCUSDT")).toMatchObject({ markPrice: "103.00", unrealizedPnl: "5" });
  });

  it("books a short: profit when the price falls, funding received at a positive rate", () => {
    const log = new LogBuilder()
      .account("1000")
      .submit("S1", { side: "SELL", quantity: "0.5" }, at(0))
      .fill(
        "S1",
        { price: "200", quantity: "0.5", commission: "0.05", realizedPnl: "0" },
        { positionAmt: "-0.5", entryPrice: "200", walletBalance: "999.95" },
        at(0),
      )
      .bar(0, "190");
    const p = rebuild(log.events);
    expect(p.position("BTCUSDT")).toMatchObject({ side: "SHORT", unrealizedPnl: "5", notional: "95" });
    expect(p.risk()).toMatchObject({
      grossExposure: "95",
      netExposure: "-95",
      configuredLeverage: null,
      initialMargin: null,
    });
    expect(p.risk().exposures[0]).toMatchObject({ signedNotional: "-95", initialMargin: null });

    log
      .funding({
        fundingTime: at(1),
        fundingRate: "0.0001",
        markPrice: "190",
        positionAmt: "-0.5",
        fundingFee: "0.0095", // −(−0.5) × 190 × 0.0001
        walletBalance: "999.9595",
      })
      .submit("C1", { side: "BUY", quantity: "0.5", purpose: "FLATTEN" }, at(1))
      .fill(
        "C1",
        { price: "180", quantity: "0.5", commission: "0.045", realizedPnl: "10" }, // 0.5 × (200 − 180)
        { positionAmt: "0", entryPrice: "0", walletBalance: "1009.9145" },
        at(1),
      );
    for (const e of log.events.slice(p.eventCount())) p.apply(e);
    expect(p.pnl()).toMatchObject({
      realizedPnl: "10",
      fees: "0.095",
      funding: "0.0095",
      netPnl: "9.9145",
      walletBalance: "1009.9145",
      equity: "1009.9145",
    });
  });

  it("books a flip from long to short: realizes the long, opens the rest at the fill price", () => {
    const log = new LogBuilder()
      .account("1000")
      .bar(0, "100")
      .submit("L1", { side: "BUY", quantity: "1" }, at(1))
      .fill(
        "L1",
        { price: "100", quantity: "1", commission: "0.05", realizedPnl: "0" },
        { positionAmt: "1", entryPrice: "100", walletBalance: "999.95" },
        at(1),
      )
      .bar(1, "108")
      .submit("F1", { side: "SELL", quantity: "3" }, at(2))
      .fill(
        "F1",
        { price: "110", quantity: "3", commission: "0.165", realizedPnl: "10" },
        { positionAmt: "-2", entryPrice: "110", walletBalance: "1009.785" },
        at(2),
      )
      .bar(2, "105");
    const p = rebuild(log.events);
    expect(p.position("BTCUSDT")).toMatchObject({
      side: "SHORT",
      positionAmt: "-2",
      entryPrice: "110",
      unrealizedPnl: "10", // −2 × (105 − 110)
      notional: "210",
    });
    expect(p.pnl()).toMatchObject({ realizedPnl: "10", fees: "0.215", equity: "1019.785", maxDrawdown: "0" });
    expect(p.equityCurve().map((x) => x.equity)).toEqual(["1000", "1007.95", "1019.785"]);
  });

  it("keeps a rejected and an expired order with their reasons", () => {
    const log = new LogBuilder()
      .add(
        streams.order("R1"),
        "OrderSubmitted",
        {
          clientOrderId: "R1",
          symbol: "ETHUSDT",
          side: "BUY",
          type: "MARKET",
          purpose: "ENTRY",
          positionSide: "BOTH",
          quantity: "1",
          reduceOnly: false,
        },
        at(0),
      )
      .add(
        streams.order("R1"),
        "OrderRejected",
        { clientOrderId: "R1", code: -2019, reason: "Margin is insufficient." },
        at(0) + 5,
      )
      .submit("X1", { side: "SELL", quantity: "1", purpose: "FLATTEN" }, at(1))
      .add(
        streams.order("X1"),
        "OrderExpired",
        { clientOrderId: "X1", reason: "nothing to reduce" },
        at(1) + 7,
      );
    const p = rebuild(log.events);
    expect(p.order("R1")).toMatchObject({
      status: "REJECTED",
      orderId: null,
      rejectCode: -2019,
      rejectReason: "Margin is insufficient.",
      updateTime: at(0) + 5,
    });
    expect(p.order("X1")).toMatchObject({ status: "EXPIRED", expireReason: "nothing to reduce" });
    expect(p.orders({ symbol: "ETHUSDT" }).orders.map((o) => o.clientOrderId)).toEqual(["R1"]);
    expect(p.order("nope")).toBeUndefined();
  });

  it("marks each symbol to its own close and samples equity once per closeTime", () => {
    const log = new LogBuilder()
      .run({}, ["BTCUSDT", "ETHUSDT"])
      .account("1000")
      .submit("B1", { side: "BUY", quantity: "0.1" }, at(0))
      .fill(
        "B1",
        { price: "100", quantity: "0.1", commission: "0", realizedPnl: "0" },
        { positionAmt: "0.1", entryPrice: "100", walletBalance: "1000" },
        at(0),
      )
      .submit("E1", { side: "SELL", quantity: "2" }, at(0), undefined, "ETHUSDT")
      .fill(
        "E1",
        { price: "10", quantity: "2", commission: "0", realizedPnl: "0" },
        { positionAmt: "-2", entryPrice: "10", walletBalance: "1000" },
        at(0),
        "ETHUSDT",
      )
      .bar(0, "110", "BTCUSDT") // BTC +1
      .bar(0, "11", "ETHUSDT") // ETH −2
      .bar(1, "90", "BTCUSDT") // BTC −1
      .bar(1, "9", "ETHUSDT"); // ETH +2
    const p = rebuild(log.events);
    expect(p.equityCurve()).toEqual([
      { time: at(1) - 1, equity: "999" },
      { time: at(2) - 1, equity: "1001" },
    ]);
    expect(p.pnl().maxDrawdown).toBe("0"); // the intermediate 1001 (BTC bar only) is overwritten by its closeTime
    expect(p.risk()).toMatchObject({ grossExposure: "27", netExposure: "-9", configuredLeverage: null });
    expect(p.positions().map((x) => [x.symbol, x.side])).toEqual([
      ["BTCUSDT", "LONG"],
      ["ETHUSDT", "SHORT"],
    ]);
  });
});

describe("EquityCurve", () => {
  const curve = (values: string[], minutes?: number[]) => {
    const c = new EquityCurve();
    for (const [i, v] of values.entries())
      c.sample(minutes ? at(minutes[i]!) : at(i), toUnits(v, MONEY_SCALE));
    return c;
  };

  it("finds the largest peak-to-trough fall of a known curve", () => {
    // falls: 120 → 90 (30), 130 → 80 (50, the largest), 150 → 140 (10)
    expect(curve(["100", "120", "90", "130", "80", "150", "140"]).drawdown()).toEqual({
      maxDrawdown: "50",
      maxDrawdownRatio: "0.38461538", // 50 / 130
    });
    expect(curve(["1", "2", "3"]).drawdown()).toEqual({ maxDrawdown: "0", maxDrawdownRatio: "0" });
    expect(new EquityCurve().drawdown()).toEqual({ maxDrawdown: "0", maxDrawdownRatio: "0" });
    expect(curve(["0", "-5"]).drawdown()).toEqual({ maxDrawdown: "5", maxDrawdownRatio: null });
  });

  it("replaces the sample of a repeated time", () => {
    expect(curve(["100", "80", "90"], [0, 1, 1]).drawdown()).toEqual({
      maxDrawdown: "10",
      maxDrawdownRatio: "0.1",
    });
  });

  it("downsamples to the last sample of each UTC bucket within [from, to]", () => {
    const c = new EquityCurve();
    for (let m = 0; m < 180; m++) c.sample(at(m + 1) - 1, toUnits(String(m), MONEY_SCALE));
    const hourly = c.points({ intervalMs: 3_600_000 });
    expect(hourly).toEqual([
      { time: at(60) - 1, equity: "59" },
      { time: at(120) - 1, equity: "119" },
      { time: at(180) - 1, equity: "179" },
    ]);
    expect(c.points({ intervalMs: 3_600_000, from: at(60), to: at(90) })).toEqual([
      { time: at(90) - 1, equity: "89" },
    ]);
    expect(c.points({ intervalMs: 60_000, from: at(5), to: at(7) - 1 })).toEqual([
      { time: at(6) - 1, equity: "5" },
      { time: at(7) - 1, equity: "6" },
    ]);
  });

  it("property: maxDrawdown equals the naive O(n²) maximum over all pairs", () => {
    const cents = fc.integer({ min: -1_000_000, max: 1_000_000 });
    fc.assert(
      fc.property(fc.array(fc.tuple(cents, fc.boolean()), { maxLength: 60 }), (steps) => {
        // a `true` flag repeats the previous time (another symbol's bar with the same closeTime)
        const c = new EquityCurve();
        const byTime: Dec[] = [];
        let minute = 0;
        for (const [value, sameTime] of steps) {
          const equity = new Dec(value).div(100);
          if (sameTime && byTime.length > 0) byTime[byTime.length - 1] = equity;
          else {
            minute++;
            byTime.push(equity);
          }
          c.sample(at(minute), toUnits(canonical(equity), MONEY_SCALE));
        }
        let best = new Dec(0);
        let bestPeak: Dec | null = null;
        for (let j = 0; j < byTime.length; j++) {
          for (let i = 0; i < j; i++) {
            const fall = byTime[i]!.minus(byTime[j]!);
            if (fall.gt(best)) {
              best = fall;
              bestPeak = byTime[i]!;
            }
          }
        }
        const ratio =
          bestPeak === null ? "0" : bestPeak.gt(0) ? canonical(best.div(bestPeak).toDecimalPlaces(8)) : null;
        expect(c.drawdown()).toEqual({ maxDrawdown: canonical(best), maxDrawdownRatio: ratio });
      }),
    );
  });
});

/** Maximum, minimum and maximum drawdown (max over i < j of e_i − e_j, by a running peak) of a curve, with Dec. */
function extremes(points: readonly { equity: string }[]) {
  let max: Dec | null = null;
  let min: Dec | null = null;
  let drawdown = new Dec(0);
  for (const { equity } of points) {
    const e = new Dec(equity);
    if (max?.minus(e).gt(drawdown)) drawdown = max.minus(e);
    if (max === null || e.gt(max)) max = e;
    if (min === null || e.lt(min)) min = e;
  }
  return { max: max && canonical(max), min: min && canonical(min), drawdown: canonical(drawdown) };
}

describe("equity curve downsampling", () => {
  it("keeps the drawdown's peak and trough even when no bucket extreme is one of them", () => {
    // one bucket (maxPoints 6): first 3, min 1, max 20, last 19; the largest fall is 10 → 4, inside the bucket
    const values = [3, 1, 10, 4, 12, 11, 20, 19].map((v) => BigInt(v));
    expect(keepExtremes(values.length, (i) => values[i]!, 6)).toEqual([0, 1, 2, 3, 6, 7]);
    expect(keepExtremes(values.length, (i) => values[i]!, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(() => keepExtremes(values.length, (i) => values[i]!, MIN_CURVE_POINTS - 1)).toThrow(
      /maxPoints must be ≥ 6, got 5/,
    );
  });

  it("says whether the curve was downsampled and how many points it had", () => {
    const c = new EquityCurve();
    for (let m = 0; m < 180; m++) c.sample(at(m + 1) - 1, toUnits(String((m * 37) % 101), MONEY_SCALE));
    const full = c.points({ intervalMs: MINUTE });
    const view = c.view({ intervalMs: MINUTE }, 20);
    expect(view).toMatchObject({ totalPoints: 180, downsampled: true });
    expect(view.points.length).toBeLessThanOrEqual(20);
    expect(view.points[0]).toEqual(full[0]);
    expect(view.points.at(-1)).toEqual(full.at(-1));
    expect(c.view({ intervalMs: 3_600_000 }, 20)).toEqual({
      points: c.points({ intervalMs: 3_600_000 }),
      totalPoints: 3,
      downsampled: false,
    });
    expect(c.view({ intervalMs: MINUTE, from: at(500) }, 20)).toEqual({
      points: [],
      totalPoints: 0,
      downsampled: false,
    });
  });

  it("reads the curve as it was when its steps started", () => {
    const c = new EquityCurve();
    for (let m = 0; m < 50; m++) c.sample(at(m), toUnits(String(m), MONEY_SCALE));
    const steps = c.viewSteps({ intervalMs: MINUTE }, 1_000, 10);
    expect(steps.next().done).toBe(false);
    c.sample(at(49), toUnits("-7", MONEY_SCALE)); // replaces the last sample
    c.sample(at(50), toUnits("1000", MONEY_SCALE));
    let step = steps.next();
    while (!step.done) step = steps.next();
    expect(step.value.totalPoints).toBe(50);
    expect(step.value.points.at(-1)).toEqual({ time: at(49), equity: "49" });
    expect(c.points({ intervalMs: MINUTE }).slice(-2)).toEqual([
      { time: at(49), equity: "-7" },
      { time: at(50), equity: "1000" },
    ]);
  });

  it("property: the downsampled curve has ≤ maxPoints points, the first and last, and the full curve's max, min and max drawdown", () => {
    const cents = fc.integer({ min: -1_000_000, max: 1_000_000 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), cents), { maxLength: 400 }),
        fc.integer({ min: MIN_CURVE_POINTS, max: 60 }),
        fc.constantFrom(MINUTE, 5 * MINUTE),
        (steps, maxPoints, intervalMs) => {
          const c = new EquityCurve();
          let minute = 0;
          for (const [gap, value] of steps) {
            minute += gap;
            c.sample(at(minute), toUnits(canonical(new Dec(value).div(100)), MONEY_SCALE));
          }
          const full = c.points({ intervalMs });
          const view = c.view({ intervalMs }, maxPoints);
          expect(view.totalPoints).toBe(full.length);
          expect(view.downsampled).toBe(full.length > maxPoints);
          expect(view.points.length).toBeLessThanOrEqual(maxPoints);
          if (!view.downsampled) expect(view.points).toEqual(full);
          // a subsequence of the full curve, in time order, with its first and last point
          const times = new Map(full.map((p) => [p.time, p.equity]));
          for (const p of view.points) expect(times.get(p.time)).toBe(p.equity);
          expect(view.points.map((p) => p.time)).toEqual(
            [...view.points.map((p) => p.time)].sort((a, b) => a - b),
          );
          expect(view.points[0]).toEqual(full[0]);
          expect(view.points.at(-1)).toEqual(full.at(-1));
          expect(extremes(view.points)).toEqual(extremes(full));
        },
      ),
    );
  });
});

/** A random trading session over BTCUSDT and ETHUSDT, with the equity a naive recomputation expects per bar. */
const sessionArb = fc.array(
  fc.oneof(
    fc.record({
      kind: fc.constant("tick" as const),
      btc: fc.integer({ min: 5_000, max: 15_000 }),
      eth: fc.integer({ min: 500, max: 1_500 }),
    }),
    fc.record({
      kind: fc.constant("fill" as const),
      symbol: fc.constantFrom("BTCUSDT", "ETHUSDT"),
      side: fc.constantFrom("BUY" as const, "SELL" as const),
      units: fc.integer({ min: 1, max: 30 }),
    }),
    fc.record({
      kind: fc.constant("funding" as const),
      symbol: fc.constantFrom("BTCUSDT", "ETHUSDT"),
      bps: fc.integer({ min: -5, max: 5 }),
    }),
  ),
  { maxLength: 80 },
);

type Session =
  fc.Arbitrary<unknown> extends never ? never : typeof sessionArb extends fc.Arbitrary<infer A> ? A : never;

function playSession(actions: Session) {
  const log = new LogBuilder().run({ smaCross: { leverage: 3 } }, ["BTCUSDT", "ETHUSDT"]).account("5000");
  const positions = new Map<string, Position>();
  const marks = new Map<string, string>();
  let wallet = new Dec(5000);
  let minute = 0;
  let orders = 0;
  const equity = () =>
    [...positions].reduce(
      (sum, [symbol, position]) =>
        sum.plus(marks.has(symbol) ? unrealizedPnl(position, marks.get(symbol)!) : 0),
      wallet,
    );
  const expectedCurve: { time: number; equity: string }[] = [];
  const price = (cents: number) => canonical(new Dec(cents).div(100));
  for (const action of actions) {
    if (action.kind === "tick") {
      minute++;
      for (const [symbol, cents] of [
        ["BTCUSDT", action.btc],
        ["ETHUSDT", action.eth],
      ] as const) {
        marks.set(symbol, price(cents));
        log.bar(minute, price(cents), symbol);
      }
      expectedCurve.push({ time: at(minute + 1) - 1, equity: canonical(equity()) });
    } else if (action.kind === "fill") {
      const fillPrice = marks.get(action.symbol) ?? "100";
      const quantity = canonical(new Dec(action.units).div(100));
      const before = positions.get(action.symbol) ?? flatPosition;
      const { position, realizedPnl } = applyFill(before, { side: action.side, quantity, price: fillPrice });
      const fee = commission(fillPrice, quantity, "0.0005");
      wallet = wallet.plus(realizedPnl).minus(fee);
      positions.set(action.symbol, position);
      const id = `O${++orders}`;
      log
        .submit(id, { side: action.side, quantity }, at(minute + 1) - 2, undefined, action.symbol)
        .fill(
          id,
          { price: fillPrice, quantity, commission: fee, realizedPnl },
          { ...position, walletBalance: canonical(wallet) },
          at(minute + 1) - 2,
          action.symbol,
        );
    } else {
      const position = positions.get(action.symbol) ?? flatPosition;
      const mark = marks.get(action.symbol) ?? "100";
      const rate = canonical(new Dec(action.bps).div(10_000));
      const fee = new Dec(position.positionAmt).times(mark).times(rate).neg();
      wallet = wallet.plus(fee);
      log.funding(
        {
          fundingTime: at(minute + 1) - 2,
          fundingRate: rate,
          markPrice: mark,
          positionAmt: position.positionAmt,
          fundingFee: canonical(fee),
          walletBalance: canonical(wallet),
        },
        action.symbol,
      );
    }
  }
  return { events: log.events, expectedCurve, equity: canonical(equity()) };
}

describe("projections properties", () => {
  it("property: rebuilding a prefix (and reading it) then applying the rest equals rebuilding the whole log", () => {
    fc.assert(
      fc.property(sessionArb, fc.nat(), (actions, cut) => {
        const { events } = playSession(actions);
        const k = cut % (events.length + 1);
        const resumed = rebuild(events.slice(0, k));
        resumed.snapshot(); // reads must not disturb the fold
        resumed.risk();
        for (const e of events.slice(k)) resumed.apply(e);
        const whole = rebuild(events);
        expect(resumed.snapshot()).toEqual(whole.snapshot());
        expect(projectionsDigest(resumed)).toBe(projectionsDigest(whole));
      }),
    );
  });

  it("property: the equity curve equals wallet + Σ unrealizedPnl recomputed from scratch at every bar; the trades add up to the PnL", () => {
    fc.assert(
      fc.property(sessionArb, (actions) => {
        const { events, expectedCurve, equity } = playSession(actions);
        const p = rebuild(events);
        expect(p.equityCurve()).toEqual(expectedCurve);
        expect(p.pnl().equity).toBe(equity);
        expect(p.risk().equity).toBe(equity);
        // the round trips (flips included) add up to the PnL projection's realized PnL, fees and funding
        const trades = p.trades();
        const total = (pick: (t: (typeof trades)[number]) => string) =>
          canonical(trades.reduce((acc, t) => acc.plus(pick(t)), new Dec(0)));
        expect(total((t) => t.realizedPnl)).toBe(p.pnl().realizedPnl);
        expect(total((t) => t.fees)).toBe(p.pnl().fees);
        expect(total((t) => t.funding)).toBe(p.pnl().funding);
      }),
    );
  });

  it("rebuildProjections folds a long async log with two open positions to the exact equity", async () => {
    // 20k minutes × 2 symbols, in a position the whole time: the per-bar path of the fold.
    const actions: Session = [
      { kind: "tick", btc: 10_000, eth: 1_000 },
      { kind: "fill", symbol: "BTCUSDT", side: "BUY", units: 7 },
      { kind: "fill", symbol: "ETHUSDT", side: "SELL", units: 13 },
    ];
    for (let i = 0; i < 20_000; i++)
      actions.push({ kind: "tick", btc: 9_000 + ((i * 7919) % 2_000), eth: 900 + (i % 200) });
    const { events, expectedCurve, equity } = playSession(actions);
    async function* source() {
      yield* events;
    }
    const p = await rebuildProjections(source());
    expect(p.bars()).toBe(40_002);
    expect(p.pnl().equity).toBe(equity);
    expect(p.equityCurve()).toEqual(expectedCurve);
  });
});

describe("projections over the engine's log of strategies.md §2.4 vector 8", () => {
  const { options, symbol: S } = vector8;
  const inputs = (exit: [string, string, string, string]): ScenarioInput[] => vector8.inputs(exit);

  it("take-profit exit: net 14.692400608 (gross 15.09848, fees 0.406079392)", async () => {
    const { store } = await runScenario(inputs(["101", "103.5", "100.8", "103"]), options);
    const p = await rebuildProjections(store.readAll());
    expect(p.pnl()).toMatchObject({
      initialBalance: "1000",
      realizedPnl: "15.09848",
      fees: "0.406079392",
      funding: "0",
      netPnl: "14.692400608",
      walletBalance: "1014.692400608",
      equity: "1014.692400608",
      maxDrawdown: "0",
      fills: 2,
    });
    // flat at 1000 for bars 0–5; bar 6: 999.79998 (entry fee 0.20002) + 5 × (100.2 − 100.01)
    expect(p.equityCurve().map((x) => x.equity)).toEqual([
      ...Array(6).fill("1000"),
      "1000.74998",
      "1014.692400608",
    ]);
    expect(p.summary()).toMatchObject({ bars: 8, orders: 3, fills: 2 });
    const orders = p.orders().orders;
    expect(orders.map((o) => [o.purpose, o.status, o.avgPrice])).toEqual([
      ["ENTRY", "FILLED", "100.01"],
      ["STOP_LOSS", "CANCELED", "0"],
      ["TAKE_PROFIT", "FILLED", "103.029696"],
    ]);
    expect(orders[1]!.cancelReason).toBe("siblingFilled");
    expect(p.position(S)).toMatchObject({ side: "FLAT", positionAmt: "0" });
  });

  it("stop-loss exit: net −5.4975002, drawdown 6.2474802 from the bar-6 peak", async () => {
    const { store } = await runScenario(inputs(["100", "100.2", "98.9", "99.5"]), options);
    const p = await rebuildProjections(store.readAll());
    expect(p.pnl()).toMatchObject({
      realizedPnl: "-5.0995",
      netPnl: "-5.4975002",
      walletBalance: "994.5024998",
      maxDrawdown: "6.2474802", // 1000.74998 − 994.5024998
      maxDrawdownRatio: "0.0062428", // 6.2474802 / 1000.74998 = 0.0062428 (8 decimals)
    });
  });
});
