import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadInstrumentCatalog } from "../src/adapters/exchange-info/load.ts";
import { Dec, decimalsOf, floorToStep, formatAtScale, roundToTick } from "../src/domain/decimal.ts";
import { bundledInstrumentCatalog, InstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import { type ExchangeInfoError, trimExchangeInfo } from "../src/domain/instruments.exchange-info.ts";
import { checkOrderFilters, getInstrument, type Instrument } from "../src/domain/instruments.ts";
import { requireRealData } from "./support/real-data.ts";

const BUNDLED_JSON = new URL("../src/domain/instruments.snapshot.json", import.meta.url);
const bundledJson = () =>
  JSON.parse(readFileSync(BUNDLED_JSON, "utf8")) as {
    serverTime: number;
    symbols: Record<string, unknown>[];
  };

const bundled = bundledInstrumentCatalog();
const perpetuals = bundled.symbols().filter((s) => bundled.get(s).contractType === "PERPETUAL");
const positive = (value: string) => new Dec(value).gt(0);

describe("the bundled exchangeInfo snapshot (2025-12-24)", () => {
  it("lists every USDⓈ-M symbol of the capture, with its date and rate limits", () => {
    expect(bundled.snapshotDate).toBe("2025-12-24");
    expect(bundled.serverTime).toBe(1_766_562_549_558);
    expect(bundled.symbols()).toHaveLength(660);
    expect(perpetuals).toHaveLength(648);
    expect(bundled.rateLimits).toContainEqual({
      rateLimitType: "REQUEST_WEIGHT",
      interval: "MINUTE",
      intervalNum: 1,
      limit: 6000,
    });
    expect(bundled.has("DOGEUSDT")).toBe(true);
    expect(bundled.has("BTCUSDT_260327")).toBe(true); // delivery contracts are listed too
    expect(bundled.has("FOOUSDT")).toBe(false);
  });

  it("every PERPETUAL parses with positive tick, step, minQty and minNotional, but two sent as 0", () => {
    const zero: string[] = [];
    for (const symbol of perpetuals) {
      const i = bundled.get(symbol);
      for (const field of ["tickSize", "stepSize", "minQty", "marketStepSize", "minNotional"] as const) {
        if (!positive(i[field])) zero.push(`${symbol}.${field}=${i[field]} (${i.status})`);
      }
      expect(decimalsOf(i.tickSize), symbol).toBeLessThanOrEqual(i.pricePrecision);
      expect(decimalsOf(i.stepSize), symbol).toBeLessThanOrEqual(i.quantityPrecision);
      expect(i.orderTypes, symbol).toContain("MARKET");
      expect(i.baseAsset.length > 0 && i.marginAsset === i.quoteAsset, symbol).toBe(true);
    }
    // binance-usdm.md §1.2: a filter field equal to 0 disables that part of the rule.
    expect(zero).toEqual(["TUSDT.minQty=0 (TRADING)", "OPENUSDT.tickSize=0 (PENDING_TRADING)"]);
  });

  it("keeps what the execution and risk engines need (PERCENT_PRICE, order limits, bounds, order rules)", () => {
    const sol = getInstrument("SOLUSDT");
    expect(sol).toMatchObject({
      status: "TRADING",
      baseAsset: "SOL",
      onboardDate: 1_569_398_400_000,
      multiplierUp: "1.0500",
      multiplierDown: "0.9500",
      multiplierDecimal: "4",
      maxNumOrders: 200,
      maxNumAlgoOrders: null,
      marketTakeBound: "0.10",
      triggerProtect: "0.0005",
      timeInForce: ["GTC", "IOC", "FOK", "GTX", "GTD"],
    });
    expect(getInstrument("币安人生USDT").quoteAsset).toBe("USDT");
  });
});

/** A decimal in [lo, hi] with up to 12 decimals, as a string. */
const decimalIn = (lo: Dec, hi: Dec) =>
  fc.bigInt({ min: 0n, max: 10n ** 12n }).map((n) => {
    const fraction = new Dec(n.toString()).div(new Dec(10).pow(12));
    return lo.plus(hi.minus(lo).times(fraction)).toDecimalPlaces(12).toFixed();
  });

const codesOf = (instrument: Instrument, order: Parameters<typeof checkOrderFilters>[1], filters: string[]) =>
  checkOrderFilters(instrument, order)
    .filter((v) => filters.includes(v.filter))
    .map((v) => `${v.filter}:${v.code}`);

describe("rounding helpers agree with each symbol's filters (binance-usdm.md §1.3)", () => {
  const tradable = perpetuals.filter((s) => {
    const i = bundled.get(s);
    return positive(i.tickSize) && positive(i.stepSize) && positive(i.minQty);
  });

  it("a quantity floored to the step passes LOT_SIZE, MARKET_LOT_SIZE and quantityPrecision", () => {
    const input = fc.constantFrom(...tradable).chain((symbol) => {
      const i = bundled.get(symbol);
      const max = Dec.min(new Dec(i.maxQty), new Dec(i.marketMaxQty));
      return fc.tuple(fc.constant(i), decimalIn(new Dec(i.minQty), max));
    });
    fc.assert(
      fc.property(input, ([i, raw]) => {
        const floored = floorToStep(raw, i.stepSize, i.minQty);
        expect(floored.lte(raw) && new Dec(raw).minus(floored).lt(i.stepSize)).toBe(true);
        const quantity = formatAtScale(floored, i.stepSize);
        const order = { type: "MARKET", quantity, markPrice: i.maxPrice, reduceOnly: true } as const;
        expect(codesOf(i, order, ["LOT_SIZE", "MARKET_LOT_SIZE", "quantityPrecision"])).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it("a trigger price rounded to the tick either way passes PRICE_FILTER and pricePrecision", () => {
    const input = fc.constantFrom(...tradable).chain((symbol) => {
      const i = bundled.get(symbol);
      // Inside [minPrice, maxPrice − tick] so that rounding up stays within maxPrice.
      const hi = new Dec(i.maxPrice).minus(i.tickSize);
      return fc.tuple(fc.constant(i), decimalIn(new Dec(i.minPrice), hi), fc.constantFrom("floor", "ceil"));
    });
    fc.assert(
      fc.property(input, ([i, raw, mode]) => {
        const rounded = roundToTick(raw, i.tickSize, mode as "floor" | "ceil", i.minPrice);
        const distance = rounded.minus(raw);
        expect(mode === "floor" ? distance.lte(0) : distance.gte(0)).toBe(true);
        expect(distance.abs().lt(i.tickSize)).toBe(true);
        const order = {
          type: "STOP_MARKET",
          quantity: i.minQty,
          triggerPrice: formatAtScale(rounded, i.tickSize),
          markPrice: raw,
          reduceOnly: true,
        } as const;
        expect(codesOf(i, order, ["PRICE_FILTER", "pricePrecision"])).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});

describe("InstrumentCatalog validation", () => {
  const write = (json: unknown) => {
    const path = join(mkdtempSync(join(tmpdir(), "perpsource-ei-")), "exchangeInfo.json");
    writeFileSync(path, typeof json === "string" ? json : JSON.stringify(json));
    return path;
  };

  it("a bad field is named by its file and JSON path, with the symbol", () => {
    const json = bundledJson();
    (json.symbols[1]!["filters"] as Record<string, unknown>[])[0]!["tickSize"] = 0.01;
    const path = write(json);
    expect(() => loadInstrumentCatalog(path)).toThrow(
      `invalid exchangeInfo in file ${path}: symbols[1] (ETHUSDT).filters[0].tickSize: ` +
        'expected a decimal string such as "0.10"',
    );
  });

  it("a missing filter, a repeated symbol and a missing list are errors, not holes", () => {
    const problems = (json: unknown) => {
      try {
        InstrumentCatalog.fromExchangeInfo(json, "test");
      } catch (e) {
        return (e as ExchangeInfoError).problems;
      }
    };
    const noMinNotional = bundledJson();
    const btc = noMinNotional.symbols[0]!;
    btc["filters"] = (btc["filters"] as { filterType: string }[]).filter(
      (f) => f.filterType !== "MIN_NOTIONAL",
    );
    expect(problems(noMinNotional)).toEqual(["symbols[0] (BTCUSDT).filters: no MIN_NOTIONAL filter"]);

    const repeated = bundledJson();
    repeated.symbols[2] = { ...repeated.symbols[3]! };
    expect(problems(repeated)).toEqual([`symbols[3] (${repeated.symbols[3]!["symbol"]}).symbol: repeated`]);

    expect(() => InstrumentCatalog.fromExchangeInfo({ serverTime: 1, rateLimits: [] }, "x")).toThrow(
      "invalid exchangeInfo in x: symbols: expected a list of symbols",
    );
  });

  it("a file that is not JSON is named with the line and column", () => {
    const path = write('{\n  "serverTime": 1,\n  symbols: []\n}');
    expect(() => loadInstrumentCatalog(path)).toThrow(
      new RegExp(`^invalid exchangeInfo in file ${path}: line 3 column 3: not valid JSON`),
    );
    expect(() => loadInstrumentCatalog(join(tmpdir(), "no-such-exchangeInfo.json"))).toThrow(
      /no-such-exchangeInfo.json: cannot read it: ENOENT/,
    );
  });
});

const root = requireRealData("the shared raw exchangeInfo responses");

describe.skipIf(!root)("the shared raw exchangeInfo responses", () => {
  const file = (date: string) => join(root!, "futures", "um", "exchangeInfo", `exchangeInfo-${date}.json`);

  it.each([
    ["2025-01-09", 410, 405],
    ["2025-10-29", 632, 624],
    ["2025-12-24", 660, 648],
  ])("exchangeInfo-%s.json loads: %i symbols, %i perpetuals, dated by its serverTime", (date, n, perps) => {
    const catalog = loadInstrumentCatalog(file(date));
    expect(catalog.snapshotDate).toBe(date);
    expect(catalog.source).toBe(`file ${file(date)}`);
    expect(catalog.symbols()).toHaveLength(n);
    expect(catalog.symbols().filter((s) => catalog.get(s).contractType === "PERPETUAL")).toHaveLength(perps);
  });

  it("the bundled copy gives exactly the instruments of the raw 2025-12-24 response", () => {
    const raw = loadInstrumentCatalog(file("2025-12-24"));
    expect(raw.symbols()).toEqual(bundled.symbols());
    for (const symbol of raw.symbols()) expect(raw.get(symbol)).toEqual(bundled.get(symbol));
    expect(raw.rateLimits).toEqual(bundled.rateLimits);
    const trimmed = trimExchangeInfo(JSON.parse(readFileSync(file("2025-12-24"), "utf8")));
    expect(trimmed).toMatchObject({ serverTime: bundledJson().serverTime, symbols: bundledJson().symbols });
  });

  it("SOLUSDT's tick: 0.1000 on 2025-01-09, 0.0100 since; none is 0.001", () => {
    const ticks = ["2025-01-09", "2025-10-29", "2025-12-24"].map(
      (d) => loadInstrumentCatalog(file(d)).get("SOLUSDT").tickSize,
    );
    expect(ticks).toEqual(["0.1000", "0.0100", "0.0100"]);
  });
});
