/**
 * MergedRows (src/adapters/market/merge.ts), the merge of a symbol's kline files: its first fill reads every
 * source's first batch at once, and no row is handed out before all of them are in, however late one comes (a
 * row taken from the sources already in would not be the least: found when the first fill started early, while
 * the funding files load, and a later month's file answered first).
 */
import { describe, expect, it } from "vitest";
import { MergedRows } from "../src/adapters/market/merge.ts";

/** A source yielding `batches`, its first one after `delay` ms; `opened` records when it was first read. */
async function* source(
  batches: number[][],
  delay: number,
  log: string[],
  name: string,
): AsyncGenerator<number[]> {
  log.push(`open ${name}`);
  await new Promise((resolve) => setTimeout(resolve, delay));
  yield* batches;
}

/** Every row `rows` hands out, reading as symbolEvents does: take while it can, else fill. */
async function drain(rows: MergedRows<number>): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const row = rows.take();
    if (row !== undefined) {
      out.push(row);
      continue;
    }
    if (!(await rows.fill())) return out;
  }
}

describe("MergedRows", () => {
  it("hands out no row before every source's first batch is in, and opens them all at once", async () => {
    const log: string[] = [];
    const rows = new MergedRows(
      [
        source(
          [
            [1, 2],
            [5, 6],
          ],
          30,
          log,
          "august",
        ),
        source([[3, 4], [7]], 0, log, "september"),
      ],
      (a, b) => a - b,
    );
    const first = rows.fill(); // started early, as symbolEvents starts it before loading the funding files
    expect(log).toEqual(["open august", "open september"]);
    await new Promise((resolve) => setTimeout(resolve, 10)); // september is in, august is not
    expect(rows.take()).toBeUndefined();
    const again = rows.fill(); // a fill while the first one runs waits for that one
    expect(await first).toBe(true);
    expect(await again).toBe(true);
    expect(await drain(rows)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("throws the first failure in source order, whichever fails first", async () => {
    async function* failing(message: string, delay: number): AsyncGenerator<number[]> {
      await new Promise((resolve) => setTimeout(resolve, delay));
      throw new Error(message);
    }
    const rows = new MergedRows([failing("first", 20), failing("second", 0)], (a, b) => a - b);
    await expect(rows.fill()).rejects.toThrow("first");
  });
});
