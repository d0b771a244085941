/**
 * Recorded book and trade streams replayed by the double (`--captures PATH…`): the WebSocket captures of
 * /work/shared/data/README.md `futures/um/ws-capture/derived` (`SYMBOL-depth-FROM_TO.csv.gz`,
 * `SYMBOL-bookTicker-FROM_TO.csv.gz`, `SYMBOL-trades-FROM_TO.csv`, FROM/TO as `YYYY-MM-DDTHHMM` UTC).
 *
 * How the double gets a capture window: `captures` names files or directories (relative to the data root);
 * for each replayed symbol it takes, per kind, the one file whose name window overlaps the replayed window (two
 * overlapping files of one kind is an error). The replayed window (`--from`/`--to`) is chosen inside the capture
 * window; a symbol without kline files there gets its bars from the capture's trades (as `backtest --ticks`).
 *
 * What is served, on the routes of binance-usdm.md §5.3, at each bar step of the replay (one step per minute,
 * before the minute's klines: a minute's messages go out in a burst at its close, in recorded order; across
 * kinds by time, ties depth, bookTicker, aggTrade), every recorded message with time (`T`) ≤ the bar's close:
 * - `depthUpdate` on `<s>@depth`, `@depth@100ms`, `@depth@500ms` and `@depth@0ms` (the capture is `@depth@0ms`:
 *   every diff is served at every speed, so a client keeps the same book whichever it asks for);
 * - `bookTicker` on `<s>@bookTicker` (`E` = `T`: the derived file keeps both, the reader only `T`);
 * - `aggTrade` on `<s>@aggTrade`, aggregated from the captured trades: consecutive trades with the same time,
 *   price and side make one aggregate, `q` their exact sum, `f`/`l` their first and last trade ids, and `a`
 *   numbered consecutively from the capture's first trade id (no `nq`: the capture predates it).
 * `GET /fapi/v1/depth` answers from the double's own book: the capture's REST snapshot advanced by every diff
 * published so far (and every diff before the replayed window, applied unpublished), so its `lastUpdateId` is
 * always that of the stream's position. Before the window's first diff it is the recorded snapshot itself,
 * which may be ahead of the stream (a client then drops the diffs older than it, [LOB] step 3). A diff that
 * does not continue the book (a capture with a gap) fails the replay with the file and line.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { discoverTickFiles } from "../adapters/market/archive.ts";
import { readDepthFile } from "../adapters/market/depth.ts";
import {
  type BookTick,
  readBookTickerFile,
  readTradeFile,
  type TradeTick,
} from "../adapters/market/ticks.ts";
import {
  type ArchiveFile,
  type CsvSource,
  MarketDataError,
  type MarketWindow,
} from "../adapters/market/types.ts";
import { type DepthUpdate, OrderBook } from "../domain/book/order-book.ts";
import { Dec } from "../domain/decimal.ts";
import type { Lockstep } from "./lockstep.ts";
import type { MarketStreams } from "./market-streams.ts";

/** A capture file name: symbol, kind, window. */
const CAPTURE_NAME =
  /^([A-Z0-9]+)-(depth|bookTicker|trades)-(\d{4}-\d{2}-\d{2})T(\d{2})(\d{2})_(\d{4}-\d{2}-\d{2})T(\d{2})(\d{2})\.csv(\.gz)?$/;

/** The diff-depth stream names the double serves the capture's diffs on. */
export const DEPTH_STREAMS = ["@depth", "@depth@100ms", "@depth@500ms", "@depth@0ms"] as const;

/** One symbol's captured files (each optional except that a book needs its depth file). */
export interface CaptureFiles {
  symbol: string;
  /** The span of its files' name windows (FROM's minute to the end of TO's minute). */
  window: MarketWindow;
  depth?: CsvSource;
  bookTicker?: CsvSource;
  trades?: ArchiveFile;
}

/**
 * The capture files of `symbols` under `paths` (relative to `dataRoot`) whose name window overlaps `window`.
 * @throws Error naming the path when one does not exist or holds no capture file, or naming the two files when
 * two of one symbol and kind overlap the window.
 */
export async function discoverCaptures(
  dataRoot: string,
  paths: readonly string[],
  symbols: readonly string[],
  window: MarketWindow,
): Promise<CaptureFiles[]> {
  const found = new Map<string, CsvSource>();
  const spans = new Map<string, MarketWindow>();
  for (const p of paths) {
    const absolute = resolve(dataRoot, p);
    const info = await stat(absolute).catch(() => undefined);
    if (!info) throw new Error(`captures: no such file or directory ${p} (under ${dataRoot})`);
    const dir = info.isDirectory() ? absolute : resolve(absolute, "..");
    const names = info.isDirectory() ? (await readdir(absolute)).sort() : [basename(absolute)];
    const captures = names.filter((n) => CAPTURE_NAME.test(n));
    if (captures.length === 0) throw new Error(`captures: ${p} holds no depth, bookTicker or trades capture`);
    for (const name of captures) {
      const m = CAPTURE_NAME.exec(name)!;
      const [, symbol, kind, d1, h1, m1, d2, h2, m2] = m as unknown as string[];
      if (!symbols.includes(symbol!)) continue;
      const from = Date.parse(`${d1}T${h1}:${m1}:00Z`);
      const to = Date.parse(`${d2}T${h2}:${m2}:00Z`) + 60_000;
      if (!(from < window.to && to > window.from)) continue;
      const absolutePath = join(dir, name);
      const key = `${symbol} ${kind}`;
      const other = found.get(key);
      if (other !== undefined && other.absolutePath !== absolutePath)
        throw new Error(
          `captures: ${other.path} and ${name} both hold ${symbol} ${kind} of the replayed window`,
        );
      found.set(key, { path: relative(dataRoot, absolutePath).split(sep).join("/"), absolutePath });
      const span = spans.get(symbol!);
      spans.set(
        symbol!,
        span === undefined ? { from, to } : { from: Math.min(span.from, from), to: Math.max(span.to, to) },
      );
    }
  }
  const out: CaptureFiles[] = [];
  for (const symbol of symbols) {
    const depth = found.get(`${symbol} depth`);
    const bookTicker = found.get(`${symbol} bookTicker`);
    const tradesSource = found.get(`${symbol} trades`);
    if (!depth && !bookTicker && !tradesSource) continue;
    const trades =
      tradesSource === undefined
        ? undefined
        : (await discoverTickFiles(dataRoot, [tradesSource.path], [symbol])).find((f) => f.kind === "trades");
    out.push({
      symbol,
      window: spans.get(symbol)!,
      ...(depth ? { depth } : {}),
      ...(bookTicker ? { bookTicker } : {}),
      ...(trades ? { trades } : {}),
    });
  }
  return out;
}

/**
 * `window` narrowed to the span of `captures` (the CLI's `--captures` with whole-day `--from`/`--to`): from the
 * earliest capture start to the latest capture end, within `window`. `window` itself when there are none.
 */
export function captureWindow(captures: readonly CaptureFiles[], window: MarketWindow): MarketWindow {
  if (captures.length === 0) return window;
  const from = Math.min(...captures.map((c) => c.window.from));
  const to = Math.max(...captures.map((c) => c.window.to));
  return { from: Math.max(window.from, from), to: Math.min(window.to, to) };
}

/** One message of a symbol's capture, at its time. */
interface Item {
  time: number;
  rank: number;
  /** A diff: advances the double's book (before publishing it, or alone before the window). */
  apply?: () => void;
  /** Sends it to the subscribed connections. */
  publish: () => void;
}

/** A stream of items with a one-item look-ahead. */
class Cursor {
  #head: Item | undefined;
  #done = false;

  constructor(private readonly source: AsyncIterator<Item>) {}

  async peek(): Promise<Item | undefined> {
    if (this.#head === undefined && !this.#done) {
      const r = await this.source.next();
      if (r.done) this.#done = true;
      else this.#head = r.value;
    }
    return this.#head;
  }

  take(): void {
    this.#head = undefined;
  }

  async close(): Promise<void> {
    await this.source.return?.();
  }
}

/** The captures of the replayed symbols, published step by step (see the module comment). */
export class BookCapture {
  readonly #books = new Map<string, OrderBook>();
  readonly #cursors = new Map<string, Cursor[]>();

  private constructor(
    readonly files: readonly CaptureFiles[],
    private readonly market: MarketStreams,
    private readonly lockstep: Lockstep,
  ) {}

  /**
   * Opens the captures of `files`: reads each depth file up to its REST snapshot (the double's book) and skips
   * every message before `window.from` (diffs applied to the book, unpublished).
   * @throws MarketDataError on a malformed file, a depth file without a snapshot before its end, or a capture
   * whose diffs do not continue its snapshot.
   */
  static async open(
    files: readonly CaptureFiles[],
    window: MarketWindow,
    market: MarketStreams,
    lockstep: Lockstep,
  ): Promise<BookCapture> {
    const capture = new BookCapture(files, market, lockstep);
    for (const f of files) await capture.#openSymbol(f, window.from);
    return capture;
  }

  /** Publishes every captured message of `symbol` with time ≤ `time`, in order (see the module comment). */
  async publishUntil(symbol: string, time: number): Promise<void> {
    const cursors = this.#cursors.get(symbol);
    if (cursors === undefined) return;
    const sends: Promise<void>[] = [];
    for (;;) {
      let best: { cursor: Cursor; item: Item } | undefined;
      for (const cursor of cursors) {
        const item = await cursor.peek();
        if (item === undefined || item.time > time) continue;
        if (
          best === undefined ||
          item.time < best.item.time ||
          (item.time === best.item.time && item.rank < best.item.rank)
        )
          best = { cursor, item };
      }
      if (best === undefined) break;
      best.cursor.take();
      const { apply, publish } = best.item;
      apply?.();
      sends.push(
        this.lockstep.send(() => {
          publish();
          return [];
        }, false),
      );
    }
    await Promise.all(sends);
  }

  /**
   * The `GET /fapi/v1/depth` body of `symbol` at exchange time `now`: `limit` levels per side of the double's
   * book; undefined when the symbol has no depth capture.
   */
  depth(symbol: string, limit: number, now: number): Record<string, unknown> | undefined {
    const book = this.#books.get(symbol);
    if (book === undefined) return undefined;
    const view = book.view(limit);
    return { lastUpdateId: view.lastUpdateId, E: now, T: view.time, bids: view.bids, asks: view.asks };
  }

  /** Stops reading the files. */
  async close(): Promise<void> {
    for (const cursors of this.#cursors.values()) for (const c of cursors) await c.close();
  }

  async #openSymbol(files: CaptureFiles, from: number): Promise<void> {
    const { symbol } = files;
    const s = symbol.toLowerCase();
    const cursors: Cursor[] = [];
    if (files.depth !== undefined) {
      const src = files.depth;
      const records = readDepthFile(src, symbol);
      const early: { update: DepthUpdate; line: number }[] = [];
      let book: OrderBook | undefined;
      let lastLine = 1;
      while (book === undefined) {
        const r = await records.next();
        if (r.done)
          throw new MarketDataError(src.path, lastLine, "no REST snapshot (snap rows) in the depth capture");
        lastLine = r.value.line;
        if (r.value.kind === "snapshot") book = OrderBook.fromSnapshot(r.value.snapshot);
        else early.push({ update: r.value.update, line: r.value.line });
      }
      this.#books.set(symbol, book);
      const bookNow = book;
      const apply = (update: DepthUpdate, line: number) => {
        const outcome = bookNow.apply(update);
        if (outcome.kind === "gap")
          throw new MarketDataError(
            src.path,
            line,
            `depth capture not continuous: ${outcome.rule} rule, expected ${outcome.expected}, got U ${outcome.update.U} u ${outcome.update.u} pu ${outcome.update.pu}`,
          );
      };
      const market = this.market;
      const item = (update: DepthUpdate, line: number): Item => ({
        time: update.transactionTime,
        rank: 0,
        apply: () => apply(update, line),
        publish: () => {
          const message = depthMessage(update);
          for (const suffix of DEPTH_STREAMS) market.publish(`${s}${suffix}`, message);
        },
      });
      async function* items(): AsyncGenerator<Item> {
        for (const e of early) yield item(e.update, e.line);
        for await (const r of records) {
          if (r.kind === "snapshot")
            throw new MarketDataError(src.path, r.line, "a second REST snapshot in the depth capture");
          yield item(r.update, r.line);
        }
      }
      cursors.push(await skipBefore(new Cursor(items()), from));
    }
    if (files.bookTicker !== undefined) {
      const ticks = readBookTickerFile(files.bookTicker, symbol);
      const market = this.market;
      async function* items(): AsyncGenerator<Item> {
        for await (const t of ticks)
          yield {
            time: t.time,
            rank: 1,
            publish: () => market.publish(`${s}@bookTicker`, bookTickerMessage(t)),
          };
      }
      cursors.push(await skipBefore(new Cursor(items()), from));
    }
    if (files.trades !== undefined) {
      const trades = readTradeFile(files.trades, symbol);
      const market = this.market;
      async function* items(): AsyncGenerator<Item> {
        for await (const a of aggTradeMessages(symbol, trades))
          yield { time: a.time, rank: 2, publish: () => market.publish(`${s}@aggTrade`, a.message) };
      }
      cursors.push(await skipBefore(new Cursor(items()), from));
    }
    this.#cursors.set(symbol, cursors);
  }
}

/** Drops the items before `from` (depth diffs advance the double's book, unpublished). */
async function skipBefore(cursor: Cursor, from: number): Promise<Cursor> {
  for (let item = await cursor.peek(); item !== undefined && item.time < from; item = await cursor.peek()) {
    item.apply?.();
    cursor.take();
  }
  return cursor;
}

/** A diff as Binance's `depthUpdate` message. */
function depthMessage(u: DepthUpdate): Record<string, unknown> {
  return {
    e: "depthUpdate",
    E: u.eventTime,
    T: u.transactionTime,
    s: u.symbol,
    U: u.firstUpdateId,
    u: u.finalUpdateId,
    pu: u.previousFinalUpdateId,
    b: u.bids,
    a: u.asks,
  };
}

/** A bookTicker row as Binance's `bookTicker` message (`E` = `T`, see the module comment). */
function bookTickerMessage(t: BookTick): Record<string, unknown> {
  return {
    e: "bookTicker",
    u: t.updateId,
    s: t.symbol,
    b: t.bidPrice,
    B: t.bidQty,
    a: t.askPrice,
    A: t.askQty,
    T: t.time,
    E: t.time,
  };
}

/**
 * The `aggTrade` messages of a symbol's trades (see the module comment), each with its trade time; `q` is
 * written with as many decimals as the most precise of its trades' quantities.
 */
async function* aggTradeMessages(
  symbol: string,
  trades: AsyncIterable<TradeTick>,
): AsyncGenerator<{ time: number; message: Record<string, unknown> }> {
  let next: number | undefined;
  let open: { first: TradeTick; last: TradeTick; qty: Dec; decimals: number } | undefined;
  const message = (o: NonNullable<typeof open>, a: number) => ({
    time: o.first.time,
    message: {
      e: "aggTrade",
      E: o.last.time,
      s: symbol,
      a,
      p: o.first.price,
      q: o.qty.toFixed(o.decimals),
      f: o.first.id,
      l: o.last.id,
      T: o.first.time,
      m: o.first.buyerMaker,
    },
  });
  const decimals = (qty: string) => (qty.includes(".") ? qty.length - qty.indexOf(".") - 1 : 0);
  for await (const t of trades) {
    next ??= t.id;
    if (
      open !== undefined &&
      t.time === open.first.time &&
      t.price === open.first.price &&
      t.buyerMaker === open.first.buyerMaker &&
      t.id === open.last.id + 1
    ) {
      open.last = t;
      open.qty = open.qty.plus(t.qty);
      open.decimals = Math.max(open.decimals, decimals(t.qty));
      continue;
    }
    if (open !== undefined) yield message(open, next++);
    open = { first: t, last: t, qty: new Dec(t.qty), decimals: decimals(t.qty) };
  }
  if (open !== undefined && next !== undefined) yield message(open, next);
}
