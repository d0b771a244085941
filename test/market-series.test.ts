/**
 * The dashboard's market series (src/projections/market-series.ts) as fast-check properties over random logs of
 * bars, fills, funding payments and liquidations: any state read back with `upTo` equals the series folded from
 * that prefix of the log alone (so `asOf` needs no refold), bars merged to fewer points keep the interval bars'
 * open, close, extremes and volume, PnL per symbol is the sum of its fills and payments, and a market time resolves
 * to the last event in log order at or before it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dec } from "../src/domain/decimal.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { MarketSeries } from "../src/projections/market-series.ts";

const T0 = 1_748_736_000_000; // 2025-06-01T00:00Z
const SYMBOLS = ["BTCUSDT", "ETHUSDT"] as const;
const price = fc.integer({ min: 1, max: 99_999 }).map((n) => (n / 100).toFixed(2));

type Step =
  | { kind: "bar"; symbol: number; o: string; h: string; l: string; c: string; v: string }
  | { kind: "fill"; symbol: number; buy: boolean; price: string; qty: string; fee: string; pnl: string }
  | { kind: "funding"; symbol: number; fee: string }
  | { kind: "liquidation"; symbol: number; price: string; pnl: string; clearance: string }
  | { kind: "other" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ symbol: fc.nat(1), a: price, b: price, c: price, d: price, v: price })
      .map(({ symbol, a, b, c, d, v }) => {
        const sorted = [a, b, c, d].sort((x, y) => Number(x) - Number(y));
        return { kind: "bar" as const, symbol, o: b, h: sorted[3]!, l: sorted[0]!, c: c, v };
      })
      .map((bar) => ({ ...bar, o: clamp(bar.o, bar.l, bar.h), c: clamp(bar.c, bar.l, bar.h) })),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("fill" as const),
      symbol: fc.nat(1),
      buy: fc.boolean(),
      price,
      qty: price,
      fee: price,
      pnl: fc.integer({ min: -9_999, max: 9_999 }).map((n) => (n / 100).toFixed(2)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("funding" as const),
      symbol: fc.nat(1),
      fee: fc.integer({ min: -999, max: 999 }).map((n) => (n / 1000).toFixed(3)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("liquidation" as const),
      symbol: fc.nat(1),
      price,
      pnl: fc.integer({ min: -9_999, max: 0 }).map((n) => (n / 100).toFixed(2)),
      clearance: price,
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "other" as const }) },
);

function clamp(x: string, lo: string, hi: string): string {
  return Number(x) < Number(lo) ? lo : Number(x) > Number(hi) ? hi : x;
}

/** The recorded events of `steps`: positions from 1 with gaps of `gap`, a bar a minute per symbol. */
function logOf(steps: Step[], gap: number): RecordedEvent[] {
  const minute = [0, 0];
  return steps.map((s, i) => {
    const position = 1 + i * gap;
    const symbol = s.kind === "other" ? "BTCUSDT" : SYMBOLS[s.symbol]!;
    const time = T0 + i * 20_000;
    const base = { position, stream: `x-${symbol}`, revision: i, eventId: `e${i}` };
    const metadata = { correlationId: "r", causationId: "c", eventTime: time };
    switch (s.kind) {
      case "bar": {
        const openTime = T0 + minute[s.symbol]!++ * 60_000;
        const data = { symbol, interval: "1m", openTime, closeTime: openTime + 59_999 };
        return {
          ...base,
          type: "BarClosed",
          data: { ...data, open: s.o, high: s.h, low: s.l, close: s.c, volume: s.v },
          metadata: { ...metadata, eventTime: openTime + 59_999 },
        };
      }
      case "fill":
        return {
          ...base,
          type: "FillBooked",
          data: {
            symbol,
            clientOrderId: `o${i}`,
            tradeId: `t${i}`,
            side: s.buy ? "BUY" : "SELL",
            price: s.price,
            quantity: s.qty,
            commission: s.fee,
            realizedPnl: s.pnl,
            positionAmt: s.buy ? s.qty : `-${s.qty}`,
            entryPrice: s.price,
            walletBalance: "1000",
          },
          metadata,
        };
      case "funding":
        return {
          ...base,
          type: "FundingFeeBooked",
          data: {
            symbol,
            fundingTime: time,
            fundingRate: "0.0001",
            markPrice: "1",
            positionAmt: "1",
            fundingFee: s.fee,
            walletBalance: "1000",
          },
          metadata,
        };
      case "liquidation":
        return {
          ...base,
          type: "PositionLiquidated",
          data: {
            symbol,
            clientOrderId: `autoclose-${i}`,
            positionSide: "BOTH",
            marginType: "ISOLATED",
            positionAmt: "-2",
            entryPrice: "1",
            markPrice: s.price,
            liquidationPrice: s.price,
            price: s.price,
            maintMargin: "1",
            realizedPnl: s.pnl,
            clearanceFee: s.clearance,
            insuranceFundCovered: "0",
            walletBalance: "1000",
          },
          metadata,
        };
      default:
        return { ...base, type: "AccountOpened", data: {}, metadata };
    }
  }) as RecordedEvent[];
}

const fold = (events: RecordedEvent[]) => {
  const series = new MarketSeries();
  for (const e of events) series.apply(e);
  return series;
};

const logs = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 120 }),
  gap: fc.integer({ min: 1, max: 3 }),
});

describe("market series", () => {
  it("a state read back with upTo equals the series folded from that prefix of the log", () => {
    fc.assert(
      fc.property(
        logs,
        fc.nat(400),
        fc.constantFrom(60_000, 300_000, 3_600_000),
        fc.integer({ min: 1, max: 30 }),
        ({ steps, gap }, cut, interval, maxPoints) => {
          const events = logOf(steps, gap);
          const upTo = cut % (events.at(-1)!.position + 2);
          const whole = fold(events);
          const prefix = fold(events.filter((e) => e.position <= upTo));
          for (const symbol of SYMBOLS) {
            expect(whole.bars(symbol, interval, maxPoints, upTo)).toEqual(
              prefix.bars(symbol, interval, maxPoints),
            );
            const page = { symbol, limit: 1_000, offset: 0 };
            expect(whole.fills({ ...page, upTo })).toEqual(prefix.fills(page));
          }
          expect(whole.symbolPnl(upTo)).toEqual(prefix.symbolPnl());
          expect(whole.positionAtOrBefore(upTo)).toBe(prefix.lastPosition());
        },
      ),
    );
  });

  it("merging bars keeps the first open, the last close, the extremes and the volume of the interval bars", () => {
    fc.assert(
      fc.property(logs, fc.integer({ min: 1, max: 20 }), ({ steps, gap }, maxPoints) => {
        const series = fold(logOf(steps, gap));
        for (const symbol of SYMBOLS) {
          const full = series.bars(symbol, 300_000, 100_000);
          const merged = series.bars(symbol, 300_000, maxPoints);
          expect(merged.totalBars).toBe(full.bars.length);
          expect(merged.bars.length).toBe(Math.ceil(full.bars.length / merged.barsPerPoint));
          expect(merged.bars.length).toBeLessThanOrEqual(maxPoints);
          merged.bars.forEach((bar, k) => {
            const group = full.bars.slice(k * merged.barsPerPoint, (k + 1) * merged.barsPerPoint);
            expect(bar.time).toBe(group[0]!.time);
            expect(bar.open).toBe(group[0]!.open);
            expect(bar.close).toBe(group.at(-1)!.close);
            // the extremes are the strings of the bars that hold them; a merged volume is the canonical sum
            expect(group.map((b) => b.high)).toContain(bar.high);
            expect(new Dec(bar.high).eq(Dec.max(...group.map((b) => b.high)))).toBe(true);
            expect(group.map((b) => b.low)).toContain(bar.low);
            expect(new Dec(bar.low).eq(Dec.min(...group.map((b) => b.low)))).toBe(true);
            const volume = Dec.sum(...group.map((b) => b.volume));
            expect(bar.volume).toBe(group.length === 1 ? group[0]!.volume : volume.toFixed());
          });
          for (const bar of full.bars) expect(bar.time % 300_000).toBe(0);
        }
      }),
    );
  });

  it("PnL per symbol is the sum of its fills, liquidations and funding payments (paid and received apart)", () => {
    fc.assert(
      fc.property(logs, ({ steps, gap }) => {
        const series = fold(logOf(steps, gap));
        for (const row of series.symbolPnl()) {
          const of = steps.filter((s) => s.kind !== "other" && SYMBOLS[s.symbol] === row.symbol);
          const sum = (xs: string[]) => Dec.sum("0", ...xs);
          const fills = of.filter((s) => s.kind === "fill");
          const liqs = of.filter((s) => s.kind === "liquidation");
          const fees = of.filter((s) => s.kind === "funding").map((s) => s.fee);
          const realized = sum([...fills.map((f) => f.pnl), ...liqs.map((l) => l.pnl)]);
          const paid = sum(fees.filter((f) => f.startsWith("-")).map((f) => f.slice(1)));
          const received = sum(fees.filter((f) => !f.startsWith("-")));
          expect(row.realizedPnl).toBe(realized.toFixed());
          expect(row.fees).toBe(sum(fills.map((f) => f.fee)).toFixed());
          expect(row.liquidationFees).toBe(sum(liqs.map((l) => l.clearance)).toFixed());
          expect(row.fundingPaid).toBe(paid.toFixed());
          expect(row.fundingReceived).toBe(received.toFixed());
          expect(row.netPnl).toBe(
            realized.minus(row.fees).minus(row.liquidationFees).plus(received).minus(paid).toFixed(),
          );
          expect(row.fills).toBe(fills.length);
          expect(row.fundingPayments).toBe(fees.length);
        }
      }),
    );
  });

  it("a market time resolves to the last event in log order whose eventTime is at or before it", () => {
    fc.assert(
      fc.property(logs, fc.integer({ min: -60_000, max: 3_000_000 }), ({ steps, gap }, offset) => {
        const events = logOf(steps, gap);
        const time = T0 + offset;
        const expected = events.filter((e) => e.metadata.eventTime <= time).at(-1)?.position ?? null;
        expect(fold(events).positionAtTime(time)).toBe(expected);
      }),
    );
  });
});
