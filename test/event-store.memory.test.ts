import { InMemoryEventStore } from "../src/adapters/store/memory.ts";
import { runEventStoreConformance } from "./event-store.conformance.ts";

runEventStoreConformance("InMemoryEventStore", async () => new InMemoryEventStore());
