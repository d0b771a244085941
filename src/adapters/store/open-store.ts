/**
 * Opens an event store from a URL:
 * - `memory:` → InMemoryEventStore;
 * - `sqlite:PATH` → SqliteEventStore in PATH (relative to the working directory; parent folders are created);
 * - `esdb://…`, `esdb+discover://…`, `kurrentdb://…`, `kurrentdb+discover://…` → EventStoreDB / KurrentDB
 *   (the connection string is passed unchanged to its client).
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { EventStore } from "../../events/store.ts";
import { InMemoryEventStore } from "./memory.ts";
import { SqliteEventStore } from "./sqlite.ts";

const ESDB_URL = /^(esdb|kurrentdb)(\+discover)?:\/\//i;
const ACCEPTED = "memory:, sqlite:PATH, esdb://HOST:PORT?… or kurrentdb://HOST:PORT?…";

/**
 * Opens the store `url` names (forms above).
 * @throws Error naming the URL and the accepted forms for any other URL; EventStoreError when the store
 *   cannot be opened.
 */
export async function openEventStore(url: string): Promise<EventStore> {
  if (url === "memory:") return new InMemoryEventStore();
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path.length === 0) throw new Error(`event store URL ${url} has no file path; expected sqlite:PATH`);
    const file = resolve(process.cwd(), path);
    mkdirSync(dirname(file), { recursive: true });
    return SqliteEventStore.open(file);
  }
  if (ESDB_URL.test(url)) {
    const { EventStoreDbEventStore } = await import("./eventstoredb.ts");
    return EventStoreDbEventStore.connect(url);
  }
  throw new Error(
    `unsupported event store URL ${JSON.stringify(describeStoreUrl(url))}; accepted: ${ACCEPTED}`,
  );
}

/** The URL with any `user:password@` credentials replaced by `***@`, for logs and error messages. */
export function describeStoreUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, "$1***@");
}
