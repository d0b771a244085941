/**
 * `perpsource exchange-sim`: the local Binance USDⓈ-M double (src/exchange-sim/server.ts) over the archive under
 * the data root, until SIGINT/SIGTERM. Keys from the environment as the client reads them (src/cli/api-keys.ts: an
 * HMAC secret, an Ed25519 private key PEM, or in a key file also its public key PEM); without them the double
 * serves market data only and refuses keyed requests.
 */
import { ConfigError } from "../../config/load.ts";
import { SymbolSchema, windowOf } from "../../config/schema.ts";
import type { InstrumentCatalog } from "../../domain/instruments.catalog.ts";
import type { LeverageBracketCatalog } from "../../domain/margin/brackets.catalog.ts";
import { type ApiCredentials, credentialsFromSecret } from "../../exchange-sim/auth.ts";
import type { ExchangeCore } from "../../exchange-sim/exchange-port.ts";
import { type Fault, FaultSpecError, parseFaultSpec } from "../../exchange-sim/faults.ts";
import type { ExchangeSim, ExchangeSimOptions } from "../../exchange-sim/server.ts";
import { readApiKeyPair } from "../api-keys.ts";
import { type Flags, UsageError, withContext } from "../context.ts";
import { signalled } from "../serve.ts";

/** The command's own options, checked. */
export interface SimCommandOptions {
  port: number;
  symbols: string[];
  /** UTC days `YYYY-MM-DD`, both inclusive. */
  from: string;
  to: string;
  /** Undefined in lockstep. */
  speed: number | undefined;
  lockstep: boolean;
  /** Initial wallet balance, USDT. */
  balance: string;
  /** `--faults SPEC`, parsed (none when absent). */
  faults: Fault[];
  /** `--captures PATH[,PATH]`: recorded book and trade streams to replay (src/exchange-sim/book-capture.ts). */
  captures?: string[];
  /** `--history-days N`: days of history before `from` the REST endpoints serve from the start (default 1). */
  historyDays: number;
}

/** Everything a double needs but its exchange core. */
type DoubleOptions = Omit<ExchangeSimOptions<ExchangeCore>, "exchange" | "tradingRoutes">;

/**
 * Builds the double around its exchange core (`SimExchange`: orders, algo orders, the account ledger and its
 * user events, matched with the simulated venue's rules at the backtest's default fees and slippage).
 */
async function createDouble(
  double: DoubleOptions,
  core: {
    instruments: InstrumentCatalog;
    brackets: LeverageBracketCatalog;
    symbols: readonly string[];
    walletBalance: string;
  },
): Promise<ExchangeSim> {
  const [{ createExchangeSim }, { SimExchange, tradingRoutes }] = await Promise.all([
    import("../../exchange-sim/server.ts"),
    import("../../exchange-sim/exchange/index.ts"),
  ]);
  return createExchangeSim({ ...double, exchange: new SimExchange(core), tradingRoutes });
}

/**
 * Replays `--symbols` over `--from`..`--to` on `--host`:`--port` (0: any free port), paced by `--speed N`
 * (default 1) or `--lockstep`, prints `exchange-sim listening on URL` on stdout, and serves until SIGINT/SIGTERM
 * (the account stays auditable after the replay ends). Resolves to 0, or 1 when the replay fails (a malformed
 * archive file, printed).
 * @throws UsageError for bad options (see `simCommandOptions`); ConfigError for a bad key pair or config.
 */
export function exchangeSimCommand(flags: Flags): Promise<number> {
  const options = simCommandOptions(flags);
  const credentials = credentialsFromEnv();
  const configFlags = Object.fromEntries(
    ["config", "logLevel", "verbose", "instruments", "brackets", "data", "host"].map((k) => [k, flags[k]]),
  );
  return withContext(flags, configFlags, async ({ cfg, logger, instruments, brackets, out }) => {
    const { loadExchangeInfoSnapshot } = await import("../../exchange-sim/exchange-info.ts");
    if (credentials === undefined)
      logger.warn("no API key pair in the environment: keyed and signed requests get -2015");
    const sim = await createDouble(
      {
        dataRoot: cfg.dataRoot,
        symbols: options.symbols,
        window: windowOf(options),
        lockstep: options.lockstep,
        faults: options.faults,
        ...(options.captures === undefined ? {} : { captures: options.captures }),
        historyMs: options.historyDays * 86_400_000,
        ...(options.speed === undefined ? {} : { speed: options.speed }),
        ...(credentials === undefined ? {} : { credentials }),
        exchangeInfo: loadExchangeInfoSnapshot(cfg.instruments),
        logger,
      },
      { instruments, brackets: brackets(), symbols: options.symbols, walletBalance: options.balance },
    );
    const url = await sim.listen({ host: cfg.http.host, port: options.port });
    out(`exchange-sim listening on ${url}`);
    const outcome = await new Promise<NodeJS.Signals | Error>((resolve) => {
      void signalled().then(resolve);
      sim.finished().catch((error: unknown) => resolve(error as Error));
    });
    await sim.close();
    if (outcome instanceof Error) throw outcome;
    logger.info({ signal: outcome }, "exchange-sim stopped");
    return 0;
  });
}

/**
 * The command's options from commander's flags: `--port` an integer 0–65535 (required), `--symbols A,B`
 * (required), `--from YYYY-MM-DD` (required), `--to` (default: `--from`), `--speed N` > 0 (default 1) or
 * `--lockstep`, `--balance USDT` (default 10000), `--faults SPEC` (src/exchange-sim/faults.ts), `--captures
 * PATH[,PATH]` (recorded depth, bookTicker and trades files or directories under the data root; the window is
 * then narrowed to the captures' span, src/exchange-sim/book-capture.ts), `--history-days N` an integer 0–400
 * (default 1: the days before `--from` served over REST for a client's warm-up).
 * @throws UsageError naming the option (for `--faults`, the fault and its parameter).
 */
export function simCommandOptions(flags: Flags): SimCommandOptions {
  const text = (name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
  const portText = text("port") ?? "";
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535)
    throw new UsageError(`--port: expected an integer port 0–65535 (0: any free port), got "${portText}"`);
  const symbols = (text("symbols") ?? "")
    .split(",")
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== "");
  const bad = symbols.find((s) => !SymbolSchema.safeParse(s).success);
  if (symbols.length === 0 || bad !== undefined)
    throw new UsageError(
      `--symbols: expected symbols such as BTCUSDT,ETHUSDT, got "${text("symbols") ?? ""}"`,
    );
  const from = utcDay("--from", text("from"));
  const to = text("to") === undefined ? from : utcDay("--to", text("to"));
  if (to < from) throw new UsageError(`--to ${to} is before --from ${from}`);
  const lockstep = flags["lockstep"] === true;
  const speedText = text("speed");
  if (lockstep && speedText !== undefined) throw new UsageError("--speed and --lockstep exclude each other");
  const speed = speedText === undefined ? (lockstep ? undefined : 1) : Number(speedText);
  if (speed !== undefined && !(Number.isFinite(speed) && speed > 0))
    throw new UsageError(
      `--speed: expected a number > 0 (minutes of data per wall minute), got "${speedText}"`,
    );
  const balance = text("balance") ?? "10000";
  if (!/^\d+(\.\d+)?$/.test(balance) || !/[1-9]/.test(balance))
    throw new UsageError(`--balance: expected a positive USDT amount such as 10000, got "${balance}"`);
  const faultsText = text("faults");
  let faults: Fault[] = [];
  if (faultsText !== undefined)
    try {
      faults = parseFaultSpec(faultsText);
    } catch (error) {
      if (error instanceof FaultSpecError) throw new UsageError(`--faults: ${error.message}`);
      throw error;
    }
  const capturesText = text("captures");
  const captures = capturesText
    ?.split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (captures !== undefined && captures.length === 0)
    throw new UsageError(
      `--captures: expected paths such as futures/um/ws-capture/derived, got "${capturesText}"`,
    );
  const historyText = text("historyDays") ?? "1";
  if (!/^\d{1,3}$/.test(historyText) || Number(historyText) > 400)
    throw new UsageError(
      `--history-days: expected an integer number of days 0–400 (history before --from), got "${historyText}"`,
    );
  return {
    historyDays: Number(historyText),
    port: Number(portText),
    symbols,
    from,
    to,
    speed,
    lockstep,
    balance,
    faults,
    ...(captures === undefined ? {} : { captures }),
  };
}

function utcDay(option: string, raw: string | undefined): string {
  const ok =
    raw !== undefined &&
    /^\d{4}-\d{2}-\d{2}$/.test(raw) &&
    new Date(`${raw}T00:00:00Z`).toISOString().slice(0, 10) === raw;
  if (!ok)
    throw new UsageError(`${option}: expected a UTC day YYYY-MM-DD such as 2025-05-05, got "${raw ?? ""}"`);
  return raw;
}

/**
 * The key pair requests are checked against (src/cli/api-keys.ts; the key file may be the public key), or
 * undefined when none is set.
 * @throws ApiKeyError when the pair is partial or unreadable; ConfigError when the secret is an unsupported key.
 */
function credentialsFromEnv(): ApiCredentials | undefined {
  const pair = readApiKeyPair(process.env, true);
  if (pair === undefined) return undefined;
  try {
    return credentialsFromSecret(pair.apiKey, pair.apiSecret);
  } catch (error) {
    throw new ConfigError([`${pair.source}: ${(error as Error).message}`]);
  }
}
