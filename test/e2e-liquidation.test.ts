/**
 * Liquidation end to end on real Binance data (issue 6, "Done when"): `perpsource backtest --strategy sma-cross
 * --symbols BTCUSDT,ETHUSDT --leverage 50 --margin 200`, 2025-05-05..2025-05-20, isolated margin (sma-cross's
 * default). At 50× a 200 USDT margin leaves the position about 1.5 % of room, so ETHUSDT's swings of May 2025
 * liquidate it several times, long and short. The test recomputes every recorded liquidation price from the
 * recorded position with binance-usdm.md §4.7 written out here (not the production `liquidationPrice`), checks
 * the fill price against the bar, the wallet identity over the whole log, and that the HTTP API shows each
 * liquidation in `/events` and the position flat in `/positions` right after it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../src/adapters/http/server.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { Dec } from "../src/domain/decimal.ts";
import { getInstrument } from "../src/domain/instruments.ts";
import { bundledLeverageBracketCatalog } from "../src/domain/margin/brackets.catalog.ts";
import { bracketFor, type LeverageBracket } from "../src/domain/margin/brackets.ts";
import { verifyReplay } from "../src/engine/replay.ts";
import type { EventData } from "../src/events/catalog.ts";
import type { RecordedEvent } from "../src/events/envelope.ts";
import { createProjections } from "../src/projections/index.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData(
  "liquidations of sma-cross at 50× with 200 USDT margin, BTCUSDT+ETHUSDT 2025-05-05..2025-05-20",
);
const BIN = fileURLToPath(new URL("../bin/perpsource.mjs", import.meta.url));
const logger = pino({ level: "silent" });

function perpsource(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "--log-level", "warn", ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function readLog(file: string): Promise<RecordedEvent[]> {
  const store = SqliteEventStore.open(file, { readOnly: true });
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  await store.close();
  return events;
}

/** The position of one symbol as the account booked it (one-way, isolated). */
interface Booked {
  amt: Dec;
  entry: Dec;
  /** isolatedWallet of the last FillBooked / FundingFeeBooked of the position. */
  isolatedWallet: Dec;
}

/**
 * binance-usdm.md §4.7, one-way mode, isolated (TMM1 = UPNL1 = 0, WB = the isolated wallet):
 *   LP = (WB + cumB − Side × Pos × EP) / (Pos × MMRB − Side × Pos)
 * with MMRB and cumB of the bracket that holds the notional Pos × LP (§4.7 "pick the bracket of the notional at
 * the liquidation price"): the one bracket whose LP lies in it. Rounded half-even to 12 decimals (the precision
 * the venue records, LIQUIDATION_PRICE_DECIMALS); null when LP ≤ 0 ("--").
 */
function isolatedLiquidationPrice(p: Booked, brackets: readonly LeverageBracket[]): Dec | null {
  const side = p.amt.isPositive() ? 1 : -1;
  const pos = p.amt.abs();
  const consistent: Dec[] = [];
  for (const b of brackets) {
    const numerator = p.isolatedWallet.plus(b.cum).minus(pos.times(p.entry).times(side));
    const denominator = pos.times(b.maintMarginRatio).minus(pos.times(side));
    const lp = numerator.div(denominator);
    if (lp.lte(0)) continue;
    if (bracketFor(brackets, pos.times(lp)).bracket === b.bracket) consistent.push(lp);
  }
  expect(consistent.length, "exactly one bracket holds its own liquidation price").toBeLessThanOrEqual(1);
  return consistent[0]?.toDecimalPlaces(12, Dec.ROUND_HALF_EVEN) ?? null;
}

/** `price` rounded to the tick against a position: a long's down, a short's up. */
function toTickAgainst(price: Dec, tick: string, long: boolean): Dec {
  const ticks = price.div(tick);
  return (long ? ticks.floor() : ticks.ceil()).times(tick);
}

describe.skipIf(!root)("liquidation on real data: sma-cross at 50× with 200 USDT margin", () => {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-liquidation-"));
  const file = join(dir, "liq.sqlite");
  let summary: Record<string, unknown>;
  let events: RecordedEvent[];
  let liquidations: RecordedEvent<{ type: "PositionLiquidated"; data: EventData<"PositionLiquidated"> }>[];
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    const run = perpsource([
      "backtest",
      "--strategy",
      "sma-cross",
      "--symbols",
      "BTCUSDT,ETHUSDT",
      "--leverage",
      "50",
      "--margin",
      "200",
      "--from",
      "2025-05-05",
      "--to",
      "2025-05-20",
      "--data",
      root!,
      "--store",
      `sqlite:${file}`,
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    summary = JSON.parse(run.stdout);
    events = await readLog(file);
    liquidations = events.filter((e) => e.type === "PositionLiquidated") as typeof liquidations;
    console.info(
      `[e2e-liquidation] liquidations 2025-05-05..2025-05-20 at 50×/200 USDT: ${liquidations.length} (${liquidations
        .map((e) => `${e.data.symbol} ${new Dec(e.data.positionAmt).isPositive() ? "long" : "short"}`)
        .join(", ")})`,
    );
  }, 120_000);

  it("the summary reports liquidations > 0, as many as the log's PositionLiquidated", () => {
    expect(summary["liquidations"]).toBeGreaterThan(0);
    expect(summary["liquidations"]).toBe(liquidations.length);
    expect(summary["completed"]).toBe(true);
    // Each liquidation expired the symbol's working orders (er 5, §3.1) before closing the position.
    const expired = events.filter(
      (e) => e.type === "OrderExpired" && (e.data as EventData<"OrderExpired">).expiryReason === 5,
    );
    expect(expired.length).toBeGreaterThanOrEqual(liquidations.length);
  });

  it("every liquidation price is §4.7 of the recorded position, and the fill is that price to the tick or the open on a gap", () => {
    const brackets = bundledLeverageBracketCatalog();
    const booked = new Map<string, Booked>();
    const pending = new Map<
      string,
      { lp: Dec; liquidation: EventData<"PositionLiquidated">; time: number }
    >();
    let checked = 0;
    let crossedChecks = 0;
    for (const e of events) {
      if (e.type === "FillBooked") {
        const f = e.data as EventData<"FillBooked">;
        expect(f.isolatedWallet, "sma-cross trades isolated").toBeDefined();
        booked.set(f.symbol, {
          amt: new Dec(f.positionAmt),
          entry: new Dec(f.entryPrice),
          isolatedWallet: new Dec(f.isolatedWallet ?? "0"),
        });
      } else if (e.type === "FundingFeeBooked") {
        const f = e.data as EventData<"FundingFeeBooked">;
        const p = booked.get(f.symbol);
        if (p && !p.amt.isZero()) p.isolatedWallet = new Dec(f.isolatedWallet ?? "0");
      } else if (e.type === "PositionLiquidated") {
        const l = e.data as EventData<"PositionLiquidated">;
        const p = booked.get(l.symbol);
        expect(p, `${l.symbol} had a booked position`).toBeDefined();
        expect(l.marginType).toBe("ISOLATED");
        expect(new Dec(l.positionAmt).eq(p!.amt)).toBe(true);
        expect(new Dec(l.entryPrice).eq(p!.entry)).toBe(true);
        const lp = isolatedLiquidationPrice(p!, brackets.get(l.symbol).brackets);
        expect(lp).not.toBeNull();
        expect(l.liquidationPrice).toBe(lp!.toFixed());
        // The isolated loss is capped at the position's margin; the wallet never pays more (§4.8).
        expect(new Dec(l.realizedPnl).gte(p!.isolatedWallet.neg())).toBe(true);
        expect(new Dec(l.realizedPnl).minus(l.clearanceFee).gte(p!.isolatedWallet.neg())).toBe(true);
        pending.set(l.symbol, { lp: lp!, liquidation: l, time: e.metadata.eventTime });
        booked.set(l.symbol, { amt: new Dec(0), entry: new Dec(0), isolatedWallet: new Dec(0) });
        checked++;
      } else if (e.type === "BarClosed") {
        const bar = e.data as EventData<"BarClosed">;
        const liquidated = pending.get(bar.symbol);
        if (liquidated) {
          // The venue liquidates while matching the bar; the bar's close follows in the log.
          pending.delete(bar.symbol);
          expect(bar.closeTime).toBe(liquidated.time);
          const long = new Dec(liquidated.liquidation.positionAmt).isPositive();
          const { lp } = liquidated;
          expect(long ? new Dec(bar.low).lte(lp) : new Dec(bar.high).gte(lp), "the bar crossed LP").toBe(
            true,
          );
          const gapped = long ? new Dec(bar.open).lte(lp) : new Dec(bar.open).gte(lp);
          const expected = gapped
            ? new Dec(bar.open)
            : toTickAgainst(lp, getInstrument(bar.symbol).tickSize, long);
          expect(new Dec(liquidated.liquidation.price).eq(expected)).toBe(true);
          continue;
        }
        // A position still open at its bar's close was not liquidated: the bar did not reach its LP.
        const p = booked.get(bar.symbol);
        if (!p || p.amt.isZero()) continue;
        const lp = isolatedLiquidationPrice(p, brackets.get(bar.symbol).brackets);
        if (lp === null) continue;
        const crossed = p.amt.isPositive() ? new Dec(bar.low).lte(lp) : new Dec(bar.high).gte(lp);
        expect(crossed, `${bar.symbol} bar ${bar.openTime} reached LP ${lp} of an open position`).toBe(false);
        crossedChecks++;
      }
    }
    expect(checked).toBe(liquidations.length);
    expect(crossedChecks).toBeGreaterThan(1000);
  });

  it("walletBalance = initial + Σ realizedPnl − Σ commission − Σ clearanceFee + Σ funding after every booking", () => {
    let wallet: Dec | undefined;
    let bookings = 0;
    for (const e of events) {
      switch (e.type) {
        case "AccountOpened":
          wallet = new Dec((e.data as EventData<"AccountOpened">).walletBalance);
          continue;
        case "FillBooked": {
          const f = e.data as EventData<"FillBooked">;
          wallet = wallet!.plus(f.realizedPnl).minus(f.commission);
          expect(new Dec(f.walletBalance).eq(wallet), `FillBooked #${e.position}`).toBe(true);
          break;
        }
        case "FundingFeeBooked": {
          const f = e.data as EventData<"FundingFeeBooked">;
          wallet = wallet!.plus(f.fundingFee);
          expect(new Dec(f.walletBalance).eq(wallet), `FundingFeeBooked #${e.position}`).toBe(true);
          break;
        }
        case "PositionLiquidated": {
          const l = e.data as EventData<"PositionLiquidated">;
          wallet = wallet!.plus(l.realizedPnl).minus(l.clearanceFee);
          expect(new Dec(l.walletBalance).eq(wallet), `PositionLiquidated #${e.position}`).toBe(true);
          break;
        }
        default:
          continue;
      }
      bookings++;
    }
    expect(bookings).toBeGreaterThan(liquidations.length);
    const projections = createProjections();
    for (const e of events) projections.apply(e);
    const pnl = projections.pnl();
    expect(new Dec(pnl.walletBalance).eq(wallet!)).toBe(true);
    expect(pnl.liquidations).toBe(liquidations.length);
    expect(new Dec(pnl.equity).eq(new Dec(summary["equity"] as string))).toBe(true);
  });

  it("the HTTP API shows each liquidation in /events with its price, and the position flat in /positions after it", async () => {
    const store = SqliteEventStore.open(file, { readOnly: true });
    const projections = createProjections();
    const app = buildHttpServer({ store, projections: () => projections });
    try {
      for (const e of events) {
        projections.apply(e);
        if (e.type !== "PositionLiquidated") continue;
        const l = e.data as EventData<"PositionLiquidated">;
        const page = (
          await app.inject({ method: "GET", url: `/events?from=${e.position - 1}&limit=1` })
        ).json();
        expect(page.events).toEqual([
          expect.objectContaining({
            position: e.position,
            type: "PositionLiquidated",
            data: expect.objectContaining({
              symbol: l.symbol,
              price: l.price,
              liquidationPrice: l.liquidationPrice,
            }),
          }),
        ]);
        const { positions } = (await app.inject({ method: "GET", url: "/positions" })).json() as {
          positions: { symbol: string; positionAmt: string; side: string }[];
        };
        expect(positions.find((p) => p.symbol === l.symbol)).toMatchObject({
          positionAmt: "0",
          side: "FLAT",
        });
      }
      const pnl = (await app.inject({ method: "GET", url: "/pnl?maxPoints=6" })).json();
      expect(pnl.liquidations).toBe(liquidations.length);
    } finally {
      await app.close();
      await store.close();
    }
  });

  it("replay --verify reproduces the liquidating run", async () => {
    const store = SqliteEventStore.open(file, { readOnly: true });
    const report = await verifyReplay(store, { dataRoot: root!, logger });
    await store.close();
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
  }, 120_000);
});

describe.skipIf(!root)("venue options from the CLI, recorded in RunStarted and replayed", () => {
  const dir = mkdtempSync(join(tmpdir(), "perpsource-venue-options-"));
  const file = join(dir, "venue.sqlite");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("--participation-rate caps fills (partialFills > 0), the options are in RunStarted, replay --verify passes", async () => {
    const run = perpsource([
      "backtest",
      "--symbols",
      "BTCUSDT,ETHUSDT",
      "--from",
      "2025-06-01",
      "--to",
      "2025-06-02",
      "--participation-rate",
      "0.001",
      "--intrabar-path",
      "barDirection",
      "--latency-ms",
      "1000",
      "--data",
      root!,
      "--store",
      `sqlite:${file}`,
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    // sma-cross's 10 000 USDT entries are more than 0.1 % of many 1m bars' volume: they fill over several bars.
    expect(summary.partialFills).toBeGreaterThan(0);
    const events = await readLog(file);
    const partial = events.filter(
      (e) => e.type === "OrderFilled" && (e.data as EventData<"OrderFilled">).status === "PARTIALLY_FILLED",
    );
    expect(summary.partialFills).toBe(partial.length);
    const started = events[0]!.data as EventData<"RunStarted">;
    expect(started.config["venue"]).toEqual({
      intrabarPath: "barDirection",
      limitFillRule: "through",
      participationRate: "0.001",
      submitLatencyMs: 1000,
      triggerLatencyMs: 0,
    });
    const store = SqliteEventStore.open(file, { readOnly: true });
    const report = await verifyReplay(store, { dataRoot: root!, logger });
    await store.close();
    expect(report.differences).toEqual([]);
  }, 120_000);
});
