/**
 * A backtest's minute matched on ticks (src/adapters/venue/simulated/tick-matching.ts) instead of its 1m bar:
 * when the run has tick files for the bar's symbol, the venue is fed that symbol's ticks of the bar's minute
 * (openTime ≤ time ≤ closeTime, `TickFeed.between`) and its clock then moves to the bar's closeTime; the strategy
 * still sees the bar. Symbols without tick files are matched on their bars. The 1m mark kline of the minute is
 * not used on ticks (mark prices come from markPrice1s files among the tick files).
 */
import type { TickFeed } from "../adapters/market/tick-feed.ts";
import type { SimulatedVenue, VenueBar, VenueMarkBar } from "../adapters/venue/simulated/venue.ts";
import type { VenueReportHandler } from "./venue.ts";

/** Matches the minute of `bar` on `ticks` when it has the symbol's ticks, else on the bar (with its mark bar). */
export async function matchMinute(
  venue: SimulatedVenue,
  ticks: TickFeed | undefined,
  bar: VenueBar,
  mark: VenueMarkBar | undefined,
  handle: VenueReportHandler,
): Promise<void> {
  if (!ticks?.has(bar.symbol)) {
    await venue.matchBar(bar, handle, mark);
    return;
  }
  for await (const tick of ticks.between(bar.symbol, bar.openTime, bar.closeTime)) {
    await venue.matchTick(tick, handle);
  }
  venue.closeTickMinute(bar.symbol, bar.closeTime);
}
