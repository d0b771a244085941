/**
 * The IP request weight of the current wall-clock minute, reported in `X-MBX-USED-WEIGHT-1M` on every response
 * (binance-usdm.md §5.1). Rate limits protect real resources, so they count wall time, not exchange time. A
 * route sets its weight with `config: { weight: n }` or `config: { weight: (query) => n }` (default 1).
 */
import type { FastifyInstance } from "fastify";
import type { WallClock } from "./clock.ts";

/** The header Binance reports the used weight in. */
export const USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M";

/** A route's weight: a number, or a function of its query parameters. */
export type RouteWeight = number | ((query: Record<string, unknown>) => number);

/** Weight used per wall-clock minute. */
export class RequestWeight {
  #minute = Number.NaN;
  #used = 0;

  /** @param wall ms epoch wall clock (Date.now by default). */
  constructor(private readonly wall: WallClock = Date.now) {}

  /** Adds `weight` to the current minute and returns the minute's total. */
  add(weight: number): number {
    const minute = Math.floor(this.wall() / 60_000);
    if (minute !== this.#minute) {
      this.#minute = minute;
      this.#used = 0;
    }
    this.#used += weight;
    return this.#used;
  }
}

/** Counts each request's route weight and sets `X-MBX-USED-WEIGHT-1M` on every response of `app`. */
export function registerWeight(app: FastifyInstance, weight: RequestWeight): void {
  app.addHook("onRequest", async (request) => {
    const routeWeight = (request.routeOptions.config as { weight?: RouteWeight } | undefined)?.weight;
    const query = (request.query ?? {}) as Record<string, unknown>;
    const n = typeof routeWeight === "function" ? routeWeight(query) : (routeWeight ?? 1);
    usedWeight.set(request.raw, weight.add(n));
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header(USED_WEIGHT_HEADER, String(usedWeight.get(request.raw) ?? weight.add(0)));
  });
}

const usedWeight = new WeakMap<object, number>();
