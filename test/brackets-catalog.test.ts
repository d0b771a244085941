import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadLeverageBracketCatalog } from "../src/adapters/leverage-brackets/load.ts";
import { bundledInstrumentCatalog } from "../src/domain/instruments.catalog.ts";
import {
  bundledLeverageBracketCatalog,
  fromBundledLayout,
  UnknownBracketSymbolError,
} from "../src/domain/margin/brackets.catalog.ts";
import {
  BracketFileError,
  binanceSymbolOfCcxtMarket,
  parseBracketFile,
} from "../src/domain/margin/brackets.parse.ts";
import { SPEC_BTC_BRACKETS } from "./support/btc-brackets.ts";
import { requireRealData } from "./support/real-data.ts";

const bundled = bundledLeverageBracketCatalog();
const tmp = () => mkdtempSync(join(tmpdir(), "perpsource-brackets-"));
const write = (name: string, text: string) => {
  const file = join(tmp(), name);
  writeFileSync(file, text);
  return file;
};

/** A raw `GET /fapi/v1/leverageBracket` body as Binance writes it (numbers, not strings). */
const RAW_RESPONSE = `[
{"symbol":"ETHUSDT","notionalCoef":1.50,"brackets":[
 {"bracket":1,"initialLeverage":75,"notionalCap":10000,"notionalFloor":0,"maintMarginRatio":0.0065,"cum":0},
 {"bracket":2,"initialLeverage":50,"notionalCap":50000,"notionalFloor":10000,"maintMarginRatio":0.01,"cum":35.0}]},
{"symbol":"TINYUSDT","brackets":[
 {"bracket":1,"initialLeverage":20,"notionalCap":5000,"notionalFloor":0,"maintMarginRatio":1e-05,"cum":0.0},
 {"bracket":2,"initialLeverage":10,"notionalCap":25000,"notionalFloor":5000,"maintMarginRatio":0.30000000000000001,"cum":1499.95000000000005}]}
]`;

describe("the bundled leverage-bracket snapshot (ccxt tiers of 2026-03-05)", () => {
  it("holds every USDⓈ-M linear perpetual of the capture, dated, with its source", () => {
    expect(bundled.snapshotDate).toBe("2026-03-05");
    expect(bundled.source).toBe("bundled");
    expect(bundled.symbols()).toHaveLength(683);
    expect(bundled.has("BTCUSDC")).toBe(true);
    expect(bundled.has("ETHBTC")).toBe(true); // USDⓈ-M's BTC-quoted perpetual
    expect(bundled.symbols().some((s) => s.includes("-") || s.includes("_"))).toBe(false); // no delivery contract
    expect(bundled.get("BTCUSDT").brackets[0]).toEqual({
      bracket: 1,
      initialLeverage: 150,
      notionalCap: "300000",
      notionalFloor: "0",
      maintMarginRatio: "0.004",
      cum: "0",
    });
  });

  it("every perpetual the bundled exchangeInfo trades has brackets, but the exchange's test symbol", () => {
    const instruments = bundledInstrumentCatalog();
    const missing = instruments
      .symbols()
      .filter(
        (s) => instruments.get(s).contractType === "PERPETUAL" && instruments.get(s).status === "TRADING",
      )
      .filter((s) => !bundled.has(s));
    expect(missing).toEqual(["测试测试USDT"]);
  });

  it("an unknown symbol names the snapshot's date and source", () => {
    expect(() => bundled.get("FOOUSDT")).toThrow(UnknownBracketSymbolError);
    expect(() => bundled.get("FOOUSDT")).toThrow(
      "no leverage brackets for FOOUSDT in the snapshot of 2026-03-05 (bundled); " +
        "refresh with perpsource brackets refresh or pass --brackets FILE",
    );
  });

  it("the compact layout is checked on load: a changed cum fails naming the symbol and bracket", () => {
    const json = JSON.parse(
      readFileSync(new URL("../src/domain/margin/brackets.snapshot.json", import.meta.url), "utf8"),
    );
    json.symbols.BTCUSDT[2][3] = "1501";
    expect(() => fromBundledLayout(json, "edited copy")).toThrow(
      "invalid leverage brackets in edited copy: BTCUSDT bracket 3: cum 1501 ≠ notionalFloor × (MMR − previous MMR) " +
        "+ previous cum = 1500",
    );
  });
});

describe("ccxt market ids → Binance symbols", () => {
  it("keeps linear perpetuals only (settled in their quote asset, no expiry)", () => {
    expect(binanceSymbolOfCcxtMarket("BTC/USDT:USDT")).toBe("BTCUSDT");
    expect(binanceSymbolOfCcxtMarket("1000BONK/USDC:USDC")).toBe("1000BONKUSDC");
    expect(binanceSymbolOfCcxtMarket("BTC/USDT:USDT-260327")).toBeUndefined();
    expect(binanceSymbolOfCcxtMarket("ETH/BTC:BTC")).toBe("ETHBTC");
    expect(binanceSymbolOfCcxtMarket("BTC/USD:BTC")).toBeUndefined();
    expect(binanceSymbolOfCcxtMarket("BTCUSDT")).toBeUndefined();
  });
});

describe("loading a saved bracket file (--brackets FILE)", () => {
  it("a raw Binance response: numbers read exactly (no float on the way), notionalCoef kept, dated by its name", () => {
    const file = write("leverageBracket-2026-06-01.json", RAW_RESPONSE);
    const catalog = loadLeverageBracketCatalog(file);
    expect(catalog.snapshotDate).toBe("2026-06-01");
    expect(catalog.source).toBe(`file ${file}`);
    expect(catalog.get("ETHUSDT")).toMatchObject({
      notionalCoef: "1.5",
      brackets: [{ cum: "0" }, { cum: "35" }],
    });
    // 0.30000000000000001 is not the float 0.3: kept digit for digit, and the cum rule holds exactly with it.
    expect(catalog.get("TINYUSDT").brackets.map((b) => b.maintMarginRatio)).toEqual([
      "0.00001",
      "0.30000000000000001",
    ]);
    expect(catalog.get("TINYUSDT").notionalCoef).toBeUndefined();
  });

  it("a one-symbol response (?symbol=) is one object; a file without a date in its name is undated", () => {
    const one = JSON.stringify({ symbol: "BTCUSDT", brackets: SPEC_BTC_BRACKETS.slice(0, 2) });
    const catalog = loadLeverageBracketCatalog(write("btc.json", one));
    expect(catalog.snapshotDate).toBe("undated");
    expect(catalog.get("BTCUSDT").brackets).toEqual(SPEC_BTC_BRACKETS.slice(0, 2));
  });

  it("a response breaking the cum rule fails naming the file, the symbol and the bracket", () => {
    const file = write("bad.json", RAW_RESPONSE.replace('"cum":35.0', '"cum":36'));
    expect(() => loadLeverageBracketCatalog(file)).toThrow(
      `invalid leverage brackets in file ${file}: ETHUSDT bracket 2: cum 36 ≠ notionalFloor × (MMR − previous MMR) ` +
        "+ previous cum = 35",
    );
  });

  it("a malformed field is named by its JSON path and symbol; bad JSON by line and column", () => {
    const badField = write(
      "bad-field.json",
      RAW_RESPONSE.replace('"notionalCap":10000', '"notionalCap":"ten"'),
    );
    expect(() => loadLeverageBracketCatalog(badField)).toThrow(
      `invalid leverage brackets in file ${badField}: [0] (ETHUSDT).brackets[0].notionalCap: expected a number`,
    );
    const badJson = write("bad-json.json", '[\n{"symbol": }');
    expect(() => loadLeverageBracketCatalog(badJson)).toThrow(
      `invalid leverage brackets in file ${badJson}: line 2 column 12: not valid JSON`,
    );
    expect(() => loadLeverageBracketCatalog(join(tmp(), "absent.json"))).toThrow(BracketFileError);
    expect(() => parseBracketFile({ nothing: 1 }, "x")).toThrow(
      "invalid leverage brackets in x: (root): expected a leverageBracket response: a list of { symbol, brackets }",
    );
    expect(() =>
      parseBracketFile(
        [
          { symbol: "A", brackets: [] },
          { symbol: "A", brackets: [] },
        ],
        "y",
      ),
    ).toThrow("invalid leverage brackets in y: A: no brackets; A: repeated");
  });
});

const root = requireRealData("leverage-bracket files of the shared data");

describe.skipIf(!root)("the shared ccxt leverage-tier files", () => {
  const dir = () => join(root!, "futures", "um", "leverageBracket");

  it("2026-03-05 gives exactly the bundled snapshot", () => {
    const file = loadLeverageBracketCatalog(join(dir(), "leverage-tiers-ccxt-2026-03-05.json"));
    expect(file.snapshotDate).toBe("2026-03-05");
    expect(file.symbols()).toEqual(bundled.symbols());
    for (const s of bundled.symbols()) expect(file.get(s), s).toEqual(bundled.get(s));
  });

  it("2024-10-24 loads (every cum verified) and its BTCUSDT is §4.6's table", () => {
    const file = loadLeverageBracketCatalog(join(dir(), "leverage-tiers-ccxt-2024-10-24.json"));
    expect(file.symbols().length).toBe(345);
    expect(file.get("BTCUSDT").brackets).toEqual(SPEC_BTC_BRACKETS);
  });
});
