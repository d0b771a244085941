import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { Dec, decimalsOf } from "../src/domain/decimal.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import {
  checkOrderFilters,
  type FilterOrder,
  getInstrument,
  type Instrument,
} from "../src/domain/instruments.ts";
import { toScaledUnits } from "../src/domain/scaled-units.ts";
import { requireRealData } from "./support/real-data.ts";

const SYMBOLS = [
  "BTCUSDT",
  "ETHUSDT",
  "SOLUSDT",
  "BNBUSDT",
  "XRPUSDT",
  "FILUSDT",
  "NEARUSDT",
  "ALGOUSDT",
  "AVAXUSDT",
  "DOTUSDT",
];

const codes = (instrument: Instrument, order: Partial<FilterOrder>) =>
  checkOrderFilters(instrument, {
    type: "MARKET",
    quantity: "1",
    markPrice: "100",
    reduceOnly: false,
    ...order,
  }).map((v) => `${v.filter}:${v.code}`);

describe("bundled instruments", () => {
  it("holds the ten original symbols among the snapshot's and names the snapshot for others", () => {
    const catalog = bundledInstrumentCatalog();
    for (const symbol of SYMBOLS) expect(getInstrument(symbol).symbol).toBe(symbol);
    expect(catalog.symbols()).toEqual(expect.arrayContaining(SYMBOLS));
    expect(() => getInstrument("FOOUSDT")).toThrow(
      "unknown symbol FOOUSDT in the exchangeInfo snapshot of 2025-12-24 (bundled); " +
        "refresh with perpsource instruments refresh or pass --instruments FILE",
    );
    expect(() => getInstrument("toString")).toThrow(/unknown symbol toString/);
  });

  it("keeps the real exchangeInfo strings (BTCUSDT tick 0.10, min notional 100)", () => {
    const btc = getInstrument("BTCUSDT");
    expect([btc.tickSize, btc.minPrice, btc.stepSize, btc.marketMaxQty, btc.minNotional]).toEqual([
      "0.10",
      "261.10",
      "0.001",
      "1000",
      "100",
    ]);
    expect(getInstrument("SOLUSDT").stepSize).toBe("1");
    expect(getInstrument("BNBUSDT").tickSize).toBe("0.010");
  });

  it("changed from the 2025-10-29 ten-symbol capture only where Binance lowered minPrice", () => {
    // 2025-10-29 → 2025-12-24: FILUSDT 1.381 → 0.001, ALGOUSDT 0.0141 → 0.0001, DOTUSDT 0.373 → 0.001;
    // MAX_NUM_ALGO_ORDERS (10) is gone from every symbol (binance-usdm.md §1.2).
    expect(["FILUSDT", "ALGOUSDT", "DOTUSDT"].map((s) => getInstrument(s).minPrice)).toEqual([
      "0.001",
      "0.0001",
      "0.001",
    ]);
    expect(SYMBOLS.map((s) => getInstrument(s).maxNumAlgoOrders)).toEqual(SYMBOLS.map(() => null));
  });

  it.each(SYMBOLS)(
    "%s: serialising at the tick/step scale never exceeds price/quantity precision",
    (symbol) => {
      const i = getInstrument(symbol);
      expect(decimalsOf(i.tickSize)).toBeLessThanOrEqual(i.pricePrecision);
      expect(decimalsOf(i.stepSize)).toBeLessThanOrEqual(i.quantityPrecision);
      expect(decimalsOf(i.marketStepSize)).toBeLessThanOrEqual(i.quantityPrecision);
      expect(new Dec(i.minPrice).mod(i.tickSize).isZero()).toBe(true);
      expect(new Dec(i.minQty).mod(i.stepSize).isZero()).toBe(true);
      expect(new Dec(i.marketMinQty).mod(i.marketStepSize).isZero()).toBe(true);
    },
  );
});

describe("checkOrderFilters (binance-usdm.md §1.2)", () => {
  const btc = getInstrument("BTCUSDT");

  it("accepts a valid MARKET order", () => {
    expect(codes(btc, { quantity: "0.010", markPrice: "95000.0" })).toEqual([]);
  });

  it("values MARKET orders at the mark price for MIN_NOTIONAL; reduce-only is exempt", () => {
    expect(codes(btc, { quantity: "0.001", markPrice: "95000" })).toEqual(["MIN_NOTIONAL:-4164"]);
    expect(codes(btc, { quantity: "0.001", markPrice: "100000" })).toEqual([]);
    expect(codes(btc, { quantity: "0.001", markPrice: "95000", reduceOnly: true })).toEqual([]);
  });

  it("checks quantity sign, precision, both lot filters and the step", () => {
    expect(codes(btc, { quantity: "0", reduceOnly: true })).toEqual(["LOT_SIZE:-4003"]);
    expect(codes(btc, { quantity: "0.0005", reduceOnly: true })).toEqual([
      "quantityPrecision:-1111",
      "LOT_SIZE:-4004",
      "MARKET_LOT_SIZE:-4004",
    ]);
    expect(codes(btc, { quantity: "1000.001" })).toEqual(["LOT_SIZE:-4005", "MARKET_LOT_SIZE:-4005"]);
    const odd: Instrument = { ...btc, stepSize: "0.002", marketStepSize: "0.002" };
    expect(codes(odd, { quantity: "0.004", markPrice: "100000" })).toEqual([
      "LOT_SIZE:-4023",
      "MARKET_LOT_SIZE:-4023",
    ]);
    // BNBUSDT: MARKET_LOT_SIZE.maxQty 100000 but LOT_SIZE.maxQty 10000 — both are enforced.
    expect(codes(getInstrument("BNBUSDT"), { quantity: "20000", markPrice: "600" })).toEqual([
      "LOT_SIZE:-4005",
    ]);
  });

  it("checks the trigger price of conditional orders against PRICE_FILTER", () => {
    const stop = (triggerPrice?: string) =>
      codes(btc, {
        type: "STOP_MARKET",
        quantity: "0.010",
        markPrice: "95000",
        reduceOnly: true,
        triggerPrice,
      });
    expect(stop("94000.10")).toEqual([]);
    expect(stop(undefined)).toEqual(["triggerPrice:-1102"]);
    expect(stop("94000.05")).toEqual(["PRICE_FILTER:-4014"]);
    expect(stop("94000.123")).toEqual(["pricePrecision:-1111", "PRICE_FILTER:-4014"]);
    expect(stop("200")).toEqual(["PRICE_FILTER:-4013"]);
    expect(stop("900000")).toEqual(["PRICE_FILTER:-4007"]);
    expect(stop("0")).toEqual(["PRICE_FILTER:-4006"]);
    expect(stop("-1")).toEqual(["PRICE_FILTER:-4006"]);
  });

  it("names the instrument rule in each message and throws on malformed strings", () => {
    const [v] = checkOrderFilters(btc, {
      type: "MARKET",
      quantity: "0.001",
      markPrice: "95000",
      reduceOnly: false,
    });
    expect(v?.message).toBe("notional 95 (quantity × markPrice) < 100 and not reduceOnly");
    expect(() => codes(btc, { quantity: "1e-3" })).toThrow(/quantity: expected a decimal string/);
  });
});

const root = requireRealData("bundled tick sizes vs the shared 1m klines");

describe.skipIf(!root)("bundled tick sizes against real klines", () => {
  const klineFiles = (): { symbol: string; path: string }[] => {
    const out: { symbol: string; path: string }[] = [];
    for (const layout of ["monthly", "ohlcv"]) {
      const base = join(root!, "futures", "um", layout, "klines");
      for (const symbol of readdirSync(base)) {
        for (const file of readdirSync(join(base, symbol, "1m")))
          out.push({ symbol, path: join(base, symbol, "1m", file) });
      }
    }
    return out;
  };

  it("every close in every file is on the bundled tick grid", () => {
    const files = klineFiles();
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const { symbol, path } of files) {
      const instrument = getInstrument(symbol);
      const scale = decimalsOf(instrument.tickSize);
      const tickUnits = toScaledUnits(instrument.tickSize, scale);
      const rows: string[][] = parse(readFileSync(path), { fromLine: 2 }); // open_time,open,high,low,close,…
      expect(rows.length, path).toBeGreaterThan(10_000);
      const offGrid = rows.filter((r) => toScaledUnits(r[4]!, scale, `${path} close`) % tickUnits !== 0);
      expect(offGrid, path).toEqual([]);
    }
  });
});
