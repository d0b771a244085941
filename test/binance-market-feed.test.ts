/**
 * The live market source (src/adapters/binance/market-feed.ts) against a local fake of Binance's market side
 * (test/support/binance-market-fake.ts) replaying real BTCUSDT/ETHUSDT 1m bars and funding settlements of
 * 2025-05-05: what it emits must equal the archive merge of the same minutes (bars exactly as received, the
 * settlement between the bars, the order across symbols), with the mark klines of the marks sent.
 */
import { Writable } from "node:stream";
import { USDMClient } from "binance";
import pino from "pino";
import { concatMap, type Subscription } from "rxjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { openLiveMarketFeed } from "../src/adapters/binance/market-feed.ts";
import { liveMarketHistory } from "../src/adapters/binance/market-history.ts";
import { compareMarketEvents } from "../src/adapters/binance/market-order.ts";
import { usdmMarketRest } from "../src/adapters/binance/market-rest.ts";
import { archiveMarketEvents, discoverArchive } from "../src/adapters/market/archive.ts";
import { compareDecimals } from "../src/adapters/market/csv.ts";
import type {
  ArchiveFile,
  Bar,
  FundingSettlement,
  MarketEvent,
  MarkPriceKline,
} from "../src/adapters/market/types.ts";
import { FakeBinanceMarket, type SentMark } from "./support/binance-market-fake.ts";
import { collect } from "./support/market.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("live market feed against the fake exchange");
const MINUTE = 60_000;
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const TOPICS = SYMBOLS.flatMap((s) => [`${s.toLowerCase()}@kline_1m`, `${s.toLowerCase()}@markPrice@1s`]);
const at = (hhmm: string) => Date.parse(`2025-05-05T${hhmm}:00Z`);

let files: ArchiveFile[];
let bars: Map<string, Bar[]>;
let settlements: FundingSettlement[];

/** The archive merge of [from, to): the reference. */
const archive = (from: number, to: number) => collect(archiveMarketEvents(files, { from, to }));

/** An event without its mark (compared separately). */
const withoutMark = (e: MarketEvent): MarketEvent =>
  e.kind === "bar" ? { kind: "bar", time: e.time, bar: e.bar } : e;

/** The mark kline of the marks sent for a minute: open/close at the lowest/highest E, high/low by value. */
function sentMark(marks: readonly SentMark[], symbol: string, openTime: number): MarkPriceKline {
  const minute = marks
    .filter((m) => m.symbol === symbol && m.eventTime >= openTime && m.eventTime < openTime + MINUTE)
    .sort((a, b) => a.eventTime - b.eventTime);
  const prices = minute.map((m) => m.price).sort(compareDecimals);
  return {
    openTime,
    open: minute[0]!.price,
    high: prices.at(-1)!,
    low: prices[0]!,
    close: minute.at(-1)!.price,
  };
}

interface Harness {
  fake: FakeBinanceMarket;
  got: MarketEvent[];
  logs: { msg: string; [k: string]: unknown }[];
  /** What the feed told `onConnection`, in order. */
  connection: ("down" | "up")[];
  close(): Promise<void>;
}

let open: Harness | undefined;

async function harness(
  options: { lockstep?: boolean; staleAfterMs?: number; from?: number } = {},
): Promise<Harness> {
  const apiKey = "live-market-test-key";
  const fake = await FakeBinanceMarket.start({ bars, settlements, lockstep: options.lockstep, apiKey });
  const logs: Harness["logs"] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const connection: Harness["connection"] = [];
  const feed = openLiveMarketFeed({
    onConnection: (state) => connection.push(state),
    symbols: [...SYMBOLS].reverse(),
    restUrl: fake.restUrl,
    wsUrl: fake.wsUrl,
    logger: pino({ level: "debug" }, sink),
    lockstep: options.lockstep,
    apiKey,
    staleAfterMs: options.staleAfterMs,
    from: options.from,
  });
  const got: MarketEvent[] = [];
  let failure: unknown;
  let completed = false;
  const subscription: Subscription = feed.events
    .pipe(
      concatMap(async (e) => {
        await feed.processed(e);
        return e;
      }),
    )
    .subscribe({ next: (e) => got.push(e), error: (e) => (failure = e), complete: () => (completed = true) });
  await fake.waitForSubscriptions(1, TOPICS);
  const h: Harness = {
    fake,
    got,
    logs,
    connection,
    async close() {
      await feed.close(); // completes events once the queued inputs are handled
      await waitUntil("events to complete", () => completed || failure !== undefined);
      subscription.unsubscribe();
      await fake.close();
      if (failure !== undefined) throw failure;
    },
  };
  open = h;
  return h;
}

async function waitUntil(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Publishes [from, to] minute by minute (bars of the last one hold the merge open until then). */
async function publish(fake: FakeBinanceMarket, from: number, to: number, reverseOdd = false): Promise<void> {
  for (let m = from; m <= to; m += MINUTE)
    await fake.publish(m, { reverse: reverseOdd && (m / MINUTE) % 2 === 1 });
}

describe.skipIf(!root)("live market feed (fake exchange, real 2025-05-05 bars)", () => {
  beforeAll(async () => {
    const window = { symbols: SYMBOLS, from: at("00:00") - 86_400_000, to: at("09:00") };
    files = await discoverArchive(root!, window);
    const all = await collect(archiveMarketEvents(files, window));
    bars = new Map(
      SYMBOLS.map((s) => [s, all.flatMap((e) => (e.kind === "bar" && e.bar.symbol === s ? [e.bar] : []))]),
    );
    settlements = all.flatMap((e) => (e.kind === "funding" ? [e.funding] : []));
  });

  afterEach(async () => {
    await open?.close();
    open = undefined;
  });

  it("emits closed bars only, in the archive's order across symbols, with the settlement between the bars and each minute's mark kline", async () => {
    const h = await harness();
    const expected = await archive(at("07:50"), at("08:10"));
    expect(expected.filter((e) => e.kind === "funding")).toHaveLength(2);
    await publish(h.fake, at("07:50"), at("08:10"), true);
    await waitUntil("the archive's events", () => h.got.length >= expected.length);
    expect(h.got.slice(0, expected.length).map(withoutMark)).toEqual(expected);
    for (const e of h.got) {
      if (e.kind === "bar") expect(e.mark).toEqual(sentMark(h.fake.marksSent, e.bar.symbol, e.bar.openTime));
    }
    expect(h.fake.connections).toEqual(["/market/stream"]);
    expect(
      h.logs.some((l) => l.msg === "live market: closed bar received" && typeof l.lagMs === "number"),
    ).toBe(true);
  });

  it("reports a settlement in its first minute, which no mark announced", async () => {
    const h = await harness();
    await publish(h.fake, at("08:00"), at("08:03"));
    const expected = await archive(at("08:00"), at("08:03"));
    expect(expected.slice(0, 2).map((e) => e.kind)).toEqual(["funding", "funding"]);
    await waitUntil("the archive's events", () => h.got.length >= expected.length);
    expect(h.got.slice(0, expected.length).map(withoutMark)).toEqual(expected);
  });

  it("starts at `from`: the minutes before the first live bar, and their settlements, come from REST first", async () => {
    const h = await harness({ from: at("07:50") + 12_345 });
    await publish(h.fake, at("08:02"), at("08:06"), true);
    const expected = await archive(at("07:50"), at("08:06"));
    expect(expected.filter((e) => e.kind === "funding")).toHaveLength(2);
    await waitUntil("the archive's events", () => h.got.length >= expected.length);
    expect(h.got.slice(0, expected.length).map(withoutMark)).toEqual(expected);
    const live = h.got.filter((e) => e.kind === "bar" && e.mark !== undefined).map((e) => e.time);
    expect(Math.min(...live)).toBe(at("08:02") + MINUTE - 1);
  });

  it("pages GET /fapi/v1/klines by 1 000 through the SDK client", async () => {
    const fake = await FakeBinanceMarket.start({ bars, settlements });
    try {
      const want = bars.get("ETHUSDT")!.slice(0, 1_040);
      expect(want).toHaveLength(1_040);
      const from = want[0]!.openTime;
      const to = want.at(-1)!.openTime + MINUTE;
      expect(to - from).toBe(1_040 * MINUTE); // contiguous
      fake.advance(to);
      fake.hide("ETHUSDT", want[1_000]!.openTime); // the first minute of the second page
      const rest = usdmMarketRest(new USDMClient({ baseUrl: fake.restUrl }));
      expect(await rest.klines("ETHUSDT", from, to)).toEqual(want.filter((_, i) => i !== 1_000));
    } finally {
      await fake.close();
    }
  });

  it("gives a past window's bars and gaps over REST in the archive's order (warm-up history)", async () => {
    const fake = await FakeBinanceMarket.start({ bars, settlements });
    try {
      const history = liveMarketHistory({ symbols: SYMBOLS, restUrl: fake.restUrl });
      fake.now = at("07:52") + 30_000; // only 07:50 and 07:51 closed
      expect((await collect(history({ from: at("07:50"), to: at("08:00") }))).map((e) => e.time)).toEqual([
        at("07:51") - 1,
        at("07:51") - 1,
        at("07:52") - 1,
        at("07:52") - 1,
      ]);
      fake.advance(at("08:30"));
      fake.hide("BTCUSDT", at("07:55"));
      fake.hide("ETHUSDT", at("08:10")); // the window's last minute: a gap at its end
      const window = { from: at("07:50") - 30_000, to: at("08:10") + 30_000 };
      const hidden = (e: MarketEvent) =>
        e.kind === "bar" &&
        ((e.bar.symbol === "BTCUSDT" && e.bar.openTime === at("07:55")) ||
          (e.bar.symbol === "ETHUSDT" && e.bar.openTime === at("08:10")));
      const gap = (symbol: string, from: string, to: string): MarketEvent => ({
        kind: "gap",
        time: at(to),
        gap: { symbol, fromOpenTime: at(from), toOpenTime: at(to), missingBars: 1 },
      });
      const expected = (await archive(window.from, window.to))
        .filter((e) => e.kind === "bar" && !hidden(e))
        .concat([gap("BTCUSDT", "07:55", "07:56"), gap("ETHUSDT", "08:10", "08:11")])
        .sort(compareMarketEvents);
      expect(await collect(history(window))).toEqual(expected);
    } finally {
      await fake.close();
    }
  });

  it("back-fills the minutes of a dropped connection from REST, with no hole and no duplicate", async () => {
    const h = await harness();
    await publish(h.fake, at("07:50"), at("07:54"));
    expect(h.connection).toEqual([]);
    h.fake.dropConnections();
    for (const m of [at("07:55"), at("07:56"), at("07:57")]) h.fake.advance(m);
    await h.fake.waitForSubscriptions(2, TOPICS);
    // The clock is at 07:58:00.005: REST gives the minutes closed 2 s before it (to 07:56); 07:56 comes again.
    await publish(h.fake, at("07:56"), at("08:03"));
    const expected = await archive(at("07:50"), at("08:03"));
    await waitUntil("the archive's events", () => h.got.length >= expected.length);
    expect(h.got.slice(0, expected.length).map(withoutMark)).toEqual(expected);
    const filled = h.got.filter((e) => e.kind === "bar" && e.mark === undefined).map((e) => e.time);
    const closeOf = (hhmm: string) => at(hhmm) + MINUTE - 1;
    expect([...new Set(filled)]).toEqual([closeOf("07:55"), closeOf("07:56")]);
    expect(h.fake.connections).toEqual(["/market/stream", "/market/stream"]);
    const fill = h.logs.filter((l) => l.msg === "live market: missing bars filled from REST");
    expect(fill.map((l) => [l.symbol, l.from, l.to, l.reason])).toEqual(
      SYMBOLS.map((s) => [s, at("07:55"), at("07:57"), "reconnected"]),
    );
    expect(h.logs.some((l) => l.msg === "live market: connection lost, reconnecting")).toBe(true);
    expect(h.connection).toEqual(["down", "up"]); // the stream-outage alert's hook
  });

  it("turns a minute REST cannot provide either into a gap before the bar after it", async () => {
    const h = await harness();
    await publish(h.fake, at("07:50"), at("07:52"));
    for (const m of [at("07:53"), at("07:54"), at("07:55")]) h.fake.advance(m);
    h.fake.hide("BTCUSDT", at("07:54"));
    await publish(h.fake, at("07:56"), at("07:58"));
    const gap = { symbol: "BTCUSDT", fromOpenTime: at("07:54"), toOpenTime: at("07:55"), missingBars: 1 };
    const expected = (await archive(at("07:50"), at("07:58")))
      .filter((e) => !(e.kind === "bar" && e.bar.symbol === "BTCUSDT" && e.bar.openTime === at("07:54")))
      .concat([{ kind: "gap", time: at("07:55"), gap }])
      .sort(compareMarketEvents);
    await waitUntil("the archive's events", () => h.got.length >= expected.length);
    expect(h.got.slice(0, expected.length).map(withoutMark)).toEqual(expected);
  });

  it("fetches over REST when the stream goes silent (watchdog), a missing trailing minute becoming a gap", async () => {
    const h = await harness({ staleAfterMs: 400 });
    await publish(h.fake, at("07:50"), at("07:51"));
    for (const m of [at("07:52"), at("07:53"), at("07:54")]) h.fake.advance(m); // REST: to 07:53 (2 s settle)
    h.fake.hide("ETHUSDT", at("07:53"));
    const closeOf = (hhmm: string) => at(hhmm) + MINUTE - 1;
    await waitUntil("the bars fetched by the watchdog", () => h.got.some((e) => e.time === closeOf("07:53")));
    expect(h.logs.some((l) => l.msg === "live market: no data; fetching over REST and reconnecting")).toBe(
      true,
    );
    await h.fake.waitForSubscriptions(2, TOPICS);
    await publish(h.fake, at("07:54"), at("07:55"));
    const gap = { symbol: "ETHUSDT", fromOpenTime: at("07:53"), toOpenTime: at("07:54"), missingBars: 1 };
    const expected = (await archive(at("07:50"), at("07:55")))
      .filter((e) => !(e.kind === "bar" && e.bar.symbol === "ETHUSDT" && e.bar.openTime === at("07:53")))
      .concat([{ kind: "gap", time: at("07:54"), gap }])
      .sort(compareMarketEvents);
    await waitUntil("the archive's events", () => h.got.length >= expected.length);
    expect(h.got.slice(0, expected.length).map(withoutMark)).toEqual(expected);
  });

  it("in lockstep, acks every closed kline once it was processed (a repeated one at once) and keeps the archive's order", async () => {
    const h = await harness({ lockstep: true });
    await publish(h.fake, at("07:57"), at("08:01"));
    await h.fake.publish(at("08:01")); // sent twice: dropped, acked
    const expected = await archive(at("07:57"), at("08:02"));
    await waitUntil("the archive's events", () => h.got.length >= expected.length);
    expect(h.got.map(withoutMark)).toEqual(expected);
    expect(h.fake.closedSent).toBe(12);
    await waitUntil("every ack", () => h.fake.acks === h.fake.closedSent);
  });
});
