/**
 * The USDⓈ-M user data stream's messages (binance-usdm.md §2.4, §3.2–§3.5) as zod schemas, checked against the
 * real messages of `futures/um/user-data/`. The SDK's own types lag the exchange (§7.1: `EXPIRED_IN_MATCH`,
 * `CALCULATED`, `AMENDMENT`, `bep`, ALGO_UPDATE's `ap`/`aq`/`act`/`rm`), so these are the project's types.
 *
 * Fields the fold uses are checked exactly (decimal strings, ms times, enums); fields it does not use are left
 * out of the schemas, and keys Binance adds later (or the SDK adds: `wsKey`, `wsMarket`, `streamName`) are
 * stripped, never an error. Ids are strings: Binance sends orderId/tradeId/algoId as JSON numbers (int64 that
 * fit a double today) and `ai` as a string ("" before the trigger).
 */
import { z } from "zod";
import { Decimal, EpochMs, SymbolName } from "../../events/catalog.ts";

const Id = z.union([z.string(), z.number().int()]).transform(String);
const PositionSide = z.enum(["BOTH", "LONG", "SHORT"]);
const Side = z.enum(["BUY", "SELL"]);
const WorkingType = z.enum(["MARK_PRICE", "CONTRACT_PRICE"]);
/** `er` (§3.1) arrives as a number; a numeric string is taken too. */
const ExpiryReason = z.union([z.number().int(), z.string().regex(/^\d+$/)]).transform(Number);

/** `ORDER_TRADE_UPDATE` (§3.2). */
export const OrderTradeUpdate = z.object({
  e: z.literal("ORDER_TRADE_UPDATE"),
  E: EpochMs,
  T: EpochMs,
  o: z.object({
    s: SymbolName,
    c: z.string().min(1),
    S: Side,
    /** Order type; `LIQUIDATION` for the venue's own liquidation orders. */
    o: z.string().min(1),
    q: Decimal,
    p: Decimal,
    ap: Decimal,
    sp: Decimal,
    x: z.enum(["NEW", "CANCELED", "CALCULATED", "EXPIRED", "TRADE", "AMENDMENT"]),
    X: z.enum([
      "NEW",
      "PARTIALLY_FILLED",
      "FILLED",
      "CANCELED",
      "EXPIRED",
      "EXPIRED_IN_MATCH",
      "NEW_INSURANCE",
      "NEW_ADL",
    ]),
    i: Id,
    l: Decimal,
    z: Decimal,
    L: Decimal,
    /** Commission of this fill and its asset: absent when there is none. */
    n: Decimal.optional(),
    N: z.string().optional(),
    T: EpochMs,
    t: Id,
    m: z.boolean(),
    R: z.boolean(),
    wt: WorkingType.optional(),
    ot: z.string().optional(),
    ps: PositionSide,
    rp: Decimal,
    er: ExpiryReason.optional(),
  }),
});
export type OrderTradeUpdate = z.infer<typeof OrderTradeUpdate>;

const Balance = z.object({ a: z.string().min(1), wb: Decimal, cw: Decimal, bc: Decimal });
const AccountPosition = z.object({
  s: SymbolName,
  pa: Decimal,
  ep: Decimal,
  /** Breakeven price (missing from the SDK's type). */
  bep: Decimal.optional(),
  cr: Decimal,
  up: Decimal,
  mt: z.enum(["isolated", "cross"]),
  iw: Decimal,
  ps: PositionSide,
});

/** `ACCOUNT_UPDATE` (§3.3); `m` is an open set (the SDK's enum lacks `COIN_SWAP_*`). */
export const AccountUpdate = z.object({
  e: z.literal("ACCOUNT_UPDATE"),
  E: EpochMs,
  T: EpochMs,
  a: z.object({ m: z.string().min(1), B: z.array(Balance), P: z.array(AccountPosition) }),
});
export type AccountUpdate = z.infer<typeof AccountUpdate>;

/** Algo statuses (§2.4). */
export const AlgoStatus = z.enum([
  "NEW",
  "TRIGGERING",
  "TRIGGERED",
  "FINISHED",
  "CANCELED",
  "REJECTED",
  "EXPIRED",
]);
export type AlgoStatus = z.infer<typeof AlgoStatus>;

/** `ALGO_UPDATE` (§2.4): a conditional order's algo status; `ai` is the matching-engine order once triggered. */
export const AlgoUpdate = z.object({
  e: z.literal("ALGO_UPDATE"),
  E: EpochMs,
  T: EpochMs,
  o: z.object({
    caid: z.string().min(1),
    aid: Id,
    o: z.string().min(1),
    s: SymbolName,
    S: Side,
    ps: PositionSide,
    q: Decimal,
    X: AlgoStatus,
    ai: Id,
    ap: Decimal.optional(),
    aq: Decimal.optional(),
    act: z.enum(["MARKET", "LIMIT"]).optional(),
    tp: Decimal,
    p: Decimal,
    /** Absent on some CANCELED updates (real data, DOTUSDT 2026-09-19). */
    wt: WorkingType.optional(),
    tt: EpochMs.optional(),
    rm: z.string().optional(),
  }),
});
export type AlgoUpdate = z.infer<typeof AlgoUpdate>;

/** `MARGIN_CALL` (§3.4): advisory. */
export const MarginCall = z.object({
  e: z.literal("MARGIN_CALL"),
  E: EpochMs,
  cw: Decimal.optional(),
  p: z.array(
    z.object({
      s: SymbolName,
      ps: PositionSide,
      pa: Decimal,
      mt: z.enum(["ISOLATED", "CROSSED", "isolated", "cross"]),
      iw: Decimal,
      mp: Decimal,
      up: Decimal,
      mm: Decimal,
    }),
  ),
});
export type MarginCall = z.infer<typeof MarginCall>;

/** `ACCOUNT_CONFIG_UPDATE` (§3.4): a symbol's leverage (`ac`) or the multi-assets mode (`ai`). */
export const AccountConfigUpdate = z.object({
  e: z.literal("ACCOUNT_CONFIG_UPDATE"),
  E: EpochMs,
  T: EpochMs,
  ac: z.object({ s: SymbolName, l: z.number().int().positive() }).optional(),
  ai: z.object({ j: z.boolean() }).optional(),
});
export type AccountConfigUpdate = z.infer<typeof AccountConfigUpdate>;

/** `TRADE_LITE` (§3.2): a fill without status, cumulative quantity or commission. */
export const TradeLite = z.object({
  e: z.literal("TRADE_LITE"),
  E: EpochMs,
  T: EpochMs,
  s: SymbolName,
  c: z.string().min(1),
  S: Side,
  L: Decimal,
  l: Decimal,
  m: z.boolean(),
  t: Id,
  i: Id,
});
export type TradeLite = z.infer<typeof TradeLite>;

/** `listenKeyExpired` (§3.4); `E` is a string in Binance's documentation, a number in practice. */
export const ListenKeyExpired = z.object({
  e: z.literal("listenKeyExpired"),
  E: z.union([EpochMs, z.string().regex(/^\d+$/).transform(Number)]),
  listenKey: z.string().min(1),
});
export type ListenKeyExpired = z.infer<typeof ListenKeyExpired>;

const SCHEMAS = {
  ORDER_TRADE_UPDATE: OrderTradeUpdate,
  ACCOUNT_UPDATE: AccountUpdate,
  ALGO_UPDATE: AlgoUpdate,
  MARGIN_CALL: MarginCall,
  ACCOUNT_CONFIG_UPDATE: AccountConfigUpdate,
  TRADE_LITE: TradeLite,
  listenKeyExpired: ListenKeyExpired,
} as const;

/** Every user-data message the fold knows. */
export type UserDataMessage =
  | OrderTradeUpdate
  | AccountUpdate
  | AlgoUpdate
  | MarginCall
  | AccountConfigUpdate
  | TradeLite
  | ListenKeyExpired;

/** A message that breaks its schema: `type` and the failing field's path are in the message. */
export class UserDataError extends Error {
  override name = "UserDataError";
}

/**
 * Parses one user-data message (an object as received, or its JSON text). A message of an event type this
 * module does not know (Binance adds some, e.g. STRATEGY_UPDATE) is returned as `{ e: "unknown", type }`.
 * @throws UserDataError naming the event type and the field, e.g. `ORDER_TRADE_UPDATE.o.z: expected a decimal…`.
 */
export function parseUserDataMessage(raw: unknown): UserDataMessage | { e: "unknown"; type: string } {
  const value = typeof raw === "string" ? parseJson(raw) : raw;
  if (typeof value !== "object" || value === null)
    throw new UserDataError("user-data message: not an object");
  const type = (value as { e?: unknown }).e;
  if (typeof type !== "string") throw new UserDataError("user-data message: no event type `e`");
  const schema = SCHEMAS[type as keyof typeof SCHEMAS];
  if (!schema) return { e: "unknown", type };
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new UserDataError(`${type}.${issue.path.join(".")}: ${issue.message}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserDataError(`user-data message: invalid JSON (${(error as Error).message})`);
  }
}
