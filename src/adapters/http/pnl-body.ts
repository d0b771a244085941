/**
 * The JSON body of GET /pnl, built without holding the event loop for long: the equity curve is computed by
 * its generator (`Projections.downsampleCurve`) with a turn of the event loop at each of its yields, and its
 * points are serialised a chunk at a time. The figures and the curve are those of the log position at which
 * the build started, even when events are folded meanwhile.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { BAR_INTERVALS, type BarInterval } from "../../domain/bars/intervals.ts";
import type { Projections } from "../../projections/index.ts";

/** What GET /pnl was asked for (validated, see `PnlQuery`). */
export interface PnlParams {
  interval: BarInterval;
  from?: number | undefined;
  to?: number | undefined;
  maxPoints: number;
}

/** Points serialised between two turns of the event loop. */
const POINTS_PER_CHUNK = 4_096;

/** The UTF-8 JSON `{ ...pnl, interval, equityCurve: { points, totalPoints, downsampled } }` (`PnlResponse`). */
export async function pnlBody(projections: Projections, params: PnlParams): Promise<Buffer> {
  const { interval, from, to, maxPoints } = params;
  const head = JSON.stringify({ ...projections.pnl(), interval });
  const steps = projections.downsampleCurve({ intervalMs: BAR_INTERVALS[interval], from, to }, maxPoints);
  let step = steps.next(); // started now, so the curve is read at the same position as the figures
  while (!step.done) {
    await nextTurn();
    step = steps.next();
  }
  const { points, totalPoints, downsampled } = step.value;
  const parts = [head.slice(0, -1), ',"equityCurve":{"points":['];
  for (let k = 0; k < points.length; k += POINTS_PER_CHUNK) {
    if (k > 0) {
      await nextTurn();
      parts.push(",");
    }
    parts.push(JSON.stringify(points.slice(k, k + POINTS_PER_CHUNK)).slice(1, -1));
  }
  parts.push(`],"totalPoints":${totalPoints},"downsampled":${downsampled}}}`);
  return Buffer.from(parts.join(""));
}
