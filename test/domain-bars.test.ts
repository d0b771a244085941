import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BarAggregatorState,
  flushBarAggregator,
  type IntervalEvent,
  initialBarAggregator,
  type MinuteBar,
  type MinuteEvent,
  stepBarAggregator,
} from "../src/domain/bars/aggregate.ts";
import { addToSum, formatSum, ZERO_SUM } from "../src/domain/bars/decimal-sum.ts";
import {
  BAR_INTERVALS,
  type BarInterval,
  bucketOpenTime,
  MINUTE_MS,
  parseBarInterval,
} from "../src/domain/bars/intervals.ts";
import { BarStateError, parseBarAggregatorState } from "../src/domain/bars/state.ts";
import { canonical, Dec } from "../src/domain/decimal.ts";
import { referenceAggregate } from "./support/bar-reference.ts";

/** 2024-01-01 00:00 UTC (strategies.md §0's T0), a bucket boundary of every interval. */
const T0 = 1_704_067_200_000;
const at = (minute: number): number => T0 + minute * MINUTE_MS;

function bar(symbol: string, minute: number, ohlcv: [string, string, string, string, string]): MinuteBar {
  const [open, high, low, close, volume] = ohlcv;
  return { symbol, openTime: at(minute), open, high, low, close, volume };
}
/** A flat bar whose prices are all `price`. */
const flat = (symbol: string, minute: number, price: string, volume = "1"): MinuteBar =>
  bar(symbol, minute, [price, price, price, price, volume]);
const barEvent = (b: MinuteBar): MinuteEvent => ({ kind: "bar", bar: b });
const gapEvent = (symbol: string, fromMinute: number, toMinute: number): MinuteEvent => ({
  kind: "gap",
  gap: { symbol, fromOpenTime: at(fromMinute), toOpenTime: at(toMinute) },
});

/** Runs `events` through a fresh aggregator; returns what each step emitted and the final state. */
function run(interval: BarInterval, events: readonly MinuteEvent[]) {
  let state = initialBarAggregator(interval);
  const perStep: IntervalEvent[][] = [];
  for (const event of events) {
    const step = stepBarAggregator(state, event);
    state = step.state;
    perStep.push(step.emitted);
  }
  return { perStep, emitted: perStep.flat(), state };
}

describe("bar intervals", () => {
  it("names every interval with its length and aligns buckets to UTC", () => {
    expect(BAR_INTERVALS).toEqual({
      "1m": 60_000,
      "5m": 300_000,
      "15m": 900_000,
      "1h": 3_600_000,
      "4h": 14_400_000,
      "1d": 86_400_000,
    });
    // 2025-05-04T15:33:00Z → its 4h bucket opens at 12:00, its day at 00:00.
    expect(bucketOpenTime(Date.UTC(2025, 4, 4, 15, 33), "4h")).toBe(Date.UTC(2025, 4, 4, 12));
    expect(bucketOpenTime(Date.UTC(2025, 4, 4, 15, 33), "1d")).toBe(Date.UTC(2025, 4, 4));
    expect(parseBarInterval("15m")).toBe("15m");
    expect(() => parseBarInterval("2h")).toThrow(
      'unknown bar interval "2h" (expected one of 1m, 5m, 15m, 1h, 4h, 1d)',
    );
  });
});

describe("exact decimal sums", () => {
  it("adds across scales and past 2^53 exactly, printing canonically", () => {
    let sum = ZERO_SUM;
    for (const v of ["16.536", "28.3", "0.164", "1"]) sum = addToSum(sum, v, "volume");
    expect(formatSum(sum)).toBe("46");
    let big = ZERO_SUM;
    const values = ["9007199254.740993", "123456789012345678.9", "0.000000001", "9007199254.740993"];
    for (const v of values) big = addToSum(big, v, "quoteVolume");
    expect(formatSum(big)).toBe(canonical(values.reduce((a, v) => a.plus(v), new Dec(0))));
    expect(JSON.parse(JSON.stringify(big))).toEqual(big);
  });

  it("property: equals decimal.js on random decimals", () => {
    const decimalString = fc
      .tuple(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 0, max: 10 }))
      .map(([units, scale]) => {
        const digits = units.toString().padStart(scale + 1, "0");
        return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
      });
    fc.assert(
      fc.property(fc.array(decimalString, { maxLength: 30 }), (values) => {
        const sum = values.reduce((s, v) => addToSum(s, v, "x"), ZERO_SUM);
        expect(formatSum(sum)).toBe(canonical(values.reduce((a, v) => a.plus(v), new Dec(0))));
      }),
    );
  });

  it("rejects what is not an unsigned plain decimal, naming it", () => {
    for (const bad of ["", "-1", "1e5", "1.", ".5", "1.2.3", " 1"]) {
      expect(() => addToSum(ZERO_SUM, bad, "BTCUSDT volume")).toThrow(
        `BTCUSDT volume: expected an unsigned decimal, got "${bad}"`,
      );
    }
  });
});

describe("bar aggregation: golden cases (5m unless stated)", () => {
  it("a full bucket: emitted at its last minute's close with O, max H, min L, last C and summed volume", () => {
    const events = [
      bar("BTCUSDT", 0, ["100.0", "101.5", "99.9", "101.0", "1.5"]),
      bar("BTCUSDT", 1, ["101.0", "103.25", "100.5", "102.0", "2.25"]),
      bar("BTCUSDT", 2, ["102.0", "102.5", "98.75", "99.0", "0.125"]),
      bar("BTCUSDT", 3, ["99.0", "100", "99", "99.5", "3"]),
      bar("BTCUSDT", 4, ["99.5", "99.6", "99.1", "99.2", "0.125"]),
    ].map(barEvent);
    const { perStep } = run("5m", events);
    expect(perStep.slice(0, 4)).toEqual([[], [], [], []]);
    expect(perStep[4]).toEqual([
      {
        kind: "bar",
        time: at(5) - 1,
        bar: {
          symbol: "BTCUSDT",
          interval: "5m",
          openTime: at(0),
          closeTime: at(5) - 1,
          open: "100.0",
          high: "103.25",
          low: "98.75",
          close: "99.2",
          volume: "7",
          minutes: 5,
          partial: false,
        },
      },
    ]);
  });

  it("partial at the start: the first minutes are missing", () => {
    const { emitted } = run(
      "5m",
      [2, 3, 4].map((m) => barEvent(flat("BTCUSDT", m, "10"))),
    );
    expect(emitted.map((e) => e.kind === "bar" && [e.bar.openTime, e.bar.minutes, e.bar.partial])).toEqual([
      [at(0), 3, true],
    ]);
  });

  it("partial in the middle: a gap inside the bucket does not close it early", () => {
    const events = [
      barEvent(flat("BTCUSDT", 0, "10")),
      barEvent(flat("BTCUSDT", 1, "11")),
      gapEvent("BTCUSDT", 2, 4),
      barEvent(flat("BTCUSDT", 4, "12", "2")),
    ];
    const { perStep } = run("5m", events);
    expect(perStep.slice(0, 3)).toEqual([[], [], []]);
    expect(perStep[3]).toMatchObject([
      { kind: "bar", bar: { openTime: at(0), open: "10", high: "12", low: "10", close: "12", volume: "4" } },
    ]);
    expect(perStep[3]![0]!.kind === "bar" && perStep[3]![0]!.bar).toMatchObject({
      minutes: 3,
      partial: true,
    });
  });

  it("partial at the end: a gap reaching past the bucket flushes it at once, no interval gap inside one bucket", () => {
    const events = [
      ...[0, 1, 2].map((m) => barEvent(flat("BTCUSDT", m, "10"))),
      gapEvent("BTCUSDT", 3, 7),
      ...[7, 8, 9].map((m) => barEvent(flat("BTCUSDT", m, "20"))),
    ];
    const { perStep } = run("5m", events);
    expect(perStep[3]).toMatchObject([
      { kind: "bar", time: at(5) - 1, bar: { openTime: at(0), minutes: 3, partial: true } },
    ]);
    expect(perStep.slice(4, 6)).toEqual([[], []]);
    expect(perStep[6]).toMatchObject([
      { kind: "bar", bar: { openTime: at(5), minutes: 3, partial: true, open: "20" } },
    ]);
  });

  it("a gap spanning buckets: partial, then one interval gap for the empty buckets, then partial", () => {
    const events = [
      ...[0, 1, 2, 3].map((m) => barEvent(flat("ETHUSDT", m, "1"))),
      gapEvent("ETHUSDT", 4, 17),
      ...[17, 18, 19].map((m) => barEvent(flat("ETHUSDT", m, "2"))),
    ];
    const { perStep, emitted } = run("5m", events);
    expect(perStep[4]).toEqual([
      expect.objectContaining({
        kind: "bar",
        bar: expect.objectContaining({ openTime: at(0), minutes: 4, partial: true }),
      }),
      {
        kind: "gap",
        time: at(15),
        gap: { symbol: "ETHUSDT", interval: "5m", fromOpenTime: at(5), toOpenTime: at(15), missingBars: 2 },
      },
    ]);
    expect(emitted).toHaveLength(3);
    expect(perStep[7]).toMatchObject([{ kind: "bar", bar: { openTime: at(15), minutes: 3, partial: true } }]);
    // Without the gap event (bars that skip minutes) the output is the same, emitted at the revealing bar.
    const bare = run(
      "5m",
      events.filter((e) => e.kind === "bar"),
    );
    expect(bare.emitted).toEqual(emitted);
  });

  it("a gap at the start of the stream is an interval gap of the whole buckets it covers", () => {
    const { emitted } = run("1h", [gapEvent("BTCUSDT", 0, 150), barEvent(flat("BTCUSDT", 150, "5"))]);
    expect(emitted).toEqual([
      {
        kind: "gap",
        time: at(120),
        gap: { symbol: "BTCUSDT", interval: "1h", fromOpenTime: at(0), toOpenTime: at(120), missingBars: 2 },
      },
    ]);
  });

  it("multiple symbols interleaved aggregate independently", () => {
    const events: MinuteEvent[] = [];
    for (let m = 0; m < 10; m++) {
      if (m !== 6) events.push(barEvent(flat("BTCUSDT", m, String(100 + m))));
      else events.push(gapEvent("BTCUSDT", 6, 7));
      if (m >= 2) events.push(barEvent(flat("ETHUSDT", m, String(10 + m))));
    }
    const { emitted } = run("5m", events);
    expect(
      emitted.map(
        (e) => e.kind === "bar" && [e.bar.symbol, e.bar.openTime, e.bar.open, e.bar.close, e.bar.minutes],
      ),
    ).toEqual([
      ["BTCUSDT", at(0), "100", "104", 5],
      ["ETHUSDT", at(0), "12", "14", 3],
      ["BTCUSDT", at(5), "105", "109", 4],
      ["ETHUSDT", at(5), "15", "19", 5],
    ]);
  });

  it("sums the optional kline fields when every minute carries them", () => {
    const withFlows = (m: number, q: string, t: number): MinuteBar => ({
      ...flat("BTCUSDT", m, "10", "0.5"),
      quoteVolume: q,
      trades: t,
      takerBuyVolume: "0.25",
      takerBuyQuoteVolume: "2.5",
    });
    const { emitted } = run(
      "5m",
      [0, 1, 2, 3, 4].map((m) => barEvent(withFlows(m, `5.${m}`, m + 1))),
    );
    expect(emitted[0]!.kind === "bar" && emitted[0]!.bar).toMatchObject({
      volume: "2.5",
      quoteVolume: "26",
      trades: 15,
      takerBuyVolume: "1.25",
      takerBuyQuoteVolume: "12.5",
    });
  });

  it("keeps an optional field only when every minute of the bucket carried it (absent, never 0)", () => {
    const withTaker = (m: number): MinuteBar => ({
      ...flat("BTCUSDT", m, "10", "0.5"),
      takerBuyVolume: "0.25",
    });
    const bars = (minutes: MinuteBar[]) => {
      const { emitted } = run("5m", minutes.map(barEvent));
      return emitted.flatMap((e) => (e.kind === "bar" ? [e.bar] : []));
    };
    // A minute without it anywhere in the bucket (first, middle or last) drops it from the bucket's bar.
    for (const without of [0, 2, 4]) {
      const [b] = bars(
        [0, 1, 2, 3, 4].map((m) => (m === without ? flat("BTCUSDT", m, "10", "0.5") : withTaker(m))),
      );
      expect(b).toBeDefined();
      expect("takerBuyVolume" in b!).toBe(false);
      expect(b!.volume).toBe("2.5");
    }
    // The next bucket, all minutes with it, has it again.
    const [first, second] = bars([
      flat("BTCUSDT", 0, "10", "0.5"),
      ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map(withTaker),
    ]);
    expect("takerBuyVolume" in first!).toBe(false);
    expect(second!.takerBuyVolume).toBe("1.25");
  });

  it("compares highs and lows exactly where doubles cannot", () => {
    const events = [
      bar("X", 0, ["1", "1.00000000000000001", "1", "1", "1"]),
      bar("X", 1, ["1", "1.00000000000000002", "0.99999999999999999", "1", "1"]),
      bar("X", 2, ["1", "1.000000000000000015", "0.999999999999999985", "1", "1"]),
    ].map(barEvent);
    const { emitted } = run("5m", [...events, gapEvent("X", 3, 5)]);
    expect(emitted[0]!.kind === "bar" && [emitted[0]!.bar.high, emitted[0]!.bar.low]).toEqual([
      "1.00000000000000002",
      "0.999999999999999985",
    ]);
  });

  it("property: high and low equal decimal.js max and min over random scales (first of equal values wins)", () => {
    const price = fc
      .tuple(fc.stringMatching(/^\d{1,3}$/), fc.stringMatching(/^\d{0,20}$/))
      .map(([whole, fraction]) => (fraction === "" ? whole : `${whole}.${fraction}`));
    fc.assert(
      fc.property(fc.array(price, { minLength: 1, maxLength: 5 }), (prices) => {
        const bars = prices.map((p, m) => flat("X", m, p));
        const { emitted } = run("5m", [
          ...bars.map(barEvent),
          gapEvent("X", prices.length, 5 + prices.length),
        ]);
        const ref = referenceAggregate("X", bars, "5m", at(0), at(5));
        expect(emitted[0]).toEqual({ kind: "bar", time: at(5) - 1, bar: ref.bars[0] });
      }),
    );
  });

  it("flush emits open buckets as partial; the 1m interval passes bars through", () => {
    const { state } = run("15m", [barEvent(flat("B", 0, "1")), barEvent(flat("A", 3, "2"))]);
    const flushed = flushBarAggregator(state);
    expect(
      flushed.emitted.map((e) => e.kind === "bar" && [e.bar.symbol, e.bar.minutes, e.bar.partial]),
    ).toEqual([
      ["A", 1, true],
      ["B", 1, true],
    ]);
    expect(flushBarAggregator(flushed.state).emitted).toEqual([]);
    const oneMinute = run("1m", [barEvent(flat("A", 0, "1")), barEvent(flat("A", 1, "2"))]).emitted;
    expect(oneMinute.map((e) => e.kind === "bar" && [e.bar.closeTime, e.bar.partial])).toEqual([
      [at(1) - 1, false],
      [at(2) - 1, false],
    ]);
  });

  it("rejects out-of-order and malformed input, naming symbol and time", () => {
    const two = [barEvent(flat("BTCUSDT", 3, "1"))];
    expect(() => run("5m", [...two, barEvent(flat("BTCUSDT", 3, "1"))])).toThrow(
      "BTCUSDT: bar 2024-01-01T00:03:00.000Z (1704067380000) is out of order (next expected at or after 2024-01-01T00:04:00.000Z (1704067440000))",
    );
    expect(() => run("5m", [...two, gapEvent("BTCUSDT", 2, 6)])).toThrow(
      "BTCUSDT: gap from 2024-01-01T00:02:00.000Z (1704067320000) overlaps minutes already seen",
    );
    expect(() => run("5m", [gapEvent("BTCUSDT", 6, 6)])).toThrow("BTCUSDT: empty gap");
    expect(() => run("5m", [barEvent({ ...flat("BTCUSDT", 0, "1"), openTime: T0 + 1 })])).toThrow(
      "BTCUSDT: bar openTime 1704067200001 is not a whole minute",
    );
    expect(() => run("5m", [barEvent(flat("BTCUSDT", 0, "1", "-2"))])).toThrow(
      'BTCUSDT: bar 2024-01-01T00:00:00.000Z (1704067200000): volume: expected an unsigned decimal, got "-2"',
    );
  });
});

describe("bar aggregation state", () => {
  it("is plain JSON: a restored state continues identically", () => {
    const events = [0, 1, 2, 6, 7].map((m) =>
      barEvent({ ...flat("BTCUSDT", m, "3", "123456789012.12345678"), trades: 7 }),
    );
    const first = run("15m", events.slice(0, 3));
    const restored = parseBarAggregatorState(JSON.parse(JSON.stringify(first.state)));
    expect(restored).toEqual(first.state);
    let a: BarAggregatorState = first.state;
    let b: BarAggregatorState = restored;
    for (const e of events.slice(3)) {
      const sa = stepBarAggregator(a, e);
      const sb = stepBarAggregator(b, e);
      expect(sb).toEqual(sa);
      a = sa.state;
      b = sb.state;
    }
  });

  it("a corrupt state fails naming the field", () => {
    const { state } = run("1h", [barEvent(flat("BTCUSDT", 0, "3")), barEvent(flat("BTCUSDT", 1, "3"))]);
    const json = JSON.parse(JSON.stringify(state));
    const corrupt = (edit: (s: typeof json) => void): unknown => {
      const copy = structuredClone(json);
      edit(copy);
      return copy;
    };
    expect(() =>
      parseBarAggregatorState(corrupt((s) => (s.symbols.BTCUSDT.bucket.volume.units = -1))),
    ).toThrow(BarStateError);
    expect(() => parseBarAggregatorState(corrupt((s) => (s.symbols.BTCUSDT.bucket.high = "1e3")))).toThrow(
      "invalid bar aggregator state: symbols.BTCUSDT.bucket.high: not an unsigned decimal string",
    );
    expect(() => parseBarAggregatorState(corrupt((s) => (s.symbols.BTCUSDT.bucket.minutes = 3)))).toThrow(
      "invalid bar aggregator state: symbols.BTCUSDT.bucket.minutes: more minutes than the bucket has seen",
    );
    expect(() =>
      parseBarAggregatorState(corrupt((s) => (s.symbols.BTCUSDT.cursor = T0 + 3_600_000))),
    ).toThrow("invalid bar aggregator state: symbols.BTCUSDT.cursor: not inside the open bucket");
    expect(() => parseBarAggregatorState(corrupt((s) => (s.interval = "2h")))).toThrow(
      "invalid bar aggregator state: interval:",
    );
  });
});

/** A random 1m series over one symbol: which minutes are present and each bar's values. */
const seriesArb = (symbol: string) =>
  fc
    .record({
      offset: fc.integer({ min: 0, max: 300 }),
      length: fc.integer({ min: 1, max: 300 }),
      holeRate: fc.constantFrom(0, 0.05, 0.3, 0.9),
      flows: fc.boolean(),
      seed: fc.array(
        fc.record({
          present: fc.double({ min: 0, max: 1, noNaN: true }),
          open: fc.integer({ min: 1, max: 10_000 }),
          spread: fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 })),
          close: fc.integer({ min: 1, max: 10_000 }),
          volume: fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 18n }), fc.integer({ min: 0, max: 8 })),
          trades: fc.nat({ max: 10_000 }),
        }),
        { minLength: 300, maxLength: 300 },
      ),
    })
    .map(({ offset, length, holeRate, flows, seed }) => {
      const bars: MinuteBar[] = [];
      for (let i = 0; i < length; i++) {
        const s = seed[i]!;
        if (s.present < holeRate) continue;
        const price = (units: number) => (units / 100).toFixed(2);
        const high = Math.max(s.open, s.close) + s.spread[0];
        const low = Math.max(1, Math.min(s.open, s.close) - s.spread[1]);
        const [units, scale] = s.volume;
        const digits = units.toString().padStart(scale + 1, "0");
        const volume = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
        const b: MinuteBar = {
          symbol,
          openTime: at(offset + i),
          open: price(s.open),
          high: price(high),
          low: price(low),
          close: price(s.close),
          volume,
        };
        if (flows)
          Object.assign(b, {
            quoteVolume: `${volume}1`,
            trades: s.trades,
            takerBuyVolume: "0.5",
            takerBuyQuoteVolume: volume,
          });
        bars.push(b);
      }
      return { symbol, from: at(offset), to: at(offset + length), bars };
    });

describe("bar aggregation: streaming equals the batch reference", () => {
  it("property: random 1m series with random holes, two symbols interleaved, any interval", () => {
    fc.assert(
      fc.property(
        seriesArb("AAAUSDT"),
        seriesArb("BBBUSDT"),
        fc.constantFrom<BarInterval>("5m", "15m", "1h"),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 400 }),
        (a, b, interval, announceGaps, trailingGap, snapshotAt) => {
          // The merged stream's shape: per symbol, a gap before each bar that skips minutes (from the window
          // start), optionally a trailing gap to the window end; symbols interleaved by time.
          const timed: { time: number; event: MinuteEvent }[] = [];
          for (const s of [a, b]) {
            let next = s.from;
            for (const bar of s.bars) {
              if (announceGaps && bar.openTime > next) {
                timed.push({
                  time: bar.openTime,
                  event: {
                    kind: "gap",
                    gap: { symbol: s.symbol, fromOpenTime: next, toOpenTime: bar.openTime },
                  },
                });
              }
              timed.push({ time: bar.openTime + MINUTE_MS - 1, event: barEvent(bar) });
              next = bar.openTime + MINUTE_MS;
            }
            if (announceGaps && trailingGap && s.to > next) {
              timed.push({
                time: s.to,
                event: { kind: "gap", gap: { symbol: s.symbol, fromOpenTime: next, toOpenTime: s.to } },
              });
            }
          }
          timed.sort((x, y) => x.time - y.time);
          let state = initialBarAggregator(interval);
          const emitted: IntervalEvent[] = [];
          timed.forEach(({ event }, i) => {
            if (i === snapshotAt) state = parseBarAggregatorState(JSON.parse(JSON.stringify(state)));
            const step = stepBarAggregator(state, event);
            state = step.state;
            emitted.push(...step.emitted);
          });
          emitted.push(...flushBarAggregator(state).emitted);

          for (const s of [a, b]) {
            const mine = emitted.filter((e) => (e.kind === "bar" ? e.bar.symbol : e.gap.symbol) === s.symbol);
            const last = s.bars.at(-1);
            const coveredFrom = announceGaps ? s.from : (s.bars[0]?.openTime ?? s.from);
            const coveredTo =
              announceGaps && trailingGap ? s.to : last ? last.openTime + MINUTE_MS : coveredFrom;
            const ref = referenceAggregate(s.symbol, s.bars, interval, coveredFrom, coveredTo);
            const expected: IntervalEvent[] = [
              ...ref.bars.map((bar): IntervalEvent => ({ kind: "bar", time: bar.closeTime, bar })),
              ...ref.gaps.map((gap): IntervalEvent => ({ kind: "gap", time: gap.toOpenTime, gap })),
            ].sort((x, y) => x.time - y.time);
            expect(mine).toEqual(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
