/**
 * Tick readers (src/adapters/market/ticks.ts): the archive layouts of trades, bookTicker and markPrice1s, with and
 * without header, plain and gzipped; file:line errors; the merged stream's order and ties.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  groupTickFiles,
  readBookTickerFile,
  readMarkPrice1sFile,
  readTradeFile,
  type Tick,
  tickStream,
} from "../src/adapters/market/ticks.ts";
import { type CsvSource, MarketDataError } from "../src/adapters/market/types.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "perpsource-ticks-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function file(content: string | Buffer, name = `f${n++}.csv`): Promise<CsvSource> {
  const absolutePath = join(dir, name);
  await writeFile(absolutePath, content);
  return { path: `tmp/${name}`, absolutePath };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function failure(p: Promise<unknown>): Promise<MarketDataError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MarketDataError);
  return err as MarketDataError;
}

const TRADES_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker\n";
const TRADES = "7,28145.10,0.002,56.2902,1680652700452,true\n8,28145.20,0.020,562.904,1680652700452,false\n";
const BOOK_HEADER =
  "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time\n";
const BOOK = "100,28145.10,3.868,28145.20,6.887,1680652700430,1680652700435\n";
const MARK_HEADER = "event_time,mark_price,index_price,est_settle_price,funding_rate,next_funding_time\n";
const MARK = "1680652700452,28147.27373413,28159.75642857,28142.15563565,0.00002754,1680652800000\n";

describe("readers", () => {
  it("read trades with and without header, plain and gzipped, as exact decimal strings", async () => {
    const expected = [
      {
        kind: "trade",
        symbol: "BTCUSDT",
        time: 1680652700452,
        id: 7,
        price: "28145.10",
        qty: "0.002",
        buyerMaker: true,
      },
      {
        kind: "trade",
        symbol: "BTCUSDT",
        time: 1680652700452,
        id: 8,
        price: "28145.20",
        qty: "0.020",
        buyerMaker: false,
      },
    ];
    for (const src of [
      await file(TRADES_HEADER + TRADES),
      await file(TRADES),
      await file(gzipSync(TRADES_HEADER + TRADES), "t.csv.gz"),
    ]) {
      expect(await collect(readTradeFile(src, "BTCUSDT"))).toEqual(expected);
    }
  });

  it("read bookTicker (time = transaction_time) and markPrice1s (time = event_time)", async () => {
    const book = await collect(readBookTickerFile(await file(gzipSync(BOOK_HEADER + BOOK), "b.csv.gz"), "X"));
    expect(book).toEqual([
      {
        kind: "book",
        symbol: "X",
        time: 1680652700430,
        updateId: 100,
        bidPrice: "28145.10",
        bidQty: "3.868",
        askPrice: "28145.20",
        askQty: "6.887",
      },
    ]);
    const mark = await collect(readMarkPrice1sFile(await file(MARK), "X"));
    expect(mark).toEqual([{ kind: "mark", symbol: "X", time: 1680652700452, markPrice: "28147.27373413" }]);
  });

  const cases: [string, string, (s: CsvSource) => AsyncGenerator<Tick>, number, string][] = [
    [
      "trade field count",
      `${TRADES_HEADER}7,1,1,1,5\n`,
      (s) => readTradeFile(s, "X"),
      2,
      "expected 6 fields",
    ],
    [
      "trade time going back",
      "7,1,1,1,5,true\n8,1,1,1,4,true\n",
      (s) => readTradeFile(s, "X"),
      2,
      "time 4 is before the previous row's 5",
    ],
    [
      "repeated trade id",
      "7,1,1,1,5,true\n7,1,1,1,5,true\n",
      (s) => readTradeFile(s, "X"),
      2,
      "id 7 repeats",
    ],
    ["bad boolean", "7,1,1,1,5,yes\n", (s) => readTradeFile(s, "X"), 1, 'is_buyer_maker "yes"'],
    ["zero qty", "7,1,0.000,1,5,true\n", (s) => readTradeFile(s, "X"), 1, 'qty "0.000" is zero'],
    ["exponent price", "7,1e3,1,1,5,true\n", (s) => readTradeFile(s, "X"), 1, 'price "1e3"'],
    ["truncated last line", `${TRADES}9,28145.2`, (s) => readTradeFile(s, "X"), 3, "expected 6 fields"],
    [
      "wrong header",
      "id,price,qty,quote_qty,timestamp,is_buyer_maker\n",
      (s) => readTradeFile(s, "X"),
      1,
      "column 5",
    ],
    ["header only", TRADES_HEADER, (s) => readTradeFile(s, "X"), 2, "no data rows"],
    ["empty file", "", (s) => readTradeFile(s, "X"), 1, "no data rows"],
    ["crossed quote", "1,10.5,1,10.5,1,5,5\n", (s) => readBookTickerFile(s, "X"), 1, "is not below best ask"],
    [
      "book update id going back",
      `${BOOK}99,1,1,2,1,1680652700431,1\n`,
      (s) => readBookTickerFile(s, "X"),
      2,
      "update_id 99",
    ],
    [
      "mark price zero",
      "5,0,1,1,0.0001,6\n",
      (s) => readMarkPrice1sFile(s, "X"),
      1,
      'mark_price "0" is zero',
    ],
  ];
  for (const [what, content, read, line, reason] of cases) {
    it(`rejects ${what} with file:line`, async () => {
      const src = await file(content);
      const err = await failure(collect(read(src)));
      expect(err.file).toBe(src.path);
      expect(err.line).toBe(line);
      expect(err.reason).toContain(reason);
    });
  }

  it("rejects a truncated gzip file with file:line", async () => {
    const gz = gzipSync(TRADES_HEADER + TRADES.repeat(1).replace(/\n$/, "\n"));
    const src = await file(gz.subarray(0, gz.length - 10), "trunc.csv.gz");
    const err = await failure(collect(readTradeFile(src, "X")));
    expect(err.file).toBe(src.path);
    expect(err.message).toMatch(/tmp\/trunc\.csv\.gz:\d+: gzip: unexpected end of file/);
  });
});

describe("tickStream", () => {
  it("merges by time; at one ms trades, then bookTicker, then mark; each kind in file order", async () => {
    const trades = await file(
      `${TRADES_HEADER}1,10,1,10,100,true\n2,10.1,1,10.1,200,false\n3,10.2,1,10.2,200,true\n`,
    );
    const book = await file(
      `${BOOK_HEADER}5,9.9,1,10.1,1,100,101\n6,9.9,1,10.2,1,150,151\n7,10,1,10.3,1,200,201\n`,
    );
    const mark = await file(`${MARK_HEADER}100,10,10,10,0.0001,1000\n199,10.05,10,10,0.0001,1000\n`);
    const ticks = await collect(
      tickStream({ symbol: "X", trades: [trades], bookTicker: [book], markPrice: [mark] }),
    );
    expect(ticks.map((t) => `${t.kind}@${t.time}`)).toEqual([
      "trade@100",
      "book@100",
      "mark@100",
      "book@150",
      "mark@199",
      "trade@200",
      "trade@200",
      "book@200",
    ]);
    expect(ticks.filter((t) => t.kind === "trade").map((t) => t.id)).toEqual([1, 2, 3]);
  });

  it("reads the files of one kind one after the other and rejects one that does not continue the previous", async () => {
    const a = await file("1,10,1,10,100,true\n2,10,1,10,200,true\n");
    const b = await file("3,10,1,10,300,true\n");
    const ticks = await collect(tickStream({ symbol: "X", trades: [a, b] }));
    expect(ticks.map((t) => t.time)).toEqual([100, 200, 300]);
    const err = await failure(collect(tickStream({ symbol: "X", trades: [b, a] })));
    expect(err.file).toBe(a.path);
    expect(err.line).toBe(1);
    expect(err.reason).toContain("does not follow the last one of");
  });

  it("groups files by symbol and kind from their names", () => {
    const src = (path: string): CsvSource => ({ path, absolutePath: `/d/${path}` });
    const groups = groupTickFiles([
      src("BTCUSDT-trades-2024-07-19.csv"),
      src("BTCUSDT-trades-2024-07-18.csv"),
      src("BTCUSDT-bookTicker-2024-07-18.csv.gz"),
      src("ETHUSDT-trades-2024-07-18.csv.gz"),
      src("BTCUSDT-depth-2024-07-18.csv.gz"),
      src("BTCUSDT-markPrice1s-2024-07-18.csv"),
    ]);
    expect(
      groups.map((g) => [g.symbol, g.trades.map((s) => s.path), g.bookTicker?.length, g.markPrice?.length]),
    ).toEqual([
      ["BTCUSDT", ["BTCUSDT-trades-2024-07-18.csv", "BTCUSDT-trades-2024-07-19.csv"], 1, 1],
      ["ETHUSDT", ["ETHUSDT-trades-2024-07-18.csv.gz"], 0, 0],
    ]);
    expect(() => groupTickFiles([src("SOLUSDT-bookTicker-2024-07-18.csv")])).toThrow(
      /without any trades file/,
    );
  });
});
