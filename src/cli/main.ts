/**
 * The `perpsource` command line: parsing, config and wiring only (the engine and adapters do the work). Each
 * command's module is imported when it runs, so `--help` and usage errors never load the engine or the stores.
 * stdout carries results, stderr logs.
 * Exit codes: 0 ok, 1 runtime failure (`error: <message>`), 2 usage or configuration error.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/load.ts";
import { KINDS, parseInterval, parseKinds, parseMonth, parseSymbols } from "./args.ts";
import { type Flags, reportError, UsageError } from "./context.ts";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/**
 * Parses `argv` (as `process.argv`: node, script, args…), runs the command and resolves to the exit code.
 * Long-running commands (serve, start, backtest --serve) resolve after SIGINT/SIGTERM.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const run =
    (load: () => Promise<CommandRunner>) =>
    async (...params: unknown[]) => {
      const cmd = params.at(-1) as Command; // commander passes (…arguments, options, command)
      exitCode = await (await load())({ ...cmd.optsWithGlobals(), args: cmd.args });
    };
  try {
    await buildProgram(run).parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2; // commander printed it
    if (error instanceof ConfigError || error instanceof UsageError) {
      reportError(error, false);
      return 2;
    }
    reportError(error, argv.includes("--verbose"));
    return 1;
  }
}

/** A command's implementation: its options (positional arguments under `args`) in, its exit code out. */
type CommandRunner = (flags: Flags) => Promise<number>;
type Action = (...params: unknown[]) => Promise<void>;

function buildProgram(run: (load: () => Promise<CommandRunner>) => Action): Command {
  const program = new Command("perpsource")
    .description("Event-sourced backtesting and trading for Binance USD-M perpetual futures")
    .version(version)
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ showGlobalOptions: true })
    .option(
      "--config <file>",
      "JSON config file (default: perpsource.config.json in cwd, or $PERPSOURCE_CONFIG)",
    )
    .option(
      "--log-level <level>",
      "fatal|error|warn|info|debug|trace|silent (default: info, $PERPSOURCE_LOG_LEVEL)",
    )
    .option("--verbose", "debug logs and stack traces")
    .option(
      "--instruments <file>",
      "saved exchangeInfo response to take instruments from (default: the bundled snapshot, $PERPSOURCE_INSTRUMENTS)",
    )
    .option(
      "--brackets <file>",
      "saved leverageBracket response or ccxt leverage-tiers file (default: the bundled snapshot, $PERPSOURCE_BRACKETS)",
    );

  program
    .command("backtest")
    .description("run a backtest into an empty event store and print its summary")
    .option("--strategy <name>", "strategy (default: sma-cross)")
    .option(
      "--symbols <list>",
      "comma-separated symbols, or ALL: every TRADING USDT perpetual with 1m klines in the window (default: BTCUSDT,ETHUSDT)",
    )
    .option("--from <YYYY-MM-DD>", "first UTC day (default: 2025-05-05)")
    .option("--to <YYYY-MM-DD>", "last UTC day, inclusive (default: 2025-06-24)")
    .option("--data <dir>", "market data root (default: ./data, $PERPSOURCE_DATA)")
    .option("--store <url>", "event store URL (default: sqlite:var/perpsource.sqlite, $PERPSOURCE_STORE)")
    .option("--overwrite", "replace an existing sqlite store")
    .option("--resume", "continue the interrupted run of --store from its last checkpoint")
    .option("--balance <usdt>", "initial wallet balance, USDT (default: 10000)")
    .option("--margin <usdt>", "margin per entry, USDT (default: 1000)")
    .option("--leverage <n>", "leverage 1-125 (default: 10)")
    .option("--slippage <ratio>", "market-fill slippage as a ratio (default: 0.0001)")
    .option(
      "--warmup-bars <n>",
      "bars before --from to warm the strategy up (default: what it declares; 0: none)",
    )
    .option("--max-drawdown <ratio>", "halt trading at this drawdown from peak equity, latched (e.g. 0.15)")
    .option("--daily-loss-limit <usdt>", "net realized loss of a UTC day that stops new exposure")
    .option("--daily-loss-action <state>", "REDUCING (default) or HALTED when the daily loss limit is hit")
    .option("--max-leverage <ratio>", "largest account leverage, gross exposure / equity")
    .option("--max-order-notional <usdt>", "largest notional of one order")
    .option("--max-position-notional <usdt>", "largest notional of one symbol's position")
    .option("--max-gross-exposure <usdt>", "largest gross exposure")
    .option("--max-open-positions <n>", "most positions open at once")
    .option("--price-band <ratio|off>", "fat-finger band of an order's price vs the mark (default: 0.1)")
    .option("--order-rate <n/ms|off>", "most orders per window of market time (default: 100/1000)")
    .option(
      "--intrabar-path <mode>",
      "order of events inside a bar: stopFirst (default), barDirection, openHighLowClose, openLowHighClose",
    )
    .option(
      "--limit-fill-rule <rule>",
      "resting LIMITs fill when the market trades through (default) or touches them",
    )
    .option(
      "--participation-rate <ratio>",
      "largest share of a bar's volume our fills take (default: no cap)",
    )
    .option("--latency-ms <ms>", "market time from submit to the matching engine (default: 0)")
    .option(
      "--trigger-latency-ms <ms>",
      "market time from a trigger to its order in the matching engine (default: 0)",
    )
    .option(
      "--hedge-mode",
      "hedge mode (dualSidePosition): LONG and SHORT positions per symbol (default: one-way)",
    )
    .option(
      "--ticks <paths>",
      "tick files or directories (trades, bookTicker, markPrice1s; relative to the data root): the venue matches those symbols on ticks",
    )
    .option("--json", "print the summary as one JSON line")
    .option("--serve <port>", "then serve the projections on this port until interrupted")
    .action(run(async () => (await import("./commands/backtest.ts")).backtestCommand));

  program
    .command("run")
    .description("trade the strategy on live market data: paper (simulated venue), testnet or live (Binance)")
    .requiredOption("--mode <mode>", "paper, testnet or live")
    .option("--confirm-live", "required with --mode live: real orders, real money")
    .option("--strategy <name>", "strategy (default: sma-cross)")
    .option("--symbols <list>", "comma-separated symbols (default: BTCUSDT,ETHUSDT)")
    .option(
      "--store <url>",
      "event store URL; the same store continues an unfinished run ($PERPSOURCE_STORE)",
    )
    .option("--rest-url <url>", "REST base URL (default: Binance's for the mode), e.g. a local exchange-sim")
    .option("--ws-url <url>", "WebSocket base URL (default: Binance's for the mode)")
    .option("--until <time>", "complete the run at this UTC day's end (YYYY-MM-DD) or ISO time")
    .option("--lockstep", "rehearsal against exchange-sim --lockstep: acknowledge each step message")
    .option(
      "--on-stop <keep|cancel>",
      "working orders when the run stops: keep them (default) or cancel them",
    )
    .option("--balance <usdt>", "paper: initial wallet balance, USDT (default: 10000)")
    .option("--margin <usdt>", "margin per entry, USDT (default: 1000)")
    .option("--leverage <n>", "leverage 1-125 (default: 10)")
    .option("--warmup-bars <n>", "bars to warm the strategy up (default: what it declares; 0: none)")
    .option("--hedge-mode", "hedge mode (dualSidePosition): LONG and SHORT positions per symbol")
    .option("--json", "print the summary as one JSON line")
    .option("--serve <port>", "serve the projections on this port while running, until interrupted")
    .action(run(async () => (await import("./commands/run.ts")).runCommand));

  for (const [name, description, load] of [
    [
      "halt",
      "operator: halt trading of the store's run (TradingStateChanged → HALTED)",
      async () => (await import("./commands/halt.ts")).haltCommand,
    ],
    [
      "resume",
      "operator: resume trading of the store's run (TradingStateChanged → ACTIVE)",
      async () => (await import("./commands/halt.ts")).resumeCommand,
    ],
  ] as const) {
    program
      .command(name)
      .description(description)
      .requiredOption("--reason <text>", "why (recorded in the event)")
      .option("--store <url>", "event store URL (default: sqlite:var/perpsource.sqlite, $PERPSOURCE_STORE)")
      .action(run(load));
  }

  program
    .command("replay")
    .description(
      "re-run the recorded run of a store: verify it against its event log, or what it would have done with other parameters",
    )
    .option("--verify", "verify the recorded run (exit 1 on any difference)")
    .option(
      "--what-if <file>",
      "re-run the recorded market inputs with the backtest keys of a config file (JSON) and print the difference",
    )
    .option("--json", "--what-if: print one JSON line")
    .option("--store <url>", "event store URL (default: sqlite:var/perpsource.sqlite, $PERPSOURCE_STORE)")
    .option("--data <dir>", "market data root (default: ./data, $PERPSOURCE_DATA)")
    .action(run(async () => (await import("./commands/replay.ts")).replayCommand));

  program
    .command("serve")
    .description("serve the projections of an event store over HTTP until interrupted")
    .option("--store <url>", "event store URL (default: sqlite:var/perpsource.sqlite, $PERPSOURCE_STORE)")
    .option("--host <host>", "listen address (default: 127.0.0.1, $PERPSOURCE_HOST)")
    .option("--port <n>", "listen port (default: 8080, $PERPSOURCE_PORT)")
    .action(run(async () => (await import("./commands/serve.ts")).serveCommand));

  program
    .command("report")
    .description(
      "backtest report of one or more stores' runs side by side: a self-contained HTML file and/or JSON",
    )
    .option(
      "--store <url>",
      "event store URL of a run (repeat for several runs)",
      (url: string, previous: string[]) => [...previous, url],
      [] as string[],
    )
    .option("--out <file>", "write the HTML report to this file")
    .option("--json", "print the report as one JSON document")
    .action(run(async () => (await import("./commands/report.ts")).reportCommand));

  program
    .command("data")
    .description("market data archive")
    .command("fetch")
    .description("download monthly archive files from data.binance.vision")
    .requiredOption("--symbols <list>", "comma-separated symbols, e.g. BTCUSDT,ETHUSDT", parseSymbols)
    .requiredOption("--from <YYYY-MM>", "first month", parseMonth)
    .requiredOption("--to <YYYY-MM>", "last month, inclusive", parseMonth)
    .option("--types <list>", `comma-separated, any of ${KINDS.join(",")}`, parseKinds, [...KINDS])
    .option(
      "--interval <interval>",
      "kline interval of klines and markPriceKlines, e.g. 1m (default: 1m for klines, 8h for markPriceKlines)",
      parseInterval,
    )
    .option("--dest <dir>", "destination directory (default: the data root)")
    .option(
      "--base-url <url>",
      "archive base URL (default: https://data.binance.vision, $PERPSOURCE_ARCHIVE_URL)",
    )
    .action(run(async () => (await import("./commands/data-fetch.ts")).dataFetchCommand));

  const instruments = program
    .command("instruments")
    .description("exchangeInfo snapshots (symbols and filters)");
  instruments
    .command("refresh")
    .description("fetch GET /fapi/v1/exchangeInfo and save it as exchangeInfo-YYYY-MM-DD.json")
    .option("--dest <dir>", "destination directory (default: <data root>/futures/um/exchangeInfo)")
    .option("--base-url <url>", "REST base URL (default: https://fapi.binance.com)")
    .action(run(async () => (await import("./commands/instruments.ts")).instrumentsRefreshCommand));
  instruments
    .command("show")
    .description("print one symbol's instrument as JSON")
    .argument("<symbol>", "symbol, e.g. BTCUSDT")
    .action(run(async () => (await import("./commands/instruments.ts")).instrumentsShowCommand));

  const brackets = program.command("brackets").description("leverage brackets (notional caps, MMR, cum)");
  brackets
    .command("refresh")
    .description(
      "fetch the signed GET /fapi/v1/leverageBracket (BINANCE_API_KEY, BINANCE_API_SECRET) and save it as leverageBracket-YYYY-MM-DD.json",
    )
    .option("--out <dir>", "destination directory (default: <data root>/futures/um/leverageBracket)")
    .option("--rest-url <url>", "REST base URL (default: https://fapi.binance.com)")
    .action(run(async () => (await import("./commands/brackets.ts")).bracketsRefreshCommand));
  brackets
    .command("show")
    .description("print one symbol's leverage brackets as a table")
    .argument("<symbol>", "symbol, e.g. BTCUSDT")
    .option("--json", "print them as JSON")
    .action(run(async () => (await import("./commands/brackets.ts")).bracketsShowCommand));

  program
    .command("exchange-sim")
    .description("the local Binance USD-M double: replays the archive as REST and WebSocket market data")
    .requiredOption("--port <n>", "listen port (0: any free port)")
    .requiredOption("--symbols <list>", "comma-separated symbols, e.g. BTCUSDT,ETHUSDT")
    .requiredOption("--from <YYYY-MM-DD>", "first UTC day")
    .option("--to <YYYY-MM-DD>", "last UTC day, inclusive (default: --from)")
    .option("--speed <n>", "minutes of data per wall-clock minute (default: 1)")
    .option("--lockstep", "send one step message at a time and wait for POST /sim/v1/lockstep/ack")
    .option(
      "--faults <spec>",
      "inject faults: name[:param=value[;param=value]],… e.g. drop-user-ws:every=300,http-429:every=50",
    )
    .option("--balance <usdt>", "initial wallet balance, USDT (default: 10000)")
    .option(
      "--history-days <n>",
      "days of market history before --from served over REST from the start, for a client's warm-up (default: 1; 42 covers a 979-hour warm-up with its funding)",
    )
    .option(
      "--captures <paths>",
      "replay recorded depth, bookTicker and trades captures (files or directories under the data root, comma-separated); the window is narrowed to them",
    )
    .option("--data <dir>", "market data root (default: ./data, $PERPSOURCE_DATA)")
    .option("--host <host>", "listen address (default: 127.0.0.1, $PERPSOURCE_HOST)")
    .action(run(async () => (await import("./commands/exchange-sim.ts")).exchangeSimCommand));

  program
    .command("start")
    .description("demo: backtest the defaults into a fresh store, then serve it")
    .option("--data <dir>", "market data root (default: ./data, $PERPSOURCE_DATA)")
    .option("--store <url>", "event store URL, replaced if sqlite (default: sqlite:var/perpsource.sqlite)")
    .option("--host <host>", "listen address (default: 127.0.0.1)")
    .option("--port <n>", "listen port (default: 8080; 0: any free port)")
    .option("--no-fetch", "do not download missing market data from the archive")
    .option(
      "--archive-url <url>",
      "archive base URL (default: https://data.binance.vision, $PERPSOURCE_ARCHIVE_URL)",
    )
    .action(run(async () => (await import("./commands/start.ts")).startCommand));

  return program;
}
