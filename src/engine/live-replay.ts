/**
 * A recorded live run (paper, testnet, live) run again from its log: the same `runLive` on the recorded inputs
 * (`recorded-inputs.ts`) instead of the exchange. The feed hands out the recorded market events one at a time
 * and, between them, the recorded venue reports, in log order, each once the one before was handled; the warm-up
 * is the recorded one. Paper matches on the simulated venue as the run did; testnet and live get the
 * `RecordedVenue`, which answers submits and cancels from the log and sends nothing. An operator's halt or
 * resume (written by another process) is written again at its place in the log.
 *
 * `replay --verify` compares the re-run's log with the record; `replay --what-if` re-runs only the market inputs,
 * as paper, with another configuration.
 */
import type { Logger } from "pino";
import { Observable } from "rxjs";
import type { MarketEvent } from "../adapters/market/types.ts";
import type { BacktestConfig } from "../config/schema.ts";
import type { InstrumentCatalog } from "../domain/instruments.catalog.ts";
import type { LeverageBracketCatalog } from "../domain/margin/brackets.catalog.ts";
import type { EventData } from "../events/catalog.ts";
import type { NewEvent, RecordedEvent } from "../events/envelope.ts";
import type { EventStore, ExpectedRevision } from "../events/store.ts";
import { type LiveMarketFeed, type LiveMode, type LiveRunSummary, runLive } from "./live-run.ts";
import type { RecordedInputs } from "./recorded-inputs.ts";
import { RecordedVenue } from "./recorded-venue.ts";

/** What a re-run of a recorded live run needs. */
export interface LiveRerunOptions {
  /** The recorded run's RunStarted. */
  started: EventData<"RunStarted">;
  /** Whether the recorded run completed (then the re-run completes at the same point). */
  completed: boolean;
  inputs: RecordedInputs;
  /** The re-run's mode and configuration: the recorded ones (verify), or paper with other parameters (what-if). */
  mode: LiveMode;
  config: BacktestConfig;
  /** An empty store the re-run writes. */
  store: EventStore;
  logger: Logger;
  instruments: InstrumentCatalog;
  brackets: LeverageBracketCatalog;
}

/**
 * Runs the recorded run again into `options.store` (see the module comment). For testnet and live the venue
 * reports and answers are the recorded ones; with mode paper only the market inputs are handed out.
 * @throws the engine's errors (e.g. a report on an order the re-run does not know).
 */
export async function rerunLive(options: LiveRerunOptions): Promise<LiveRunSummary> {
  const { started, inputs, mode } = options;
  const store = new ReplayStore(options.store, inputs.outOfBand);
  const venue =
    mode === "paper"
      ? undefined
      : new RecordedVenue(
          inputs.answers,
          () => store.appended,
          inputs.openingBalance ?? options.config.initialBalance,
        );
  // RunStarted.to is the run's --until, or its start when it had none.
  const until = started.to > started.from ? started.to : undefined;
  const steps: Step[] = inputs.inputs.flatMap((input): Step[] => {
    if (input.kind === "market") return [{ ordinal: input.ordinal, run: input.event }];
    return venue ? [{ ordinal: input.ordinal, run: () => venue.deliver(input.report) }] : [];
  });
  // Where the run stopped canceling its working orders (`onStop: cancel`), it stopped and was continued: so is
  // the re-run, one runLive per part, each but the last ending with the same cancels (the last too when the log
  // ends with them).
  const parts: Step[][] = [];
  let from = -1;
  for (const stop of inputs.stops) {
    parts.push(steps.filter((s) => s.ordinal! > from && s.ordinal! < stop));
    from = stop;
  }
  const rest = steps.filter((s) => s.ordinal! > from);
  if (inputs.stops.length === 0 || rest.length > 0) parts.push(rest);
  // A run that completed on a market event past `until` did not handle it, so it is not in the log: a stand-in.
  if (options.completed && until !== undefined)
    parts.at(-1)!.push({ ordinal: undefined, run: pastUntil(started.symbols[0]!, until) });
  const inHand: { ordinal: number | undefined } = { ordinal: undefined };
  let summary: LiveRunSummary | undefined;
  try {
    for (const [i, part] of parts.entries()) {
      const stopsWithCancel = i < inputs.stops.length;
      summary = await runLive(mode, options.config, {
        store,
        logger: options.logger,
        instruments: options.instruments,
        brackets: options.brackets,
        startTime: started.from,
        ...(until === undefined ? {} : { until }),
        ...(venue ? { venue } : {}),
        ...(stopsWithCancel ? { onStop: "cancel" as const } : {}),
        history: () => fromArray(inputs.warmUp),
        openFeed: () => recordedFeed(part, inHand),
      });
    }
  } catch (error) {
    throw new RerunError((error as Error).message, inHand.ordinal, { cause: error });
  }
  return summary!;
}

/** The re-run failed; `ordinal` is that of the recorded input it was handling (0-based, in the log). */
export class RerunError extends Error {
  override name = "RerunError";
  constructor(
    message: string,
    readonly ordinal: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A market event after `until` (never handled: the run completes on it). */
function pastUntil(symbol: string, until: number): MarketEvent {
  return {
    kind: "gap",
    time: until + 1,
    gap: { symbol, fromOpenTime: until, toOpenTime: until + 60_000, missingBars: 1 },
  };
}

async function* fromArray<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

/** A recorded input to hand out: a market event, or the delivery of a venue report; its ordinal in the log. */
interface Step {
  ordinal: number | undefined;
  run: MarketEvent | (() => Promise<void>);
}

/**
 * A feed over recorded steps: a market event is emitted and the next step waits until it was processed; a
 * report step is awaited (the engine handled it) before the next. `inHand` names the step being handled.
 */
function recordedFeed(steps: readonly Step[], inHand: { ordinal: number | undefined }): LiveMarketFeed {
  let processed: (() => void) | undefined;
  return {
    events: new Observable<MarketEvent>((subscriber) => {
      let closed = false;
      void (async () => {
        for (const { ordinal, run } of steps) {
          if (closed) return;
          inHand.ordinal = ordinal;
          if (typeof run === "function") {
            await run();
            continue;
          }
          const done = new Promise<void>((resolve) => {
            processed = resolve;
          });
          subscriber.next(run);
          await done;
        }
        subscriber.complete();
      })().catch((error: unknown) => subscriber.error(error));
      return () => {
        closed = true;
        processed?.();
      };
    }),
    processed: async () => {
      processed?.();
    },
    close: async () => {},
  };
}

/**
 * The re-run's store: counts the events written (the recorded venue's place in the log) and writes an
 * out-of-band record (an operator's change, a reconciliation verdict) again when the re-run reaches its place.
 */
class ReplayStore implements EventStore {
  /** Events written so far: the ordinal of the next one. */
  appended = 0;

  constructor(
    private readonly inner: EventStore,
    private readonly outOfBand: ReadonlyMap<number, RecordedEvent>,
  ) {}

  async append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision) {
    const result = await this.inner.append(stream, events, expected);
    this.appended += result.recorded?.length ?? 0;
    for (let e = this.outOfBand.get(this.appended); e; e = this.outOfBand.get(this.appended)) {
      const { eventId, type, data, metadata } = e;
      const written = await this.inner.append(
        e.stream,
        [{ eventId, type, data, metadata } as NewEvent],
        "any",
      );
      this.appended += written.recorded?.length ?? 0;
    }
    return result;
  }

  readStream: EventStore["readStream"] = (stream, options) => this.inner.readStream(stream, options);
  readAll: EventStore["readAll"] = (options) => this.inner.readAll(options);
  subscribe: EventStore["subscribe"] = (options) => this.inner.subscribe(options);
  streamRevision: EventStore["streamRevision"] = (stream) => this.inner.streamRevision(stream);
  flush: EventStore["flush"] = () => this.inner.flush();
  close: EventStore["close"] = () => this.inner.close();
}
