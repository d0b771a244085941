/**
 * Each fault of the double (src/exchange-sim/faults.ts) against a testnet run (issue 7, "Done when": each fault
 * of item 6 has a test): sma-cross on real BTCUSDT+ETHUSDT data, 2025-05-05..06, in lockstep, with one fault on.
 * What the client must guarantee whatever the fault: the run completes; the fault fired; the log's fills are the
 * double's `userTrades` (none lost, none twice); no clientOrderId twice in the double's `allOrders` /
 * `allAlgoOrders`; the log's positions and USDT wallet equal the double's `positionRisk` and `account`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import type { EventStore } from "../src/events/store.ts";
import { parseFaultSpec } from "../src/exchange-sim/faults.ts";
import type { ExchangeSim } from "../src/exchange-sim/server.ts";
import { audit, runAgainst, startDouble } from "./support/live-double.ts";
import { requireRealData } from "./support/real-data.ts";

const root = requireRealData("faults of exchange-sim against a testnet run, BTCUSDT+ETHUSDT 2025-05-05..06");

let sim: ExchangeSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Runs testnet against the double with `spec`; returns the audit and how often each fault fired. */
async function runWithFault(spec: string) {
  await sim?.close(); // a test may run twice
  const double = await startDouble(root!, spec === "" ? [] : parseFaultSpec(spec));
  sim = double.sim;
  const store = new InMemoryEventStore();
  // Short REST timeouts, so that a held answer (timeout-submit) costs seconds, not minutes.
  const summary = await runAgainst("testnet", double.url, store, {
    rest: { timeoutMs: 2_000, recvWindow: 2_000 },
    gapTimeoutMs: 1_000,
  });
  return { summary, store, audit: await audit(store, double.exchange), fired: double.sim.status().faults };
}

/**
 * The events of each order, trade, symbol and account stream of `store` (type, data, metadata), in stream order:
 * what the engine wrote, whenever it learnt it (the run stream's checkpoints and the risk stream's records of
 * reconciliations depend on when).
 */
async function streamsOf(store: EventStore): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for await (const e of store.readAll()) {
    if (e.stream.startsWith("run-") || e.stream.startsWith("risk-")) continue;
    const list = out[e.stream] ?? [];
    list.push(JSON.stringify([e.type, e.data, e.metadata]));
    out[e.stream] = list;
  }
  return out;
}

/** The client's guarantees (module docstring). */
function expectConsistent(result: Awaited<ReturnType<typeof runWithFault>>, fault: string) {
  expect(result.fired[fault]).toBeGreaterThan(0);
  expect(result.summary.completed).toBe(true);
  expect(result.audit.venueFills.length).toBeGreaterThan(0);
  expect(result.audit.logFills).toEqual(result.audit.venueFills);
  expect(result.audit.duplicateOrderIds).toEqual([]);
  expect(result.audit.logPositions).toEqual(result.audit.venuePositions);
  expect(result.audit.logWallet).toBe(result.audit.venueWallet);
}

const CASES: [fault: string, spec: string][] = [
  ["drop-market-ws", "drop-market-ws:every=500"],
  ["rotate-ws", "rotate-ws:every=1440"],
  ["delay-user", "delay-user:ms=20"],
  ["duplicate-user", "duplicate-user:every=3"],
  ["reorder-user", "reorder-user:every=2"],
  ["http-429", "http-429:every=7"],
  ["http-418", "http-418:every=40;banMs=60000"],
  ["clock-skew", "clock-skew:every=5"],
  ["unknown-503", "unknown-503:every=5"],
  ["timeout-submit", "timeout-submit:every=4;ms=4000"],
  ["listenkey-expire", "listenkey-expire:every=600"],
];

describe.skipIf(!root)("faults of the double against a testnet run (lockstep)", () => {
  for (const [fault, spec] of CASES)
    it(`${spec}: completes, no fill lost or twice, no order twice, state = the double's`, async () => {
      expectConsistent(await runWithFault(spec), fault);
    }, 300_000);

  it("all the faults it survives at once: completes, consistent with the double", async () => {
    const spec =
      "duplicate-user:every=3,reorder-user:every=2,delay-user:ms=5,http-429:every=9,unknown-503:every=8," +
      "rotate-ws:every=700,drop-market-ws:every=333,listenkey-expire:every=900,clock-skew:every=6";
    const result = await runWithFault(spec);
    for (const fault of Object.keys(result.fired)) expectConsistent(result, fault);
  }, 300_000);

  it("drop-user-ws:every=5: what the dropped messages carried is recovered by reconciliation", async () => {
    const result = await runWithFault("drop-user-ws:every=5");
    expectConsistent(result, "drop-user-ws");
    // Everything lost was explained: trading never stopped.
    expect(result.summary.tradingState).toBe("ACTIVE");
    // The recovered reports are the stream's own: every order, trade, symbol and account stream equals a
    // fault-free run's (same events, causation ids and times).
    const clean = await runWithFault("");
    expect(await streamsOf(result.store)).toEqual(await streamsOf(clean.store));
  }, 300_000);
});
