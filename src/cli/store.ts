/** Opening the event store for the CLI: empty (or replaceable) for a new run, existing for replay and serve. */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { describeStoreUrl, openEventStore } from "../adapters/store/open-store.ts";
import type { EventStore } from "../events/store.ts";

const SQLITE = "sqlite:";

/** The absolute file of a `sqlite:PATH` URL (PATH resolved against cwd), or undefined for other stores. */
function sqliteFile(url: string): string | undefined {
  return url.startsWith(SQLITE) ? resolve(url.slice(SQLITE.length)) : undefined;
}

/**
 * Opens the store at `url` for a new run. With `overwrite`, a sqlite store's file (and its -wal and -shm
 * files) is deleted first.
 * @throws Error when the store already holds events and cannot be replaced (not sqlite, or no overwrite).
 */
export async function openEmptyStore(url: string, overwrite: boolean): Promise<EventStore> {
  const file = sqliteFile(url);
  if (overwrite && file !== undefined) {
    await Promise.all(["", "-wal", "-shm"].map((suffix) => rm(`${file}${suffix}`, { force: true })));
  }
  const store = await openEventStore(url);
  if (await holdsEvents(store)) {
    await store.close();
    throw new Error(
      file === undefined
        ? `store ${describeStoreUrl(url)} already holds events; --overwrite only replaces sqlite: stores, so point --store at an empty store`
        : `store ${url} already holds events; pass --overwrite to replace it`,
    );
  }
  return store;
}

/**
 * Opens the store of a recorded run.
 * @throws Error when `url` names a sqlite file that does not exist (rather than creating an empty one).
 */
export async function openExistingStore(url: string): Promise<EventStore> {
  const file = sqliteFile(url);
  if (file !== undefined && !existsSync(file)) throw new Error(`store ${url} not found: no file ${file}`);
  return openEventStore(url);
}

async function holdsEvents(store: EventStore): Promise<boolean> {
  for await (const _ of store.readAll({ limit: 1 })) return true;
  return false;
}
