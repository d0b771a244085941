/**
 * The parse thread (src/adapters/market/parse-thread.ts): the archive readers run on a thread of their own and
 * give exactly what they give on the caller's thread — the same rows in the same order, the same
 * `MarketDataError` (file:line: reason) after the same rows, the same fs error — with bounded read-ahead and a
 * clean stop when a reader stops early. And the market stream read through it equals the one read without it
 * (real data).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveMarketEvents, discoverArchive } from "../src/adapters/market/archive.ts";
import { readKlineFile, readMarkPriceBarFile } from "../src/adapters/market/klines.ts";
import { BATCH_ROWS } from "../src/adapters/market/parse-thread.protocol.ts";
import { ParseThread } from "../src/adapters/market/parse-thread.ts";
import type { CsvSource } from "../src/adapters/market/types.ts";
import { requireRealData } from "./support/real-data.ts";

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const row = (i: number, close = "100.5") =>
  `${T0 + i * MIN},100,101,99,${close},10,${T0 + i * MIN + MIN - 1},1000,5,5,500,0`;

/** Everything a reader yields, then the error it ended with (undefined when it ended normally). */
async function drain<T>(rows: AsyncIterable<T>): Promise<{ rows: T[]; error: unknown }> {
  const out: T[] = [];
  try {
    for await (const r of rows) out.push(r);
    return { rows: out, error: undefined };
  } catch (error) {
    return { rows: out, error };
  }
}

describe("ParseThread", () => {
  let dir: string;
  const thread = new ParseThread();
  const src = (name: string): CsvSource => ({ path: `data/${name}`, absolutePath: join(dir, name) });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "perpsource-parse-thread-"));
    const n = 3 * BATCH_ROWS + 17; // several batches and a partial one
    await writeFile(join(dir, "good.csv"), `${Array.from({ length: n }, (_, i) => row(i)).join("\n")}\n`);
    // a bad row after two full batches and part of a third: its error must come after exactly those rows
    const bad = Array.from({ length: n }, (_, i) => (i === 2 * BATCH_ROWS + 5 ? row(i, "1e3") : row(i)));
    await writeFile(join(dir, "bad.csv"), `${bad.join("\n")}\n`);
    await writeFile(join(dir, "truncated.csv"), `${row(0)}\n${row(1).slice(0, 20)}`);
    await writeFile(join(dir, "marks.csv"), `${Array.from({ length: 40 }, (_, i) => row(i)).join("\n")}\n`);
    // the OHLCV layout (no taker buy volume), with a header
    const ohlcv = Array.from({ length: BATCH_ROWS + 3 }, (_, i) => row(i).split(",").slice(0, 6).join(","));
    await writeFile(join(dir, "ohlcv.csv"), `open_time,open,high,low,close,volume\n${ohlcv.join("\n")}\n`);
  });
  afterAll(async () => {
    await thread.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("is ready once it has loaded; a closed thread's ready() rejects, and so do its streams", async () => {
    await expect(thread.ready()).resolves.toBeUndefined();
    const closed = new ParseThread();
    await closed.close();
    await expect(closed.ready()).rejects.toThrow("ParseThread: closed");
    const after = await drain(closed.klines(src("good.csv")));
    expect(after.rows).toEqual([]);
    expect(after.error).toMatchObject({ message: "ParseThread: closed" });
  });

  it("yields the rows of readKlineFile, in order", async () => {
    const here = await drain(readKlineFile(src("good.csv")));
    const there = await drain(thread.klines(src("good.csv")));
    expect(there.error).toBeUndefined();
    expect(there.rows).toHaveLength(3 * BATCH_ROWS + 17);
    expect(there.rows).toEqual(here.rows);
  });

  it("rows cross packed and come out as the same objects: same keys, same order, no added key", async () => {
    for (const name of ["good.csv", "ohlcv.csv"]) {
      const here = await drain(readKlineFile(src(name)));
      const there = await drain(thread.klines(src(name)));
      expect(here.rows.length).toBeGreaterThan(BATCH_ROWS);
      expect(there.rows.map((r) => Object.keys(r))).toEqual(here.rows.map((r) => Object.keys(r)));
      expect(JSON.stringify(there.rows)).toBe(JSON.stringify(here.rows));
    }
    expect(Object.keys((await drain(thread.klines(src("ohlcv.csv")))).rows[0]!)).not.toContain(
      "takerBuyVolume",
    );
    const marks = await drain(thread.markPriceBars(src("marks.csv")));
    expect(JSON.stringify(marks.rows)).toBe(
      JSON.stringify((await drain(readMarkPriceBarFile(src("marks.csv")))).rows),
    );
  });

  it("yields the rows of readMarkPriceBarFile", async () => {
    const here = await drain(readMarkPriceBarFile(src("marks.csv")));
    expect(await drain(thread.markPriceBars(src("marks.csv")))).toEqual(here);
  });

  it("fails with the same MarketDataError after the same rows", async () => {
    for (const name of ["bad.csv", "truncated.csv"]) {
      const here = await drain(readKlineFile(src(name)));
      const there = await drain(thread.klines(src(name)));
      expect(here.error).toMatchObject({ name: "MarketDataError" });
      expect(there.rows).toEqual(here.rows);
      expect(there.error).toMatchObject({
        name: "MarketDataError",
        file: (here.error as { file: string }).file,
        line: (here.error as { line: number }).line,
        message: (here.error as Error).message,
      });
    }
  });

  it("fails with the fs error of a missing file", async () => {
    const there = await drain(thread.klines(src("missing.csv")));
    expect(there.rows).toEqual([]);
    expect(there.error).toMatchObject({ code: "ENOENT" });
  });

  it("stops a stream its reader leaves early, and serves the next one", async () => {
    const first: unknown[] = [];
    for await (const r of thread.klines(src("good.csv"))) {
      first.push(r);
      if (first.length === 10) break;
    }
    expect(first).toHaveLength(10);
    const again = await drain(thread.klines(src("good.csv")));
    expect(again.rows).toHaveLength(3 * BATCH_ROWS + 17);
  });

  it("reads concurrent streams independently", async () => {
    const [a, b] = await Promise.all([
      drain(thread.klines(src("good.csv"))),
      drain(thread.klines(src("bad.csv"))),
    ]);
    expect(a.error).toBeUndefined();
    expect(a.rows).toHaveLength(3 * BATCH_ROWS + 17);
    const here = await drain(readKlineFile(src("bad.csv")));
    expect(b.rows).toEqual(here.rows);
    expect(b.error).toMatchObject({ name: "MarketDataError", line: 2 * BATCH_ROWS + 6 });
  });
});

const root = requireRealData("the market stream through the parse thread equals the stream without it");
describe.skipIf(!root)("the market stream through the parse thread (real data)", () => {
  it("FILUSDT 2023-08..09: the same events, in the same order", async () => {
    const q = { from: Date.UTC(2023, 7, 1), to: Date.UTC(2023, 9, 1) };
    const files = await discoverArchive(root!, { symbols: ["FILUSDT", "NEARUSDT"], ...q });
    const thread = new ParseThread();
    try {
      const here = await drain(archiveMarketEvents(files, q));
      const there = await drain(archiveMarketEvents(files, q, { parseThread: thread }));
      expect(here.error).toBeUndefined();
      expect(there.error).toBeUndefined();
      expect(here.rows.length).toBeGreaterThan(2 * 61 * 1440); // two symbols, two months of bars
      expect(there.rows).toEqual(here.rows);
    } finally {
      await thread.close();
    }
  });
});
