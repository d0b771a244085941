/**
 * A large synthetic run for load tests: `minutes` 1m bars on BTCUSDT and ETHUSDT (interleaved by closeTime,
 * as a backtest writes them), a long BTCUSDT round trip every 240 minutes (MARKET entry and exit, their
 * order events and FillBooked with exact wallet arithmetic), then RunCompleted unless `completed` is false.
 * Prices follow a deterministic integer walk (no random source).
 */
import { canonical, Dec } from "../../src/domain/decimal.ts";
import type { EventData, EventType } from "../../src/events/catalog.ts";
import { deterministicEventId } from "../../src/events/ids.ts";
import type { EventStore } from "../../src/events/store.ts";
import { streams } from "../../src/events/streams.ts";

const T0 = Date.UTC(2025, 4, 1); // 2025-05-01T00:00Z
const MINUTE = 60_000;
const RUN_ID = "load";

/** Appends one event at the next revision of `stream` (ids derived from the run id). */
export class RunWriter {
  private readonly revisions = new Map<string, number>();
  constructor(private readonly store: EventStore) {}

  async append<T extends EventType>(stream: string, type: T, data: EventData<T>, eventTime: number) {
    const revision = (this.revisions.get(stream) ?? -1) + 1;
    await this.store.append(
      stream,
      [
        {
          eventId: deterministicEventId(RUN_ID, stream, revision),
          type,
          data,
          metadata: { correlationId: RUN_ID, causationId: "load-test", eventTime },
        },
      ],
      revision === 0 ? "noStream" : revision - 1,
    );
    this.revisions.set(stream, revision);
  }
}

/** Close of `symbol` at `minute`: an integer walk in [60000, 62000) (BTC) or [3000, 3100) (ETH). */
export function closeAt(symbol: "BTCUSDT" | "ETHUSDT", minute: number): string {
  return symbol === "BTCUSDT" ? String(60_000 + ((minute * 7_919) % 2_000)) : String(3_000 + (minute % 100));
}

/** A schema-valid BarClosed of `symbol` for the minute `minute` after 2025-05-01T00:00Z. */
export function barAt(symbol: "BTCUSDT" | "ETHUSDT", minute: number): EventData<"BarClosed"> {
  const openTime = T0 + minute * MINUTE;
  const close = closeAt(symbol, minute);
  return {
    symbol,
    interval: "1m",
    openTime,
    closeTime: openTime + 59_999,
    open: close,
    high: close,
    low: close,
    close,
    volume: "1",
  };
}

/**
 * Writes the run into `store` (empty). Returns the writer (to append more, e.g. live bars after `minutes`)
 * and the number of events written.
 */
export async function writeLargeRun(
  store: EventStore,
  opts: { minutes: number; completed: boolean },
): Promise<{ writer: RunWriter; events: number }> {
  const w = new RunWriter(store);
  let events = 0;
  const add = async <T extends EventType>(stream: string, type: T, data: EventData<T>, time: number) => {
    await w.append(stream, type, data, time);
    events++;
  };
  const symbols = ["BTCUSDT", "ETHUSDT"] as const;
  const end = T0 + opts.minutes * MINUTE;
  await add(
    streams.run(RUN_ID),
    "RunStarted",
    {
      runId: RUN_ID,
      mode: "backtest",
      strategy: "sma-cross",
      symbols: [...symbols],
      from: T0,
      to: end - 1,
      config: { smaCross: { leverage: 10 } },
      manifest: [],
    },
    T0,
  );
  const account = streams.account("main");
  await add(account, "AccountOpened", { accountId: "main", asset: "USDT", walletBalance: "10000" }, T0);
  let wallet = new Dec("10000");
  let entry: string | null = null;
  let trade = 0;
  const quantity = "0.01";
  for (let minute = 0; minute < opts.minutes; minute++) {
    const time = T0 + minute * MINUTE;
    if (minute % 120 === 1) {
      // a MARKET order filled at this bar's open: entry on even trades, exit on odd ones
      const opening: boolean = entry === null;
      const side = opening ? "BUY" : "SELL";
      const price = closeAt("BTCUSDT", minute);
      const clientOrderId = `ps-BTCUSDT-${trade}-${opening ? "E" : "TP"}`;
      const fee = new Dec(price).times(quantity).times("0.0005");
      const realized = opening ? new Dec(0) : new Dec(price).minus(entry!).times(quantity);
      wallet = wallet.plus(realized).minus(fee);
      const order = streams.order(clientOrderId);
      await add(
        order,
        "OrderSubmitted",
        {
          clientOrderId,
          symbol: "BTCUSDT",
          side,
          type: "MARKET",
          purpose: opening ? "ENTRY" : "TAKE_PROFIT",
          positionSide: "BOTH",
          quantity,
          reduceOnly: !opening,
        },
        time,
      );
      await add(order, "OrderAccepted", { clientOrderId, orderId: `v-${clientOrderId}` }, time);
      await add(
        order,
        "OrderFilled",
        {
          clientOrderId,
          symbol: "BTCUSDT",
          side,
          tradeId: `t-${clientOrderId}`,
          price,
          quantity,
          cumulativeQuantity: quantity,
          commission: canonical(fee),
          commissionAsset: "USDT",
          maker: false,
          status: "FILLED",
        },
        time,
      );
      await add(
        account,
        "FillBooked",
        {
          symbol: "BTCUSDT",
          clientOrderId,
          tradeId: `t-${clientOrderId}`,
          side,
          price,
          quantity,
          commission: canonical(fee),
          realizedPnl: canonical(realized),
          positionAmt: opening ? quantity : "0",
          entryPrice: opening ? price : "0",
          walletBalance: canonical(wallet),
        },
        time,
      );
      entry = opening ? price : null;
      if (!opening) trade++;
    }
    for (const symbol of symbols)
      await add(streams.symbol(symbol), "BarClosed", barAt(symbol, minute), time + 59_999);
  }
  if (opts.completed) {
    await add(
      streams.run(RUN_ID),
      "RunCompleted",
      { runId: RUN_ID, bars: 2 * opts.minutes, fundingSettlements: 0 },
      end - 1,
    );
  }
  return { writer: w, events };
}
