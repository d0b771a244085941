/**
 * Funding payments of the user data stream, completed over REST (binance-usdm.md §3.3, §4.4): ACCOUNT_UPDATE
 * `m` = FUNDING_FEE gives only the balance change (and the position when isolated); the symbols of a cross
 * payment come from `GET /fapi/v1/income` (FUNDING_FEE at the message's time), the rate and the mark price from
 * `GET /fapi/v1/fundingRate` (the settlement nearest the message's time). Each payment is reported once.
 */
import type { Logger } from "pino";
import { Dec } from "../../domain/decimal.ts";
import type { VenueReport } from "../../engine/venue.ts";
import type { BinanceRest } from "./rest.ts";
import type { FundingNotice, UserDataFold, VenuePosition } from "./user-data-fold.ts";

/** Turns funding notices into `funding` reports (module docstring). */
export class FundingCompleter {
  /** `symbol:positionSide:time` of the payments reported. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly rest: BinanceRest,
    private readonly fold: UserDataFold,
    private readonly symbols: readonly string[],
    private readonly logger: Logger,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /**
   * Completes a funding notice over REST: the symbols (income, when cross), the rate and mark (fundingRate).
   * Binance may list them a moment after the stream's message: each is asked again with backoff (5 times) before
   * it is an error. Funding of a symbol this venue does not trade is left to reconciliation (logged).
   * @throws Error when the income or the rate cannot be found, or the position that paid is ambiguous.
   */
  async reports(notice: FundingNotice): Promise<VenueReport[]> {
    const rows: {
      symbol: string;
      positionSide: VenuePosition["positionSide"];
      positionAmt: string;
      fee: string;
    }[] = [];
    if (notice.position) rows.push({ ...notice.position, fee: notice.fundingFee });
    else {
      const income = await this.eventually(`funding income at ${notice.time}`, (c) =>
        c
          .getIncomeHistory({
            incomeType: "FUNDING_FEE",
            startTime: notice.time - 1_000,
            endTime: notice.time + 1_000,
          } as never)
          .then((list) => list.filter((row) => row.asset === notice.asset && row.symbol)),
      );
      for (const row of income) {
        if (!this.symbols.includes(row.symbol!)) {
          this.logger.warn({ symbol: row.symbol, income: row.income }, "funding of a symbol not traded here");
          continue;
        }
        rows.push({ symbol: row.symbol!, ...this.openPosition(row.symbol!), fee: String(row.income) });
      }
    }
    const reports: VenueReport[] = [];
    for (const row of rows) {
      const key = `${row.symbol}:${row.positionSide}:${notice.time}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      const rates = await this.eventually(`fundingRate of ${row.symbol} at ${notice.time}`, (c) =>
        c.getFundingRateHistory({
          symbol: row.symbol,
          startTime: notice.time - 60_000,
          endTime: notice.time + 60_000,
        }),
      );
      const rate = [...rates].sort(
        (a, b) => Math.abs(a.fundingTime - notice.time) - Math.abs(b.fundingTime - notice.time),
      )[0]!;
      const markPrice = (rate as { markPrice?: unknown }).markPrice;
      if (typeof markPrice !== "string" || markPrice === "")
        throw new Error(`fundingRate of ${row.symbol} at ${rate.fundingTime}: no markPrice`);
      reports.push({
        kind: "funding",
        time: notice.time,
        funding: {
          symbol: row.symbol,
          ...(row.positionSide === "BOTH" ? {} : { positionSide: row.positionSide }),
          fundingTime: rate.fundingTime,
          fundingRate: String(rate.fundingRate),
          markPrice,
          positionAmt: row.positionAmt,
          fundingFee: row.fee,
        },
      });
    }
    return reports;
  }

  /** A read that may be empty for a moment: asked up to 5 times (backoff 0.5 s doubling). */
  private async eventually<T>(what: string, read: (c: BinanceRest["client"]) => Promise<T[]>): Promise<T[]> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const rows = await this.rest.request(`GET ${what}`, { weight: 30, orders: 0 }, read, {
        idempotent: true,
      });
      if (rows.length > 0) return rows;
      await this.sleep(500 * 2 ** attempt);
    }
    throw new Error(`${what}: not found at the venue`);
  }

  private openPosition(symbol: string): { positionSide: VenuePosition["positionSide"]; positionAmt: string } {
    const open = (["BOTH", "LONG", "SHORT"] as const)
      .map((side) => this.fold.position(symbol, side))
      .filter((p): p is VenuePosition => p !== undefined && !new Dec(p.positionAmt).isZero());
    if (open.length !== 1)
      throw new Error(
        `funding of ${symbol}: ${open.length} open positions known, cannot tell which one paid`,
      );
    return { positionSide: open[0]!.positionSide, positionAmt: open[0]!.positionAmt };
  }
}
