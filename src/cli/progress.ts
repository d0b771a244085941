/** The backtest progress bar (cli-progress on stderr), shown only to a human at a terminal. */
import cliProgress from "cli-progress";
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
