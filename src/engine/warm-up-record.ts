/**
 * A live run's warm-up in its log: the bars and gaps its strategies warmed up on (REST klines before the start,
 * in no file), with each bar's taker buy volume when the exchange sent one, and for a strategy consuming funding
 * the settlements from 8 h before the first bar (`GET /fapi/v1/fundingRate`), are recorded as WarmUpRecorded events
 * before the account opens, so a replay, a what-if or a restart warms up on exactly the same inputs
 * (`warmUpEvents`). A backtest warms up on its manifest's files and records nothing.
 *
 * A symbol's inputs are split into consecutive WarmUpRecorded events of at most `WARM_UP_EVENT_BYTES` of inputs
 * each, every one its own append: EventStoreDB refuses a write above 1 MiB (its default MaxAppendSize), and a
 * 979-hour warm-up is some 4 MB of bars per symbol. A symbol's warm-up is its events' inputs in log order (a
 * short warm-up, or a log written before the split, has one event per symbol).
 */
import type { EventSourcedActor } from "../actors/event-sourced-actor.ts";
import type { runMachine } from "../actors/run.machine.ts";
import { isPriced, type MarketEvent } from "../adapters/market/types.ts";
import { type EventData, validateEvent } from "../events/catalog.ts";
import type { Cause } from "./order-execution.ts";
import type { TradingEngine } from "./trading-engine.ts";
import { CannotResumeError } from "./units-of-work.ts";

type WarmUpInput = EventData<"WarmUpRecorded">["inputs"][number];

/**
 * The most JSON bytes of inputs one WarmUpRecorded holds (a single input larger than that is an event of its
 * own): half of EventStoreDB's default 1 MiB append limit, leaving room for the envelope.
 */
export const WARM_UP_EVENT_BYTES = 512 * 1024;

/**
 * Reads `history` (the warm-up window's market events, in market order), appends the WarmUpRecorded events of each
 * symbol of `symbols` (in that order; `warmUpParts`, one append each) on the run's stream, then steps each
 * symbol's strategy on its inputs in order: bars,
 * gaps and settlements (a settlement reaches a strategy only when it consumes funding; the history holds them only
 * then, see `LiveRunDeps.history`).
 * @throws the history's errors (nothing is then recorded), EventSchemaError for a malformed bar or settlement,
 *   CannotResumeError when `recorded` is not the start of what the history gives.
 */
export async function recordWarmUp(args: {
  run: EventSourcedActor<typeof runMachine>;
  engine: TradingEngine;
  runId: string;
  symbols: readonly string[];
  window: { from: number; to: number };
  history: AsyncIterable<MarketEvent>;
  cause: Cause;
  /**
   * The WarmUpRecorded events already in the log, in order: those of a run killed while it opened (before its
   * first checkpoint). They must be the first of the events this history gives (same data), which are then not
   * appended again; the rest are.
   */
  recorded?: readonly EventData<"WarmUpRecorded">[];
}): Promise<void> {
  const { run, engine, runId, symbols, window } = args;
  const inputs = new Map<string, WarmUpInput[]>(symbols.map((s) => [s, []]));
  for await (const e of args.history) {
    if (e.kind === "bar") {
      const { openTime, open, high, low, close, volume, takerBuyVolume } = e.bar;
      inputs
        .get(e.bar.symbol)
        ?.push(
          takerBuyVolume === undefined
            ? [openTime, open, high, low, close, volume]
            : [openTime, open, high, low, close, volume, takerBuyVolume],
        );
    } else if (e.kind === "gap") {
      const { fromOpenTime, toOpenTime, missingBars } = e.gap;
      inputs.get(e.gap.symbol)?.push({ fromOpenTime, toOpenTime, missingBars });
    } else if (isPriced(e.funding)) {
      // (A live history prices every settlement it gives; only an archive's can lack a price.)
      const { fundingTime, fundingRate, fundingIntervalHours, markPrice, markPriceSource } = e.funding;
      inputs
        .get(e.funding.symbol)
        ?.push({ fundingTime, fundingRate, fundingIntervalHours, markPrice, markPriceSource });
    }
  }
  const recorded = symbols.flatMap((symbol) =>
    warmUpParts(inputs.get(symbol)!).map((part) => ({
      type: "WarmUpRecorded" as const,
      data: { runId, symbol, from: window.from, to: window.to, inputs: part },
    })),
  );
  const already = args.recorded ?? [];
  for (const [i, event] of recorded.entries()) {
    if (i >= already.length) await run.commit([event], args.cause);
    else if (JSON.stringify(already[i]) !== JSON.stringify(validateEvent("WarmUpRecorded", event.data)))
      throw new CannotResumeError(
        `run ${runId}: its recorded warm-up (WarmUpRecorded ${i + 1} of ${already.length}, ${event.data.symbol}) ` +
          "differs from the exchange's history of the same window; it cannot be continued",
      );
  }
  if (already.length > recorded.length)
    throw new CannotResumeError(
      `run ${runId}: its log holds ${already.length} WarmUpRecorded events, the warm-up gives ${recorded.length}`,
    );
  for (const { data } of recorded) {
    for (const e of warmUpEvents(data)) {
      if (e.kind === "bar") engine.warmUp({ kind: "bar", bar: e.bar }, e.time);
      else if (e.kind === "gap") engine.warmUp({ kind: "gap", gap: e.gap }, e.time);
      else engine.warmUp({ kind: "funding", funding: e.funding }, e.time);
    }
  }
}

/**
 * `inputs` cut into consecutive parts of at most `maxBytes` JSON bytes each (an input larger than that alone);
 * one empty part for no inputs (a symbol's warm-up is always recorded).
 */
export function warmUpParts(inputs: readonly WarmUpInput[], maxBytes = WARM_UP_EVENT_BYTES): WarmUpInput[][] {
  const parts: WarmUpInput[][] = [[]];
  let bytes = 0;
  for (const input of inputs) {
    const size = JSON.stringify(input).length + 1;
    if (bytes + size > maxBytes && parts.at(-1)!.length > 0) {
      parts.push([]);
      bytes = 0;
    }
    parts.at(-1)!.push(input);
    bytes += size;
  }
  return parts;
}

/**
 * The market events of a WarmUpRecorded, in order: bars at their closeTime (with `takerBuyVolume` from a
 * 7-tuple, without it from a 6-tuple), gaps at their toOpenTime, settlements at their fundingTime.
 */
export function warmUpEvents(data: EventData<"WarmUpRecorded">): MarketEvent[] {
  const { symbol } = data;
  return data.inputs.map((input): MarketEvent => {
    if (Array.isArray(input)) {
      const [openTime, open, high, low, close, volume, takerBuyVolume] = input;
      const closeTime = openTime + 59_999;
      const bar = { symbol, interval: "1m" as const, openTime, closeTime, open, high, low, close, volume };
      return {
        kind: "bar",
        time: closeTime,
        bar: takerBuyVolume === undefined ? bar : { ...bar, takerBuyVolume },
      };
    }
    if ("fundingTime" in input)
      return { kind: "funding", time: input.fundingTime, funding: { symbol, ...input } };
    return { kind: "gap", time: input.toOpenTime, gap: { symbol, ...input } };
  });
}
