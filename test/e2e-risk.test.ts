/**
 * The risk engine on real data (BTCUSDT+ETHUSDT 2025-05-05..2025-05-20, a 1 % drawdown halt): the run reaches
 * HALTED by the drawdown rule, with the numbers of the projections folded up to that moment, and from then on
 * sends no entry to the venue: each one is denied by the trading state. Before the halt the default limits
 * (price band, order rate) deny nothing.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { Dec } from "../src/domain/decimal.ts";
import { runBacktest } from "../src/engine/backtest.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { createProjections } from "../src/projections/index.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("drawdown halt on BTCUSDT+ETHUSDT 2025-05-05..2025-05-20");
const logger = pino({ level: "silent" });

describe.skipIf(!root)("drawdown halt on real data", () => {
  it("halts at peak × (1 − 0.01) and sends no further entries", async () => {
    const config = BacktestConfigSchema.parse({
      symbols: ["BTCUSDT", "ETHUSDT"],
      from: "2025-05-05",
      to: "2025-05-20",
      risk: { maxDrawdown: "0.01" },
    });
    const store = new InMemoryEventStore();
    const summary = await runBacktest(config, { store, dataRoot: root!, logger });
    const log: RecordedEvent[] = [];
    for await (const e of store.readAll()) log.push(e);

    const changes = log.filter((e) => e.type === "TradingStateChanged");
    expect(changes).toHaveLength(1);
    const halt = changes[0]!;
    const change = halt.data as EventData<"TradingStateChanged">;
    expect(change).toMatchObject({ accountId: "main", from: "ACTIVE", to: "HALTED", by: "drawdownHalt" });

    // The numbers are those of the projections folded up to the halt: equity at mark and its peak per bar.
    const before = createProjections();
    for (const e of log) if (e.position < halt.position) before.apply(e);
    const numbers = change.numbers!;
    expect(numbers["equity"]).toBe(before.pnl().equity);
    expect(numbers["peakEquity"]).toBe(before.tradingRisk().peakEquity);
    expect(new Dec(numbers["equity"]!).lte(new Dec(numbers["peakEquity"]!).times("0.99"))).toBe(true);
    expect(numbers["haltEquity"]).toBe(new Dec(numbers["peakEquity"]!).times("0.99").toFixed());

    const submitted = new Map<string, { purpose: string; position: number }>();
    const outcome = new Map<string, string>();
    for (const e of log) {
      if (e.type === "OrderSubmitted") {
        const data = e.data as EventData<"OrderSubmitted">;
        submitted.set(data.clientOrderId, { purpose: data.purpose, position: e.position });
      }
      if (e.type === "OrderAccepted")
        outcome.set((e.data as { clientOrderId: string }).clientOrderId, "accepted");
      if (e.type === "OrderDenied") {
        const data = e.data as EventData<"OrderDenied">;
        outcome.set(data.clientOrderId, data.rule);
      }
    }
    const entriesAfter = [...submitted].filter(
      ([, s]) => s.purpose === "ENTRY" && s.position > halt.position,
    );
    expect(entriesAfter.length).toBeGreaterThan(0);
    for (const [id] of entriesAfter) expect(outcome.get(id), id).toBe("tradingStateHalted");
    const deniedBefore = [...submitted].filter(
      ([id, s]) =>
        s.position < halt.position && outcome.get(id) !== undefined && outcome.get(id) !== "accepted",
    );
    expect(deniedBefore).toEqual([]);

    const denied = log.filter((e) => e.type === "OrderDenied").length;
    expect(summary).toMatchObject({ tradingState: "HALTED", ordersDenied: denied });
    expect(before.risk().tradingState).toBe("ACTIVE");
  });
});
