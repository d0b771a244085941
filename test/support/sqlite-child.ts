/**
 * A child process for the SQLite store tests (run with `node --import tsx`), for what one process cannot
 * show about itself:
 * - `write FILE N MAX_EVENTS`: appends N BarClosed events one at a time with group commit (MAX_EVENTS events
 *   per unit, no market-time bound), prints `appended N` and waits to be killed (SIGKILL: no commit).
 * - `read FILE`: opens FILE read-only and prints `{ events, storeId }` as JSON, or `{ error }`.
 */
import { SqliteEventStore } from "../../src/adapters/store/sqlite.ts";
import { FixtureEvents } from "./events.ts";

const [mode, file, ...rest] = process.argv.slice(2);
if (mode === "write") {
  const [count, maxEvents] = rest.map(Number);
  const store = SqliteEventStore.open(file!, {
    groupCommit: { maxEvents: maxEvents!, maxMarketMs: Number.MAX_SAFE_INTEGER },
  });
  const f = new FixtureEvents("crash");
  for (let i = 0; i < count!; i++) {
    await store.append(f.symbolStream(), [f.barClosed(i)], i === 0 ? "noStream" : i - 1);
  }
  console.log(`appended ${count}`);
  setInterval(() => {}, 1000);
} else if (mode === "read") {
  try {
    const store = SqliteEventStore.open(file!, { readOnly: true });
    let events = 0;
    for await (const _ of store.readAll()) events++;
    console.log(JSON.stringify({ events, storeId: store.storeId }));
    await store.close();
  } catch (error) {
    console.log(JSON.stringify({ error: (error as Error).message }));
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
