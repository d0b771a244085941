/**
 * The fast paths compiled from the catalog's schemas (src/events/schema-fast.ts) against zod: whatever one
 * accepts, zod accepts with the same output (values, key order, no key added or dropped); the events of a real
 * backtest, and samples of the types a short backtest does not write, take the fast path; broken events (a key
 * dropped, added or given any value, a value replaced inside, a prototype or a symbol key) never pass where zod
 * refuses.
 */
import fc from "fast-check";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { discoverArchive } from "../src/adapters/market/archive.ts";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { BacktestConfigSchema, windowOf } from "../src/config/schema.ts";
import { executeBacktest } from "../src/engine/backtest.ts";
import { eventSchema, eventTypes, fastPath } from "../src/events/catalog.ts";
import { fastPaths } from "../src/events/catalog-fast.ts";
import { compileFastPath } from "../src/events/schema-fast.ts";
import { requireRealData } from "./support/real-data.ts";

/** Events of the types a short sma-cross backtest does not write (valid data). */
const SAMPLES: { type: string; data: unknown }[] = [
  {
    type: "FactorComputed",
    data: {
      symbol: "FILUSDT",
      strategy: "multifactor-v2",
      paramsVersion: 1,
      barOpenTime: 1_693_526_400_000,
      factors: { fz: -0.25, qty: "12.5", warm: true, chg: null },
    },
  },
  {
    type: "OrderDenied",
    data: {
      clientOrderId: "ps-FILUSDT-3-E",
      symbol: "FILUSDT",
      rule: "maxOrderNotional",
      reason: "the order's notional exceeds the limit",
      numbers: { notional: "1200.5", limit: "1000" },
    },
  },
  {
    type: "TradingStateChanged",
    data: {
      accountId: "main",
      from: "ACTIVE",
      to: "HALTED",
      by: "operator",
      reason: "kill switch",
      numbers: { drawdown: "0.12" },
    },
  },
  {
    type: "VenueReconciled",
    data: {
      accountId: "main",
      trigger: "resync",
      recovered: 2,
      discrepancies: [{ kind: "walletMismatch", detail: "wallet 100 at the venue, 99 booked" }],
    },
  },
];

/** zod's verdict on `data` as `type`, without any fast path. */
function zodParse(type: string, data: unknown): { ok: true; value: unknown } | { ok: false } {
  const r = eventSchema(type)!.safeParse(data);
  return r.success ? { ok: true, value: r.data } : { ok: false };
}

/** The fast path's answer equals zod's: same values and types, same key order everywhere. */
function expectSameAsZod(type: string, data: unknown, fast: unknown): void {
  const zod = zodParse(type, data);
  expect(zod.ok).toBe(true);
  const value = (zod as { value: unknown }).value;
  expect(fast).toStrictEqual(value);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(value));
}

/** `data` broken in one place (or not), at any depth. */
function mutation(data: unknown): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (v: unknown, path: string[]): void => {
    paths.push(path);
    if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(data, []);
  /** A copy of `data` with `change` applied to the object at `at` (nothing when that is not an object). */
  const edit = (at: string[], change: (target: Record<string | symbol, unknown>) => void): unknown => {
    const copy = structuredClone(data);
    let target: unknown = copy;
    for (const k of at) target = (target as Record<string, unknown>)[k];
    if (typeof target === "object" && target !== null) change(target as Record<string | symbol, unknown>);
    return copy;
  };
  const path = fc.constantFrom(...paths);
  const value = fc.oneof(
    fc.anything(),
    fc.constantFrom(
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -1,
      -0,
      2 ** 53,
      1.5,
      0,
      "",
      "1e5",
      " 1",
      null,
      [],
      {},
    ),
  );
  /** A key of the value at `at` (when it has any), or a new one. */
  const keyAt = (at: string[]) => {
    let v: unknown = data;
    for (const k of at) v = (v as Record<string, unknown>)[k];
    const keys = typeof v === "object" && v !== null ? Object.keys(v) : [];
    return keys.length > 0 ? fc.oneof(fc.string(), fc.constantFrom(...keys)) : fc.string();
  };
  return fc.oneof(
    fc.constant(structuredClone(data)),
    path.chain((at) => keyAt(at).map((k) => edit(at, (o) => delete o[k]))),
    fc.tuple(path, value).chain(([at, v]) =>
      keyAt(at).map((k) =>
        edit(at, (o) => {
          o[k] = v;
        }),
      ),
    ),
    path.chain((at) =>
      keyAt(at).map((k) =>
        edit(at, (o) => {
          o[k] = undefined;
        }),
      ),
    ),
    path.map((at) =>
      edit(at, (o) => {
        Object.setPrototypeOf(o, { y: 1 });
      }),
    ),
    path.map((at) =>
      edit(at, (o) => {
        o[Symbol("s")] = 1;
      }),
    ),
  );
}

describe("schema fast paths", () => {
  it("compile for every catalog type but those they do not understand, and not for a refined object", () => {
    const compiled = eventTypes.filter(
      (t) => !fastPaths.has(t) && compileFastPath(eventSchema(t)) !== undefined,
    );
    expect(compiled).toContain("OrderSubmitted");
    expect(compiled).toContain("EntrySignalled");
    expect(compiled).not.toContain("WarmUpRecorded"); // a union of tuples
    expect(compileFastPath(eventSchema("OrderFilled")!.refine(() => true))).toBeUndefined();
  });

  it("samples take the fast path, with zod's output; broken ones pass only where zod accepts", () => {
    for (const { type, data } of SAMPLES) {
      const fast = fastPath(type)!(data);
      expect(fast, type).toBeDefined();
      expectSameAsZod(type, data, fast);
      fc.assert(
        fc.property(mutation(data), (broken) => {
          const mine = fastPath(type)!(broken);
          if (mine !== undefined) expectSameAsZod(type, broken, mine);
        }),
        { numRuns: 300 },
      );
    }
  });

  const root = requireRealData("the compiled fast paths on the events of a real backtest");
  describe.skipIf(!root)("on a real backtest's events (FILUSDT 2023-08-01..10, sma-cross)", () => {
    const events: { type: string; data: unknown }[] = [];
    beforeAll(async () => {
      const config = BacktestConfigSchema.parse({
        symbols: ["FILUSDT"],
        from: "2023-08-01",
        to: "2023-08-10",
      });
      const files = await discoverArchive(root!, { symbols: ["FILUSDT"], ...windowOf(config) });
      const store = new InMemoryEventStore();
      await executeBacktest(config, files, { store, dataRoot: root!, logger: pino({ level: "silent" }) });
      const seen = new Set<string>();
      for await (const e of store.readAll()) {
        if (e.type === "BarClosed" || seen.has(`${e.type}:${events.length % 7}`)) continue;
        seen.add(`${e.type}:${events.length % 7}`);
        events.push({ type: e.type, data: e.data });
      }
    }, 60_000);

    it("every event takes the fast path, with zod's output", () => {
      expect(new Set(events.map((e) => e.type)).size).toBeGreaterThanOrEqual(10);
      for (const { type, data } of events) {
        const fast = fastPath(type)!(data);
        expect(fast, type).toBeDefined();
        expectSameAsZod(type, data, fast);
      }
    });

    it("broken events pass only where zod accepts, with zod's output", () => {
      const event = fc.constantFrom(...events);
      fc.assert(
        fc.property(
          event.chain((e) => mutation(e.data).map((broken) => ({ type: e.type, broken }))),
          ({ type, broken }) => {
            const mine = fastPath(type)!(broken);
            if (mine !== undefined) expectSameAsZod(type, broken, mine);
          },
        ),
        { numRuns: 3000 },
      );
    });
  });
});
