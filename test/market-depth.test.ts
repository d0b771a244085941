/**
 * The depth capture reader (src/adapters/market/depth.ts): both layouts grouped into snapshots and diff
 * events, and every malformed input named by file and line.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DepthRecord, readDepthFile } from "../src/adapters/market/depth.ts";
import { MarketDataError } from "../src/adapters/market/types.ts";

const CAPTURE =
  "symbol,event_time,transaction_time,first_update_id,last_update_id,pu,side,update_type,price,qty";
const SAMPLE = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu";
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "depth-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true });
});

let files = 0;
async function read(lines: string[], symbol?: string): Promise<DepthRecord[]> {
  const path = join(dir, `f${files++}.csv`);
  await writeFile(path, `${lines.join("\n")}\n`);
  const out: DepthRecord[] = [];
  for await (const r of readDepthFile({ path: "depth.csv", absolutePath: path }, symbol)) out.push(r);
  return out;
}

describe("readDepthFile", () => {
  it("groups rows into the snapshot and the diff events of both layouts", async () => {
    const records = await read([
      CAPTURE,
      "BTCUSDT,10,9,5,7,4,b,set,100.0,1.000",
      "BTCUSDT,10,9,5,7,4,a,set,100.5,0.000",
      "BTCUSDT,12,11,6,6,-1,b,snap,100.0,2.000",
      "BTCUSDT,12,11,6,6,-1,a,snap,100.4,3.000",
      "BTCUSDT,13,13,8,9,7,a,set,100.4,0",
    ]);
    expect(records).toEqual([
      {
        kind: "update",
        line: 2,
        update: {
          symbol: "BTCUSDT",
          eventTime: 10,
          transactionTime: 9,
          firstUpdateId: 5,
          finalUpdateId: 7,
          previousFinalUpdateId: 4,
          bids: [["100.0", "1.000"]],
          asks: [["100.5", "0.000"]],
        },
      },
      {
        kind: "snapshot",
        line: 4,
        snapshot: {
          symbol: "BTCUSDT",
          lastUpdateId: 6,
          transactionTime: 11,
          bids: [["100.0", "2.000"]],
          asks: [["100.4", "3.000"]],
        },
      },
      {
        kind: "update",
        line: 6,
        update: {
          symbol: "BTCUSDT",
          eventTime: 13,
          transactionTime: 13,
          firstUpdateId: 8,
          finalUpdateId: 9,
          previousFinalUpdateId: 7,
          bids: [],
          asks: [["100.4", "0"]],
        },
      },
    ]);
    const sample = await read([SAMPLE, "BTCUSDT,20,3,3,b,snap,1.5,2,-1", "BTCUSDT,21,4,6,a,set,1.6,1,3"]);
    expect(sample.map((r) => r.kind)).toEqual(["snapshot", "update"]);
    expect(sample[1]).toMatchObject({
      update: { eventTime: 21, transactionTime: 21, previousFinalUpdateId: 3 },
    });
  });

  it.each([
    [["symbol,time,x"], 1, /expected the header/],
    [[CAPTURE], 2, /no data rows/],
    [[CAPTURE, "BTCUSDT,1,1,1,1,0,x,set,1,1"], 2, /side "x" is not b or a/],
    [[CAPTURE, "BTCUSDT,1,1,1,1,0,b,upd,1,1"], 2, /update_type "upd" is not snap or set/],
    [[CAPTURE, "BTCUSDT,1,1,1,1,0,b,set,0,1"], 2, /price/],
    [[CAPTURE, "BTCUSDT,1,1,1,1,0,b,set,1,-1"], 2, /qty/],
    [[CAPTURE, "BTCUSDT,1,1,1,1,-1,b,set,1,1"], 2, /pu/],
    [[CAPTURE, "BTCUSDT,1,1,1,1,0,b,set,1"], 2, /expected 10 fields, got 9/],
    [
      [CAPTURE, "BTCUSDT,1,1,1,1,0,b,set,1,1", "ETHUSDT,1,1,1,1,0,b,set,1,1"],
      3,
      /symbol ETHUSDT is not BTCUSDT/,
    ],
  ])("%j fails at line %i", async (lines, line, reason) => {
    const error = await read(lines, "BTCUSDT").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MarketDataError);
    expect((error as MarketDataError).file).toBe("depth.csv");
    expect((error as MarketDataError).line).toBe(line);
    expect((error as MarketDataError).message).toMatch(reason);
  });
});
