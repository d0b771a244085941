/**
 * The account set-up of `BinanceVenue.start` (binance-usdm.md §1.1, §4.1, §4.3, §4.6, §5.1): the exchange clock,
 * exchangeInfo (its live rate limits go to the budget; every symbol must be TRADING), the position mode, margin
 * type and leverage per symbol — idempotent: Binance's -4059 / -4046 "no need to change" are fine — the
 * commission rates, the account's leverage brackets, the BNB fee setting (refused: commissions are booked in
 * USDT), the positions and the USDT balance.
 */
import type { Logger } from "pino";
import { Dec } from "../../domain/decimal.ts";
import { InstrumentCatalog, utcDay } from "../../domain/instruments.catalog.ts";
import { LeverageBracketCatalog } from "../../domain/margin/brackets.catalog.ts";
import type { VenueSettings } from "../../engine/venue.ts";
import { BinanceApiError } from "./errors.ts";
import type { RateLimit } from "./rate-limiter.ts";
import type { BinanceRest } from "./rest.ts";
import type { VenuePosition } from "./user-data-fold.ts";

/** What `start` read from the exchange. */
export interface VenueAccountInfo {
  rateLimits: RateLimit[];
  /** `GET /fapi/v1/exchangeInfo`, validated. */
  instruments: InstrumentCatalog;
  /** `GET /fapi/v1/leverageBracket` (the account's brackets), validated (the §4.6 cum rule included). */
  brackets: LeverageBracketCatalog;
  /** Maker and taker commission rates per symbol (decimal strings). */
  commission: Record<string, { maker: string; taker: string }>;
  positions: VenuePosition[];
  /** USDT wallet balance. */
  walletBalance: string;
}

const NO_NEED_TO_CHANGE = new Set([-4046, -4059]);

/**
 * Sets the account up for `options.symbols` and reads what the venue needs (module docstring).
 * @throws BinanceApiError (redacted) when a request fails; Error for an unknown or non-TRADING symbol, an account
 *   paying fees in BNB; ExchangeInfoError / BracketFileError for a response that fails its validation.
 */
export async function setUpAccount(
  rest: BinanceRest,
  options: { symbols: readonly string[]; restUrl?: string; testnet?: boolean; logger: Logger },
  settings: VenueSettings,
): Promise<VenueAccountInfo> {
  await rest.syncClock();
  const info = await rest.request(
    "GET /fapi/v1/exchangeInfo",
    { weight: 1, orders: 0 },
    (c) => c.getExchangeInfo(),
    {
      idempotent: true,
    },
  );
  const rateLimits = info.rateLimits as unknown as RateLimit[];
  rest.limiter.configure(rateLimits);
  const base = options.restUrl ?? (options.testnet ? "testnet" : "mainnet");
  const instruments = InstrumentCatalog.fromExchangeInfo(
    info,
    `response of GET ${base}/fapi/v1/exchangeInfo`,
  );
  for (const symbol of options.symbols) {
    const s = info.symbols.find((x) => x.symbol === symbol);
    if (!s) throw new Error(`exchangeInfo: unknown symbol ${symbol}`);
    if (s.status !== "TRADING") throw new Error(`exchangeInfo: ${symbol} is ${s.status}, not TRADING`);
  }
  const mode = await rest.request(
    "GET /fapi/v1/positionSide/dual",
    { weight: 30, orders: 0 },
    (c) => c.getCurrentPositionMode(),
    { idempotent: true },
  );
  if (mode.dualSidePosition !== settings.dualSidePosition)
    await idempotent(rest, "POST /fapi/v1/positionSide/dual", (c) =>
      c.setPositionMode({ dualSidePosition: String(settings.dualSidePosition) as "true" | "false" }),
    );
  const commission: VenueAccountInfo["commission"] = {};
  for (const symbol of options.symbols) {
    await idempotent(rest, "POST /fapi/v1/marginType", (c) =>
      c.setMarginType({ symbol, marginType: settings.marginType }),
    );
    await rest.request("POST /fapi/v1/leverage", { weight: 1, orders: 0 }, (c) =>
      c.setLeverage({ symbol, leverage: settings.leverage }),
    );
    const rate = await rest.request(
      "GET /fapi/v1/commissionRate",
      { weight: 20, orders: 0 },
      (c) => c.getAccountCommissionRate({ symbol }),
      { idempotent: true },
    );
    commission[symbol] = {
      maker: String(rate.makerCommissionRate),
      taker: String(rate.takerCommissionRate),
    };
  }
  const bracketBody = await rest.request(
    "GET /fapi/v1/leverageBracket",
    { weight: 1, orders: 0 },
    (c) => c.getNotionalAndLeverageBrackets(),
    { idempotent: true },
  );
  const brackets = LeverageBracketCatalog.fromBracketFile(
    bracketBody,
    utcDay(info.serverTime),
    `response of GET ${base}/fapi/v1/leverageBracket`,
  );
  await refuseBnbFees(rest, options.logger);
  const positionRows = await rest.request(
    "GET /fapi/v3/positionRisk",
    { weight: 5, orders: 0 },
    (c) => c.getPositionsV3(),
    { idempotent: true },
  );
  const positions: VenuePosition[] = positionRows.map((p) => ({
    symbol: p.symbol,
    positionSide: p.positionSide as VenuePosition["positionSide"],
    positionAmt: String(p.positionAmt),
    entryPrice: String(p.entryPrice),
    marginType: new Dec(String(p.isolatedWallet || "0")).isZero() ? settings.marginType : "ISOLATED",
    isolatedWallet: String(p.isolatedWallet || "0"),
  }));
  const balances = await rest.request(
    "GET /fapi/v3/balance",
    { weight: 5, orders: 0 },
    (c) => c.getBalanceV3(),
    {
      idempotent: true,
    },
  );
  const walletBalance = String(balances.find((b) => b.asset === "USDT")?.balance ?? "0");
  return { rateLimits, instruments, brackets, commission, positions, walletBalance };
}

/**
 * Commissions are booked in USDT: an account paying fees in BNB (`feeBurn`) is refused at start, not at its
 * first fill. An endpoint the venue does not have (the local double) is no objection.
 */
async function refuseBnbFees(rest: BinanceRest, logger: Logger): Promise<void> {
  let feeBurn = false;
  try {
    const status = await rest.request("GET /fapi/v1/feeBurn", { weight: 30, orders: 0 }, (c) =>
      c.getBNBBurnStatus(),
    );
    feeBurn = (status as { feeBurn?: unknown }).feeBurn === true;
  } catch (error) {
    logger.debug({ error: asApiError(error).message }, "feeBurn status not available");
  }
  if (feeBurn)
    throw new Error(
      "the account pays fees in BNB (feeBurn): perpsource books commissions in USDT; turn it off",
    );
}

/** A settings change that Binance answers "no need to change" when already so. */
async function idempotent(
  rest: BinanceRest,
  endpoint: string,
  send: Parameters<BinanceRest["request"]>[2],
): Promise<void> {
  try {
    await rest.request(endpoint, { weight: 1, orders: 0 }, send);
  } catch (error) {
    const e = asApiError(error);
    if (!(e.kind === "rejected" && NO_NEED_TO_CHANGE.has(e.code))) throw e;
  }
}

function asApiError(error: unknown): BinanceApiError {
  if (error instanceof BinanceApiError) return error;
  throw error;
}
