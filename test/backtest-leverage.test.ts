/**
 * A leverage above a symbol's first bracket (its maximum) is refused before anything is written, naming the
 * symbol, its maximum and the bracket snapshot (Binance's -4028 to the leverage change, binance-usdm.md §4.1, §4.6).
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema } from "../src/config/schema.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { executeBacktest, LeverageNotAllowedError } from "../src/engine/backtest.ts";

describe("leverage against the brackets", () => {
  it("refuses a leverage above the symbol's maximum and writes nothing", async () => {
    const max = bundledLeverageBracketCatalog().get("BNBUSDT").brackets[0]!.initialLeverage;
    const config = BacktestConfigSchema.parse({ symbols: ["BNBUSDT"], smaCross: { leverage: max + 1 } });
    const store = new InMemoryEventStore();
    const deps = { store, dataRoot: "/nonexistent", logger: pino({ level: "silent" }) };
    const error = await executeBacktest(config, [], deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeverageNotAllowedError);
    expect((error as Error).message).toContain(
      `leverage ${max + 1} is above BNBUSDT's maximum of ${max} (-4028`,
    );
    const written = [];
    for await (const e of store.readAll()) written.push(e);
    expect(written).toEqual([]);
  });
});
