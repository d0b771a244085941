/** The CLI's logger: pino writing synchronously to stderr, so stdout carries only results. */
import { type Logger, pino } from "pino";
import type { LogLevel } from "../config/schema.ts";

/** A pino logger at `level` ("silent" disables it) writing JSON lines to stderr (fd 2). */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: undefined }, pino.destination({ dest: 2, sync: true }));
}
