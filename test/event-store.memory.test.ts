import { describe, expect, it } from "vitest";
import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { EventStoreError } from "../src/events/store.ts";
import { runEventStoreConformance } from "./event-store.conformance.ts";
import { FixtureEvents } from "./support/events.ts";

runEventStoreConformance("InMemoryEventStore", async () => new InMemoryEventStore());

describe("InMemoryEventStore specifics", () => {
  it("rejects an event id stored in another stream", async () => {
    const store = new InMemoryEventStore();
    const f = new FixtureEvents("memory-ids");
    const bar = f.barClosed(0);
    await store.append(f.symbolStream(), [bar], "noStream");
    const error = await store.append(f.symbolStream("ETHUSDT"), [bar], "noStream").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventStoreError);
    expect((error as Error).message).toContain(bar.eventId);
    expect(await store.streamRevision(f.symbolStream("ETHUSDT"))).toBeUndefined();
  });

  it("rejects every call after close", async () => {
    const store = new InMemoryEventStore();
    const f = new FixtureEvents("memory-close");
    await store.append(f.symbolStream(), [f.barClosed(0)], "noStream");
    await store.close();
    await expect(store.append(f.symbolStream(), [f.barClosed(1)], 0)).rejects.toBeInstanceOf(EventStoreError);
    await expect(store.streamRevision(f.symbolStream())).rejects.toBeInstanceOf(EventStoreError);
  });
});
