/**
 * A backtest's minute matched on ticks (src/adapters/venue/simulated/tick-matching.ts) instead of its 1m bar, for
 * a symbol the run has tick files of: the venue is fed that symbol's ticks of the bar's minute (openTime ≤ time ≤
 * closeTime, `TickFeed.between`), then its clock moves to the bar's closeTime; the strategy still sees the bar.
 * The 1m mark kline of the minute is not used on ticks (mark prices come from markPrice1s files among the tick
 * files; without them MARK_PRICE orders and the liquidation watch the trades).
 */
import type { TickFeed } from "../adapters/market/tick-feed.ts";
import type { SimulatedVenue, VenueBar } from "../adapters/venue/simulated/venue.ts";
import type { VenueReportHandler } from "./venue.ts";

/** Matches the minute of `bar` on the ticks `ticks` holds for its symbol (none: nothing is matched). */
export async function matchTickMinute(
  venue: SimulatedVenue,
  ticks: TickFeed,
  bar: Pick<VenueBar, "symbol" | "openTime" | "closeTime">,
  handle: VenueReportHandler,
): Promise<void> {
  for await (const tick of ticks.between(bar.symbol, bar.openTime, bar.closeTime)) {
    await venue.matchTick(tick, handle);
  }
  venue.closeTickMinute(bar.symbol, bar.closeTime);
}
