import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SIMULATED_VENUE_DEFAULTS } from "../src/adapters/venue/simulated/venue.ts";
import { ConfigError, type ConfigSources, loadConfig } from "../src/config/load.ts";
import { AppConfigSchema, BacktestConfigSchema, windowOf } from "../src/config/schema.ts";

const DAY_MS = 86_400_000;

/** A fresh cwd, optionally holding perpsource.config.json with `file` (an object, or raw text). */
function cwdWith(file?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-config-"));
  if (file !== undefined) {
    writeFileSync(
      join(dir, "perpsource.config.json"),
      typeof file === "string" ? file : JSON.stringify(file),
    );
  }
  return dir;
}

function load(sources: Partial<ConfigSources> & { cwd: string }) {
  return loadConfig({ env: {}, flags: {}, ...sources });
}

function configError(sources: Partial<ConfigSources> & { cwd: string }): string {
  try {
    load(sources);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  it("are the documented ones, with dataRoot resolved against cwd", () => {
    const cwd = cwdWith();
    expect(load({ cwd })).toEqual({
      dataRoot: join(cwd, "data"),
      store: "sqlite:var/perpsource.sqlite",
      http: { host: "127.0.0.1", port: 8080 },
      logLevel: "info",
      backtest: {
        strategy: "sma-cross",
        symbols: ["BTCUSDT", "ETHUSDT"],
        from: "2025-05-05",
        to: "2025-06-24",
        accountId: "main",
        initialBalance: "10000",
        feeRates: { maker: "0.0002", taker: "0.0005" },
        slippage: "0.0001",
        smaCross: {
          smaShort: 21,
          smaLong: 200,
          pivotLookback: 30,
          tpSlRatio: "3",
          cooldownBars: 15,
          marginUsdt: "1000",
          leverage: 10,
          marginType: "ISOLATED",
        },
        risk: { priceBand: "0.1", orderRate: { orders: 100, windowMs: 1000 }, dailyLossAction: "REDUCING" },
        venue: {
          intrabarPath: "stopFirst",
          limitFillRule: "through",
          submitLatencyMs: 0,
          triggerLatencyMs: 0,
        },
      },
      live: { onStop: "keep", reconcileMinutes: 30 },
      archive: { baseUrl: "https://data.binance.vision", fetchOnStart: true },
      alerts: {
        rejectionBurst: { count: 5, windowMs: 60_000 },
        streamDownMs: 60_000,
        drawdownThresholds: ["0.05", "0.1", "0.2"],
        marginCallRatio: "0.8",
        dedupeMs: 300_000,
        ratePerMinute: 20,
        queueSize: 1_000,
      },
    });
  });

  it("of the venue are the simulated venue's own", () => {
    const { participationRate: _none, ...venue } = load({ cwd: cwdWith() }).backtest.venue;
    const { makerRate: _rate, maxOpenConditionalOrders: _max, ...defaults } = SIMULATED_VENUE_DEFAULTS;
    expect(venue).toEqual(defaults);
    expect(_none).toBeUndefined();
  });

  it("fill a partial backtest config", () => {
    const cfg = BacktestConfigSchema.parse({ symbols: ["SOLUSDT"], smaCross: { leverage: 5 } });
    expect(cfg.symbols).toEqual(["SOLUSDT"]);
    expect(cfg.smaCross).toMatchObject({ leverage: 5, smaShort: 21, marginType: "ISOLATED" });
    expect(cfg.feeRates).toEqual({ maker: "0.0002", taker: "0.0005" });
  });
});

describe("precedence: default < file < env < flag", () => {
  it("takes each key from the highest layer that sets it", () => {
    const cwd = cwdWith({
      http: { port: 9001, host: "0.0.0.0" },
      logLevel: "warn",
      backtest: { slippage: "0.0003" },
    });
    const cfg = load({
      cwd,
      env: { PERPSOURCE_PORT: "9002", PERPSOURCE_LOG_LEVEL: "error", PERPSOURCE_DATA: "/srv/data" },
      flags: { port: "9003", slippage: "0.0004", symbols: "solusdt, bnbusdt", leverage: "20" },
    });
    expect(cfg.http).toEqual({ host: "0.0.0.0", port: 9003 });
    expect(cfg.logLevel).toBe("error");
    expect(cfg.dataRoot).toBe("/srv/data");
    expect(cfg.backtest.slippage).toBe("0.0004");
    expect(cfg.backtest.symbols).toEqual(["SOLUSDT", "BNBUSDT"]);
    expect(cfg.backtest.smaCross.leverage).toBe(20);
    expect(cfg.backtest.smaCross.marginUsdt).toBe("1000");
  });

  it("holds for any combination of layers setting http.port", () => {
    const port = fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined });
    fc.assert(
      fc.property(port, port, port, (inFile, inEnv, inFlag) => {
        const cwd = cwdWith(inFile === undefined ? undefined : { http: { port: inFile } });
        const cfg = load({
          cwd,
          env: { PERPSOURCE_PORT: inEnv === undefined ? undefined : String(inEnv) },
          flags: { port: inFlag === undefined ? undefined : String(inFlag) },
        });
        expect(cfg.http.port).toBe(inFlag ?? inEnv ?? inFile ?? 8080);
      }),
      { numRuns: 40 },
    );
  });

  it("reads --config before PERPSOURCE_CONFIG before ./perpsource.config.json", () => {
    const cwd = cwdWith({ store: "sqlite:cwd.sqlite" });
    writeFileSync(join(cwd, "env.json"), JSON.stringify({ store: "sqlite:env.sqlite" }));
    writeFileSync(join(cwd, "flag.json"), JSON.stringify({ store: "sqlite:flag.sqlite" }));
    expect(load({ cwd }).store).toBe("sqlite:cwd.sqlite");
    expect(load({ cwd, env: { PERPSOURCE_CONFIG: "env.json" } }).store).toBe("sqlite:env.sqlite");
    expect(load({ cwd, file: "flag.json", env: { PERPSOURCE_CONFIG: "env.json" } }).store).toBe(
      "sqlite:flag.sqlite",
    );
  });

  it("treats empty environment variables as unset and --log-level as stronger than --verbose", () => {
    const cwd = cwdWith();
    expect(load({ cwd, env: { PERPSOURCE_PORT: "" } }).http.port).toBe(8080);
    expect(load({ cwd, flags: { verbose: true } }).logLevel).toBe("debug");
    expect(load({ cwd, flags: { verbose: true, logLevel: "trace" } }).logLevel).toBe("trace");
  });
});

describe("errors name the key and its source", () => {
  it("http.port 0 (any free port) from every layer; a negative port is named", () => {
    expect(load({ cwd: cwdWith({ http: { port: 0 } }) }).http.port).toBe(0);
    expect(load({ cwd: cwdWith(), env: { PERPSOURCE_PORT: "0" } }).http.port).toBe(0);
    expect(load({ cwd: cwdWith(), flags: { serve: "0" } }).http.port).toBe(0);
    expect(configError({ cwd: cwdWith(), flags: { port: "-1" } })).toBe(
      "invalid config: http.port (from flag --port): expected an integer port 0–65535 (0: any free port)",
    );
  });

  it("archive: base URL from the file, PERPSOURCE_ARCHIVE_URL or --archive-url; --no-fetch turns fetching off", () => {
    const cwd = cwdWith({ archive: { baseUrl: "http://mirror.example:8000" } });
    expect(load({ cwd }).archive).toEqual({ baseUrl: "http://mirror.example:8000", fetchOnStart: true });
    expect(load({ cwd, env: { PERPSOURCE_ARCHIVE_URL: "http://127.0.0.1:9" } }).archive.baseUrl).toBe(
      "http://127.0.0.1:9",
    );
    expect(load({ cwd, flags: { archiveUrl: "https://a.example" } }).archive.baseUrl).toBe(
      "https://a.example",
    );
    // commander passes fetch: true unless --no-fetch: only false is a setting, and it beats the file.
    const off = cwdWith({ archive: { fetchOnStart: false } });
    expect(load({ cwd: off, flags: { fetch: true } }).archive.fetchOnStart).toBe(false);
    expect(load({ cwd, flags: { fetch: false } }).archive.fetchOnStart).toBe(false);
    expect(configError({ cwd, env: { PERPSOURCE_ARCHIVE_URL: "ftp://x" } })).toBe(
      'invalid config: archive.baseUrl (from env PERPSOURCE_ARCHIVE_URL): expected an http(s) URL such as "https://data.binance.vision"',
    );
  });

  it("bad port in env", () => {
    expect(configError({ cwd: cwdWith(), env: { PERPSOURCE_PORT: "80x" } })).toBe(
      "invalid config: http.port (from env PERPSOURCE_PORT): expected an integer port 0–65535 (0: any free port)",
    );
    expect(configError({ cwd: cwdWith(), env: { PERPSOURCE_PORT: "70000" } })).toContain(
      "http.port (from env PERPSOURCE_PORT)",
    );
  });

  it("bad decimal flag", () => {
    for (const slippage of ["1e-4", "-0.0001", "1.5", "abc", ".5"]) {
      expect(configError({ cwd: cwdWith(), flags: { slippage } })).toBe(
        'invalid config: backtest.slippage (from flag --slippage): expected a decimal ratio such as "0.0001"',
      );
    }
    expect(configError({ cwd: cwdWith(), flags: { balance: "0" } })).toBe(
      'invalid config: backtest.initialBalance (from flag --balance): expected a positive USDT amount such as "10000"',
    );
  });

  it("live.onStop: keep by default, cancel from the file or --on-stop, anything else named", () => {
    expect(loadConfig({ cwd: cwdWith(), env: {}, flags: {} }).live.onStop).toBe("keep");
    expect(loadConfig({ cwd: cwdWith({ live: { onStop: "cancel" } }), env: {}, flags: {} }).live.onStop).toBe(
      "cancel",
    );
    expect(loadConfig({ cwd: cwdWith(), env: {}, flags: { onStop: "cancel" } }).live.onStop).toBe("cancel");
    expect(configError({ cwd: cwdWith(), flags: { onStop: "flatten" } })).toBe(
      "invalid config: live.onStop (from flag --on-stop): expected keep or cancel",
    );
  });

  it("unknown key in the file", () => {
    const cwd = cwdWith({ backtest: { smaCros: { smaShort: 9 } }, htpp: {} });
    const message = configError({ cwd });
    const file = join(cwd, "perpsource.config.json");
    expect(message).toContain(`backtest.smaCros (from file ${file}): unknown key`);
    expect(message).toContain(`htpp (from file ${file}): unknown key`);
  });

  it("a number where the file needs a decimal string", () => {
    const cwd = cwdWith({ backtest: { feeRates: { taker: 0.0005 } } });
    expect(configError({ cwd })).toContain(
      `backtest.feeRates.taker (from file ${join(cwd, "perpsource.config.json")}): expected a decimal ratio such as "0.0005"`,
    );
  });

  it("bad JSON names the file", () => {
    const cwd = cwdWith('{ "store": "sqlite:x.sqlite", }');
    expect(configError({ cwd })).toMatch(
      new RegExp(`^invalid config: config file ${join(cwd, "perpsource.config.json")} is not valid JSON: `),
    );
  });

  it("a missing --config file names the flag", () => {
    const cwd = cwdWith();
    expect(configError({ cwd, file: "nope.json" })).toContain(
      `cannot read config file ${join(cwd, "nope.json")} (from flag --config)`,
    );
  });

  it("from after to", () => {
    expect(configError({ cwd: cwdWith(), flags: { from: "2025-07-01" } })).toBe(
      "invalid config: backtest.from (from flag --from): must be on or before backtest.to (2025-06-24)",
    );
    const cwd = cwdWith({ backtest: { from: "2025-06-10" } });
    expect(configError({ cwd, flags: { to: "2025-06-09" } })).toContain(
      `backtest.from (from file ${join(cwd, "perpsource.config.json")}): must be on or before backtest.to (2025-06-09)`,
    );
  });

  it("bad dates", () => {
    for (const to of ["2025-13-01", "2025-02-29", "2025-6-01", "20250601", "2025-06-31"]) {
      expect(configError({ cwd: cwdWith(), flags: { to } })).toBe(
        'invalid config: backtest.to (from flag --to): expected a UTC date YYYY-MM-DD such as "2025-05-05"',
      );
    }
    expect(load({ cwd: cwdWith(), flags: { from: "2024-02-29", to: "2024-02-29" } }).backtest.to).toBe(
      "2024-02-29",
    );
  });

  it('symbols "ALL": from a flag (any case), a file\'s string or one-element list; alone; refused by a live run', () => {
    expect(load({ cwd: cwdWith(), flags: { symbols: "all" } }).backtest.symbols).toBe("ALL");
    expect(load({ cwd: cwdWith({ backtest: { symbols: "ALL" } }) }).backtest.symbols).toBe("ALL");
    expect(load({ cwd: cwdWith({ backtest: { symbols: ["ALL"] } }) }).backtest.symbols).toBe("ALL");
    expect(configError({ cwd: cwdWith(), flags: { symbols: "ALL,BTCUSDT" } })).toBe(
      'invalid config: backtest.symbols (from flag --symbols): expected "ALL" alone (it stands for every symbol ' +
        "with data) or a list of symbols",
    );
    const file = cwdWith({ backtest: { symbols: "all" } });
    expect(configError({ cwd: file })).toBe(
      `invalid config: backtest.symbols (from file ${join(file, "perpsource.config.json")}): expected a list of ` +
        'symbols such as ["BTCUSDT"], or "ALL"',
    );
    // A recorded run's configuration lists its symbols.
    expect(BacktestConfigSchema.safeParse({ symbols: ["ALL"] }).success).toBe(false);

    const live = cwdWith({ backtest: { symbols: ["ALL"] } });
    expect(configError({ cwd: live, listedSymbolsFor: "run --mode testnet" })).toBe(
      `invalid config: backtest.symbols (from file ${join(live, "perpsource.config.json")}): "ALL" (--symbols ALL) ` +
        "is for backtests only: in run --mode testnet the universe would be a venue query (the exchange's TRADING " +
        "USDT perpetuals), which perpsource does not make; list the symbols, e.g. --symbols BTCUSDT,ETHUSDT",
    );
    expect(
      load({ cwd: live, flags: { symbols: "BTCUSDT" }, listedSymbolsFor: "run --mode paper" }).backtest
        .symbols,
    ).toEqual(["BTCUSDT"]);
  });

  it("bad symbols, leverage and strategy", () => {
    const cwd = cwdWith();
    expect(configError({ cwd, flags: { symbols: "BTCUSDT,btcusdt" } })).toBe(
      "invalid config: backtest.symbols (from flag --symbols): expected each symbol once, BTCUSDT is repeated",
    );
    expect(configError({ cwd, flags: { symbols: "BTC-USDT" } })).toBe(
      'invalid config: backtest.symbols[0] (from flag --symbols): expected an upper-case symbol such as "BTCUSDT"',
    );
    expect(configError({ cwd, flags: { leverage: "126" } })).toBe(
      "invalid config: backtest.smaCross.leverage (from flag --leverage): expected an integer leverage 1–125",
    );
    expect(configError({ cwd, flags: { strategy: "rsi" } })).toBe(
      "invalid config: backtest.strategy (from flag --strategy): expected one of multifactor-v2, sma-cross",
    );
    // sma-cross's flags do not silently set a parameter the chosen strategy never reads.
    expect(configError({ cwd, flags: { strategy: "multifactor-v2", leverage: "3" } })).toBe(
      "invalid config: flag --leverage sets backtest.smaCross.leverage, a parameter of another strategy than " +
        "multifactor-v2: set its parameters under backtest.multifactor in the config file",
    );
  });

  it("risk limits from flags, off switches, and errors naming the key and the flag", () => {
    const cwd = cwdWith();
    const cfg = load({
      cwd,
      flags: {
        maxDrawdown: "0.15",
        dailyLossLimit: "250.5",
        dailyLossAction: "HALTED",
        maxLeverage: "3",
        maxOpenPositions: "2",
        maxOrderNotional: "5000",
        orderRate: "10/60000",
        priceBand: "off",
      },
    });
    expect(cfg.backtest.risk).toEqual({
      maxDrawdown: "0.15",
      dailyLossLimit: "250.5",
      dailyLossAction: "HALTED",
      maxLeverage: "3",
      maxOpenPositions: 2,
      maxOrderNotional: "5000",
      orderRate: { orders: 10, windowMs: 60000 },
      priceBand: null,
    });
    expect(configError({ cwd, flags: { maxDrawdown: "15%" } })).toBe(
      'invalid config: backtest.risk.maxDrawdown (from flag --max-drawdown): expected a decimal ratio between 0 and 1 (exclusive) such as "0.15"',
    );
    expect(configError({ cwd, flags: { maxDrawdown: "1" } })).toMatch(/backtest\.risk\.maxDrawdown/);
    expect(configError({ cwd, flags: { orderRate: "fast" } })).toBe(
      'invalid config: backtest.risk.orderRate (from flag --order-rate): expected { "orders": N, "windowMs": MS } (flag --order-rate N/MS such as 100/1000, or off)',
    );
    expect(configError({ cwd, flags: { dailyLossLimit: "-5" } })).toBe(
      'invalid config: backtest.risk.dailyLossLimit (from flag --daily-loss-limit): expected a positive USDT amount such as "500"',
    );
    expect(configError({ cwd, flags: { maxOpenPositions: "0" } })).toBe(
      "invalid config: backtest.risk.maxOpenPositions (from flag --max-open-positions): expected an integer number of positions ≥ 1",
    );
  });

  it("venue options from the file and flags, and errors naming the key and its source", () => {
    const cwd = cwdWith({ backtest: { venue: { limitFillRule: "touch", triggerLatencyMs: 500 } } });
    const cfg = load({
      cwd,
      flags: { intrabarPath: "barDirection", participationRate: "0.25", latencyMs: "1000" },
    });
    expect(cfg.backtest.venue).toEqual({
      intrabarPath: "barDirection",
      limitFillRule: "touch",
      participationRate: "0.25",
      submitLatencyMs: 1000,
      triggerLatencyMs: 500,
    });
    expect(load({ cwd, flags: { participationRate: "1" } }).backtest.venue.participationRate).toBe("1");
    expect(configError({ cwd, flags: { intrabarPath: "random" } })).toBe(
      "invalid config: backtest.venue.intrabarPath (from flag --intrabar-path): expected one of stopFirst, barDirection, openHighLowClose, openLowHighClose",
    );
    for (const rate of ["0", "1.5", "10%", "0.0"]) {
      expect(configError({ cwd, flags: { participationRate: rate } })).toBe(
        'invalid config: backtest.venue.participationRate (from flag --participation-rate): expected a decimal ratio above 0 and at most 1 such as "0.1"',
      );
    }
    expect(configError({ cwd, flags: { latencyMs: "-1" } })).toBe(
      "invalid config: backtest.venue.submitLatencyMs (from flag --latency-ms): expected a latency of 0 ms to one day, in ms",
    );
    expect(configError({ cwd: cwdWith({ backtest: { venue: { limitFillRule: "cross" } } }) })).toMatch(
      /^invalid config: backtest\.venue\.limitFillRule \(from file .*perpsource\.config\.json\): expected through or touch$/,
    );
    expect(configError({ cwd: cwdWith({ backtest: { venue: { latency: 1 } } }) })).toMatch(
      /backtest\.venue\.latency \(from file .*\): unknown key/,
    );
  });

  it("hedge mode: absent by default (one-way), from the file or --hedge-mode, a non-boolean named", () => {
    const cwd = cwdWith();
    expect("hedgeMode" in load({ cwd }).backtest).toBe(false);
    expect(load({ cwd, flags: { hedgeMode: true } }).backtest.hedgeMode).toBe(true);
    expect(load({ cwd: cwdWith({ backtest: { hedgeMode: true } }) }).backtest.hedgeMode).toBe(true);
    expect(configError({ cwd: cwdWith({ backtest: { hedgeMode: "yes" } }) })).toMatch(
      /^invalid config: backtest\.hedgeMode \(from file .*perpsource\.config\.json\): expected true or false$/,
    );
  });

  it("tick paths from --ticks (comma-separated) or the file; an empty list names the key", () => {
    const cwd = cwdWith();
    const paths = "futures/um/ws-capture/derived, ticks/BTCUSDT-trades-2024-07-18.csv";
    expect(load({ cwd, flags: { ticks: paths } }).backtest.venue.ticks).toEqual([
      "futures/um/ws-capture/derived",
      "ticks/BTCUSDT-trades-2024-07-18.csv",
    ]);
    expect(load({ cwd }).backtest.venue.ticks).toBeUndefined();
    expect(configError({ cwd, flags: { ticks: " , " } })).toBe(
      "invalid config: backtest.venue.ticks (from flag --ticks): expected at least one path",
    );
    expect(configError({ cwd: cwdWith({ backtest: { venue: { ticks: "dir" } } }) })).toMatch(
      /^invalid config: backtest\.venue\.ticks \(from file .*\): expected a list of paths such as/,
    );
  });

  it("lists every problem at once", () => {
    const err = (() => {
      try {
        load({ cwd: cwdWith(), env: { PERPSOURCE_LOG_LEVEL: "loud" }, flags: { margin: "-5" } });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("expected a ConfigError");
    })();
    expect(err.problems).toEqual([
      "logLevel (from env PERPSOURCE_LOG_LEVEL): expected one of fatal, error, warn, info, debug, trace, silent",
      'backtest.smaCross.marginUsdt (from flag --margin): expected a positive USDT amount such as "1000"',
    ]);
  });
});

describe("windowOf", () => {
  it("spans [from 00:00 UTC, to + 1 day 00:00 UTC)", () => {
    expect(windowOf({ from: "2025-05-05", to: "2025-06-24" })).toEqual({
      from: Date.UTC(2025, 4, 5),
      to: Date.UTC(2025, 5, 25),
    });
    expect(windowOf({ from: "2024-02-29", to: "2024-02-29" })).toEqual({
      from: 1709164800000,
      to: 1709164800000 + DAY_MS,
    });
  });

  it("covers whole UTC days, one more than to − from", () => {
    const day = fc
      .integer({ min: 0, max: 20_000 })
      .map((d) => new Date(d * DAY_MS).toISOString().slice(0, 10));
    fc.assert(
      fc.property(day, day, (a, b) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const cfg = AppConfigSchema.parse({ backtest: { from, to } }).backtest;
        const w = windowOf(cfg);
        expect(w.from % DAY_MS).toBe(0);
        expect(w.to % DAY_MS).toBe(0);
        expect(w.to - w.from).toBe(Date.parse(to) - Date.parse(from) + DAY_MS);
        expect(new Date(w.to - 1).toISOString().slice(0, 10)).toBe(to);
      }),
    );
  });
});
