/**
 * The catalog's fast paths against its zod schemas: whatever a fast path accepts, zod accepts with the same
 * output (values and key order); valid data takes the fast path; broken data gets zod's EventSchemaError.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EventSchemaError, validateEvent } from "../src/events/catalog.ts";
import { fastPaths, validatedDataJson, validatedMetadataJson } from "../src/events/catalog-fast.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { canonicalEventLine, validatedEventLine } from "../src/events/log-hash.ts";
import { DECIMAL_PATTERN, isDecimalText } from "../src/events/patterns.ts";

const decimal = fc.oneof(
  fc.stringMatching(/^-?\d{1,6}(\.\d{1,8})?$/),
  fc.constantFrom("0", "-0.0", "1e5", "1.", ".5", "", " 1", "1,5", "NaN"),
);
const epoch = fc.oneof(
  fc.nat(),
  fc.constantFrom(-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -0, "1"),
);
const symbol = fc.oneof(
  fc.stringMatching(/^[A-Z0-9]{2,30}$/),
  fc.constantFrom("btcusdt", "B", "BTC-USDT", "A".repeat(31), ""),
);
const BAR_FIELDS = [
  "symbol",
  "interval",
  "openTime",
  "closeTime",
  "open",
  "high",
  "low",
  "close",
  "volume",
] as const;
/** A bar, with or without the optional takerBuyVolume, markPrice, markOpen, markHigh, markLow. */
const bar = fc.record(
  {
    symbol,
    interval: fc.constantFrom("1m", "1m", "5m", 1),
    openTime: epoch,
    closeTime: epoch,
    open: decimal,
    high: decimal,
    low: decimal,
    close: decimal,
    volume: decimal,
    takerBuyVolume: decimal,
    markPrice: decimal,
    markOpen: decimal,
    markHigh: decimal,
    markLow: decimal,
  },
  { requiredKeys: [...BAR_FIELDS] },
);
/** A bar, maybe broken: a field removed, replaced by anything, or an extra field; maybe not an object. */
const candidate = fc.oneof(
  bar,
  fc
    .tuple(
      bar,
      fc.constantFrom(
        "symbol",
        "open",
        "volume",
        "openTime",
        "interval",
        "takerBuyVolume",
        "markPrice",
        "markLow",
      ),
    )
    .map(([b, k]) => {
      const { [k]: _, ...rest } = b as Record<string, unknown>;
      return rest;
    }),
  fc.tuple(bar, fc.string(), fc.anything()).map(([b, k, v]) => ({ ...b, [k]: v })),
  fc.tuple(bar, fc.string()).map(([b, k]) => Object.assign(Object.create({ [k]: 1 }), b)),
  fc.anything(),
);

/** The zod result of BarClosed, bypassing the fast path. */
function zodBarClosed(data: unknown): { ok: true; value: unknown } | { ok: false } {
  const schema = z.strictObject({
    symbol: z.string().regex(/^[A-Z0-9]{2,30}$/),
    interval: z.literal("1m"),
    openTime: z.number().int().nonnegative(),
    closeTime: z.number().int().nonnegative(),
    open: z.string().regex(/^-?\d+(\.\d+)?$/),
    high: z.string().regex(/^-?\d+(\.\d+)?$/),
    low: z.string().regex(/^-?\d+(\.\d+)?$/),
    close: z.string().regex(/^-?\d+(\.\d+)?$/),
    volume: z.string().regex(/^-?\d+(\.\d+)?$/),
    takerBuyVolume: z
      .string()
      .regex(/^-?\d+(\.\d+)?$/)
      .optional(),
    markPrice: z
      .string()
      .regex(/^-?\d+(\.\d+)?$/)
      .optional(),
    markOpen: z
      .string()
      .regex(/^-?\d+(\.\d+)?$/)
      .optional(),
    markHigh: z
      .string()
      .regex(/^-?\d+(\.\d+)?$/)
      .optional(),
    markLow: z
      .string()
      .regex(/^-?\d+(\.\d+)?$/)
      .optional(),
  });
  const r = schema.safeParse(data);
  return r.success ? { ok: true, value: r.data } : { ok: false };
}

describe("catalog fast paths", () => {
  const fast = fastPaths.get("BarClosed")!;

  it("BarClosed: accepts only what zod accepts, with zod's output; valid bars take the fast path", () => {
    fc.assert(
      fc.property(candidate, (data) => {
        const mine = fast(data);
        const theirs = zodBarClosed(data);
        if (mine !== undefined) {
          expect(theirs.ok).toBe(true);
          expect(JSON.stringify(mine)).toBe(JSON.stringify((theirs as { value: unknown }).value));
          expect(mine).toStrictEqual((theirs as { value: unknown }).value);
        } else if (theirs.ok && Object.getPrototypeOf(data) === Object.prototype) {
          throw new Error(`the fast path refused a valid plain bar: ${JSON.stringify(data)}`);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("BarClosed: validateEvent returns zod's output or throws zod's first issue as EventSchemaError", () => {
    fc.assert(
      fc.property(candidate, (data) => {
        const theirs = zodBarClosed(data);
        if (theirs.ok) {
          expect(JSON.stringify(validateEvent("BarClosed", data))).toBe(JSON.stringify(theirs.value));
        } else {
          expect(() => validateEvent("BarClosed", data)).toThrow(EventSchemaError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("keeps the field and zod's message in the error of a broken bar", () => {
    const bar = {
      symbol: "FILUSDT",
      interval: "1m",
      openTime: 0,
      closeTime: 59_999,
      open: "1",
      high: "2",
      low: "0.5",
      close: "1.5",
      volume: "10",
    };
    expect(() => validateEvent("BarClosed", { ...bar, high: "2e3" })).toThrow(
      'event BarClosed is invalid at field "high": expected a decimal string like "123.45"',
    );
    expect(() => validateEvent("BarClosed", { ...bar, symbol: "fil" })).toThrow(
      'event BarClosed is invalid at field "symbol": expected an upper-case symbol like BTCUSDT',
    );
    expect(() => validateEvent("BarClosed", { ...bar, extra: 1 })).toThrow(/BarClosed is invalid at field/);
    expect(() => validateEvent("BarClosed", { ...bar, markPrice: "1e3" })).toThrow(
      'event BarClosed is invalid at field "markPrice": expected a decimal string like "123.45"',
    );
    const marked = { ...bar, markPrice: "1.49" };
    expect(validateEvent("BarClosed", marked)).toEqual(marked);
    expect(validatedDataJson("BarClosed", marked)).toBe(JSON.stringify(marked));
    expect(() => validateEvent("BarClosed", { ...bar, takerBuyVolume: 4 })).toThrow(
      /BarClosed is invalid at field "takerBuyVolume"/,
    );
    // The taker field is kept (not silently dropped) by the fast path and its serializer, in schema order.
    const flow = { ...bar, takerBuyVolume: "4.25", markPrice: "1.49" };
    expect(fastPaths.get("BarClosed")!(flow)).toStrictEqual(flow);
    const reorderedFlow = { markPrice: "1.49", takerBuyVolume: "4.25", ...bar };
    expect(validatedDataJson("BarClosed", validateEvent("BarClosed", reorderedFlow))).toBe(
      JSON.stringify(flow),
    );
    expect(validatedDataJson("BarClosed", validateEvent("BarClosed", bar))).toBe(JSON.stringify(bar));
    const { volume, ...rest } = bar;
    const reordered = { volume, ...rest };
    expect(validateEvent("BarClosed", reordered)).toEqual(bar);
    expect(Object.keys(validateEvent("BarClosed", reordered))).toEqual(Object.keys(bar));
  });

  it("writes validated data, metadata and event lines exactly as JSON.stringify does", () => {
    const metadata = fc.record({
      correlationId: fc.string({ minLength: 1 }),
      causationId: fc.string({ minLength: 1 }),
      eventTime: fc.nat(),
    });
    fc.assert(
      fc.property(
        candidate,
        metadata,
        fc.string({ minLength: 1 }),
        fc.nat(),
        (data, meta, stream, revision) => {
          const theirs = zodBarClosed(data);
          if (!theirs.ok) return;
          const valid = validateEvent("BarClosed", data);
          expect(validatedDataJson("BarClosed", valid)).toBe(JSON.stringify(valid));
          expect(validatedMetadataJson(meta)).toBe(JSON.stringify(meta));
          const e = {
            eventId: "0123abcd-0123-8123-8123-0123abcd0001",
            type: "BarClosed",
            data: valid,
            metadata: meta,
            stream,
            revision,
            position: 1,
          } as RecordedEvent;
          expect(validatedEventLine(e)).toBe(canonicalEventLine(e));
          const other = { ...e, type: "OrderAccepted", data: { clientOrderId: stream, orderId: "1" } };
          expect(validatedEventLine(other as RecordedEvent)).toBe(canonicalEventLine(other as RecordedEvent));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("isDecimalText answers what DECIMAL_PATTERN answers", () => {
    const text = fc.oneof(
      decimal,
      fc.stringMatching(/^[-.0-9]{0,8}$/),
      fc.string({ unit: fc.constantFrom("-", ".", "0", "9", "1", "e", " ", "\u0661", "\uff11", "/", ":") }),
      fc.string(),
    );
    fc.assert(
      fc.property(text, (t) => {
        expect(isDecimalText(t)).toBe(DECIMAL_PATTERN.test(t));
      }),
      { numRuns: 5000 },
    );
  });

  it("an unknown type never takes a fast path", () => {
    expect(() => validateEvent("constructor" as never, {})).toThrow(
      'event constructor is invalid at field "type"',
    );
  });
});
