/** Progress bars (cli-progress on stderr) of a backtest and of an archive download, shown only at a terminal. */
import cliProgress from "cli-progress";
import type { FetchProgress } from "../adapters/market/fetch.ts";
import type { BacktestProgress } from "../engine/backtest.ts";

const MINUTE_MS = 60_000;

/**
 * A progress bar over the backtest window, counted in market minutes, or undefined when stderr is not a TTY
 * or the output is JSON.
 */
export function createProgressBar(
  enabled: boolean,
): { update(p: BacktestProgress): void; stop(): void } | undefined {
  if (!enabled || !process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "backtest [{bar}] {percentage}% | {day} | {bars} bars | ETA {eta_formatted}",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = {
        bars: p.bars,
        day: new Date(p.eventTime).toISOString().slice(0, 16).replace("T", " "),
      };
      if (!started) {
        bar.start(Math.max(1, Math.round((p.to - p.from) / MINUTE_MS)), 0, payload);
        started = true;
      }
      bar.update(Math.round((Math.min(p.eventTime, p.to) - p.from) / MINUTE_MS), payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Progress of an archive download: `bytes` as zip chunks arrive, `file` after each file. */
export interface FetchProgressView {
  bytes(n: number): void;
  file(p: FetchProgress): void;
  stop(): void;
}

/**
 * On a TTY (`tty`), a bar over the `total` files with the megabytes of zips downloaded and the current file, on
 * `stream` (default stderr); otherwise one `[done/total] fetched|present PATH (BYTES bytes)` line per file through
 * `line` (BYTES: the CSV's size).
 */
export function createFetchProgress(
  tty: boolean,
  total: number,
  line: (text: string) => void,
  stream: NodeJS.WritableStream = process.stderr,
): FetchProgressView {
  if (!tty) {
    return {
      bytes: () => {},
      file: ({ done, file }) =>
        line(`[${done}/${total}] ${file.skipped ? "present" : "fetched"} ${file.path} (${file.bytes} bytes)`),
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: "data [{bar}] {value}/{total} files | {mb} MB | {file}",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let received = 0;
  const mb = () => (received / 1_048_576).toFixed(1);
  bar.start(total, 0, { mb: mb(), file: "" });
  return {
    bytes: (n) => {
      received += n;
      bar.update({ mb: mb() });
    },
    file: ({ done, file }) => bar.update(done, { mb: mb(), file: file.path }),
    stop: () => bar.stop(),
  };
}
