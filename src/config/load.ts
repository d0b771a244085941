/**
 * Loads the application configuration from four layers, later ones winning key by key:
 * defaults (schema.ts) < config file (JSON) < environment (PERPSOURCE_*) < CLI flags.
 * Every validation problem names the key and the layer it came from.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { z } from "zod";
import { getStrategy, strategyConfigKeys } from "../strategies/registry.ts";
import {
  ALL_SYMBOLS,
  type AppConfig,
  AppConfigSchema,
  type BacktestConfig,
  BacktestConfigSchema,
} from "./schema.ts";

/** The configuration is invalid; `problems` holds one `key (from source): reason` line each. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid config: ${problems.join("; ")}`);
  }
}

/** Where the configuration comes from. */
export interface ConfigSources {
  /** Config file given explicitly (`--config FILE`), relative to cwd. */
  file?: string;
  /** Process environment (PERPSOURCE_DATA, _STORE, _HOST, _PORT, _READ_TOKEN, _CONTROL_TOKEN, _LOG_LEVEL, _INSTRUMENTS, _BRACKETS, _ARCHIVE_URL, _CONFIG). */
  env: Record<string, string | undefined>;
  /** Parsed CLI options, keyed as commander camel-cases them (`logLevel` for `--log-level`). */
  flags: Record<string, unknown>;
  /** Directory relative paths (config file, dataRoot) are resolved against. */
  cwd: string;
  /**
   * The command, when it trades listed symbols only (e.g. `run --mode paper`): `backtest.symbols: "ALL"` is then
   * a ConfigError naming it (only a backtest resolves ALL, from its data).
   */
  listedSymbolsFor?: string;
}

/** File looked for in cwd when neither `--config` nor PERPSOURCE_CONFIG names one. */
const DEFAULT_CONFIG_FILE = "perpsource.config.json";

type Path = readonly (string | number)[];
type Tree = Record<string, unknown>;

/** A configuration layer: nested values plus the source label of each key it sets. */
interface Layer {
  values: Tree;
  sourceOf(path: Path): string | undefined;
}

/** The environment variable holding the Telegram bot's token (never read from the config file). */
export const TELEGRAM_TOKEN_ENV = "PERPSOURCE_TELEGRAM_TOKEN";
/** The environment variable holding the alert webhook's bearer token (optional; never from the file). */
export const WEBHOOK_TOKEN_ENV = "PERPSOURCE_WEBHOOK_TOKEN";

/**
 * The alert sinks' tokens from `env` (empty counts as unset).
 * @throws ConfigError naming the variable when a token is not in its format (Telegram: `<bot id>:<secret>`;
 *   the webhook's: 16 to 512 characters of a bearer token).
 */
export function alertTokens(env: Record<string, string | undefined>): {
  telegram?: string;
  webhook?: string;
} {
  const telegram = nonEmpty(env[TELEGRAM_TOKEN_ENV]);
  const webhook = nonEmpty(env[WEBHOOK_TOKEN_ENV]);
  const problems: string[] = [];
  if (telegram !== undefined && !/^\d+:[A-Za-z0-9_-]{20,}$/.test(telegram)) {
    problems.push(`env ${TELEGRAM_TOKEN_ENV}: expected a bot token such as 123456789:AAE… (from @BotFather)`);
  }
  if (webhook !== undefined && !/^[A-Za-z0-9._~+/-]{16,512}=*$/.test(webhook)) {
    problems.push(`env ${WEBHOOK_TOKEN_ENV}: expected a token of 16 to 512 letters, digits or -._~+/`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(telegram === undefined ? {} : { telegram }),
    ...(webhook === undefined ? {} : { webhook }),
  };
}

/** One env variable or flag mapped onto a config key. */
interface Mapping {
  path: readonly string[];
  parse: (raw: unknown) => unknown;
}

const asIs = (raw: unknown) => raw;
/** Integer-looking strings become numbers; anything else is left for the schema to reject. */
const integer = (raw: unknown) => (typeof raw === "string" && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw);
/** `a, b` → ["a", "b"]. */
const pathList = (raw: unknown) =>
  typeof raw === "string"
    ? raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
    : raw;
/** `a, b` → ["A", "B"]. */
const symbolList = (raw: unknown) =>
  typeof raw === "string"
    ? raw
        .split(",")
        .map((s) => s.trim().toUpperCase())
        .filter((s) => s !== "")
    : raw;

/** `ORDERS/WINDOW_MS` (e.g. `100/1000`) → { orders, windowMs }; anything else is left for the schema to reject. */
const orderRate = (raw: unknown) => {
  const match = typeof raw === "string" ? /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw) : null;
  return match ? { orders: Number(match[1]), windowMs: Number(match[2]) } : raw;
};
/** `off` → null (turns a default-on limit off); anything else through `parse`. */
const offOr = (parse: (raw: unknown) => unknown) => (raw: unknown) => (raw === "off" ? null : parse(raw));

const ENV: Record<string, Mapping> = {
  PERPSOURCE_DATA: { path: ["dataRoot"], parse: asIs },
  PERPSOURCE_STORE: { path: ["store"], parse: asIs },
  PERPSOURCE_HOST: { path: ["http", "host"], parse: asIs },
  PERPSOURCE_PORT: { path: ["http", "port"], parse: integer },
  PERPSOURCE_READ_TOKEN: { path: ["http", "readToken"], parse: asIs },
  PERPSOURCE_CONTROL_TOKEN: { path: ["http", "controlToken"], parse: asIs },
  PERPSOURCE_LOG_LEVEL: { path: ["logLevel"], parse: asIs },
  PERPSOURCE_INSTRUMENTS: { path: ["instruments"], parse: asIs },
  PERPSOURCE_BRACKETS: { path: ["brackets"], parse: asIs },
  PERPSOURCE_ARCHIVE_URL: { path: ["archive", "baseUrl"], parse: asIs },
};

/** CLI option key → config key. Later entries win, so `--log-level` beats `--verbose`. */
const FLAGS: Record<string, Mapping> = {
  data: { path: ["dataRoot"], parse: asIs },
  store: { path: ["store"], parse: asIs },
  host: { path: ["http", "host"], parse: asIs },
  serve: { path: ["http", "port"], parse: integer },
  port: { path: ["http", "port"], parse: integer },
  verbose: { path: ["logLevel"], parse: (raw) => (raw === true ? "debug" : undefined) },
  logLevel: { path: ["logLevel"], parse: asIs },
  instruments: { path: ["instruments"], parse: asIs },
  brackets: { path: ["brackets"], parse: asIs },
  strategy: { path: ["backtest", "strategy"], parse: asIs },
  symbols: { path: ["backtest", "symbols"], parse: symbolList },
  from: { path: ["backtest", "from"], parse: asIs },
  to: { path: ["backtest", "to"], parse: asIs },
  balance: { path: ["backtest", "initialBalance"], parse: asIs },
  margin: { path: ["backtest", "smaCross", "marginUsdt"], parse: asIs },
  leverage: { path: ["backtest", "smaCross", "leverage"], parse: integer },
  slippage: { path: ["backtest", "slippage"], parse: asIs },
  warmupBars: { path: ["backtest", "warmupBars"], parse: integer },
  maxOrderNotional: { path: ["backtest", "risk", "maxOrderNotional"], parse: asIs },
  maxPositionNotional: { path: ["backtest", "risk", "maxPositionNotional"], parse: asIs },
  maxGrossExposure: { path: ["backtest", "risk", "maxGrossExposure"], parse: asIs },
  maxLeverage: { path: ["backtest", "risk", "maxLeverage"], parse: asIs },
  maxOpenPositions: { path: ["backtest", "risk", "maxOpenPositions"], parse: integer },
  priceBand: { path: ["backtest", "risk", "priceBand"], parse: offOr(asIs) },
  orderRate: { path: ["backtest", "risk", "orderRate"], parse: offOr(orderRate) },
  dailyLossLimit: { path: ["backtest", "risk", "dailyLossLimit"], parse: asIs },
  dailyLossAction: { path: ["backtest", "risk", "dailyLossAction"], parse: asIs },
  maxDrawdown: { path: ["backtest", "risk", "maxDrawdown"], parse: asIs },
  intrabarPath: { path: ["backtest", "venue", "intrabarPath"], parse: asIs },
  limitFillRule: { path: ["backtest", "venue", "limitFillRule"], parse: asIs },
  participationRate: { path: ["backtest", "venue", "participationRate"], parse: asIs },
  latencyMs: { path: ["backtest", "venue", "submitLatencyMs"], parse: integer },
  triggerLatencyMs: { path: ["backtest", "venue", "triggerLatencyMs"], parse: integer },
  ticks: { path: ["backtest", "venue", "ticks"], parse: pathList },
  hedgeMode: { path: ["backtest", "hedgeMode"], parse: asIs },
  onStop: { path: ["live", "onStop"], parse: asIs },
  archiveUrl: { path: ["archive", "baseUrl"], parse: asIs },
  // commander sets `fetch: true` unless `--no-fetch` is given: only the explicit false is a setting.
  fetch: { path: ["archive", "fetchOnStart"], parse: (raw) => (raw === false ? false : undefined) },
};

/**
 * Builds the validated `AppConfig`. The file is `sources.file`, else env PERPSOURCE_CONFIG, else
 * `perpsource.config.json` in cwd when it exists. `dataRoot`, `instruments` and `brackets` come back absolute (resolved
 * against cwd).
 * Unknown keys in the file are errors. Empty environment variables count as unset.
 * @throws ConfigError naming each bad key and its source, or the unreadable / non-JSON file; with
 *   `sources.listedSymbolsFor`, symbols "ALL".
 */
export function loadConfig(sources: ConfigSources): AppConfig {
  const layers = [
    fileLayer(sources),
    mappedLayer(sources.env, ENV, (name) => `env ${name}`),
    mappedLayer(sources.flags, FLAGS, (key) => `flag --${kebab(key)}`),
  ].filter((l): l is Layer => l !== undefined);

  const merged = layers.reduce<Tree>((acc, l) => deepMerge(acc, l.values), {});
  const parsed = AppConfigSchema.safeParse(merged);
  const sourceOf = (path: Path) =>
    layers.reduceRight<string | undefined>((found, l) => found ?? l.sourceOf(path), undefined) ?? "default";
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.flatMap((issue) => describeIssue(issue, sourceOf)));
  }
  const strategyKey = getStrategy(parsed.data.backtest.strategy).configKey;
  const foreign = Object.entries(FLAGS).filter(
    ([name, { path }]) =>
      path[0] === "backtest" &&
      strategyConfigKeys.has(path[1]!) &&
      path[1] !== strategyKey &&
      nonEmpty(sources.flags[name]) !== undefined,
  );
  if (foreign.length > 0) {
    throw new ConfigError(
      foreign.map(
        ([name, { path }]) =>
          `flag --${kebab(name)} sets ${path.join(".")}, a parameter of another strategy than ` +
          `${parsed.data.backtest.strategy}: set its parameters under backtest.${strategyKey} in the config file`,
      ),
    );
  }
  if (sources.listedSymbolsFor !== undefined && parsed.data.backtest.symbols === ALL_SYMBOLS) {
    throw new ConfigError([
      `backtest.symbols (from ${sourceOf(["backtest", "symbols"])}): "${ALL_SYMBOLS}" (--symbols ${ALL_SYMBOLS}) is ` +
        `for backtests only: in ${sources.listedSymbolsFor} the universe would be a venue query (the exchange's ` +
        "TRADING USDT perpetuals), which perpsource does not make; list the symbols, e.g. --symbols BTCUSDT,ETHUSDT",
    ]);
  }
  if (parsed.data.alerts.telegram !== undefined && nonEmpty(sources.env[TELEGRAM_TOKEN_ENV]) === undefined) {
    throw new ConfigError([
      `alerts.telegram (from ${sourceOf(["alerts", "telegram"])}): ${TELEGRAM_TOKEN_ENV} is not set; the bot's ` +
        "token is read from the environment only, never from the config file",
    ]);
  }
  const { dataRoot, instruments, brackets } = parsed.data;
  return {
    ...parsed.data,
    dataRoot: resolve(sources.cwd, dataRoot),
    ...(instruments === undefined ? {} : { instruments: resolve(sources.cwd, instruments) }),
    ...(brackets === undefined ? {} : { brackets: resolve(sources.cwd, brackets) }),
  };
}

function fileLayer({ file, env, cwd }: ConfigSources): Layer | undefined {
  const given = file ?? nonEmpty(env["PERPSOURCE_CONFIG"]);
  const origin = file !== undefined ? "flag --config" : "env PERPSOURCE_CONFIG";
  const path = resolve(cwd, given ?? DEFAULT_CONFIG_FILE);
  if (given === undefined && !existsSync(path)) return undefined;

  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError([`cannot read config file ${path} (from ${origin}): ${(err as Error).message}`]);
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`config file ${path} is not valid JSON: ${(err as Error).message}`]);
  }
  if (!isTree(values)) throw new ConfigError([`config file ${path} must hold a JSON object`]);
  const label = `file ${path}`;
  return { values, sourceOf: (p) => (valueAt(values, p) === undefined ? undefined : label) };
}

function mappedLayer(
  raw: Record<string, unknown>,
  mappings: Record<string, Mapping>,
  label: (name: string) => string,
): Layer {
  let values: Tree = {};
  const sources = new Map<string, string>();
  for (const [name, mapping] of Object.entries(mappings)) {
    const value = mapping.parse(nonEmpty(raw[name]));
    if (value === undefined) continue;
    values = deepMerge(values, nest(mapping.path, value));
    sources.set(mapping.path.join("."), label(name));
  }
  return {
    values,
    sourceOf: (path) => {
      for (let n = path.length; n > 0; n--) {
        const found = sources.get(path.slice(0, n).join("."));
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}

function describeIssue(issue: z.core.$ZodIssue, sourceOf: (path: Path) => string): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const path = [...issue.path, key] as Path;
      return `${formatPath(path)} (from ${sourceOf(path)}): unknown key`;
    });
  }
  const path = issue.path as Path;
  const key = path.length === 0 ? "(root)" : formatPath(path);
  return [`${key} (from ${sourceOf(path)}): ${issue.message}`];
}

function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function nonEmpty<T>(value: T): T | undefined {
  return value === "" ? undefined : value;
}

function isTree(value: unknown): value is Tree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nest(path: readonly string[], value: unknown): Tree {
  return path.reduceRight<Tree>((inner, key) => ({ [key]: inner }), value as Tree);
}

function valueAt(tree: unknown, path: Path): unknown {
  return path.reduce<unknown>(
    (node, key) => (isTree(node) || Array.isArray(node) ? (node as Tree)[key] : undefined),
    tree,
  );
}

/** Objects merge key by key; anything else (arrays included) is replaced. */
function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isTree(prev) && isTree(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/** The keys a what-if cannot change: the recorded run's market inputs and account are fixed. */
const FIXED_WHAT_IF_KEYS = ["symbols", "from", "to", "accountId"] as const;

/**
 * The configuration of `replay --what-if FILE`: the recorded run's (`recorded`) with the `backtest` keys of the
 * JSON file at `file` (resolved against `cwd`; the config file's format, e.g.
 * `{"backtest": {"smaCross": {"smaShort": 10}}}`) laid over it, validated like any configuration.
 * @throws ConfigError naming each bad key and its source (`what-if file PATH` or `recorded run`): an unreadable
 *   or non-JSON file, a key outside `backtest`, a change of symbols, from, to or accountId, a value the schema
 *   refuses.
 */
export function loadWhatIfConfig(file: string, recorded: BacktestConfig, cwd: string): BacktestConfig {
  const path = resolve(cwd, file);
  const label = `what-if file ${path}`;
  let values: unknown;
  try {
    values = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError([`cannot read ${label} as JSON: ${(err as Error).message}`]);
  }
  if (!isTree(values)) throw new ConfigError([`${label} must hold a JSON object`]);
  const problems = Object.keys(values)
    .filter((key) => key !== "backtest")
    .map((key) => `${key} (from ${label}): a what-if changes only backtest keys`);
  const over = values["backtest"] ?? {};
  if (!isTree(over)) problems.push(`backtest (from ${label}): expected an object`);
  else {
    for (const key of FIXED_WHAT_IF_KEYS) {
      if (over[key] !== undefined && JSON.stringify(over[key]) !== JSON.stringify(recorded[key]))
        problems.push(
          `backtest.${key} (from ${label}): the recorded run's is fixed (${JSON.stringify(recorded[key])})`,
        );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const parsed = BacktestConfigSchema.safeParse(deepMerge(recorded as Tree, over as Tree));
  if (!parsed.success) {
    const sourceOf = (p: Path) => (valueAt(over, p) === undefined ? "recorded run" : label);
    throw new ConfigError(
      parsed.error.issues.flatMap((issue) =>
        describeIssue(issue, sourceOf).map((line) => `backtest.${line}`),
      ),
    );
  }
  return parsed.data;
}
