/**
 * The validated configuration of perpsource: zod schemas with their defaults, and the types they produce.
 * Money and ratios are exact decimal strings (USDT amounts, ratios such as 0.0005 = 0.05 %); dates are UTC
 * calendar days. `loadConfig` (load.ts) layers a file, the environment and CLI flags over these defaults.
 */
import { z } from "zod";
import { INTRABAR_PATH_MODES, type IntrabarPathMode } from "../adapters/venue/simulated/intrabar-path.ts";
import { SIMULATED_VENUE_DEFAULTS } from "../adapters/venue/simulated/venue.ts";
import { multifactorParamsSchema } from "../strategies/multifactor-v2/params.ts";
import { strategyNames } from "../strategies/registry.ts";
import { smaCrossParamsSchema } from "../strategies/sma-cross/params.ts";

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD`, a real calendar day (UTC). */
const UtcDate = z
  .string({ error: 'expected a UTC date YYYY-MM-DD such as "2025-05-05"' })
  .refine(isUtcDate, { error: 'expected a UTC date YYYY-MM-DD such as "2025-05-05"' });

/** A positive USDT amount as a decimal string. */
const PositiveUsdt = (example: string) => {
  const error = `expected a positive USDT amount such as "${example}"`;
  return z
    .string({ error })
    .regex(/^\d+(\.\d+)?$/, { error })
    .regex(/[1-9]/, { error });
};

/** A ratio in [0, 1) as a decimal string (0.0005 = 0.05 %). */
const Ratio = (example: string) => {
  const error = `expected a decimal ratio such as "${example}"`;
  return z.string({ error }).regex(/^0(\.\d+)?$/, { error });
};

/** A ratio strictly between 0 and 1 as a decimal string (0.15 = 15 %). */
const OpenRatio = (example: string) => {
  const error = `expected a decimal ratio between 0 and 1 (exclusive) such as "${example}"`;
  return z
    .string({ error })
    .regex(/^0\.\d+$/, { error })
    .regex(/[1-9]/, { error });
};

/** A positive decimal string (a multiple such as a leverage ratio). */
const PositiveDecimal = (example: string) => {
  const error = `expected a positive decimal such as "${example}"`;
  return z
    .string({ error })
    .regex(/^\d+(\.\d+)?$/, { error })
    .regex(/[1-9]/, { error });
};

/** An integer in [min, max]. */
const Int = (min: number, max: number, what: string) => {
  const error = `expected ${what}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

/** An upper-case Binance symbol such as BTCUSDT. */
export const SymbolSchema = z
  .string({ error: 'expected an upper-case symbol such as "BTCUSDT"' })
  .regex(/^[A-Z0-9]{2,30}$/, { error: 'expected an upper-case symbol such as "BTCUSDT"' });

/**
 * The pre-trade risk engine's limits (src/domain/risk/types.ts `RiskLimits`; recorded in RunStarted and in the
 * risk stream's RiskLimitsSet). Every limit is optional (absent = its rule is off); the defaults turn on only
 * two guards that never bind a sane strategy: a 10 % fat-finger band (an order's price vs the mark) and
 * NautilusTrader's default order rate (100 orders per second of market time). Set `priceBand` or `orderRate`
 * to null to turn them off.
 */
export const RiskConfigSchema = z.strictObject({
  /** Largest notional of one order, USDT. */
  maxOrderNotional: PositiveUsdt("5000").optional(),
  /** Largest notional of one symbol's position after an order, USDT. */
  maxPositionNotional: PositiveUsdt("20000").optional(),
  /** Largest gross exposure Σ|notional| after an order (working opening orders included), USDT. */
  maxGrossExposure: PositiveUsdt("50000").optional(),
  /** Largest account leverage after an order: gross exposure / equity (3 = 3×). */
  maxLeverage: PositiveDecimal("3").optional(),
  /** Most positions open at once. */
  maxOpenPositions: Int(1, 10_000, "an integer number of positions ≥ 1").optional(),
  /** Fat-finger band: largest distance of an order's price from the mark, as a ratio (null: off). */
  priceBand: OpenRatio("0.1").nullable().default("0.1"),
  /** Most orders within a window of market time (null: off). */
  orderRate: z
    .strictObject(
      {
        orders: Int(1, 1_000_000, "an integer number of orders ≥ 1"),
        windowMs: Int(1, 86_400_000, "a window of 1 ms to one day, in ms"),
      },
      { error: 'expected { "orders": N, "windowMs": MS } (flag --order-rate N/MS such as 100/1000, or off)' },
    )
    .nullable()
    .default({ orders: 100, windowMs: 1000 }),
  /** Net realized loss of one UTC day that changes the trading state, USDT. */
  dailyLossLimit: PositiveUsdt("500").optional(),
  /** The state a breached daily loss limit moves to until the next UTC day. */
  dailyLossAction: z
    .enum(["REDUCING", "HALTED"], { error: "expected REDUCING or HALTED" })
    .default("REDUCING"),
  /** Drawdown from peak equity that halts trading until an operator resumes (seed 002: 0.15). */
  maxDrawdown: OpenRatio("0.15").optional(),
});

/** A ratio in (0, 1] as a decimal string (0.1 = 10 %). */
const PositiveRatio = (example: string) => {
  const error = `expected a decimal ratio above 0 and at most 1 such as "${example}"`;
  return z.string({ error }).regex(/^(0\.\d*[1-9]\d*|1(\.0+)?)$/, { error });
};

/**
 * The simulated venue's matching options (src/adapters/venue/simulated/matching.ts states each rule;
 * `SimulatedVenueOptions`). The defaults are the venue's own (`SIMULATED_VENUE_DEFAULTS`): stop first, LIMITs
 * fill when traded through, no participation cap, no latency. Recorded in RunStarted with the rest of the run.
 */
export const VenueConfigSchema = z.strictObject({
  /** How the venue orders what happens inside a 1m bar (intrabar-path.ts). */
  intrabarPath: z
    .enum(INTRABAR_PATH_MODES as readonly IntrabarPathMode[] as [IntrabarPathMode, ...IntrabarPathMode[]], {
      error: `expected one of ${INTRABAR_PATH_MODES.join(", ")}`,
    })
    .default(SIMULATED_VENUE_DEFAULTS.intrabarPath),
  /** A resting LIMIT fills when the market trades "through" its price, or when it "touch"es it. */
  limitFillRule: z
    .enum(["through", "touch"], { error: "expected through or touch" })
    .default(SIMULATED_VENUE_DEFAULTS.limitFillRule),
  /** Max share of a bar's volume our fills take, as a ratio (absent: no cap). */
  participationRate: PositiveRatio("0.1").optional(),
  /** Market time from submit to the matching engine, ms. */
  submitLatencyMs: Int(0, 86_400_000, "a latency of 0 ms to one day, in ms").default(
    SIMULATED_VENUE_DEFAULTS.submitLatencyMs,
  ),
  /** Market time from a trigger to the regular order in the matching engine, ms. */
  triggerLatencyMs: Int(0, 86_400_000, "a latency of 0 ms to one day, in ms").default(
    SIMULATED_VENUE_DEFAULTS.triggerLatencyMs,
  ),
  /**
   * Tick files or directories (trades, bookTicker, markPrice1s CSV[.gz], relative to the data root): the venue
   * matches the minutes of those symbols on their ticks instead of the 1m bars (src/engine/tick-minutes.ts).
   */
  ticks: z
    .array(z.string({ error: "expected a path" }).min(1, { error: "expected a path" }), {
      error: 'expected a list of paths such as ["futures/um/ws-capture/derived"]',
    })
    .min(1, { error: "expected at least one path" })
    .optional(),
});

/**
 * `backtest.symbols: "ALL"` (also `["ALL"]`, `--symbols ALL`): every TRADING USDT perpetual of the run's instruments
 * snapshot that has 1m kline data in the window. A backtest resolves it into the list it trades before it writes
 * anything and records that list (src/engine/universe.ts); a live run refuses it.
 */
export const ALL_SYMBOLS = "ALL";

/** Upper-case, unique, at least one; `error` for anything but an array. */
const symbolList = (error: string) =>
  z
    .array(SymbolSchema, { error })
    .min(1, { error: "expected at least one symbol" })
    .refine((s) => firstDuplicate(s) === undefined, {
      error: (iss) => `expected each symbol once, ${firstDuplicate(iss.input as string[])} is repeated`,
    });

const DEFAULT_SYMBOLS = ["BTCUSDT", "ETHUSDT"];

/** A run's symbols: listed (ALL is no symbol: a backtest resolves it before the run, see `ALL_SYMBOLS`). */
const ListedSymbols = symbolList('expected a list of symbols such as ["BTCUSDT"]')
  .refine((s) => !s.includes(ALL_SYMBOLS), {
    error: `expected the symbols listed: "${ALL_SYMBOLS}" is resolved by a backtest before its run starts`,
  })
  .default(DEFAULT_SYMBOLS);

/** What a configuration may ask for: a list, or `"ALL"` / `["ALL"]` (→ `"ALL"`). */
const RequestedSymbols = z
  .preprocess(
    (raw) => (raw === ALL_SYMBOLS ? [ALL_SYMBOLS] : raw),
    symbolList(`expected a list of symbols such as ["BTCUSDT"], or "${ALL_SYMBOLS}"`),
  )
  .refine((s) => s.length === 1 || !s.includes(ALL_SYMBOLS), {
    error: `expected "${ALL_SYMBOLS}" alone (it stands for every symbol with data) or a list of symbols`,
  })
  .transform((s): string[] | typeof ALL_SYMBOLS => (s[0] === ALL_SYMBOLS ? ALL_SYMBOLS : s))
  .default(DEFAULT_SYMBOLS);

/**
 * One backtest: strategy, symbols, the UTC window [from 00:00, to + 1 day 00:00), account and costs. A run's
 * configuration as RunStarted records it, its symbols listed: what `replay`, `--resume`, a what-if and a live run
 * work with.
 */
export const BacktestConfigSchema = z
  .strictObject({
    /** A registered strategy (src/strategies/registry.ts); its parameters are under its config key. */
    strategy: z
      .enum(strategyNames as [string, ...string[]], { error: `expected one of ${strategyNames.join(", ")}` })
      .default("sma-cross"),
    /** Upper-case, unique, at least one (a run's recorded list; see `BacktestRequestSchema` for "ALL"). */
    symbols: ListedSymbols,
    /** First UTC day of the window (from its 00:00). */
    from: UtcDate.default("2025-05-05"),
    /** Last UTC day of the window, inclusive. */
    to: UtcDate.default("2025-06-24"),
    accountId: z
      .string({ error: "expected an account id" })
      .min(1, { error: "expected an account id" })
      .default("main"),
    /** Starting walletBalance, USDT. */
    initialBalance: PositiveUsdt("10000").default("10000"),
    /** Commission rates as ratios of fill notional (binance-usdm.md §4.3, VIP 0). */
    feeRates: z
      .strictObject({ maker: Ratio("0.0002").default("0.0002"), taker: Ratio("0.0005").default("0.0005") })
      .prefault({}),
    /** Market-fill slippage as a ratio of the modelled price (strategies.md §0 "Backtest fills"). */
    slippage: Ratio("0.0001").default("0.0001"),
    /**
     * Bars of the strategy's first interval read before `from` to warm it up, when the files hold them (absent:
     * what the strategy declares; 0: no warm-up, the strategy starts cold at `from`).
     */
    warmupBars: Int(0, 1_000_000, "an integer number of bars ≥ 0").optional(),
    /** sma-cross's parameters (strategies.md §2.2). */
    smaCross: smaCrossParamsSchema.prefault({}),
    /**
     * multifactor-v2's parameters (strategies.md §1.6: tvs, maxLeverage, maxSymbolNotional); absent: its
     * defaults (recorded by paramsVersion with every decision).
     */
    multifactor: multifactorParamsSchema.optional(),
    /** The pre-trade risk engine's limits. */
    risk: RiskConfigSchema.prefault({}),
    /** The simulated venue's matching options. */
    venue: VenueConfigSchema.prefault({}),
    /**
     * Hedge mode (`dualSidePosition`, binance-usdm.md §4.1): LONG and SHORT positions per symbol, every order on
     * a position side, no reduceOnly. Absent or false: one-way mode (absent keeps a one-way run's RunStarted, and
     * so its log, as it was before the setting existed).
     */
    hedgeMode: z.boolean({ error: "expected true or false" }).optional(),
  })
  .check(fromNotAfterTo);

/**
 * The `backtest` section of a configuration: a run's configuration whose symbols may also be `"ALL"` (or
 * `["ALL"]`, normalised to `"ALL"`), which a backtest resolves (src/engine/universe.ts).
 */
export const BacktestRequestSchema = z
  .strictObject({ ...BacktestConfigSchema.shape, symbols: RequestedSymbols })
  .check(fromNotAfterTo);

/** `backtest.from` must not be after `backtest.to`. */
function fromNotAfterTo(ctx: z.core.ParsePayload<{ from: string; to: string }>): void {
  const { from, to } = ctx.value;
  if (isUtcDate(from) && isUtcDate(to) && from > to) {
    ctx.issues.push({
      code: "custom",
      path: ["from"],
      message: `must be on or before backtest.to (${to})`,
      input: from,
    });
  }
}

/**
 * Settings of a live run (`perpsource run`) that are not part of its trading configuration: changing them does
 * not change the run (its id, hence continuing it).
 */
export const LiveConfigSchema = z.strictObject({
  /**
   * What stopping the run (Ctrl-C, SIGTERM, `--until`) does with its working orders at the venue: `keep` them
   * (a position's protective stop keeps protecting it; the default), or `cancel` them (each recorded as
   * OrderCanceled with reason `shutdown`; positions stay open without their exits).
   */
  onStop: z.enum(["keep", "cancel"], { error: "expected keep or cancel" }).default("keep"),
  /**
   * Minutes of market time between two reconciliations with an external venue (also at start and after every
   * reconnect; src/engine/live-reconciliation.ts).
   */
  reconcileMinutes: Int(1, 10_080, "an integer number of minutes 1–10080").default(30),
});

/**
 * Binance's public data archive (binance-usdm.md §6): where `data fetch` and `start` download monthly files from,
 * and whether `start` fetches the demo backtest's missing files (src/cli/first-run.ts).
 */
export const ArchiveConfigSchema = z.strictObject({
  /** Archive origin, without the `/data/…` path (env PERPSOURCE_ARCHIVE_URL, `start --archive-url`). */
  baseUrl: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as "https://data.binance.vision"' })
    .default("https://data.binance.vision"),
  /** `start` downloads the files its backtest lacks before running it (`start --no-fetch`: false). */
  fetchOnStart: z.boolean({ error: "expected true or false" }).default(true),
});

/**
 * Alerts (src/alerts/rules.ts, src/adapters/alerts/): where they go and when they fire. Tokens are never read
 * from here: the Telegram bot's from $PERPSOURCE_TELEGRAM_TOKEN, the webhook's optional bearer token from
 * $PERPSOURCE_WEBHOOK_TOKEN. No sink: no alerts.
 */
export const AlertsConfigSchema = z.strictObject({
  /** POST each alert as JSON to `url` (http or https). */
  webhook: z
    .strictObject({
      url: z.url({
        protocol: /^https?$/,
        error: 'expected an http(s) URL such as "https://hooks.example/perpsource"',
      }),
    })
    .optional(),
  /** Send each alert to Telegram chat `chatId` (a numeric id or "@channel"); `apiRoot` for a Bot API server. */
  telegram: z
    .strictObject({
      chatId: z.union([z.number().int(), z.string().regex(/^(-?\d+|@[A-Za-z0-9_]{5,})$/)], {
        error: 'expected a chat id such as -1001234567890 or "@my_channel"',
      }),
      apiRoot: z
        .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as "https://api.telegram.org"' })
        .optional(),
    })
    .optional(),
  /** `count` rejections (OrderRejected by code, OrderDenied by rule) within `windowMs` of market time alert. */
  rejectionBurst: z
    .strictObject({
      count: Int(1, 1_000_000, "an integer count 1–1000000").default(5),
      windowMs: Int(1, 86_400_000, "an integer number of ms 1–86400000").default(60_000),
    })
    .prefault({}),
  /** A market stream down (disconnected, not yet back) this long, ms, alerts. */
  streamDownMs: Int(1, 86_400_000, "an integer number of ms 1–86400000").default(60_000),
  /** Drawdown ratios (from the equity's peak) that alert when crossed, e.g. ["0.05", "0.1"]. */
  drawdownThresholds: z.array(OpenRatio("0.1")).default(["0.05", "0.1", "0.2"]),
  /** A position's margin ratio (maintenance margin / margin balance) at or above this alerts (a margin call). */
  marginCallRatio: OpenRatio("0.8").default("0.8"),
  /** The same alert key within this many ms is sent once. */
  dedupeMs: Int(0, 86_400_000, "an integer number of ms 0–86400000").default(300_000),
  /** Alerts per minute per sink (a token bucket of that size); more wait in the sink's queue. */
  ratePerMinute: Int(1, 10_000, "an integer 1–10000").default(20),
  /** Alerts waiting per sink; more are dropped (and counted). */
  queueSize: Int(1, 100_000, "an integer 1–100000").default(1_000),
});

/** pino levels, plus "silent". */
const LogLevelSchema = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
  error: "expected one of fatal, error, warn, info, debug, trace, silent",
});

/** The whole application configuration. */
/** An HTTP bearer token: 16 to 512 characters of RFC 6750's token68 alphabet (e.g. `openssl rand -hex 32`). */
const BearerToken = z
  .string({ error: "expected a token of 16 to 512 characters" })
  .regex(/^[A-Za-z0-9._~+/-]{16,512}=*$/, {
    error: "expected a token of 16 to 512 letters, digits or -._~+/ (e.g. from `openssl rand -hex 32`)",
  });

export const AppConfigSchema = z.strictObject({
  /** Root of the market data (data.binance.vision layout); `loadConfig` resolves it against cwd. */
  dataRoot: z
    .string({ error: "expected a directory" })
    .min(1, { error: "expected a directory" })
    .default("./data"),
  /** Event store URL: `sqlite:PATH`, or another adapter's URL (see src/adapters/store/open-store.ts). */
  store: z
    .string({ error: 'expected a store URL such as "sqlite:var/perpsource.sqlite"' })
    .regex(/^(memory:$|sqlite:.|(esdb|kurrentdb)(\+discover)?:\/\/.)/, {
      error: 'expected a store URL: "sqlite:PATH", "memory:" or "esdb://HOST:2113?tls=false"',
    })
    .default("sqlite:var/perpsource.sqlite"),
  http: z
    .strictObject({
      host: z
        .string({ error: "expected a host name" })
        .min(1, { error: "expected a host name" })
        .default("127.0.0.1"),
      /** Listen port; 0 binds any free port (the announced URL shows the one bound). */
      port: Int(0, 65_535, "an integer port 0–65535 (0: any free port)").default(8080),
      /**
       * Bearer token of the read routes (every route but /health and /docs); unset: they are open. Prefer the
       * environment ($PERPSOURCE_READ_TOKEN) to a file.
       */
      readToken: BearerToken.optional(),
      /**
       * Bearer token of the control routes (POST /control/halt|resume); unset: they answer 403. Prefer the
       * environment ($PERPSOURCE_CONTROL_TOKEN) to a file.
       */
      controlToken: BearerToken.optional(),
    })
    .prefault({}),
  logLevel: LogLevelSchema.default("info"),
  /**
   * A saved `GET /fapi/v1/exchangeInfo` response to take instruments from instead of the bundled snapshot;
   * `loadConfig` resolves it against cwd. Unset: the bundled snapshot.
   */
  instruments: z
    .string({ error: "expected an exchangeInfo JSON file" })
    .min(1, { error: "expected an exchangeInfo JSON file" })
    .optional(),
  /**
   * A saved leverage-bracket file (a raw `GET /fapi/v1/leverageBracket` response or a ccxt leverage-tiers file) to
   * take brackets from instead of the bundled snapshot; `loadConfig` resolves it against cwd. Unset: bundled.
   */
  brackets: z
    .string({ error: "expected a leverage-bracket JSON file" })
    .min(1, { error: "expected a leverage-bracket JSON file" })
    .optional(),
  backtest: BacktestRequestSchema.prefault({}),
  live: LiveConfigSchema.prefault({}),
  archive: ArchiveConfigSchema.prefault({}),
  alerts: AlertsConfigSchema.prefault({}),
});

export type BacktestConfig = z.output<typeof BacktestConfigSchema>;
export type BacktestRequest = z.output<typeof BacktestRequestSchema>;
export type RiskConfig = z.output<typeof RiskConfigSchema>;
export type VenueConfig = z.output<typeof VenueConfigSchema>;
export type LiveConfig = z.output<typeof LiveConfigSchema>;
export type ArchiveConfig = z.output<typeof ArchiveConfigSchema>;
export type AlertsConfig = z.output<typeof AlertsConfigSchema>;
export type AppConfig = z.output<typeof AppConfigSchema>;
export type LogLevel = z.output<typeof LogLevelSchema>;

/**
 * The backtest window in ms since epoch UTC: `from` = 00:00 of `cfg.from`, `to` = 00:00 of the day after
 * `cfg.to` (exclusive), so `to` is inclusive as a calendar day.
 */
export function windowOf(cfg: Pick<BacktestRequest, "from" | "to">): { from: number; to: number } {
  return { from: utcDayStart(cfg.from), to: utcDayStart(cfg.to) + DAY_MS };
}

/**
 * `request` as a run's configuration, its symbols listed.
 * @throws Error when they are "ALL": only a backtest resolves it (src/engine/universe.ts).
 */
export function listedSymbolsConfig(request: BacktestRequest): BacktestConfig {
  const { symbols } = request;
  if (symbols === ALL_SYMBOLS) {
    throw new Error(`backtest.symbols "${ALL_SYMBOLS}" must be resolved by a backtest before a run uses it`);
  }
  return { ...request, symbols };
}

function utcDayStart(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

function firstDuplicate(items: readonly string[]): string | undefined {
  return items.find((item, i) => items.indexOf(item) !== i);
}

function isUtcDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const ms = utcDayStart(s);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === s;
}
