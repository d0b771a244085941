/**
 * `BinanceVenue`: the engine's `Venue` port on Binance USDⓈ-M (testnet, mainnet, or the local double), over the
 * `binance` SDK: `USDMClient` through `BinanceRest` (budget, 429/418/-1021, classified errors; rest.ts) and the
 * `WebsocketClient` user data stream (`subscribeUsdFuturesUserDataStream`: listenKey created over REST, kept alive
 * every 50 min, re-created on -1125 or `listenKeyExpired`, reconnected after drops; binance-usdm.md §3.5, §7.2).
 *
 * - `start`: the account set-up of account-setup.ts (clock, exchangeInfo, position mode, margin type and leverage
 *   per symbol, commission rates, brackets, positions and balance; kept in `account`), then the user stream.
 * - `submit`: LIMIT/MARKET → `POST /fapi/v1/order`, conditional types → `POST /fapi/v1/algoOrder` (order-params.ts).
 *   A rejection → `{ accepted: false, code, reason }` with Binance's code and message (or -1003 / -1008 / -1021
 *   when the request was not executed: banned, throttled, clock). An unknown outcome is never sent again: after
 *   the request's recvWindow has passed (Binance refuses it after that) the order is queried by clientOrderId
 *   (`GET /fapi/v1/order` / `algoOrder`): found → accepted; absent → rejected with the original error.
 * - `cancel`: an untriggered conditional order on `DELETE /fapi/v1/algoOrder`, anything else (a triggered one by
 *   its matching-engine order id) on `DELETE /fapi/v1/order`; a failure other than a clean rejection is settled by
 *   querying the order (CANCELED → canceled).
 * - Reports: each user-data message is parsed, folded (user-data-fold.ts: deduplicated, in order) and its
 *   reports handed to `onReport` one at a time, awaited; an order's reports wait until its `submit` returned.
 *   Funding notices are completed over REST (funding.ts). In lockstep, each private message is
 *   acknowledged (`POST /sim/v1/lockstep/ack`) once its reports were handled.
 * - Gaps: an order whose messages wait for a missing step longer than `gapTimeoutMs` is queried (`recover`): the
 *   algo order's status, then its matching-engine order's `userTrades`; the missing steps are folded from them.
 * - Reconciliation (`reconcile`, reconcile.ts): what the stream lost is recovered over REST and handed to the
 *   caller's `deliver` (inside the caller's own serial task), after the reports the stream folded before it and
 *   not yet handled; then the venue's open orders, positions and wallet are read. `onResync` tells when to.
 * - A failure while handling the stream (a message that breaks its schema or contradicts the fold, an
 *   `onReport` that throws) halts the venue: nothing more is folded or acknowledged, submit/cancel throw it.
 */
import { WebsocketClient } from "binance";
import type { Logger } from "pino";
import { Dec } from "../../domain/decimal.ts";
import type { EngineView } from "../../engine/reconciliation.ts";
import type {
  AdoptedOrder,
  CancelResult,
  ExternalVenue,
  OrderRequest,
  SubmitResult,
  VenueAccount,
  VenueReconciliation,
  VenueReport,
  VenueReportHandler,
  VenueSettings,
} from "../../engine/venue.ts";
import { setUpAccount, type VenueAccountInfo } from "./account-setup.ts";
import { BinanceApiError, redact } from "./errors.ts";
import { FundingCompleter } from "./funding.ts";
import { isAlgoOrder, orderParams } from "./order-params.ts";
import { readSnapshot, recoverLost, tradeMessage } from "./reconcile.ts";
import { BinanceRest, type BinanceRestOptions } from "./rest.ts";
import { parseUserDataMessage } from "./user-data.ts";
import { type FundingNotice, UserDataFold } from "./user-data-fold.ts";

/** Options of `BinanceVenue` (the contract's, plus test knobs). */
export interface BinanceVenueOptions {
  restUrl?: string;
  wsUrl?: string;
  testnet?: boolean;
  apiKey: string;
  apiSecret: string;
  symbols: readonly string[];
  logger: Logger;
  /** Acknowledge each private message to the double (`POST /sim/v1/lockstep/ack`). */
  lockstep?: boolean;
  /** ms clock (budget windows, bans, the unknown-outcome wait). */
  clock: () => number;
  /** REST knobs (timeouts, recvWindow, retries, sleep, limiter backoff); tests shorten them. */
  rest?: Partial<Pick<BinanceRestOptions, "timeoutMs" | "recvWindow" | "maxRetries" | "sleep" | "limiter">>;
  /** How many times an unknown outcome is queried before giving up (default 6). */
  outcomeQueries?: number;
  /** An order whose stream messages wait for a missing step this long (ms) is queried (default 5 000). */
  gapTimeoutMs?: number;
  /** Called each time the user-data connection is re-established after a drop (a process metric; not logged). */
  onReconnect?: () => void;
}

export type { VenueAccountInfo };

/** The outcome of an order could not be learned: trading must stop and reconcile. */
export class OrderOutcomeUnknownError extends Error {
  override name = "OrderOutcomeUnknownError";
}

const NOT_FOUND = new Set([-2011, -2013]);

/** The Binance venue (module docstring). */
export class BinanceVenue implements ExternalVenue {
  readonly external = true;
  readonly rest: BinanceRest;
  readonly fold = new UserDataFold();
  /** Filled by `start`. */
  account?: VenueAccountInfo;
  private ws?: WebsocketClient;
  private onReport?: VenueReportHandler;
  private queue: Promise<void> = Promise.resolve();
  private readonly submitting = new Map<string, Promise<unknown>>();
  /** clientOrderIds in doubt after a restart (`inDoubt`): queried before their first submit. */
  private readonly doubted = new Set<string>();
  private funding?: FundingCompleter;
  private readonly resyncListeners: (() => void)[] = [];
  private failure?: Error;
  private readonly secrets: string[];
  /** clientOrderId → when (clock) its messages started waiting for a missing step. */
  private readonly heldSince = new Map<string, number>();
  private gapTimer?: ReturnType<typeof setInterval>;
  /** Reports folded from the stream, not yet handed to `onReport`, in order. */
  private readonly pending: VenueReport[] = [];
  /** The report being handed to `onReport` (its handler may not have run yet). */
  private handingOff?: VenueReport;

  constructor(private readonly options: BinanceVenueOptions) {
    this.secrets = [options.apiKey, options.apiSecret];
    this.rest = new BinanceRest({
      ...options.rest,
      ...(options.restUrl ? { restUrl: options.restUrl } : {}),
      ...(options.testnet ? { testnet: true } : {}),
      apiKey: options.apiKey,
      apiSecret: options.apiSecret,
      logger: options.logger,
      clock: options.clock,
    });
  }

  /**
   * Reads and sets the account up (account-setup.ts), seeds the fold with the positions and balance, then opens
   * the user data stream; reports go to `onReport`, awaited one at a time.
   * @throws BinanceApiError (redacted) when a step fails; Error for a symbol that is not TRADING, an account
   *   paying fees in BNB, or a response that fails its validation.
   */
  async start(settings: VenueSettings, onReport: VenueReportHandler): Promise<VenueAccount> {
    this.onReport = onReport;
    const { symbols, restUrl, testnet, logger } = this.options;
    this.account = await setUpAccount(this.rest, { symbols, restUrl, testnet, logger }, settings);
    this.fold.seed(this.account.positions, { USDT: this.account.walletBalance });
    logger.info(
      { symbols, settings, walletBalance: this.account.walletBalance },
      "binance venue: account ready",
    );
    await this.openUserStream();
    return { walletBalance: this.account.walletBalance };
  }

  /** Registers an order the engine has working after a restart (`ExternalVenue.adopt`), with its fills so far. */
  adopt(order: AdoptedOrder): void {
    const { request, triggeredOrderId, executedQty, tradeIds, triggering } = order;
    this.fold.track(
      {
        clientOrderId: request.clientOrderId,
        symbol: request.symbol,
        algo: isAlgoOrder(request),
        ...(triggeredOrderId === undefined ? {} : { triggeredOrderId }),
      },
      { filled: executedQty, tradeIds, triggering },
    );
  }

  /**
   * Orders whose intent the engine's log holds without an answer (`ExternalVenue.inDoubt`): tracked now, so that
   * their stream messages are recognised; the first `submit` of each queries it by clientOrderId before sending.
   */
  inDoubt(orders: readonly OrderRequest[]): void {
    for (const order of orders) {
      this.fold.track({ clientOrderId: order.clientOrderId, symbol: order.symbol, algo: isAlgoOrder(order) });
      this.doubted.add(order.clientOrderId);
    }
  }

  /** Registers a listener for stream resynchronisation points (reconnect, listenKey re-created): reconcile there. */
  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  /**
   * Recovers what the stream lost for `view` (reconcile.ts; not with `recover: false`; funding of every symbol
   * with `allFunding`) and reads the venue's state. Every report goes to
   * `deliver`, in order: first those the stream folded earlier and `onReport` has not handled (the caller must
   * drop a report it receives both ways: the same object), then the recovered ones. Call it from the task that
   * owns the engine, never while `onReport` runs.
   * @throws BinanceApiError when a query fails; the venue's failure when it halted.
   */
  async reconcile(
    view: EngineView,
    deliver: VenueReportHandler,
    options: { recover?: boolean; allFunding?: boolean } = {},
  ): Promise<VenueReconciliation> {
    this.throwIfFailed();
    const flush = async () => {
      const earlier = [...(this.handingOff ? [this.handingOff] : []), ...this.pending.splice(0)];
      this.handingOff = undefined;
      for (const report of earlier) await deliver(report);
    };
    const recovered =
      options.recover === false
        ? 0
        : await recoverLost(
            {
              rest: this.rest,
              fold: this.fold,
              funding: this.fundingCompleter(),
              symbols: this.options.symbols,
              logger: this.options.logger,
              deliver: async (report) => {
                await flush();
                await deliver(report);
              },
            },
            view,
            { allFunding: options.allFunding === true },
          );
    await flush();
    const snapshot = await readSnapshot(this.rest, this.options.symbols);
    await flush(); // what the stream folded while the snapshot was read
    return { recovered, snapshot };
  }

  /** Sends a new order (module docstring); an order in doubt is queried first. Never sends an order twice. */
  async submit(order: OrderRequest): Promise<SubmitResult> {
    this.throwIfFailed();
    const doubted = this.doubted.delete(order.clientOrderId);
    if (!doubted && this.fold.isTracked(order.clientOrderId))
      return {
        accepted: false,
        code: -4116,
        reason: `clientOrderId ${order.clientOrderId} was already sent by this venue: not sent again`,
      };
    const algo = isAlgoOrder(order);
    this.fold.track({ clientOrderId: order.clientOrderId, symbol: order.symbol, algo });
    const sending = doubted ? this.resolveDoubt(order, algo) : this.send(order, algo);
    this.submitting.set(order.clientOrderId, sending);
    try {
      return await sending;
    } finally {
      this.submitting.delete(order.clientOrderId);
    }
  }

  /** Cancels a working order (module docstring). */
  async cancel(symbol: string, clientOrderId: string): Promise<CancelResult> {
    this.throwIfFailed();
    const triggered = this.fold.triggeredOrderId(clientOrderId);
    const algo = this.fold.isAlgo(clientOrderId) && triggered === undefined;
    this.fold.setCancelRequested(clientOrderId, true);
    const endpoint = algo ? "DELETE /fapi/v1/algoOrder" : "DELETE /fapi/v1/order";
    try {
      await this.rest.request(
        endpoint,
        { weight: 1, orders: 0 },
        (c): Promise<unknown> =>
          algo
            ? c.cancelAlgoOrder({ clientAlgoId: clientOrderId } as never)
            : c.cancelOrder(
                (triggered
                  ? { symbol, orderId: Number(triggered) }
                  : { symbol, origClientOrderId: clientOrderId }) as never,
              ),
      );
      return { canceled: true };
    } catch (error) {
      const e = asApiError(error);
      if (e.kind !== "rejected" || NOT_FOUND.has(e.code)) {
        const status = await this.queryStatus(symbol, clientOrderId, algo).catch(() => undefined);
        if (status === "CANCELED") return { canceled: true };
      }
      this.fold.setCancelRequested(clientOrderId, false);
      return { canceled: false, code: e.code, reason: e.msg };
    }
  }

  /** Closes the user data stream (the listenKey is deleted by the SDK) and waits for the reports under way. */
  async close(): Promise<void> {
    if (this.gapTimer) clearInterval(this.gapTimer);
    this.gapTimer = undefined;
    if (this.ws) {
      await this.ws.unsubscribeUsdFuturesUserDataStream();
      clearListenKeyTimers(this.ws);
      this.ws.closeAll(true);
      this.ws = undefined;
    }
    await this.queue;
  }

  // ── orders ────────────────────────────────────────────────────────────────────────────────────────────

  private async send(order: OrderRequest, algo: boolean): Promise<SubmitResult> {
    const params = orderParams(order);
    const sentAt = this.options.clock();
    try {
      if (algo) {
        const r = await this.rest.request("POST /fapi/v1/algoOrder", { weight: 0, orders: 1 }, (c) =>
          c.submitNewAlgoOrder(params as never),
        );
        return { accepted: true, orderId: String(r.algoId) };
      }
      const r = await this.rest.request("POST /fapi/v1/order", { weight: 0, orders: 1 }, (c) =>
        c.submitNewOrder(params as never),
      );
      return { accepted: true, orderId: String(r.orderId) };
    } catch (error) {
      const e = asApiError(error);
      if (e.kind !== "unknown") return { accepted: false, code: e.code || codeOf(e), reason: e.msg };
      this.options.logger.warn(
        { clientOrderId: order.clientOrderId, error: e.message },
        "order outcome unknown",
      );
      return this.settleUnknown(order, algo, sentAt, e);
    }
  }

  /**
   * An order in doubt after a restart: queried by clientOrderId; found, it is accepted with its order id (never
   * sent again); absent (-2013 / -2011), it is sent now.
   * @throws BinanceApiError when the query fails otherwise (the order stays unsent; a restart asks again).
   */
  private async resolveDoubt(order: OrderRequest, algo: boolean): Promise<SubmitResult> {
    const log = this.options.logger;
    try {
      const found = algo
        ? await this.rest.request(
            "GET /fapi/v1/algoOrder",
            { weight: 1, orders: 0 },
            (c) => c.getAlgoOrder({ clientAlgoId: order.clientOrderId } as never),
            { idempotent: true },
          )
        : await this.rest.request(
            "GET /fapi/v1/order",
            { weight: 1, orders: 0 },
            (c) => c.getOrder({ symbol: order.symbol, origClientOrderId: order.clientOrderId } as never),
            { idempotent: true },
          );
      const orderId = String(
        algo ? (found as { algoId: unknown }).algoId : (found as { orderId: unknown }).orderId,
      );
      log.info(
        { clientOrderId: order.clientOrderId, orderId },
        "order in doubt: found at the venue, not sent",
      );
      return { accepted: true, orderId };
    } catch (error) {
      const e = asApiError(error);
      if (!(e.kind === "rejected" && NOT_FOUND.has(e.code))) throw e;
      log.info({ clientOrderId: order.clientOrderId }, "order in doubt: not at the venue, sending it");
      return this.send(order, algo);
    }
  }

  /** The order's outcome after an unknown answer: queried once its request can no longer be accepted. */
  private async settleUnknown(
    order: OrderRequest,
    algo: boolean,
    sentAt: number,
    cause: BinanceApiError,
  ): Promise<SubmitResult> {
    const readyAt = sentAt + this.rest.recvWindow + 1_000;
    const queries = this.options.outcomeQueries ?? 6;
    const sleep = this.options.rest?.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    for (let attempt = 0; attempt < queries; attempt += 1) {
      const wait = readyAt - this.options.clock();
      if (wait > 0) await sleep(wait);
      try {
        const found = algo
          ? await this.rest.request("GET /fapi/v1/algoOrder", { weight: 1, orders: 0 }, (c) =>
              c.getAlgoOrder({ clientAlgoId: order.clientOrderId } as never),
            )
          : await this.rest.request("GET /fapi/v1/order", { weight: 1, orders: 0 }, (c) =>
              c.getOrder({ symbol: order.symbol, origClientOrderId: order.clientOrderId } as never),
            );
        const orderId = String(
          algo ? (found as { algoId: unknown }).algoId : (found as { orderId: unknown }).orderId,
        );
        this.options.logger.info(
          { clientOrderId: order.clientOrderId, orderId },
          "unknown outcome: order found",
        );
        return { accepted: true, orderId };
      } catch (error) {
        const e = asApiError(error);
        if (e.kind === "rejected" && NOT_FOUND.has(e.code)) {
          this.options.logger.info(
            { clientOrderId: order.clientOrderId },
            "unknown outcome: order not placed",
          );
          return {
            accepted: false,
            code: cause.code || -1007,
            reason: `${cause.msg} (not placed: no order ${order.clientOrderId} after the recvWindow)`,
          };
        }
        this.options.logger.warn(
          { clientOrderId: order.clientOrderId, error: e.message },
          "order query failed",
        );
        await sleep(Math.min(30_000, 500 * 2 ** attempt));
      }
    }
    throw new OrderOutcomeUnknownError(
      `order ${order.clientOrderId}: outcome unknown after ${queries} queries (${cause.message}); reconcile before trading`,
    );
  }

  private async queryStatus(symbol: string, clientOrderId: string, algo: boolean): Promise<string> {
    if (algo) {
      const r = await this.rest.request(
        "GET /fapi/v1/algoOrder",
        { weight: 1, orders: 0 },
        (c) => c.getAlgoOrder({ clientAlgoId: clientOrderId } as never),
        { idempotent: true },
      );
      return String((r as { algoStatus: unknown }).algoStatus);
    }
    const r = await this.rest.request(
      "GET /fapi/v1/order",
      { weight: 1, orders: 0 },
      (c) => c.getOrder({ symbol, origClientOrderId: clientOrderId } as never),
      { idempotent: true },
    );
    return String(r.status);
  }

  // ── user data stream ──────────────────────────────────────────────────────────────────────────────────

  private async openUserStream(): Promise<void> {
    const { options } = this;
    const log = options.logger;
    const secrets = this.secrets;
    const sdkLog =
      (level: "debug" | "info" | "warn") =>
      (...params: unknown[]) =>
        log[level]({ sdk: redact(safeJson(params), secrets) }, "binance ws");
    const ws = new WebsocketClient(
      {
        api_key: options.apiKey,
        api_secret: options.apiSecret,
        beautify: false,
        ...(options.wsUrl ? { wsUrl: options.wsUrl.replace(/\/+$/, "") } : {}),
        ...(options.testnet ? { testnet: true } : {}),
        restOptions: {
          ...(options.restUrl ? { baseUrl: options.restUrl.replace(/\/+$/, "") } : {}),
          ...(options.testnet ? { testnet: true } : {}),
        },
      },
      { trace: () => {}, info: sdkLog("debug"), error: sdkLog("warn") },
    );
    this.ws = ws;
    ws.on("message", (message: unknown) => {
      this.queue = this.queue
        .then(() => this.handleMessage(message))
        .catch((error: unknown) => this.fail(error));
    });
    ws.on("reconnected", () => {
      log.warn("user data stream reconnected: resynchronise");
      options.onReconnect?.();
      for (const listener of this.resyncListeners) listener();
    });
    ws.on("exception", (event: unknown) =>
      log.warn({ event: redact(safeJson(event), secrets) }, "binance ws exception"),
    );
    // The SDK reports a failed listenKey or connection as an `exception` event and resolves with nothing.
    const connected = await ws.subscribeUsdFuturesUserDataStream();
    if (!connected)
      throw new Error("user data stream: no connection (listenKey or WebSocket failed; see the log)");
    log.info("user data stream open");
    const gapTimeoutMs = options.gapTimeoutMs ?? 5_000;
    this.gapTimer = setInterval(() => this.checkGaps(gapTimeoutMs), Math.max(50, gapTimeoutMs / 2));
    this.gapTimer.unref?.();
  }

  private async handleMessage(raw: unknown): Promise<void> {
    if (this.failure) return; // halted: nothing more is folded or acknowledged (reconcile, restart)
    const message = parseUserDataMessage(raw);
    if (message.e === "MARGIN_CALL") this.options.logger.warn({ positions: message.p }, "MARGIN_CALL");
    if (message.e === "ACCOUNT_CONFIG_UPDATE" && message.ac)
      this.options.logger.warn(
        { symbol: message.ac.s, leverage: message.ac.l },
        "leverage changed at the venue",
      );
    if (message.e === "unknown")
      this.options.logger.info({ type: message.type }, "user-data event not handled");
    const result = this.fold.apply(message);
    await this.handOn(result.reports);
    for (const notice of result.funding) await this.handOn(await this.completeFunding(notice));
    this.noteHeld();
    if (result.listenKeyExpired) {
      this.options.logger.warn("listenKey expired: the SDK re-creates it; resynchronise");
      for (const listener of this.resyncListeners) listener();
    }
    if (this.options.lockstep) await this.ack();
  }

  private noteHeld(): void {
    const held = this.fold.heldBack().orders;
    for (const id of this.heldSince.keys()) if (!(id in held)) this.heldSince.delete(id);
    for (const id of Object.keys(held))
      if (!this.heldSince.has(id)) this.heldSince.set(id, this.options.clock());
  }

  /** Queues a recovery for every order whose messages waited longer than `gapTimeoutMs`. */
  private checkGaps(gapTimeoutMs: number): void {
    const now = this.options.clock();
    for (const [id, since] of this.heldSince) {
      if (now - since < gapTimeoutMs) continue;
      this.heldSince.set(id, Number.POSITIVE_INFINITY); // one recovery at a time; noteHeld re-arms it
      this.queue = this.queue
        .then(() => (this.failure ? undefined : this.recover(id)))
        .catch((error: unknown) => {
          if (!(error instanceof BinanceApiError)) return this.fail(error);
          this.options.logger.warn({ clientOrderId: id, error: error.message }, "stream gap: query failed");
          this.heldSince.set(id, this.options.clock()); // asked again after gapTimeoutMs
        });
    }
  }

  /**
   * Fills an order's missing steps from REST: an algo order past its trigger is released from its held
   * updates (the missing TRIGGERING/TRIGGERED folded from the later ones); missing fills come from
   * `userTrades` of its matching-engine order (each trade as a TRADE update with its cumulative quantity, folded
   * like a stream message: duplicates dropped), after which the held messages fold by themselves.
   */
  private async recover(clientOrderId: string): Promise<void> {
    const order = this.fold.tracked(clientOrderId);
    if (!order) return;
    const log = this.options.logger;
    log.warn(
      { clientOrderId, held: this.fold.heldBack().orders[clientOrderId] },
      "stream gap: querying the order",
    );
    if (order.algo && order.triggeredOrderId === undefined) {
      const status = await this.queryStatus(order.symbol, clientOrderId, true);
      if (status === "NEW" || status === "TRIGGERING") {
        this.heldSince.set(clientOrderId, this.options.clock());
        return;
      }
      await this.handOn(this.fold.release(clientOrderId));
    }
    const orderId = this.fold.tracked(clientOrderId)?.triggeredOrderId;
    if (order.algo && orderId === undefined) {
      this.noteHeld(); // ended before its trigger: nothing in the matching engine
      return;
    }
    const placed = await this.rest.request(
      "GET /fapi/v1/order",
      { weight: 1, orders: 0 },
      (c) =>
        c.getOrder(
          (orderId
            ? { symbol: order.symbol, orderId: Number(orderId) }
            : { symbol: order.symbol, origClientOrderId: clientOrderId }) as never,
        ),
      { idempotent: true },
    );
    const trades = await this.rest.request(
      "GET /fapi/v1/userTrades",
      { weight: 5, orders: 0 },
      (c) => c.getAccountTrades({ symbol: order.symbol, orderId: Number(placed.orderId) } as never),
      { idempotent: true },
    );
    let filled = new Dec(0);
    // Filtered here too: an endpoint that ignored `orderId` (a double) must not lend us other orders' trades.
    const own = trades.filter((t) => String(t.orderId) === String(placed.orderId));
    for (const trade of own.sort((a, b) => a.id - b.id)) {
      filled = filled.plus(String(trade.qty));
      const message = parseUserDataMessage(tradeMessage(clientOrderId, placed, trade, filled));
      await this.handOn(this.fold.apply(message).reports);
    }
    // What still waits (trades not listed yet) is asked again after gapTimeoutMs: never skipped over.
    this.heldSince.delete(clientOrderId);
    this.noteHeld();
  }

  /** Hands folded reports to `onReport` one at a time, in order (a reconciliation may take them over). */
  private async handOn(reports: readonly VenueReport[]): Promise<void> {
    this.pending.push(...reports);
    while (this.pending.length > 0) {
      const report = this.pending.shift()!;
      this.handingOff = report;
      try {
        await this.deliver(report);
      } finally {
        if (this.handingOff === report) this.handingOff = undefined;
      }
    }
  }

  private async deliver(report: VenueReport): Promise<void> {
    const id =
      report.kind === "fill"
        ? report.fill.clientOrderId
        : report.kind === "funding" || report.kind === "liquidation"
          ? undefined
          : report.clientOrderId;
    const pending = id === undefined ? undefined : this.submitting.get(id);
    if (pending) await pending.catch(() => undefined);
    await this.onReport?.(report);
  }

  private completeFunding(notice: FundingNotice): Promise<VenueReport[]> {
    return this.fundingCompleter().reports(notice);
  }

  private fundingCompleter(): FundingCompleter {
    this.funding ??= new FundingCompleter(
      this.rest,
      this.fold,
      this.options.symbols,
      this.options.logger,
      this.options.rest?.sleep,
    );
    return this.funding;
  }

  /**
   * Acknowledges the private message just handled. A 409 (no step message waiting) is no failure: the double
   * released the message already because its connection closed (e.g. the SDK reconnecting after
   * `listenKeyExpired`); the market feed treats it the same way.
   */
  private async ack(): Promise<void> {
    try {
      await this.rest.request("POST /sim/v1/lockstep/ack", { weight: 0, orders: 0 }, (c) =>
        c.post("sim/v1/lockstep/ack"),
      );
    } catch (error) {
      if (!(error instanceof BinanceApiError && error.status === 409)) throw error;
      this.options.logger.warn("user data stream: lockstep ack refused (409: no step message waiting)");
    }
  }

  private fail(error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    this.failure ??= e;
    this.options.logger.error(
      { error: redact(e.message, this.secrets) },
      "user data stream: report handling failed",
    );
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

function asApiError(error: unknown): BinanceApiError {
  if (error instanceof BinanceApiError) return error;
  throw error;
}

/** A code for a request that was not executed and whose answer had none. */
function codeOf(e: BinanceApiError): number {
  if (e.kind === "banned" || e.kind === "rateLimited") return -1003;
  if (e.kind === "clock") return -1021;
  if (e.kind === "unavailable") return -1008;
  return 0;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (v instanceof Error ? { name: v.name, message: v.message } : v));
  } catch {
    return String(value);
  }
}

/**
 * Clears the SDK's listenKey keepalive timers (binance v3.6.5: closing the user data stream leaves its 50-minute
 * keepalive interval running, which keeps the process alive after the run). Reaches into the SDK's
 * `UserDataStreamManager`; a later SDK without it is left alone.
 */
function clearListenKeyTimers(ws: WebsocketClient): void {
  const manager = (
    ws as unknown as { getUserDataStreamManager?: () => unknown }
  ).getUserDataStreamManager?.();
  const cache = (manager as { listenKeyStateCache?: ListenKeyStateCache } | undefined)?.listenKeyStateCache;
  if (!cache?.listenKeyStateStore) return;
  for (const listenKey of Object.keys(cache.listenKeyStateStore)) cache.clearAllListenKeyState(listenKey);
}

/** The part of the SDK's listenKey state cache `clearListenKeyTimers` uses. */
interface ListenKeyStateCache {
  listenKeyStateStore: Record<string, unknown>;
  clearAllListenKeyState(listenKey: string): void;
}
