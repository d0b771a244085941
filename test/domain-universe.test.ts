/**
 * The `--symbols ALL` universe without I/O (issue 8 item 4): `resolveUniverse` (snapshot instruments + the symbols
 * with kline files and their bars → traded + skipped) by example and by property, and `BarCounter` (the bars a
 * symbol's 1m openTimes make in the strategy's interval, counted only as far as the decision needs).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BarCounter } from "../src/adapters/market/universe.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import {
  describeSkipReason,
  isUniverseInstrument,
  resolveUniverse,
  type SymbolBars,
  type UniverseInstrument,
} from "../src/domain/universe.ts";

const perp = (symbol: string, over: Partial<UniverseInstrument> = {}): UniverseInstrument => ({
  symbol,
  status: "TRADING",
  contractType: "PERPETUAL",
  quoteAsset: "USDT",
  ...over,
});
const bars = (entries: Record<string, [number, number]>) =>
  new Map(
    Object.entries(entries).map(([s, [beforeWindow, inWindow]]): [string, SymbolBars] => [
      s,
      { beforeWindow, inWindow },
    ]),
  );

describe("resolveUniverse", () => {
  it("trades the TRADING USDT perpetuals with enough bars, skips the others with data, ignores the rest", () => {
    const instruments = [
      perp("BTCUSDT"),
      perp("ETHUSDT"),
      perp("FILUSDT"),
      perp("NEARUSDT"),
      perp("ALGOUSDT"),
      perp("OLDUSDT", { status: "SETTLING" }),
      perp("BTCUSDC", { quoteAsset: "USDC" }),
      perp("BTCUSDT_260327", { contractType: "CURRENT_QUARTER" }),
      perp("IDLEUSDT", { status: "PENDING_TRADING" }),
      perp("NODATAUSDT"),
    ];
    const universe = resolveUniverse({
      instruments,
      bars: bars({
        NEARUSDT: [200, 10], // warm from its pre-window bars
        BTCUSDT: [0, 200], // warm at the window's last bar
        ETHUSDT: [150, 49], // 199 < 200
        FILUSDT: [200, 0], // nothing in the window
        ALGOUSDT: [0, 0],
        OLDUSDT: [0, 5],
        BTCUSDC: [0, 500],
        BTCUSDT_260327: [0, 1],
        IDLEUSDT: [10, 0], // not tradable and nothing in the window: not reported
        GHOSTUSDT: [0, 300], // not in the snapshot
        LOSTUSDT: [0, 0], // not in the snapshot, nothing in the window
      }),
      warmUpBars: 200,
    });
    expect(universe.symbols).toEqual(["BTCUSDT", "NEARUSDT"]);
    expect(universe.skipped).toEqual([
      { symbol: "ALGOUSDT", reason: { kind: "noBars" } },
      {
        symbol: "BTCUSDC",
        reason: { kind: "notTradable", status: "TRADING", contractType: "PERPETUAL", quoteAsset: "USDC" },
      },
      {
        symbol: "BTCUSDT_260327",
        reason: {
          kind: "notTradable",
          status: "TRADING",
          contractType: "CURRENT_QUARTER",
          quoteAsset: "USDT",
        },
      },
      { symbol: "ETHUSDT", reason: { kind: "tooFewBars", bars: 199, needed: 200 } },
      { symbol: "FILUSDT", reason: { kind: "noBars" } },
      { symbol: "GHOSTUSDT", reason: { kind: "notInSnapshot" } },
      {
        symbol: "OLDUSDT",
        reason: { kind: "notTradable", status: "SETTLING", contractType: "PERPETUAL", quoteAsset: "USDT" },
      },
    ]);
  });

  it("a strategy without warm-up trades every symbol with one bar in the window; no data, no universe", () => {
    const instruments = [perp("BTCUSDT"), perp("ETHUSDT")];
    expect(resolveUniverse({ instruments, bars: bars({ ETHUSDT: [0, 1] }), warmUpBars: 0 }).symbols).toEqual([
      "ETHUSDT",
    ]);
    expect(resolveUniverse({ instruments, bars: new Map(), warmUpBars: 0 })).toEqual({
      symbols: [],
      skipped: [],
    });
  });

  it("refuses counts that are not bar counts", () => {
    const instruments = [perp("BTCUSDT")];
    expect(() => resolveUniverse({ instruments, bars: bars({ BTCUSDT: [-1, 5] }), warmUpBars: 1 })).toThrow(
      /BTCUSDT beforeWindow: expected a bar count ≥ 0, got -1/,
    );
    expect(() => resolveUniverse({ instruments, bars: bars({ BTCUSDT: [0, 5] }), warmUpBars: 1.5 })).toThrow(
      /warmUpBars/,
    );
  });

  const symbolName = fc.constantFrom<string>(
    "AUSDT",
    "BUSDT",
    "CUSDT",
    "DUSDT",
    "EUSDC",
    "FUSDT",
    "GUSDT",
    "HUSDT",
  );
  const instrument = fc.record({
    symbol: symbolName,
    status: fc.constantFrom("TRADING", "SETTLING", "PENDING_TRADING"),
    contractType: fc.constantFrom("PERPETUAL", "CURRENT_QUARTER"),
    quoteAsset: fc.constantFrom("USDT", "USDC"),
  });
  const count = fc.nat({ max: 400 });
  const input = fc.record({
    instruments: fc.uniqueArray(instrument, { selector: (i) => i.symbol }),
    bars: fc
      .uniqueArray(fc.tuple(symbolName, count, count), { selector: ([s]) => s })
      .map((rows) => new Map(rows.map(([s, beforeWindow, inWindow]) => [s, { beforeWindow, inWindow }]))),
    warmUpBars: count,
  });

  it("property: traded and skipped are sorted, disjoint symbols with data; traded ones meet every rule", () => {
    fc.assert(
      fc.property(input, (i) => {
        const { symbols, skipped } = resolveUniverse(i);
        const skippedSymbols = skipped.map((s) => s.symbol);
        expect(symbols).toEqual([...symbols].sort());
        expect(skippedSymbols).toEqual([...skippedSymbols].sort());
        expect(symbols.filter((s) => skippedSymbols.includes(s))).toEqual([]);
        const bySymbol = new Map(i.instruments.map((x) => [x.symbol, x]));
        for (const s of [...symbols, ...skippedSymbols]) expect(i.bars.has(s)).toBe(true);
        for (const s of symbols) {
          const b = i.bars.get(s)!;
          expect(isUniverseInstrument(bySymbol.get(s)!)).toBe(true);
          expect(b.inWindow).toBeGreaterThan(0);
          expect(b.beforeWindow + b.inWindow).toBeGreaterThanOrEqual(i.warmUpBars);
        }
        // Every tradable symbol with data is traded or reported, and so is every symbol with bars in the window.
        for (const [s, b] of i.bars) {
          const x = bySymbol.get(s);
          if ((x !== undefined && isUniverseInstrument(x)) || b.inWindow > 0)
            expect(symbols.includes(s) || skippedSymbols.includes(s)).toBe(true);
        }
      }),
    );
  });

  it("property: more bars never take a symbol out of the universe, a larger warm-up never adds one", () => {
    fc.assert(
      fc.property(input, count, count, (i, more, extra) => {
        const base = resolveUniverse(i).symbols;
        const richer = new Map([...i.bars].map(([s, b]) => [s, { ...b, inWindow: b.inWindow + more }]));
        const withMore = resolveUniverse({ ...i, bars: richer }).symbols;
        for (const s of base) expect(withMore).toContain(s);
        const stricter = resolveUniverse({ ...i, warmUpBars: i.warmUpBars + extra }).symbols;
        for (const s of stricter) expect(base).toContain(s);
      }),
    );
  });

  it("the bundled snapshot's universe is its TRADING USDT perpetuals", () => {
    const catalog = bundledInstrumentCatalog();
    const instruments = catalog.symbols().map((s) => catalog.get(s));
    const withData = new Map(
      instruments.map((x): [string, SymbolBars] => [x.symbol, { beforeWindow: 0, inWindow: 1 }]),
    );
    const { symbols, skipped } = resolveUniverse({ instruments, bars: withData, warmUpBars: 1 });
    expect(symbols).toContain("BTCUSDT");
    expect(symbols.length + skipped.length).toBe(instruments.length);
    for (const s of symbols) expect(catalog.get(s)).toMatchObject({ status: "TRADING", quoteAsset: "USDT" });
    expect(skipped.every(({ reason }) => reason.kind === "notTradable")).toBe(true);
  });

  it("describes each reason for people", () => {
    const context = { snapshot: "2025-12-24, bundled", window: "2023-08-01..2023-08-31", interval: "1m" };
    expect(describeSkipReason({ kind: "noBars" }, context)).toBe(
      "its 1m kline files hold no bar in 2023-08-01..2023-08-31",
    );
    expect(describeSkipReason({ kind: "tooFewBars", bars: 150, needed: 200 }, context)).toBe(
      "its 1m kline files hold 150 1m bars before and in 2023-08-01..2023-08-31, fewer than the 200 the strategy needs to warm up",
    );
    expect(describeSkipReason({ kind: "notInSnapshot" }, context)).toBe(
      "not in the instruments snapshot (2025-12-24, bundled)",
    );
    expect(
      describeSkipReason(
        { kind: "notTradable", status: "SETTLING", contractType: "PERPETUAL", quoteAsset: "USDT" },
        context,
      ),
    ).toBe(
      "not a TRADING USDT perpetual in the instruments snapshot (2025-12-24, bundled): SETTLING PERPETUAL quoted in USDT",
    );
  });
});

describe("BarCounter", () => {
  const MINUTE = 60_000;
  const HOUR = 60 * MINUTE;
  const from = Date.UTC(2023, 7, 1);
  const to = from + 2 * HOUR;

  it("counts the 1m bars before and in the window once each, and none outside", () => {
    const counter = new BarCounter({
      warmUpFrom: from - 30 * MINUTE,
      from,
      to,
      intervalMs: MINUTE,
      enough: 1000,
    });
    for (const t of [
      from - 31 * MINUTE,
      from - 30 * MINUTE,
      from - MINUTE,
      from - MINUTE,
      from,
      to - MINUTE,
      to,
    ]) {
      counter.add(t);
    }
    expect(counter.counts()).toEqual({ beforeWindow: 2, inWindow: 2 });
    expect(counter.done).toBe(false);
  });

  it("counts a strategy interval's bucket with any 1m bar as one bar", () => {
    const counter = new BarCounter({ warmUpFrom: from - 2 * HOUR, from, to, intervalMs: HOUR, enough: 10 });
    for (const t of [
      from - 2 * HOUR + 5 * MINUTE,
      from - 2 * HOUR + 59 * MINUTE,
      from + 3 * MINUTE,
      from + HOUR,
    ]) {
      counter.add(t);
    }
    expect(counter.counts()).toEqual({ beforeWindow: 1, inWindow: 2 });
  });

  it("is done once the window holds a bar and the total reaches `enough`", () => {
    const counter = new BarCounter({
      warmUpFrom: from - 3 * MINUTE,
      from,
      to,
      intervalMs: MINUTE,
      enough: 3,
    });
    for (const t of [from - 3 * MINUTE, from - 2 * MINUTE, from - MINUTE]) counter.add(t);
    expect(counter.done).toBe(false); // three bars, none in the window
    counter.add(from);
    expect(counter.done).toBe(true);
  });

  it("property: the counts are the distinct buckets in each part, whatever the order and repeats", () => {
    const minutes = fc.array(fc.integer({ min: -200, max: 200 }), { maxLength: 300 });
    fc.assert(
      fc.property(minutes, fc.constantFrom(1, 5, 60), (offsets, size) => {
        const intervalMs = size * MINUTE;
        const q = { warmUpFrom: from - 120 * MINUTE, from, to, intervalMs, enough: 1_000_000 };
        const counter = new BarCounter(q);
        const times = offsets.map((m) => from + m * MINUTE);
        for (const t of times) counter.add(t);
        const buckets = (keep: (t: number) => boolean) =>
          new Set(times.filter(keep).map((t) => Math.floor(t / intervalMs))).size;
        expect(counter.counts()).toEqual({
          beforeWindow: buckets((t) => t >= q.warmUpFrom && t < from),
          inWindow: buckets((t) => t >= from && t < to),
        });
      }),
    );
  });

  it("refuses a bad query", () => {
    expect(() => new BarCounter({ warmUpFrom: from + 1, from, to, intervalMs: MINUTE, enough: 1 })).toThrow(
      /warmUpFrom/,
    );
    expect(() => new BarCounter({ warmUpFrom: from, from, to: from, intervalMs: MINUTE, enough: 1 })).toThrow(
      /invalid market window/,
    );
    expect(() => new BarCounter({ warmUpFrom: from, from, to, intervalMs: 0, enough: 1 })).toThrow(
      /intervalMs/,
    );
  });
});
