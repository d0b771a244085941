/**
 * The CLI's logger: pino writing synchronously to stderr, so stdout carries only results. On a terminal the
 * lines are pretty-printed (pino-pretty); otherwise they stay JSON lines for log collectors.
 */
import { type Logger, pino } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "../config/schema.ts";

/** A pino logger at `level` ("silent" disables it) writing to stderr (fd 2): pretty on a TTY, JSON otherwise. */
export function createLogger(level: LogLevel): Logger {
  const destination = process.stderr.isTTY
    ? pretty({ destination: 2, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" })
    : pino.destination({ dest: 2, sync: true });
  return pino({ level, base: undefined }, destination);
}
