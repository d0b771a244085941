import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Decimal } from "decimal.js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  canonicalDecimal,
  compareDecimals,
  MAX_FRACTION_DIGITS,
  MAX_INTEGER_DIGITS,
} from "../src/adapters/market/csv.ts";
import { readFundingFile } from "../src/adapters/market/funding.ts";
import { type KlineRow, readKlineFile, readMarkPriceKlineFile } from "../src/adapters/market/klines.ts";
import { type CsvSource, MarketDataError } from "../src/adapters/market/types.ts";

const fixture = (name: string): CsvSource => {
  const path = `test/fixtures/market/${name}`;
  return { path, absolutePath: resolve(import.meta.dirname, "fixtures/market", name) };
};

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

/** The MarketDataError `read` rejects with. */
async function failure(read: Promise<unknown>): Promise<MarketDataError> {
  const err = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MarketDataError);
  return err as MarketDataError;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "perpsource-market-csv-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileNo = 0;
async function csvFile(content: string): Promise<CsvSource> {
  const absolutePath = join(dir, `f${fileNo++}.csv`);
  await writeFile(absolutePath, content);
  return { path: `tmp/${absolutePath.split("/").pop()}`, absolutePath };
}

describe("kline CSV errors name file:line and the reason", () => {
  const cases: [file: string, line: number, reason: string][] = [
    ["bad-field-count.csv", 3, "expected 12 fields (official 12-column kline layout), got 11"],
    ["non-numeric-price.csv", 3, 'close "abc" is not a non-negative decimal like 123.45 (no exponent)'],
    ["high-below-low.csv", 2, "high 4.250 is below low 4.252"],
    ["bad-close-time.csv", 3, "close_time 1690848060000 is not open_time + 59999 (1690848119999)"],
    [
      "decreasing-time.csv",
      4,
      "open_time 1746372720000 is before the previous row's 1746372840000 (rows must be in time order)",
    ],
    ["exponent-volume.csv", 2, 'volume "1.6536e1" is not a non-negative decimal like 123.45 (no exponent)'],
    ["exponent-price.csv", 1, 'open "9.55054E4" is not a non-negative decimal like 123.45 (no exponent)'],
  ];
  it.each(cases)("%s → line %i", async (name, line, reason) => {
    const err = await failure(collect(readKlineFile(fixture(name))));
    expect(err.file).toBe(`test/fixtures/market/${name}`);
    expect(err.line).toBe(line);
    expect(err.reason).toBe(reason);
    expect(err.message).toBe(`test/fixtures/market/${name}:${line}: ${reason}`);
  });

  it("funding: an empty rate", async () => {
    const err = await failure(collect(readFundingFile(fixture("funding-empty-rate.csv"))));
    expect(err.message).toBe(
      'test/fixtures/market/funding-empty-rate.csv:3: last_funding_rate "" is not a decimal like -0.0001 (no exponent)',
    );
  });

  it("mark price: an open_time off the 8h grid", async () => {
    const err = await failure(collect(readMarkPriceKlineFile(fixture("mark-unaligned.csv"))));
    expect([err.line, err.reason]).toEqual([3, "open_time 1746403260000 is not a multiple of 28800000 ms"]);
  });

  it("a row with a different field count than the first row", async () => {
    const src = await csvFile("1746372780000,1,2,0.5,1.5,3\n1746372840000,1,2,0.5,1.5\n");
    const err = await failure(collect(readKlineFile(src)));
    expect([err.line, err.reason]).toEqual([
      2,
      "expected 6 fields (open_time,open,high,low,close,volume), got 5",
    ]);
  });

  it("an unknown layout and an unexpected header", async () => {
    const layout = await failure(collect(readKlineFile(await csvFile("1746372780000,1,2\n"))));
    expect([layout.line, layout.reason]).toEqual([
      1,
      "expected 12 (official 12-column kline layout) or 6 (open_time,open,high,low,close,volume) fields, got 3",
    ]);
    const header = await failure(collect(readKlineFile(await csvFile("time,open,high,low,close,volume\n"))));
    expect([header.line, header.reason]).toEqual([
      1,
      'unexpected header "time,open,high,low,close,volume": column 1 must be "open_time"',
    ]);
  });

  it("a negative volume, a high below the close, a non-integer time", async () => {
    const rows = [
      ["1746372780000,1,2,0.5,1.5,-3", 'volume "-3" is not a non-negative decimal like 123.45 (no exponent)'],
      ["1746372780000,1,1.4,0.5,1.5,3", "high 1.4 is below close 1.5"],
      ["1746372780000,1,2,1.2,1.5,3", "low 1.2 is above open 1"],
      ["1746372780000.5,1,2,0.5,1.5,3", 'open_time "1746372780000.5" is not a non-negative integer'],
    ];
    for (const [row, reason] of rows) {
      const err = await failure(
        collect(readKlineFile(await csvFile(`open_time,open,high,low,close,volume\n${row}\n`))),
      );
      expect([err.line, err.reason]).toEqual([2, reason]);
    }
  });

  it("compares decimals exactly where doubles are equal", async () => {
    expect(compareDecimals("1.00000000000000001", "1.00000000000000002")).toBe(-1);
    expect(compareDecimals("4503", "4503.0")).toBe(0);
    const src = await csvFile("1746372780000,1.00000000000000002,1.00000000000000001,1,1,0\n");
    const err = await failure(collect(readKlineFile(src)));
    expect(err.reason).toBe("high 1.00000000000000001 is below open 1.00000000000000002");
  });
});

describe("every value that could fail later fails at parse, naming file:line", () => {
  const OHLCV_HEADER = "open_time,open,high,low,close,volume\n";
  const GOOD = "1746372720000,1,2,0.5,1.5,3\n";
  // [row written at line 3 after a header and a valid row, reason]
  const klineCases: [row: string, reason: string][] = [
    ["1746372780000,0,2,0.5,1.5,3", 'open "0" is zero: prices must be positive'],
    ["1746372780000,1,2,0.000,1.5,3", 'low "0.000" is zero: prices must be positive'],
    ["1746372780000,0,0,0,0,0", 'open "0" is zero: prices must be positive'],
    ["1746372780000,-1,2,0.5,1.5,3", 'open "-1" is not a non-negative decimal like 123.45 (no exponent)'],
    ["1746372780000,1,2,0.5,NaN,3", 'close "NaN" is not a non-negative decimal like 123.45 (no exponent)'],
    [
      "1746372780000,1,Infinity,0.5,1.5,3",
      'high "Infinity" is not a non-negative decimal like 123.45 (no exponent)',
    ],
    ["1746372780000,1,2e1,0.5,1.5,3", 'high "2e1" is not a non-negative decimal like 123.45 (no exponent)'],
    [
      "1746372780000,1,1234567890123456,0.5,1.5,3",
      'high "1234567890123456" has 16 integer digits, more than the 15 any real value has (overflow)',
    ],
    [
      `1746372780000,1,2,0.5,1.5,${"9".repeat(400)}`,
      `volume "${"9".repeat(400)}" has 400 integer digits, more than the 15 any real value has (overflow)`,
    ],
    [
      "1746372780000,1,2,0.5,1.0000000000000000001,3",
      'close "1.0000000000000000001" has 19 fraction digits, more than 18',
    ],
    [
      "1746372780000,1,2,0.5,1.5,-0.1",
      'volume "-0.1" is not a non-negative decimal like 123.45 (no exponent)',
    ],
    ["1746372780000,1,0.4,0.5,0.45,3", "high 0.4 is below low 0.5"],
    ["1746372780000,2.5,2,0.5,1.5,3", "high 2 is below open 2.5"],
    ["1746372780000,1,2,0.5,0.4,3", "low 0.5 is above close 0.4"],
  ];
  it.each(klineCases)("kline %s", async (row, reason) => {
    const src = await csvFile(`${OHLCV_HEADER}${GOOD}${row}\n`);
    const err = await failure(collect(readKlineFile(src)));
    expect(err.message).toBe(`${src.path}:3: ${reason}`);
  });

  it("a close_time that is not open_time + 59 999 (official layout)", async () => {
    const row = (open: number, close: number) => `${open},1,2,0.5,1.5,3,${close},0,1,0,0,0`;
    for (const close of [1746372839998, 1746372840000, 1746372780000]) {
      const src = await csvFile(`${row(1746372720000, 1746372779999)}\n${row(1746372780000, close)}\n`);
      const err = await failure(collect(readKlineFile(src)));
      expect(err.message).toBe(`${src.path}:2: close_time ${close} is not open_time + 59999 (1746372839999)`);
    }
  });

  it("a zero mark price", async () => {
    const src = await csvFile("open_time,open,high,low,close\n1746403200000,0,94771.4,0,94697.79\n");
    const err = await failure(collect(readMarkPriceKlineFile(src)));
    expect(err.message).toBe(`${src.path}:2: open "0" is zero: prices must be positive`);
  });

  const FUNDING_HEADER = "calc_time,funding_interval_hours,last_funding_rate\n1746057600000,8,0.0001\n";
  const fundingCases: [row: string, reason: string][] = [
    ["1746086400000,8,abc", 'last_funding_rate "abc" is not a decimal like -0.0001 (no exponent)'],
    ["1746086400000,8,NaN", 'last_funding_rate "NaN" is not a decimal like -0.0001 (no exponent)'],
    [
      "1746086400000,8,-Infinity",
      'last_funding_rate "-Infinity" is not a decimal like -0.0001 (no exponent)',
    ],
    ["1746086400000,8,0.0001.5", 'last_funding_rate "0.0001.5" is not a decimal like -0.0001 (no exponent)'],
    ["1746086400000,8,1.5", 'last_funding_rate "1.5" is not a funding rate: |rate| must be < 1'],
    ["1746086400000,8,-1", 'last_funding_rate "-1" is not a funding rate: |rate| must be < 1'],
    ["1746086400000,8,1e999", 'last_funding_rate "1e999" is not a funding rate: |rate| must be < 1'],
    ["1746086400000,8,1e-30", 'last_funding_rate "1e-30" has 30 fraction digits, more than 18'],
    ["1746086400000,0,0.0001", 'funding_interval_hours "0" is not a positive integer'],
    ["1746086400000,8.0,0.0001", 'funding_interval_hours "8.0" is not a positive integer'],
    ["1746086400000,-8,0.0001", 'funding_interval_hours "-8" is not a positive integer'],
    ["1746086400000,,0.0001", 'funding_interval_hours "" is not a positive integer'],
    ["1746086400000.5,8,0.0001", 'calc_time "1746086400000.5" is not a non-negative integer'],
  ];
  it.each(fundingCases)("funding %s", async (row, reason) => {
    const src = await csvFile(`${FUNDING_HEADER}${row}\n`);
    const err = await failure(collect(readFundingFile(src)));
    expect(err.message).toBe(`${src.path}:3: ${reason}`);
  });

  it("accepts exactly the decimals within the documented bounds; canonical form agrees with decimal.js", async () => {
    const digits = (min: number, max: number) =>
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(""));
    await fc.assert(
      fc.asyncProperty(digits(1, 20), digits(0, 22), fc.boolean(), async (integer, fraction, negative) => {
        const value = `${negative ? "-" : ""}${integer}${fraction === "" ? "" : `.${fraction}`}`;
        const src = await csvFile(`1746086400000,8,${value}\n`);
        const within = integer.length <= MAX_INTEGER_DIGITS && fraction.length <= MAX_FRACTION_DIGITS;
        const isRate = within && new Decimal(value).abs().lt(1);
        const read = collect(readFundingFile(src));
        if (isRate) {
          const [row] = await read;
          expect(row?.fundingRate).toBe(new Decimal(value).toFixed());
          expect(canonicalDecimal(value)).toBe(new Decimal(value).toFixed());
        } else {
          expect((await failure(read)).line).toBe(1);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("kline CSV layouts", () => {
  const official =
    "1690848000000,4.255,4.256,4.252,4.252,25259.1,1690848059999,107451.0165,208,5452.3,23199.1103,0\n" +
    "1690848060000,4.251,4.253,4.251,4.253,2476.0,1690848119999,10527.7466,92,1334.3,5673.4734,0\n";
  const expected: KlineRow[] = [
    {
      openTime: 1690848000000,
      closeTime: 1690848059999,
      open: "4.255",
      high: "4.256",
      low: "4.252",
      close: "4.252",
      volume: "25259.1",
    },
    {
      openTime: 1690848060000,
      closeTime: 1690848119999,
      open: "4.251",
      high: "4.253",
      low: "4.251",
      close: "4.253",
      volume: "2476.0",
    },
  ];

  /** The official layout's rows: the OHLCV ones plus the taker_buy_volume column. */
  const officialExpected: KlineRow[] = [
    { ...expected[0]!, takerBuyVolume: "5452.3" },
    { ...expected[1]!, takerBuyVolume: "1334.3" },
  ];

  it("reads the official layout with and without header, keeping decimals verbatim", async () => {
    const header =
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n";
    expect(await collect(readKlineFile(await csvFile(header + official)))).toStrictEqual(officialExpected);
    expect(await collect(readKlineFile(await csvFile(official)))).toStrictEqual(officialExpected);
  });

  it("checks taker_buy_volume: its header name, a decimal, not above volume", async () => {
    const badHeader =
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_volume,taker_buy_quote_volume,ignore\n";
    const err = await failure(collect(readKlineFile(await csvFile(badHeader + official))));
    expect([err.line, err.reason]).toEqual([
      1,
      expect.stringContaining('column 10 must be "taker_buy_volume"'),
    ]);
    const row = (taker: string) =>
      `1690848000000,4.255,4.256,4.252,4.252,25259.1,1690848059999,107451.0165,208,${taker},23199.1103,0\n`;
    const cases: [string, string][] = [
      ["25259.10000001", "taker_buy_volume 25259.10000001 is above volume 25259.1"],
      ["-1", 'taker_buy_volume "-1" is not a non-negative decimal like 123.45 (no exponent)'],
      ["", 'taker_buy_volume "" is not a non-negative decimal like 123.45 (no exponent)'],
      ["5e3", 'taker_buy_volume "5e3" is not a non-negative decimal like 123.45 (no exponent)'],
    ];
    for (const [taker, reason] of cases) {
      const e = await failure(collect(readKlineFile(await csvFile(official + row(taker)))));
      expect([e.line, e.reason]).toEqual([3, reason]);
    }
    const [all] = await collect(readKlineFile(await csvFile(row("25259.10"))));
    expect(all?.takerBuyVolume).toBe("25259.10");
  });

  it("reads the OHLCV subset; closeTime = openTime + 59999", async () => {
    const ohlcv =
      "1690848000000,4.255,4.256,4.252,4.252,25259.1\r\n1690848060000,4.251,4.253,4.251,4.253,2476.0\r\n";
    expect(
      await collect(readKlineFile(await csvFile(`open_time,open,high,low,close,volume\r\n${ohlcv}`))),
    ).toStrictEqual(expected);
    const rows = await collect(readKlineFile(await csvFile(ohlcv)));
    expect(rows).toStrictEqual(expected);
    // No taker column: the field is absent, never defaulted to "0".
    expect(rows.some((r) => "takerBuyVolume" in r)).toBe(false);
  });

  it("keeps the last row of a repeated open_time (strategies.md §2.4 vector 4) and skips blank lines", async () => {
    const src = await csvFile(
      "open_time,open,high,low,close,volume\n" +
        "1746372780000,100,100,100,100,1\n" +
        "1746372840000,110,110,110,110,1\n\n" +
        "1746372840000,125,125,125,125,2\n" +
        "1746372900000,130,130,130,130,1\n",
    );
    const rows = await collect(readKlineFile(src));
    expect(rows.map((r) => r.close)).toEqual(["100", "125", "130"]);
    const err = await failure(
      collect(readKlineFile(await csvFile("1746372780000,1,1,1,1,0\n\n1746372720000,1,1,1,1,0\n"))),
    );
    expect(err.line).toBe(3);
  });

  it("accepts a zero-volume bar truncated by a trading halt, nothing else closing early", async () => {
    const halted = "1679659200000,28080,28080,28080,28080,0.00000000,1679661581646,0,0,0,0,0\n";
    const [bar] = await collect(readKlineFile(await csvFile(halted), 3_600_000));
    expect(bar?.closeTime).toBe(1679661581646);
    const traded = "1679659200000,28080,28080,28080,28080,0.1,1679661581646,0,0,0,0,0\n";
    const err = await failure(collect(readKlineFile(await csvFile(traded), 3_600_000)));
    expect(err.reason).toBe("close_time 1679661581646 is not open_time + 3599999 (1679662799999)");
  });

  it("reads mark-price klines in both layouts", async () => {
    const five =
      "open_time,open,high,low,close\n1746403200000,94240.51430435,94771.4,93474.16553623,94697.79082609\n";
    const twelve =
      "1746403200000,94240.51430435,94771.4,93474.16553623,94697.79082609,0,1746431999999,0,0,0,0,0\n";
    const want = [
      {
        openTime: 1746403200000,
        open: "94240.51430435",
        high: "94771.4",
        low: "93474.16553623",
        close: "94697.79082609",
      },
    ];
    expect(await collect(readMarkPriceKlineFile(await csvFile(five)))).toEqual(want);
    expect(await collect(readMarkPriceKlineFile(await csvFile(twelve)))).toEqual(want);
  });

  it("reads funding rows, rewriting exponent rates exactly", async () => {
    const src = await csvFile(
      "calc_time,funding_interval_hours,last_funding_rate\n1741536000000,8,-1.30000000000000e-7\n1741564800003,4,0.0001\n",
    );
    expect(await collect(readFundingFile(src))).toEqual([
      { fundingTime: 1741536000000, fundingIntervalHours: 8, fundingRate: "-0.00000013", line: 2 },
      { fundingTime: 1741564800003, fundingIntervalHours: 4, fundingRate: "0.0001", line: 3 },
    ]);
  });

  it("writes each funding rate in one canonical spelling, as the official and REST sources differ", async () => {
    // Real spellings of the same rates: official monthly files vs REST-derived files (BNBUSDT, BTCUSDT 2025-05).
    const src = await csvFile(
      "calc_time,funding_interval_hours,last_funding_rate\n" +
        "1745510400001,8,0E-8\n1746057600000,8,0.00003510\n1746086400000,8,-0.00000990\n1746115200000,8,-0.0\n",
    );
    expect((await collect(readFundingFile(src))).map((r) => r.fundingRate)).toEqual([
      "0",
      "0.0000351",
      "-0.0000099",
      "0",
    ]);
  });
});

/** A non-negative decimal string with `scale` fraction digits for the integer `units` (value = units / 10^scale). */
function scaled(units: bigint, scale: number): string {
  if (scale === 0) return units.toString();
  const digits = units.toString().padStart(scale + 1, "0");
  return `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

const barArb = fc.record({
  step: fc.integer({ min: 1, max: 30 }),
  prices: fc.array(fc.bigInt({ min: 1n, max: 10n ** 13n }), { minLength: 4, maxLength: 4 }),
  volume: fc.bigInt({ min: 0n, max: 10n ** 15n - 1n }), // 15 integer digits at most (the parser's bound)
  /** Share of the volume bought by takers, in 1/1000. */
  takerShare: fc.integer({ min: 0, max: 1000 }),
});

describe("kline parser round trip (property)", () => {
  it("returns exactly the valid bars written", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(barArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 30_000_000 }),
        fc.integer({ min: 0, max: 8 }),
        fc.constantFrom("official", "ohlcv"),
        fc.boolean(),
        fc.constantFrom("\n", "\r\n"),
        async (specs, startMinute, scale, layout, header, eol) => {
          let openTime = startMinute * 60_000;
          const bars: KlineRow[] = specs.map(({ step, prices, volume, takerShare }) => {
            openTime += step * 60_000;
            const [a, b, c, d] = prices as [bigint, bigint, bigint, bigint];
            const sorted = [a, b, c, d].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
            // low and high are the extremes; open and close the middle two, in generated order
            const [open, close] = a <= b ? [sorted[1]!, sorted[2]!] : [sorted[2]!, sorted[1]!];
            return {
              openTime,
              closeTime: openTime + 59_999,
              open: scaled(open, scale),
              high: scaled(sorted[3]!, scale),
              low: scaled(sorted[0]!, scale),
              close: scaled(close, scale),
              volume: scaled(volume, scale),
              ...(layout === "official"
                ? { takerBuyVolume: scaled((volume * BigInt(takerShare)) / 1000n, scale) }
                : {}),
            };
          });
          const lines = bars.map((r) => {
            const base = [r.openTime, r.open, r.high, r.low, r.close, r.volume];
            const rest = [r.closeTime, "0", "0", r.takerBuyVolume, "0", "0"];
            return (layout === "official" ? [...base, ...rest] : base).join(",");
          });
          const head =
            layout === "official"
              ? "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
              : "open_time,open,high,low,close,volume";
          const src = await csvFile((header ? [head, ...lines] : lines).join(eol) + eol);
          expect(await collect(readKlineFile(src))).toStrictEqual(bars);
        },
      ),
      { numRuns: 60 },
    );
  });
});
