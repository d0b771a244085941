/**
 * A live run's warm-up in its log: the bars and gaps its strategies warmed up on (REST klines before the start,
 * in no file) are recorded as one WarmUpRecorded per symbol before the account opens, so a replay or a what-if
 * warms up on exactly the same inputs (`warmUpEvents`). A backtest warms up on its manifest's files and records
 * nothing.
 */
import type { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import type { runMachine } from "../actors/run.machine.ts";
import type { MarketEvent } from "../adapters/market/types.ts";
import type { EventData } from "../events/catalog.ts";
import type { Cause } from "./order-execution.ts";
import type { TradingEngine } from "./trading-engine.ts";

type WarmUpInput = EventData<"WarmUpRecorded">["inputs"][number];

/**
 * Reads `history` (the warm-up window's market events, in market order), appends one WarmUpRecorded per symbol of
 * `symbols` (in that order) on the run's stream, then steps each symbol's strategy on its bars and gaps in order
 * (settlements are not warm-up inputs and are dropped).
 * @throws the history's errors (nothing is then recorded), EventSchemaError for a malformed bar.
 */
export async function recordWarmUp(args: {
  run: EventSourcedActor<typeof runMachine>;
  engine: TradingEngine;
  runId: string;
  symbols: readonly string[];
  window: { from: number; to: number };
  history: AsyncIterable<MarketEvent>;
  cause: Cause;
}): Promise<void> {
  const { run, engine, runId, symbols, window } = args;
  const inputs = new Map<string, WarmUpInput[]>(symbols.map((s) => [s, []]));
  for await (const e of args.history) {
    if (e.kind === "bar") {
      const { openTime, open, high, low, close, volume } = e.bar;
      inputs.get(e.bar.symbol)?.push([openTime, open, high, low, close, volume]);
    } else if (e.kind === "gap") {
      const { fromOpenTime, toOpenTime, missingBars } = e.gap;
      inputs.get(e.gap.symbol)?.push({ fromOpenTime, toOpenTime, missingBars });
    }
  }
  const recorded = symbols.map((symbol) => ({
    type: "WarmUpRecorded" as const,
    data: { runId, symbol, from: window.from, to: window.to, inputs: inputs.get(symbol)! },
  }));
  await run.commit(recorded, args.cause);
  for (const { data } of recorded) {
    for (const e of warmUpEvents(data)) {
      if (e.kind === "bar") engine.warmUp({ kind: "bar", bar: e.bar }, e.time);
      else if (e.kind === "gap") engine.warmUp({ kind: "gap", gap: e.gap }, e.time);
    }
  }
}

/** The market events of a WarmUpRecorded, in order: bars at their closeTime, gaps at their toOpenTime. */
export function warmUpEvents(data: EventData<"WarmUpRecorded">): MarketEvent[] {
  const { symbol } = data;
  return data.inputs.map((input): MarketEvent => {
    if (Array.isArray(input)) {
      const [openTime, open, high, low, close, volume] = input;
      const closeTime = openTime + 59_999;
      return {
        kind: "bar",
        time: closeTime,
        bar: { symbol, interval: "1m", openTime, closeTime, open, high, low, close, volume },
      };
    }
    return { kind: "gap", time: input.toOpenTime, gap: { symbol, ...input } };
  });
}
