/**
 * Downloads monthly files of Binance's public data archive (binance-usdm.md §6) into the local archive layout
 * that `discoverArchive` reads: `<dest>/futures/um/monthly/<dataType>/<SYMBOL>/[<interval>/]<file>.csv`.
 * Each zip is verified against its `.zip.CHECKSUM` (SHA-256, `sha256sum` format) before anything is written.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { unzipSync } from "fflate";
import type { FetchableKind } from "./types.ts";

/** Options of `fetchArchive`. */
export interface FetchArchiveOptions {
  /** Archive origin; default https://data.binance.vision. */
  baseUrl?: string;
  /** Local data root the CSVs are written under. */
  dest: string;
  /** Symbols such as BTCUSDT. */
  symbols: string[];
  /** Calendar months "YYYY-MM". */
  months: string[];
  dataTypes: FetchableKind[];
  /**
   * Kline interval of `klines` and `markPriceKlines` (Binance names: 1m … 12h, 1d, 3d, 1w, 1mo); default 1m for
   * klines and 8h for markPriceKlines — the intervals the backtest reads. Ignored for fundingRate.
   */
  interval?: string;
  /** HTTP client; default the global fetch. */
  fetchImpl?: typeof fetch;
  /** Called after each file, downloaded or skipped. */
  onProgress?: (e: FetchProgress) => void;
  /** Called as each zip's body arrives, with the number of bytes of that chunk (checksum files not counted). */
  onBytes?: (bytes: number) => void;
  /** Longest wait for a response's headers, ms (default 30 000): past it the archive counts as unreachable. */
  timeoutMs?: number;
}

/**
 * The archive could not be reached: DNS failure, connection refused or reset, TLS failure, or no response
 * within the timeout. `reason` is the underlying cause, e.g. `getaddrinfo ENOTFOUND data.binance.vision`.
 */
export class ArchiveUnreachableError extends Error {
  override name = "ArchiveUnreachableError";
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`GET ${url} failed: ${reason}`);
  }
}

/** One archive file, present locally after `fetchArchive`. */
export interface FetchedFile {
  /** CSV path relative to `dest`, forward slashes. */
  path: string;
  absolutePath: string;
  /** URL of the zip. */
  url: string;
  /** SHA-256 of the zip (lower-case hex), as published in its CHECKSUM file. */
  sha256: string;
  /** CSV size, bytes. */
  bytes: number;
  /** True when the CSV was already present with the same CHECKSUM and nothing was downloaded. */
  skipped: boolean;
}

/** Progress after each file: `done` of `total` files handled. */
export interface FetchProgress {
  done: number;
  total: number;
  file: FetchedFile;
}

const DEFAULT_BASE_URL = "https://data.binance.vision";
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_INTERVAL: Record<Exclude<FetchableKind, "fundingRate">, string> = {
  klines: "1m",
  markPriceKlines: "8h",
};
const SYMBOL = /^[A-Z0-9]{2,30}$/;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const INTERVAL = /^(1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1mo)$/;
const CHECKSUM_LINE = /^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$/;

/**
 * Downloads `dataTypes` × `symbols` × `months` (in that order), e.g.
 * `<baseUrl>/data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05.zip`. For each file it first
 * downloads `<zip>.CHECKSUM`; when the CSV already exists and the CHECKSUM stored next to it
 * (`<file>.zip.CHECKSUM`) names the same hash, the file is skipped (so a re-run downloads only checksums, and
 * a file Binance replaced is fetched again). Otherwise it downloads the zip, verifies its SHA-256, extracts the
 * single CSV with fflate and writes the CSV, then the CHECKSUM, each atomically (temporary file + rename).
 * Stops at the first failure: an ArchiveUnreachableError when the archive cannot be reached (naming the URL and
 * the cause); else an Error naming the HTTP status and URL; or, for a checksum mismatch, the file and both
 * hashes (nothing of that file is written); or a malformed CHECKSUM/zip. Throws a RangeError for an invalid
 * symbol, month or interval. Files completed before a failure stay.
 */
export async function fetchArchive(opts: FetchArchiveOptions): Promise<FetchedFile[]> {
  const baseUrl = (opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
  const http: Http = {
    fetchImpl: opts.fetchImpl ?? fetch,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    onBytes: opts.onBytes,
  };
  for (const s of opts.symbols)
    if (!SYMBOL.test(s)) throw new RangeError(`invalid symbol "${s}": expected e.g. BTCUSDT`);
  for (const m of opts.months)
    if (!MONTH.test(m)) throw new RangeError(`invalid month "${m}": expected YYYY-MM`);
  if (opts.interval !== undefined && !INTERVAL.test(opts.interval)) {
    throw new RangeError(
      `invalid interval "${opts.interval}": expected a Binance kline interval such as 1m or 8h`,
    );
  }
  const targets = opts.dataTypes.flatMap((kind) =>
    opts.symbols.flatMap((symbol) =>
      opts.months.map((month) => archiveTarget(kind, symbol, month, opts.interval)),
    ),
  );
  const fetched: FetchedFile[] = [];
  for (const target of targets) {
    const file = await fetchOne(baseUrl, opts.dest, target, http);
    fetched.push(file);
    opts.onProgress?.({ done: fetched.length, total: targets.length, file });
  }
  return fetched;
}

/** How files are downloaded. */
interface Http {
  fetchImpl: typeof fetch;
  timeoutMs: number;
  onBytes: ((bytes: number) => void) | undefined;
}

interface Target {
  /** Directory relative to the archive's `data/` and to dest, e.g. futures/um/monthly/klines/BTCUSDT/1m. */
  dir: string;
  /** File name without extension, e.g. BTCUSDT-1m-2025-05. */
  stem: string;
}

function archiveTarget(
  kind: FetchableKind,
  symbol: string,
  month: string,
  interval: string | undefined,
): Target {
  if (kind === "fundingRate") {
    return { dir: `futures/um/monthly/fundingRate/${symbol}`, stem: `${symbol}-fundingRate-${month}` };
  }
  const i = interval ?? DEFAULT_INTERVAL[kind];
  return { dir: `futures/um/monthly/${kind}/${symbol}/${i}`, stem: `${symbol}-${i}-${month}` };
}

async function fetchOne(baseUrl: string, dest: string, target: Target, http: Http): Promise<FetchedFile> {
  const zipName = `${target.stem}.zip`;
  const url = `${baseUrl}/data/${target.dir}/${zipName}`;
  const path = `${target.dir}/${target.stem}.csv`;
  const absolutePath = join(dest, path);
  const checksumPath = join(dest, target.dir, `${zipName}.CHECKSUM`);
  const checksumText = new TextDecoder().decode(await download(http, `${url}.CHECKSUM`, false));
  const sha256 = parseChecksum(checksumText, zipName, `${url}.CHECKSUM`);
  const present = await csvWithChecksum(absolutePath, checksumPath, zipName);
  if (present !== undefined && present.sha256 === sha256) {
    return { path, absolutePath, url, sha256, bytes: present.bytes, skipped: true };
  }
  const zip = await download(http, url, true);
  const actual = createHash("sha256").update(zip).digest("hex");
  if (actual !== sha256) {
    throw new Error(
      `checksum mismatch for ${zipName} (${url}): CHECKSUM says ${sha256}, the download hashes to ${actual}; ` +
        "nothing was written",
    );
  }
  const csv = extractCsv(zip, zipName);
  await mkdir(dirname(absolutePath), { recursive: true });
  await writeAtomically(absolutePath, csv);
  await writeAtomically(checksumPath, checksumText);
  return { path, absolutePath, url, sha256, bytes: csv.length, skipped: false };
}

/** The body of GET `url`; with `counted`, each chunk's size goes to `http.onBytes` as it arrives. */
async function download(http: Http, url: string, counted: boolean): Promise<Uint8Array> {
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new Error(`no response within ${http.timeoutMs} ms`)),
    http.timeoutMs,
  );
  let res: Response;
  try {
    res = await http.fetchImpl(url, { signal: abort.signal });
  } catch (err) {
    throw new ArchiveUnreachableError(url, causeOf(err, abort.signal));
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText} for GET ${url}`);
  if (!counted || res.body === null || http.onBytes === undefined)
    return new Uint8Array(await res.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for await (const chunk of res.body) {
      chunks.push(chunk);
      length += chunk.length;
      http.onBytes(chunk.length);
    }
  } catch (err) {
    throw new ArchiveUnreachableError(url, `the download broke off: ${causeOf(err, abort.signal)}`);
  }
  const body = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}

/** The innermost message of a fetch failure (undici wraps the socket's error as `cause` of "fetch failed"). */
function causeOf(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return (signal.reason as Error).message;
  let e = err as Error & { cause?: unknown };
  while (e.cause instanceof Error) e = e.cause as Error & { cause?: unknown };
  return e.message;
}

/** The hex hash of a `sha256sum` line `<hex>  <name>` that must name `zipName`. */
function parseChecksum(text: string, zipName: string, url: string): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  const match = CHECKSUM_LINE.exec(line.trim());
  if (match === null) throw new Error(`malformed checksum file ${url}: expected "<sha256 hex>  ${zipName}"`);
  if (match[2] !== zipName) throw new Error(`checksum file ${url} is for ${match[2]}, not ${zipName}`);
  return match[1]!.toLowerCase();
}

/** The stored hash and CSV size when both the CSV and a readable CHECKSUM exist, else undefined. */
async function csvWithChecksum(
  csvPath: string,
  checksumPath: string,
  zipName: string,
): Promise<{ sha256: string; bytes: number } | undefined> {
  try {
    const bytes = (await stat(csvPath)).size;
    return { sha256: parseChecksum(await readFile(checksumPath, "utf8"), zipName, checksumPath), bytes };
  } catch {
    return undefined; // missing or unreadable: download again
  }
}

function extractCsv(zip: Uint8Array, zipName: string): Uint8Array {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip, { filter: (f) => f.name.endsWith(".csv") });
  } catch (err) {
    throw new Error(`cannot unzip ${zipName}: ${(err as Error).message}`);
  }
  const names = Object.keys(entries);
  if (names.length !== 1) {
    throw new Error(`${zipName} holds ${names.length} CSV files (${names.join(", ")}); expected exactly one`);
  }
  return entries[names[0]!]!;
}

async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}
