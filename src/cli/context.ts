/** What every command action gets: the validated config, a logger, and the result/diagnostic printers. */
import type { Logger } from "pino";
import { ConfigError, type ConfigSources, loadConfig } from "../config/load.ts";
import type { AppConfig } from "../config/schema.ts";
import type { InstrumentCatalog } from "../domain/instruments.catalog.ts";
import type { LeverageBracketCatalog } from "../domain/margin/brackets.catalog.ts";
import { createLogger } from "./logger.ts";

/** Parsed commander options of a command, global options (`--config`, `--log-level`, `--verbose`) included. */
export type Flags = Record<string, unknown>;

export interface CliContext {
  cfg: AppConfig;
  logger: Logger;
  /** The instruments of this run: the `--instruments` file's, else the bundled snapshot's. */
  instruments: InstrumentCatalog;
  /** The leverage brackets of this run: the `--brackets` file's, else the bundled snapshot's (read on first call). */
  brackets(): LeverageBracketCatalog;
  /** Writes one result line to stdout. */
  out(line: string): void;
  /** Writes one diagnostic line to stderr. */
  err(line: string): void;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const err = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Prints `error: <message>` to stderr, with the stack when `withStack`. */
export function reportError(error: unknown, withStack: boolean): void {
  const e = error instanceof Error ? error : new Error(String(error));
  err(`error: ${e.message}`);
  if (withStack && e.stack) err(e.stack);
}

/**
 * Loads the config from `process.env`, cwd, `flags.config` and `configFlags` (the subset of flags that are
 * config keys), reads the `instruments` and `brackets` files when configured (else the bundled snapshots are the run's
 * catalog), then runs `action`. A runtime error is printed (stack only at log level debug/trace or with
 * --verbose) and gives exit code 1. `options.listedSymbolsFor`: the command trades listed symbols only (see
 * `ConfigSources`).
 * @throws ConfigError when the configuration, the instruments or the brackets file is invalid (the caller exits 2).
 */
export async function withContext(
  flags: Flags,
  configFlags: Flags,
  action: (ctx: CliContext) => Promise<number>,
  options: Pick<ConfigSources, "listedSymbolsFor"> = {},
): Promise<number> {
  const cfg = loadConfig({
    file: typeof flags["config"] === "string" ? flags["config"] : undefined,
    env: process.env,
    flags: configFlags,
    cwd: process.cwd(),
    ...options,
  });
  const instruments = await loadInstruments(cfg.instruments);
  const brackets = await bracketsOf(cfg.brackets);
  const logger = createLogger(cfg.logLevel);
  try {
    return await action({ cfg, logger, instruments, brackets, out, err });
  } catch (error) {
    reportError(error, flags["verbose"] === true || cfg.logLevel === "debug" || cfg.logLevel === "trace");
    return 1;
  }
}

/** The catalog of the exchangeInfo file at `path`, or the bundled one; a bad file is a ConfigError. */
async function loadInstruments(path: string | undefined): Promise<InstrumentCatalog> {
  const { bundledInstrumentCatalog } = await import("../domain/instruments.catalog.ts");
  if (path === undefined) return bundledInstrumentCatalog();
  const { loadInstrumentCatalog } = await import("../adapters/exchange-info/load.ts");
  try {
    return loadInstrumentCatalog(path);
  } catch (error) {
    throw new ConfigError([`instruments: ${(error as Error).message}`]);
  }
}

/**
 * The catalog of the bracket file at `path`, read now (a bad file is a ConfigError), or the bundled one, read on
 * first use (most commands never need it).
 */
async function bracketsOf(path: string | undefined): Promise<() => LeverageBracketCatalog> {
  const { bundledLeverageBracketCatalog } = await import("../domain/margin/brackets.catalog.ts");
  if (path === undefined) return bundledLeverageBracketCatalog;
  const { loadLeverageBracketCatalog } = await import("../adapters/leverage-brackets/load.ts");
  try {
    const catalog = loadLeverageBracketCatalog(path);
    return () => catalog;
  } catch (error) {
    throw new ConfigError([`brackets: ${(error as Error).message}`]);
  }
}

/** A command line that parsed but makes no sense (e.g. --from after --to); exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
