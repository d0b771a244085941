/**
 * Streaming readers for tick data in Binance's archive layouts (binance-usdm.md §6; data.binance.vision serves
 * `trades` under futures/um/{daily,monthly}/trades, the WebSocket captures of the shared data are flattened to
 * the same layouts, /work/shared/data/README.md `futures/um/ws-capture/`):
 *
 * - trades `id,price,qty,quote_qty,time,is_buyer_maker`;
 * - bookTicker `update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time`;
 * - markPrice1s `event_time,mark_price,index_price,est_settle_price,funding_rate,next_funding_time` (the
 *   `@markPrice@1s` stream; only event_time and mark_price are used, the other columns are checked as decimals).
 *
 * Plain CSV or `.csv.gz` (gunzipped while streaming), header line optional (present iff its first field is not
 * numeric, binance-usdm.md §6: UM trades files up to 2022-08-10 have none). Every error is a `MarketDataError`
 * naming the file and the 1-based line; a file without any row (empty or header only) is an error, and a
 * truncated last line fails its field count or field checks. Prices and quantities stay the exact decimal strings
 * of the file.
 *
 * `tickStream` merges the three kinds of a symbol into one time-ordered stream (see its docstring for ties).
 */
import { basename } from "node:path";
import {
  type CsvRecord,
  checkHeader,
  decimalField,
  integerField,
  isHeader,
  isZeroDecimal,
  priceField,
  rateField,
  readCsvRecords,
} from "./csv.ts";
import { type CsvSource, MarketDataError } from "./types.ts";

/** A trade (the archive's `trades` row). Price in quote asset, qty in base asset; time = trade time, ms epoch. */
export interface TradeTick {
  kind: "trade";
  symbol: string;
  time: number;
  /** Binance trade id (consecutive within a symbol). */
  id: number;
  price: string;
  qty: string;
  /** True when the buyer was the resting (maker) order, i.e. a seller took liquidity. */
  buyerMaker: boolean;
}

/** A best bid/ask update (the archive's `bookTicker` row). time = transaction_time (matching engine), ms epoch. */
export interface BookTick {
  kind: "book";
  symbol: string;
  time: number;
  updateId: number;
  bidPrice: string;
  bidQty: string;
  askPrice: string;
  askQty: string;
}

/** A mark price (the `@markPrice@1s` stream's `p`). time = event_time, ms epoch; quote asset. */
export interface MarkTick {
  kind: "mark";
  symbol: string;
  time: number;
  markPrice: string;
}

/** One item of a symbol's tick stream. */
export type Tick = TradeTick | BookTick | MarkTick;

/** A tick and the 1-based line it was read from. */
interface Row<T extends Tick> {
  tick: T;
  line: number;
}

const TRADE_COLUMNS = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker"] as const;
const BOOK_COLUMNS = [
  "update_id",
  "best_bid_price",
  "best_bid_qty",
  "best_ask_price",
  "best_ask_qty",
  "transaction_time",
  "event_time",
] as const;
const MARK_COLUMNS = [
  "event_time",
  "mark_price",
  "index_price",
  "est_settle_price",
  "funding_rate",
  "next_funding_time",
] as const;

/**
 * The data rows of `src` with `columns.length` fields each, after an optional header (checked against
 * `columns`). Throws `MarketDataError` on a wrong field count and on a file without data rows.
 */
async function* rows(src: CsvSource, columns: readonly string[]): AsyncGenerator<CsvRecord> {
  let first = true;
  let any = false;
  let lastLine = 0;
  for await (const record of readCsvRecords(src)) {
    lastLine = record.line;
    if (record.fields.length !== columns.length) {
      throw new MarketDataError(
        src.path,
        record.line,
        `expected ${columns.length} fields (${columns.join(",")}), got ${record.fields.length}`,
      );
    }
    if (first) {
      first = false;
      if (isHeader(record.fields)) {
        checkHeader(
          src,
          record,
          columns.map((name, i) => [i, name] as const),
        );
        continue;
      }
    }
    any = true;
    yield record;
  }
  if (!any) throw new MarketDataError(src.path, lastLine + 1, "no data rows (empty or header-only file)");
}

/** A quantity that must be > 0 (a trade's qty). */
function positiveQty(src: CsvSource, line: number, value: string, column: string): string {
  decimalField(src, line, value, column);
  if (isZeroDecimal(value)) throw new MarketDataError(src.path, line, `${column} "${value}" is zero`);
  return value;
}

/** Throws unless `value` ≥ `previous` (or > when `strict`): rows must be in order. */
function ordered(
  src: CsvSource,
  line: number,
  column: string,
  value: number,
  previous: number,
  strict: boolean,
): void {
  if (strict ? value > previous : value >= previous) return;
  const what = strict && value === previous ? "repeats" : "is before";
  throw new MarketDataError(
    src.path,
    line,
    `${column} ${value} ${what} the previous row's ${previous} (rows must be in ${strict ? "strictly increasing" : "time"} order)`,
  );
}

/**
 * Reads a trades CSV of `symbol`. Per row: 6 fields, integer id strictly increasing, positive price, positive qty,
 * quote_qty a decimal, integer time non-decreasing, is_buyer_maker `true`/`false` (any case).
 * Throws `MarketDataError` (file:line: reason) on the first violation.
 */
export async function* readTradeFile(src: CsvSource, symbol: string): AsyncGenerator<TradeTick> {
  for await (const row of readTradeFileRows(src, symbol)) yield row.tick;
}

async function* readTradeFileRows(src: CsvSource, symbol: string): AsyncGenerator<Row<TradeTick>> {
  let lastId = Number.NEGATIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  for await (const { fields: f, line } of rows(src, TRADE_COLUMNS)) {
    const id = integerField(src, line, f[0]!, "id");
    ordered(src, line, "id", id, lastId, true);
    const price = priceField(src, line, f[1]!, "price");
    const qty = positiveQty(src, line, f[2]!, "qty");
    decimalField(src, line, f[3]!, "quote_qty");
    const time = integerField(src, line, f[4]!, "time");
    ordered(src, line, "time", time, lastTime, false);
    const maker = f[5]!.toLowerCase();
    if (maker !== "true" && maker !== "false")
      throw new MarketDataError(src.path, line, `is_buyer_maker "${f[5]}" is not true or false`);
    lastId = id;
    lastTime = time;
    yield { line, tick: { kind: "trade", symbol, time, id, price, qty, buyerMaker: maker === "true" } };
  }
}

/**
 * Reads a bookTicker CSV of `symbol`. Per row: 7 fields, integer update_id strictly increasing, positive
 * prices with bid < ask (a crossed or locked quote is an error), quantities decimals, integer
 * transaction_time non-decreasing (the tick's time), integer event_time.
 * Throws `MarketDataError` (file:line: reason) on the first violation.
 */
export async function* readBookTickerFile(src: CsvSource, symbol: string): AsyncGenerator<BookTick> {
  for await (const row of readBookTickerFileRows(src, symbol)) yield row.tick;
}

async function* readBookTickerFileRows(src: CsvSource, symbol: string): AsyncGenerator<Row<BookTick>> {
  let lastId = Number.NEGATIVE_INFINITY;
  let lastTime = Number.NEGATIVE_INFINITY;
  for await (const { fields: f, line } of rows(src, BOOK_COLUMNS)) {
    const updateId = integerField(src, line, f[0]!, "update_id");
    ordered(src, line, "update_id", updateId, lastId, true);
    const bidPrice = priceField(src, line, f[1]!, "best_bid_price");
    const bidQty = decimalField(src, line, f[2]!, "best_bid_qty");
    const askPrice = priceField(src, line, f[3]!, "best_ask_price");
    const askQty = decimalField(src, line, f[4]!, "best_ask_qty");
    if (!(Number(bidPrice) < Number(askPrice)))
      throw new MarketDataError(src.path, line, `best bid ${bidPrice} is not below best ask ${askPrice}`);
    const time = integerField(src, line, f[5]!, "transaction_time");
    ordered(src, line, "transaction_time", time, lastTime, false);
    integerField(src, line, f[6]!, "event_time");
    lastId = updateId;
    lastTime = time;
    yield { line, tick: { kind: "book", symbol, time, updateId, bidPrice, bidQty, askPrice, askQty } };
  }
}

/**
 * Reads a markPrice1s CSV of `symbol`. Per row: 6 fields, integer event_time non-decreasing (the tick's time),
 * positive mark_price, index_price and est_settle_price decimals, funding_rate a rate, integer
 * next_funding_time. Throws `MarketDataError` (file:line: reason) on the first violation.
 */
export async function* readMarkPrice1sFile(src: CsvSource, symbol: string): AsyncGenerator<MarkTick> {
  for await (const row of readMarkPrice1sFileRows(src, symbol)) yield row.tick;
}

async function* readMarkPrice1sFileRows(src: CsvSource, symbol: string): AsyncGenerator<Row<MarkTick>> {
  let lastTime = Number.NEGATIVE_INFINITY;
  for await (const { fields: f, line } of rows(src, MARK_COLUMNS)) {
    const time = integerField(src, line, f[0]!, "event_time");
    ordered(src, line, "event_time", time, lastTime, false);
    const markPrice = priceField(src, line, f[1]!, "mark_price");
    decimalField(src, line, f[2]!, "index_price");
    decimalField(src, line, f[3]!, "est_settle_price");
    rateField(src, line, f[4]!, "funding_rate");
    integerField(src, line, f[5]!, "next_funding_time");
    lastTime = time;
    yield { line, tick: { kind: "mark", symbol, time, markPrice } };
  }
}

/** The tick files of one symbol, each kind in time order (files of one kind must not overlap). */
export interface TickFiles {
  symbol: string;
  trades: readonly CsvSource[];
  bookTicker?: readonly CsvSource[];
  markPrice?: readonly CsvSource[];
}

const KIND_RANK: Record<Tick["kind"], number> = { trade: 0, book: 1, mark: 2 };

/**
 * The merged tick stream of one symbol, in time order. Ties at one ms: trades first, then bookTicker updates,
 * then mark prices (a bookTicker's transaction_time T shows the book after the trades of T; the mark price comes
 * from the index on its own 1 s clock, so it goes last), each kind in file order. Files of one kind are read one
 * after the other, in the order given; the next file must continue the previous one (trade ids and bookTicker
 * update ids keep increasing, times do not go back), else `MarketDataError` at the first row that does not.
 * Only one row per file is held in memory.
 */
export async function* tickStream(files: TickFiles): AsyncGenerator<Tick> {
  const { symbol } = files;
  const sources: AsyncIterator<Tick>[] = [
    chain(files.trades, (s) => readTradeFileRows(s, symbol), "trade"),
    chain(files.bookTicker ?? [], (s) => readBookTickerFileRows(s, symbol), "book"),
    chain(files.markPrice ?? [], (s) => readMarkPrice1sFileRows(s, symbol), "mark"),
  ];
  const heads: (Tick | undefined)[] = [];
  try {
    for (const s of sources) heads.push((await s.next()).value as Tick | undefined);
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h === undefined) continue;
        const b = best < 0 ? undefined : heads[best]!;
        if (!b || h.time < b.time || (h.time === b.time && KIND_RANK[h.kind] < KIND_RANK[b.kind])) best = i;
      }
      if (best < 0) return;
      yield heads[best]!;
      const r = await sources[best]!.next();
      heads[best] = r.done ? undefined : r.value;
    }
  } finally {
    for (const s of sources) await s.return?.();
  }
}

/** The files of one kind read one after the other, checking that each continues the previous one. */
async function* chain<T extends Tick>(
  files: readonly CsvSource[],
  read: (src: CsvSource) => AsyncGenerator<Row<T>>,
  kind: Tick["kind"],
): AsyncGenerator<T> {
  let last: { time: number; id: number; path: string } | undefined;
  for (const src of files) {
    let first = true;
    for await (const { tick, line } of read(src)) {
      if (first && last) {
        const id = tickId(tick);
        if (tick.time < last.time || id <= last.id)
          throw new MarketDataError(
            src.path,
            line,
            `the first ${kind} row (time ${tick.time}, id ${id}) does not follow the last one of ${last.path} (time ${last.time}, id ${last.id}): ${kind} files must be given in order and not overlap`,
          );
      }
      first = false;
      last = { time: tick.time, id: tickId(tick), path: src.path };
      yield tick;
    }
  }
}

function tickId(t: Tick): number {
  return t.kind === "trade" ? t.id : t.kind === "book" ? t.updateId : t.time;
}

/** The name of a tick file: `SYMBOL-trades-….csv`, `SYMBOL-bookTicker-….csv.gz`, `SYMBOL-markPrice1s-…` (plain or .gz). */
export const TICK_FILE_NAME = /^([A-Z0-9]+)-(trades|bookTicker|markPrice1s)-.*\.csv(\.gz)?$/;

/**
 * Groups tick files by symbol from their names `SYMBOL-trades-….csv[.gz]`, `SYMBOL-bookTicker-…`,
 * `SYMBOL-markPrice1s-…` (the archive's and the captures' names), each kind sorted by path (archive names
 * sort in time order). Files with other names are ignored. Throws an Error for a symbol without trades files.
 */
export function groupTickFiles(sources: readonly CsvSource[]): TickFiles[] {
  const bySymbol = new Map<
    string,
    { trades: CsvSource[]; bookTicker: CsvSource[]; markPrice: CsvSource[] }
  >();
  for (const src of [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const m = TICK_FILE_NAME.exec(basename(src.path));
    if (!m) continue;
    const [, symbol, kind] = m as unknown as [string, string, "trades" | "bookTicker" | "markPrice1s"];
    let g = bySymbol.get(symbol);
    if (!g) {
      g = { trades: [], bookTicker: [], markPrice: [] };
      bySymbol.set(symbol, g);
    }
    (kind === "trades" ? g.trades : kind === "bookTicker" ? g.bookTicker : g.markPrice).push(src);
  }
  return [...bySymbol.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([symbol, g]) => {
      if (g.trades.length === 0)
        throw new Error(`tick files of ${symbol}: bookTicker or markPrice1s files without any trades file`);
      return { symbol, ...g };
    });
}
