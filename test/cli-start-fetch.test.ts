/**
 * `perpsource start`'s first run (issue 9 item 8) against a local archive double: a `node:http` server serving
 * data.binance.vision's layout (`/data/futures/um/monthly/…/X.zip` and `X.zip.CHECKSUM`), its zips built here
 * from slices of the real files. On an empty data root `start` fetches the demo's files, verifies them, runs the
 * backtest (the same as `backtest` on those files) and serves on the port it bound (`--port 0`); a corrupted
 * zip is refused naming the file and both hashes, with nothing written; an unreachable archive gives the how-to.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchArchive } from "../src/adapters/market/fetch.ts";
import { backtestArchivePlan } from "../src/cli/first-run.ts";
import { createFetchProgress } from "../src/cli/progress.ts";
import { BacktestRequestSchema } from "../src/config/schema.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("start fetches its demo data from a local archive double");
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
/** The demo of these tests: one symbol, one day; its 200-bar warm-up starts the day before. */
const BACKTEST = { symbols: ["BTCUSDT"], from: "2025-05-05", to: "2025-05-05" };
const SLICE = { from: Date.UTC(2025, 4, 4), to: Date.UTC(2025, 4, 6) };

/** The monthly files of the double (archive path without `.zip` → CSV text), sliced from the real data. */
function archiveFiles(dataRoot: string): Map<string, string> {
  const slice = (path: string) => {
    const [header, ...rows] = readFileSync(join(dataRoot, path), "utf8").trimEnd().split("\n");
    const kept = rows.filter((row) => {
      const t = Number(row.split(",")[0]);
      return t >= SLICE.from && t < SLICE.to;
    });
    expect(kept.length).toBeGreaterThan(0);
    return `${[header, ...kept].join("\n")}\n`;
  };
  return new Map([
    [
      "futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05",
      slice("futures/um/ohlcv/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-04_2025-06-24.csv"),
    ],
    [
      "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05",
      slice("futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2025-05.csv"),
    ],
    [
      "futures/um/monthly/markPriceKlines/BTCUSDT/8h/BTCUSDT-8h-2025-05",
      slice("futures/um/markPriceKlines/BTCUSDT/8h/BTCUSDT-markPriceKlines-8h-2025-03-06_2025-07-17.csv"),
    ],
  ]);
}

/** A local data.binance.vision: each file's zip and its CHECKSUM; `corrupt` serves a zip whose hash differs. */
async function archiveDouble(
  files: Map<string, string>,
  corrupt?: string,
): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const served = new Map<string, Uint8Array | string>();
  for (const [path, csv] of files) {
    const name = path.split("/").at(-1)!;
    const zip = zipSync({ [`${name}.csv`]: strToU8(csv) });
    const sha = createHash("sha256").update(zip).digest("hex");
    served.set(`/data/${path}.zip.CHECKSUM`, `${sha}  ${name}.zip\n`);
    served.set(
      `/data/${path}.zip`,
      path === corrupt ? zipSync({ [`${name}.csv`]: strToU8(`${csv}x`) }) : zip,
    );
  }
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const body = served.get(req.url ?? "");
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { "content-type": "application/octet-stream" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A fresh cwd with the demo's config file and no data. */
function freshClone(): string {
  const cwd = mkdtempSync(join(tmpdir(), "perpsource-first-run-"));
  writeFileSync(join(cwd, "perpsource.config.json"), JSON.stringify({ backtest: BACKTEST }));
  return cwd;
}

const env = (extra: Record<string, string>) => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PERPSOURCE_"))),
  ...extra,
});

/** `start` as a child process; resolves with its output once it announced its URL, or once it exited. */
function start(cwd: string, args: string[], extraEnv: Record<string, string>) {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [BIN, "--log-level", "warn", "start", "--port", "0", ...args],
    { cwd, env: env(extraEnv) },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const settled = new Promise<{ code: number | null; url?: string }>((resolve) => {
    child.stdout.on("data", () => {
      const m = /serving on (http:\/\/\S+)/.exec(stdout);
      if (m) resolve({ code: null, url: m[1]! });
    });
    child.on("exit", (code) => resolve({ code }));
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { child, settled, exited, output: () => ({ stdout, stderr }) };
}

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

describe("backtestArchivePlan", () => {
  it("derives symbols, months and kinds from the backtest's window and its strategy's warm-up", () => {
    const plan = (over: object) => backtestArchivePlan(BacktestRequestSchema.parse(over));
    expect(plan({})).toEqual({
      symbols: ["BTCUSDT", "ETHUSDT"],
      months: ["2025-05", "2025-06"],
      dataTypes: ["klines", "fundingRate", "markPriceKlines"],
    });
    // sma-cross warms up on 200 1m bars: 2025-06-01's warm-up starts in May.
    expect(plan({ symbols: ["SOLUSDT"], from: "2025-06-01", to: "2025-06-01" })?.months).toEqual([
      "2025-05",
      "2025-06",
    ]);
    expect(plan({ from: "2025-06-01", to: "2025-06-01", warmupBars: 0 })?.months).toEqual(["2025-06"]);
    // multifactor-v2 warms up on 979 hours and the settlements 8 h before them: two months back.
    expect(plan({ strategy: "multifactor-v2", from: "2025-03-01", to: "2025-03-31" })?.months).toEqual([
      "2025-01",
      "2025-02",
      "2025-03",
    ]);
    expect(plan({ symbols: "ALL" })).toBeUndefined();
  });
});

describe.skipIf(!root)("createFetchProgress on a terminal", () => {
  it("draws a bar over the files with the megabytes of zips received and the last file", async () => {
    const files = archiveFiles(root!);
    const archive = await archiveDouble(files);
    const dest = mkdtempSync(join(tmpdir(), "perpsource-progress-"));
    let drawn = "";
    const terminal = Object.assign(
      new Writable({
        write(chunk, _encoding, done) {
          drawn += String(chunk);
          done();
        },
      }),
      { isTTY: true, columns: 200 },
    );
    const lines: string[] = [];
    const progress = createFetchProgress(true, 3, (l) => lines.push(l), terminal);
    let zipBytes = 0;
    try {
      await fetchArchive({
        ...backtestArchivePlan(BacktestRequestSchema.parse(BACKTEST))!,
        baseUrl: archive.url,
        dest,
        onBytes: (n) => {
          zipBytes += n;
          progress.bytes(n);
        },
        onProgress: progress.file,
      });
    } finally {
      progress.stop();
      await archive.close();
      rmSync(dest, { recursive: true, force: true });
    }
    expect(lines).toEqual([]); // the bar, not lines
    expect(zipBytes).toBeGreaterThan(0);
    const last = [...files.keys()].at(-1)!;
    expect(drawn).toContain(`] 3/3 files | ${(zipBytes / 1_048_576).toFixed(1)} MB | ${last}.csv`);
    expect(drawn).toContain("] 0/3 files | 0.0 MB | ");
  });
});

describe.skipIf(!root)("start on a fresh clone", () => {
  let files: Map<string, string>;
  const dirs: string[] = [];
  beforeAll(() => {
    files = archiveFiles(root!);
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("fetches the demo's files, verifies them, runs the backtest and serves on the port it bound", async () => {
    const archive = await archiveDouble(files);
    const cwd = freshClone();
    dirs.push(cwd);
    const run = start(cwd, [], { PERPSOURCE_ARCHIVE_URL: archive.url });
    try {
      const { code, url } = await run.settled;
      expect(code, run.output().stderr).toBeNull();
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(url).not.toMatch(/:0$/);
      const { stdout, stderr } = run.output();
      // Plain progress lines off a TTY, one per file.
      expect(stderr).toContain(
        `fetching BTCUSDT 2025-05…2025-05 (klines, fundingRate, markPriceKlines: 3 files)`,
      );
      for (const [i, path] of [...files.keys()].entries()) {
        expect(stderr).toContain(`[${i + 1}/3] fetched ${path}.csv (${files.get(path)!.length} bytes)`);
      }
      // The CSVs as served, each with its CHECKSUM, nothing else.
      const data = join(cwd, "data");
      expect(filesUnder(data)).toEqual(
        [...files.keys()].flatMap((p) => [`${p}.csv`, `${p}.zip.CHECKSUM`]).sort(),
      );
      for (const [path, csv] of files) expect(readFileSync(join(data, `${path}.csv`), "utf8")).toBe(csv);

      const health = (await (await fetch(`${url}/health`)).json()) as { status: string; events: number };
      expect(health.status).toBe("ok");
      // The summary is a backtest's on the same files.
      const sha = /eventLogSha256\s+([0-9a-f]{64})/.exec(stdout)?.[1];
      const backtest = spawnSync(
        process.execPath,
        [BIN, "--log-level", "warn", "backtest", "--store", "sqlite:var/check.sqlite", "--json"],
        { cwd, env: env({}), encoding: "utf8" },
      );
      expect(backtest.status, backtest.stderr).toBe(0);
      const summary = JSON.parse(backtest.stdout) as { eventLogSha256: string; events: number; bars: number };
      expect(sha).toBe(summary.eventLogSha256);
      expect(summary.bars).toBe(1440);
      expect(health.events).toBe(summary.events);
      // start appended the log itself: its /metrics times the writes and counts the events appended.
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const value = (series: string) =>
        Number(
          metrics
            .split("\n")
            .find((l) => l.startsWith(`${series} `))
            ?.split(" ")[1],
        );
      expect(value("perpsource_events_appended_total")).toBe(summary.events);
      expect(value('perpsource_store_write_duration_seconds_count{op="append"}')).toBeGreaterThan(0);
      expect(value('perpsource_store_write_duration_seconds_count{op="flush"}')).toBeGreaterThan(0);
    } finally {
      run.child.kill("SIGINT");
      expect(await run.exited).toBe(0);
      await archive.close();
    }
    // A second start finds the data and asks the archive for nothing.
    const again = await archiveDouble(files);
    const rerun = start(cwd, [], { PERPSOURCE_ARCHIVE_URL: again.url });
    try {
      expect((await rerun.settled).url).toBeDefined();
      expect(again.requests).toEqual([]);
    } finally {
      rerun.child.kill("SIGINT");
      await rerun.exited;
      await again.close();
    }
  }, 120_000);

  it("refuses a zip whose hash is not its CHECKSUM's, naming the file and both hashes; nothing is written", async () => {
    const klines = "futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05";
    const archive = await archiveDouble(files, klines);
    const cwd = freshClone();
    dirs.push(cwd);
    try {
      const run = start(cwd, [], { PERPSOURCE_ARCHIVE_URL: archive.url });
      expect((await run.settled).code).toBe(1);
      const { stdout, stderr } = run.output();
      expect(stderr).toMatch(
        /^error: checksum mismatch for BTCUSDT-1m-2025-05\.zip \(http:\S+\): CHECKSUM says [0-9a-f]{64}, the download hashes to [0-9a-f]{64}; nothing was written$/m,
      );
      const [, said, got] = /CHECKSUM says (\w+), the download hashes to (\w+)/.exec(stderr)!;
      expect(said).not.toBe(got);
      expect(stderr).not.toMatch(/^\s+at /m);
      expect(stdout).toBe("");
      expect(filesUnder(join(cwd, "data"))).toEqual([]);
      expect(existsSync(join(cwd, "var"))).toBe(false);
    } finally {
      await archive.close();
    }
  }, 60_000);
});

describe("start without the archive", () => {
  it("a refused connection prints the how-to with the reason, exit 1, no stack trace", async () => {
    const closed = await archiveDouble(new Map());
    await closed.close(); // its port now refuses connections
    const cwd = freshClone();
    const run = start(cwd, [], { PERPSOURCE_ARCHIVE_URL: closed.url });
    expect((await run.settled).code).toBe(1);
    const { stdout, stderr } = run.output();
    expect(stderr).toContain(
      `error: no market data for BTCUSDT from 2025-05-05 to 2025-05-05 under ${join(cwd, "data")}`,
    );
    expect(stderr).toMatch(
      new RegExp(
        `cannot download it: GET ${closed.url}/data/futures/um/monthly/klines/\\S+ failed: connect ECONNREFUSED`,
      ),
    );
    expect(stderr).toContain("perpsource data fetch --symbols BTCUSDT --from 2025-05 --to 2025-05");
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stdout).toBe("");
    expect(existsSync(join(cwd, "data"))).toBe(false);
    expect(existsSync(join(cwd, "var"))).toBe(false);
    rmSync(cwd, { recursive: true, force: true });
  }, 60_000);

  it("--no-fetch asks the archive for nothing and prints the how-to", async () => {
    const archive = await archiveDouble(new Map());
    const cwd = freshClone();
    try {
      const run = start(cwd, ["--no-fetch"], { PERPSOURCE_ARCHIVE_URL: archive.url });
      expect((await run.settled).code).toBe(1);
      expect(run.output().stderr).toContain("the directory is missing or empty");
      expect(archive.requests).toEqual([]);
    } finally {
      await archive.close();
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);
});
