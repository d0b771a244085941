/**
 * Helpers for the exchange-sim tests: a fake exchange core (records what the server feeds it and emits the
 * user events a test scripts), a raw WebSocket probe that queues every message, and the real 1m bars of a
 * symbol read straight from the archive CSV (independently of src/adapters/market).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import type {
  VenueBar,
  VenueFundingSettlement,
  VenueMarkBar,
} from "../../src/adapters/venue/simulated/venue.ts";
import type { ExchangeCore, UserEventMessage } from "../../src/exchange-sim/exchange-port.ts";

/** A fake exchange: records bars and settlements with the `now` they came at; `emit` sends a user event. */
export class FakeExchange implements ExchangeCore {
  now = 0;
  readonly bars: { bar: VenueBar; mark: VenueMarkBar | undefined; now: number }[] = [];
  readonly settlements: { settlement: VenueFundingSettlement; now: number }[] = [];
  #listener: ((message: UserEventMessage) => Promise<void>) | undefined;

  /** @param onBarEvents the user events to emit (awaited, in order) while matching a bar. */
  constructor(private readonly onBarEvents: (bar: VenueBar) => UserEventMessage[] = () => []) {}

  async onBar(bar: VenueBar, mark?: VenueMarkBar): Promise<void> {
    this.bars.push({ bar, mark, now: this.now });
    for (const message of this.onBarEvents(bar)) await this.emit(message);
  }

  async onFunding(settlement: VenueFundingSettlement): Promise<void> {
    this.settlements.push({ settlement, now: this.now });
  }

  onUserEvent(listener: (message: UserEventMessage) => Promise<void>): void {
    this.#listener = listener;
  }

  /** Emits one user event through the server's listener (awaited like SimExchange does). */
  async emit(message: UserEventMessage): Promise<void> {
    if (this.#listener === undefined) throw new Error("no user-event listener registered");
    await this.#listener(message);
  }
}

/** A kline message's `k` (binance-usdm.md §5.3). */
export interface WireKline {
  t: number;
  T: number;
  s: string;
  i: string;
  o: string;
  h: string;
  l: string;
  c: string;
  v: string;
  x: boolean;
  [field: string]: unknown;
}

/** A stream message's payload (kline, markPriceUpdate, user events, …). */
export interface WireData {
  e: string;
  E: number;
  s?: string;
  k?: WireKline;
  p?: string;
  [field: string]: unknown;
}

/** A message of a connection: a payload (raw form), `{stream, data}` (combined form), or a reply. */
export type WireMessage = Partial<WireData> & {
  stream?: string;
  data?: WireData;
  result?: unknown;
  id?: unknown;
};

/** The payload of a message in either form. */
export function payload(m: WireMessage): Partial<WireData> {
  return m.data ?? m;
}

/** Whether `m` is a closed kline (`k.x`), in either form. */
export function isClosedKline(m: WireMessage): boolean {
  const d = payload(m);
  return d.e === "kline" && d.k?.x === true;
}

/** A WebSocket client that queues every JSON message it receives. */
export class WsProbe {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly #queue: WireMessage[] = [];
  #waiter: (() => void) | undefined;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.ws.on("message", (data) => {
      this.#queue.push(JSON.parse(data.toString()));
      this.#waiter?.();
    });
  }

  /** The next message (waits up to `timeoutMs`; rejects on timeout). */
  async next(timeoutMs = 5_000): Promise<WireMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    return this.#queue.shift()!;
  }

  /** Messages received and not yet taken. */
  get queued(): number {
    return this.#queue.length;
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }
}

/** A 1m bar of the archive CSV: open time, close time and the price and volume strings as written. */
export interface CsvBar {
  symbol: string;
  openTime: number;
  closeTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

/**
 * The rows of the OHLCV file `futures/um/ohlcv/klines/SYM/1m/SYM-1m-2025-05-04_2025-06-24.csv` under `root`
 * with from ≤ open_time < to, split by hand (the test's independent reading of the archive).
 */
export function csvBars(root: string, symbol: string, from: number, to: number): CsvBar[] {
  const path = join(root, `futures/um/ohlcv/klines/${symbol}/1m/${symbol}-1m-2025-05-04_2025-06-24.csv`);
  return readFileSync(path, "utf8")
    .split("\n")
    .slice(1)
    .filter((line) => line !== "")
    .map((line) => line.split(","))
    .filter((f) => Number(f[0]) >= from && Number(f[0]) < to)
    .map(([t, open, high, low, close, volume]) => ({
      symbol,
      openTime: Number(t),
      closeTime: Number(t) + 59_999,
      open: open!,
      high: high!,
      low: low!,
      close: close!,
      volume: volume!,
    }));
}

/** POSTs the lockstep ack with `apiKey`; resolves to the HTTP status. */
export async function ack(baseUrl: string, apiKey: string): Promise<number> {
  const r = await fetch(`${baseUrl}/sim/v1/lockstep/ack`, {
    method: "POST",
    headers: { "X-MBX-APIKEY": apiKey },
  });
  await r.arrayBuffer();
  return r.status;
}
