/**
 * Streaming reader of recorded order-book depth (/work/shared/data/README.md `futures/um/ws-capture/` and
 * `depth-sample/`): one CSV row per price level, grouped back into the REST snapshot and the `<s>@depth` diff
 * events they were flattened from (binance-usdm.md §5.3). Two layouts, told apart by their (mandatory) header:
 *
 * - captures: `symbol,event_time,transaction_time,first_update_id,last_update_id,pu,side,update_type,price,qty`;
 * - depth-sample (Tardis-like): `symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu`
 *   (`timestamp` is both the event and the transaction time).
 *
 * `update_type` is `snap` (a level of the REST snapshot at `last_update_id`; `pu` −1) or `set` (a level of a diff
 * event: absolute qty, 0 deletes); `side` is `b` or `a`. Consecutive rows with the same type, ids and times
 * form one item. Plain or `.csv.gz`. Every error is a `MarketDataError` naming the file and the 1-based line.
 */
import type { DepthSnapshot, DepthUpdate } from "../../domain/book/order-book.ts";
import { type CsvRecord, decimalField, integerField, priceField, readCsvRecords } from "./csv.ts";
import { type CsvSource, MarketDataError } from "./types.ts";

/** One item of a depth file: the REST snapshot or a diff event, with the line its first row is on. */
export type DepthRecord =
  | { kind: "snapshot"; line: number; snapshot: DepthSnapshot }
  | { kind: "update"; line: number; update: DepthUpdate };

const CAPTURE = [
  "symbol",
  "event_time",
  "transaction_time",
  "first_update_id",
  "last_update_id",
  "pu",
  "side",
  "update_type",
  "price",
  "qty",
] as const;
const SAMPLE = [
  "symbol",
  "timestamp",
  "first_update_id",
  "last_update_id",
  "side",
  "update_type",
  "price",
  "qty",
  "pu",
] as const;

interface Row {
  line: number;
  symbol: string;
  eventTime: number;
  transactionTime: number;
  U: number;
  u: number;
  pu: number;
  side: "b" | "a";
  type: "snap" | "set";
  price: string;
  qty: string;
}

/**
 * The snapshots and diff events of a depth file, in file order.
 * @throws MarketDataError for a missing or unknown header, a wrong field count, a bad number or decimal, a side
 * other than b/a, an update type other than snap/set, a symbol other than `symbol` (when given), or a file
 * without rows.
 */
export async function* readDepthFile(src: CsvSource, symbol?: string): AsyncGenerator<DepthRecord> {
  let layout: readonly string[] | undefined;
  let group: Row[] = [];
  let any = false;
  let lastLine = 0;
  for await (const record of readCsvRecords(src)) {
    lastLine = record.line;
    if (layout === undefined) {
      layout = headerLayout(src, record);
      continue;
    }
    const row = parseRow(src, record, layout);
    if (symbol !== undefined && row.symbol !== symbol)
      throw new MarketDataError(src.path, row.line, `symbol ${row.symbol} is not ${symbol}`);
    any = true;
    const head = group[0];
    if (head !== undefined && !sameItem(head, row)) {
      yield item(group);
      group = [];
    }
    group.push(row);
  }
  if (!any) throw new MarketDataError(src.path, lastLine + 1, "no data rows (empty or header-only file)");
  yield item(group);
}

function headerLayout(src: CsvSource, record: CsvRecord): readonly string[] {
  const names = record.fields.map((f) => f.trim().toLowerCase());
  for (const layout of [CAPTURE, SAMPLE])
    if (names.length === layout.length && layout.every((c, i) => names[i] === c)) return layout;
  throw new MarketDataError(
    src.path,
    record.line,
    `expected the header "${CAPTURE.join(",")}" or "${SAMPLE.join(",")}", got "${record.fields.join(",")}"`,
  );
}

function parseRow(src: CsvSource, record: CsvRecord, layout: readonly string[]): Row {
  const { fields, line } = record;
  if (fields.length !== layout.length)
    throw new MarketDataError(src.path, line, `expected ${layout.length} fields, got ${fields.length}`);
  const f = (column: string) => fields[layout.indexOf(column)]!;
  const time = layout === CAPTURE ? "event_time" : "timestamp";
  const eventTime = integerField(src, line, f(time), time);
  const transactionTime =
    layout === CAPTURE ? integerField(src, line, f("transaction_time"), "transaction_time") : eventTime;
  const side = f("side");
  if (side !== "b" && side !== "a") throw new MarketDataError(src.path, line, `side "${side}" is not b or a`);
  const type = f("update_type");
  if (type !== "snap" && type !== "set")
    throw new MarketDataError(src.path, line, `update_type "${type}" is not snap or set`);
  const pu = f("pu");
  return {
    line,
    symbol: f("symbol"),
    eventTime,
    transactionTime,
    U: integerField(src, line, f("first_update_id"), "first_update_id"),
    u: integerField(src, line, f("last_update_id"), "last_update_id"),
    pu: type === "snap" && pu === "-1" ? -1 : integerField(src, line, pu, "pu"),
    side,
    type,
    price: priceField(src, line, f("price"), "price"),
    qty: decimalField(src, line, f("qty"), "qty"),
  };
}

function sameItem(a: Row, b: Row): boolean {
  return (
    a.type === b.type &&
    a.U === b.U &&
    a.u === b.u &&
    a.pu === b.pu &&
    a.eventTime === b.eventTime &&
    a.transactionTime === b.transactionTime
  );
}

function item(rows: readonly Row[]): DepthRecord {
  const head = rows[0]!;
  const bids = rows.filter((r) => r.side === "b").map((r) => [r.price, r.qty] as const);
  const asks = rows.filter((r) => r.side === "a").map((r) => [r.price, r.qty] as const);
  if (head.type === "snap")
    return {
      kind: "snapshot",
      line: head.line,
      snapshot: {
        symbol: head.symbol,
        lastUpdateId: head.u,
        transactionTime: head.transactionTime,
        bids,
        asks,
      },
    };
  return {
    kind: "update",
    line: head.line,
    update: {
      symbol: head.symbol,
      eventTime: head.eventTime,
      transactionTime: head.transactionTime,
      firstUpdateId: head.U,
      finalUpdateId: head.u,
      previousFinalUpdateId: head.pu,
      bids,
      asks,
    },
  };
}
