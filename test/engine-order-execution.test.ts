/**
 * Persist-then-act across the process boundary (docs/ARCHITECTURE.md, the group-commit rule): with a SQLite store
 * in group-commit mode, an order for an external venue reaches the venue only once its OrderSubmitted is
 * committed — another connection already sees it — while an in-process venue gets it inside the open unit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { accountMachine } from "../src/actors/account.machine.ts";
import { EventSourcedActor } from "../src/actors/event-sourced-actor.ts";
import { SqliteEventStore } from "../src/adapters/store/sqlite.ts";
import { OrderExecution } from "../src/engine/order-execution.ts";
import type { OrderRequest, Venue } from "../src/engine/venue.ts";

const dir = mkdtempSync(join(tmpdir(), "perpsource-execution-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const request: OrderRequest = {
  clientOrderId: "ps-BTCUSDT-000001-E",
  symbol: "BTCUSDT",
  side: "BUY",
  type: "MARKET",
  purpose: "ENTRY",
  positionSide: "BOTH",
  quantity: "0.002",
  reduceOnly: false,
};

/** Submits one order through a venue that counts, at submit time, the OrderSubmitted another connection sees. */
async function submitThrough(external: boolean): Promise<number> {
  const file = join(dir, `${external ? "external" : "in-process"}.sqlite`);
  const store = SqliteEventStore.open(file, { groupCommit: { maxEvents: 1000, maxMarketMs: 86_400_000 } });
  let seen = -1;
  const venue: Venue = {
    external,
    async submit() {
      const other = new Database(file, { readonly: true });
      seen = (
        other.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'OrderSubmitted'").get() as { n: number }
      ).n;
      other.close();
      return { accepted: true, orderId: "1" };
    },
    async cancel() {
      return { canceled: true };
    },
  };
  const account = EventSourcedActor.create("account-main", accountMachine, { store, correlationId: "run" });
  const execution = new OrderExecution({ store, runId: "run", venue, account });
  await account.commit(
    [{ type: "AccountOpened", data: { accountId: "main", asset: "USDT", walletBalance: "1000" } }],
    {
      causationId: "t",
      eventTime: 1_746_316_800_000,
    },
  );
  await execution.submit(request, { causationId: "t", eventTime: 1_746_316_800_000 });
  await store.close();
  return seen;
}

describe("order execution and the unit of work", () => {
  it("flushes the intent before an external venue sees the order", async () => {
    expect(await submitThrough(true)).toBe(1);
  });

  it("keeps the unit open for an in-process venue (the other connection does not see the intent yet)", async () => {
    expect(await submitThrough(false)).toBe(0);
  });
});
