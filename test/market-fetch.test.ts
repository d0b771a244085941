import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { archiveMarketEvents, discoverArchive } from "../src/adapters/market/archive.ts";
import { ArchiveUnreachableError, type FetchProgress, fetchArchive } from "../src/adapters/market/fetch.ts";

const KLINES = "data/futures/um/monthly/klines/BTCUSDT/1m";
const FUNDING = "data/futures/um/monthly/fundingRate/BTCUSDT";
const MARK = "data/futures/um/monthly/markPriceKlines/BTCUSDT/8h";
const T = Date.UTC(2025, 4, 1);

const klinesCsv =
  "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n" +
  `${T},94172.0,94188.8,94150.0,94180.1,12.5,${T + 59_999},1177000.1,310,6.1,574000.2,0\n` +
  `${T + 60_000},94180.1,94200.0,94170.0,94199.9,8.25,${T + 119_999},777000.3,200,4.0,376000.1,0\n`;
const fundingCsv = `calc_time,funding_interval_hours,last_funding_rate\n${T},8,0.00005\n`;
const markCsv =
  "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n" +
  `${T},94170.5,94500,93900,94200,0,${T + 28_799_999},0,0,0,0,0\n`;

/** A zip (made with fflate) holding `csvName`, and its sha256sum-format CHECKSUM. */
function archive(csvName: string, csv: string): { zip: Uint8Array; checksum: string } {
  const zip = zipSync({ [csvName]: strToU8(csv) });
  const hex = createHash("sha256").update(zip).digest("hex");
  return { zip, checksum: `${hex}  ${csvName.replace(/\.csv$/, ".zip")}\n` };
}

/** URL path → body served by the test server; every request is counted. */
const served = new Map<string, Uint8Array | string>();
const requests: string[] = [];
let server: Server;
let baseUrl: string;
let dest: string;

function serve(dir: string, stem: string, csv: string, checksumOverride?: string): void {
  const { zip, checksum } = archive(`${stem}.csv`, csv);
  served.set(`/${dir}/${stem}.zip`, zip);
  served.set(`/${dir}/${stem}.zip.CHECKSUM`, checksumOverride ?? checksum);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const body = served.get(req.url ?? "");
    if (body === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not Found");
      return;
    }
    res.writeHead(200).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  await new Promise((ok) => server.close(ok));
});
beforeEach(async () => {
  served.clear();
  requests.length = 0;
  dest = await mkdtemp(join(tmpdir(), "perpsource-fetch-"));
  return () => rm(dest, { recursive: true, force: true });
});

/** Every file under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

describe("fetchArchive", () => {
  it("downloads, verifies and unzips klines, funding and mark-price klines into the archive layout", async () => {
    serve(KLINES, "BTCUSDT-1m-2025-05", klinesCsv);
    serve(FUNDING, "BTCUSDT-fundingRate-2025-05", fundingCsv);
    serve(MARK, "BTCUSDT-8h-2025-05", markCsv);
    const progress: FetchProgress[] = [];
    const fetched = await fetchArchive({
      baseUrl,
      dest,
      symbols: ["BTCUSDT"],
      months: ["2025-05"],
      dataTypes: ["klines", "fundingRate", "markPriceKlines"],
      onProgress: (e) => progress.push(e),
    });
    expect(fetched.map((f) => [f.path, f.skipped, f.bytes])).toEqual([
      ["futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05.csv", false, klinesCsv.length],
      ["futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.csv", false, fundingCsv.length],
      ["futures/um/monthly/markPriceKlines/BTCUSDT/8h/BTCUSDT-8h-2025-05.csv", false, markCsv.length],
    ]);
    expect(fetched[0]!.url).toBe(`${baseUrl}${KLINES}/BTCUSDT-1m-2025-05.zip`);
    expect(fetched[0]!.sha256).toBe(
      createHash("sha256")
        .update(served.get(`/${KLINES}/BTCUSDT-1m-2025-05.zip`)!)
        .digest("hex"),
    );
    expect(readFileSync(fetched[0]!.absolutePath, "utf8")).toBe(klinesCsv);
    expect(readFileSync(join(dest, fetched[1]!.path), "utf8")).toBe(fundingCsv);
    expect(progress.map((p) => [p.done, p.total, p.file.path])).toEqual(
      fetched.map((f, i) => [i + 1, 3, f.path]),
    );
    expect(tree(dest)).toEqual([
      "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.csv",
      "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.zip.CHECKSUM",
      "futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05.csv",
      "futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05.zip.CHECKSUM",
      "futures/um/monthly/markPriceKlines/BTCUSDT/8h/BTCUSDT-8h-2025-05.csv",
      "futures/um/monthly/markPriceKlines/BTCUSDT/8h/BTCUSDT-8h-2025-05.zip.CHECKSUM",
    ]);

    // The fetched tree is what discovery and the merge read.
    const q = { from: T, to: T + 2 * 60_000 };
    const files = await discoverArchive(dest, { symbols: ["BTCUSDT"], ...q });
    expect(files.map((f) => f.kind)).toEqual(["klines", "fundingRate", "markPriceKlines"]);
    const events = [];
    for await (const e of archiveMarketEvents(files, q)) events.push(e);
    expect(events.map((e) => e.kind)).toEqual(["funding", "bar", "bar"]);
    expect(events[0]).toMatchObject({ funding: { markPrice: "94170.5", markPriceSource: "markPriceKline" } });
  });

  it("fetches 1m mark-price klines with interval 1m (the venue's mark for triggers and liquidation)", async () => {
    const mark1m =
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n" +
      `${T},94170.5,94180,94160,94175,0,${T + 59_999},0,60,0,0,0\n`;
    serve("data/futures/um/monthly/markPriceKlines/BTCUSDT/1m", "BTCUSDT-1m-2025-05", mark1m);
    const fetched = await fetchArchive({
      baseUrl,
      dest,
      symbols: ["BTCUSDT"],
      months: ["2025-05"],
      dataTypes: ["markPriceKlines"],
      interval: "1m",
    });
    expect(fetched.map((f) => f.path)).toEqual([
      "futures/um/monthly/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2025-05.csv",
    ]);
    expect(readFileSync(fetched[0]!.absolutePath, "utf8")).toBe(mark1m);
  });

  it("skips a file whose CSV and CHECKSUM are present, and fetches it again when Binance replaced it", async () => {
    serve(KLINES, "BTCUSDT-1m-2025-05", klinesCsv);
    const opts = { baseUrl, dest, symbols: ["BTCUSDT"], months: ["2025-05"], dataTypes: ["klines" as const] };
    await fetchArchive(opts);
    requests.length = 0;
    const again = await fetchArchive(opts);
    expect(again.map((f) => [f.path, f.skipped, f.bytes])).toEqual([
      ["futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05.csv", true, klinesCsv.length],
    ]);
    expect(requests).toEqual([`/${KLINES}/BTCUSDT-1m-2025-05.zip.CHECKSUM`]);

    const replaced = klinesCsv.replace("12.5", "12.6");
    serve(KLINES, "BTCUSDT-1m-2025-05", replaced);
    const third = await fetchArchive(opts);
    expect(third[0]!.skipped).toBe(false);
    expect(readFileSync(third[0]!.absolutePath, "utf8")).toBe(replaced);
  });

  it("rejects a checksum mismatch, naming the file and both hashes, and writes nothing", async () => {
    const wrong = "0".repeat(64);
    serve(KLINES, "BTCUSDT-1m-2025-05", klinesCsv, `${wrong}  BTCUSDT-1m-2025-05.zip\n`);
    const actual = createHash("sha256")
      .update(served.get(`/${KLINES}/BTCUSDT-1m-2025-05.zip`)!)
      .digest("hex");
    await expect(
      fetchArchive({ baseUrl, dest, symbols: ["BTCUSDT"], months: ["2025-05"], dataTypes: ["klines"] }),
    ).rejects.toThrow(
      `checksum mismatch for BTCUSDT-1m-2025-05.zip (${baseUrl}${KLINES}/BTCUSDT-1m-2025-05.zip): ` +
        `CHECKSUM says ${wrong}, the download hashes to ${actual}; nothing was written`,
    );
    expect(tree(dest)).toEqual([]);
  });

  it("rejects a missing file with the HTTP status and URL", async () => {
    await expect(
      fetchArchive({ baseUrl, dest, symbols: ["BTCUSDT"], months: ["2019-01"], dataTypes: ["klines"] }),
    ).rejects.toThrow(`HTTP 404 Not Found for GET ${baseUrl}${KLINES}/BTCUSDT-1m-2019-01.zip.CHECKSUM`);
    expect(tree(dest)).toEqual([]);
  });

  it("rejects invalid symbols, months and intervals before any request", async () => {
    const base = { baseUrl, dest, symbols: ["BTCUSDT"], months: ["2025-05"], dataTypes: ["klines" as const] };
    await expect(fetchArchive({ ...base, symbols: ["../etc"] })).rejects.toThrow('invalid symbol "../etc"');
    await expect(fetchArchive({ ...base, months: ["2025-13"] })).rejects.toThrow('invalid month "2025-13"');
    await expect(fetchArchive({ ...base, interval: "7m" })).rejects.toThrow('invalid interval "7m"');
    expect(requests).toEqual([]);
  });

  it("reports each zip's bytes as they arrive (not the checksums')", async () => {
    serve(KLINES, "BTCUSDT-1m-2025-05", klinesCsv);
    serve(FUNDING, "BTCUSDT-fundingRate-2025-05", fundingCsv);
    let bytes = 0;
    await fetchArchive({
      baseUrl,
      dest,
      symbols: ["BTCUSDT"],
      months: ["2025-05"],
      dataTypes: ["klines", "fundingRate"],
      onBytes: (n) => {
        bytes += n;
      },
    });
    const zips = [`/${KLINES}/BTCUSDT-1m-2025-05.zip`, `/${FUNDING}/BTCUSDT-fundingRate-2025-05.zip`];
    expect(bytes).toBe(zips.reduce((sum, path) => sum + (served.get(path) as Uint8Array).length, 0));
  });

  it("an archive that refuses the connection or does not answer is unreachable, naming the URL and cause", async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const refused = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((ok) => closed.close(ok));
    const base = { dest, symbols: ["BTCUSDT"], months: ["2025-05"], dataTypes: ["klines" as const] };
    const error = await fetchArchive({ ...base, baseUrl: refused }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveUnreachableError);
    expect((error as ArchiveUnreachableError).url).toBe(
      `${refused}/${KLINES}/BTCUSDT-1m-2025-05.zip.CHECKSUM`,
    );
    expect((error as ArchiveUnreachableError).reason).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);

    const silent = createServer(() => {}); // accepts, never answers
    await new Promise<void>((ok) => silent.listen(0, "127.0.0.1", ok));
    const hanging = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      await expect(fetchArchive({ ...base, baseUrl: hanging, timeoutMs: 200 })).rejects.toThrow(
        new ArchiveUnreachableError(
          `${hanging}/${KLINES}/BTCUSDT-1m-2025-05.zip.CHECKSUM`,
          "no response within 200 ms",
        ),
      );
    } finally {
      silent.closeAllConnections();
      await new Promise((ok) => silent.close(ok));
    }
    expect(tree(dest)).toEqual([]);
  });
});
