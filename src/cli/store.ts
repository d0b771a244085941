/** Opening the event store for the CLI: empty (or replaceable) for a new run, existing for replay and serve. */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { describeStoreUrl, openEventStore, parseSqliteUrl } from "../adapters/store/open-store.ts";
import { BACKTEST_GROUP_COMMIT } from "../adapters/store/sqlite.ts";
import { inspectStoreFile } from "../adapters/store/sqlite-file.ts";
import type { EventStore } from "../events/store.ts";

const SQLITE = "sqlite:";

/** The absolute file of a `sqlite:PATH` URL (PATH resolved against cwd), or undefined for other stores. */
function sqliteFile(url: string): string | undefined {
  return url.startsWith(SQLITE) ? resolve(parseSqliteUrl(url).path) : undefined;
}

/**
 * Opens the store at `url` for a new run, with SQLite group commit `BACKTEST_GROUP_COMMIT` unless the URL
 * says otherwise (call `store.flush()` before serving it to other processes). With `overwrite`, a sqlite
 * store's file (and its -wal and -shm files) is deleted first.
 * @throws Error when the store already holds events and cannot be replaced (not sqlite, or no overwrite);
 *   EventStoreError when the file is not a perpsource store (it is neither replaced nor modified).
 */
export async function openEmptyStore(url: string, overwrite: boolean): Promise<EventStore> {
  const file = sqliteFile(url);
  if (overwrite && file !== undefined) {
    inspectStoreFile(file); // never delete a file that is not a perpsource store
    await Promise.all(["", "-wal", "-shm"].map((suffix) => rm(`${file}${suffix}`, { force: true })));
  }
  const store = await openEventStore(url, { groupCommit: BACKTEST_GROUP_COMMIT });
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
 * Opens the store of a recorded run read-only (serve, replay): it is never written to.
 * @throws Error when `url` names a sqlite file that does not exist (rather than creating an empty one);
 *   EventStoreError when the file is not a perpsource store (nothing is written to it).
 */
export async function openExistingStore(url: string): Promise<EventStore> {
  const file = sqliteFile(url);
  if (file !== undefined && !existsSync(file)) throw new Error(`store ${url} not found: no file ${file}`);
  return openEventStore(url, { readOnly: true });
}

/**
 * Opens the store of a killed run to continue writing it (`backtest --resume`), with the backtest group
 * commit unless the URL says otherwise.
 * @throws Error when `url` names a sqlite file that does not exist; EventStoreError when the file is not a
 *   perpsource store (nothing is written to it).
 */
export async function openStoreToResume(url: string): Promise<EventStore> {
  const file = sqliteFile(url);
  if (file !== undefined && !existsSync(file)) throw new Error(`store ${url} not found: no file ${file}`);
  return openEventStore(url, { groupCommit: BACKTEST_GROUP_COMMIT });
}

/**
 * Opens the store of a live run (`run`): created when missing, an existing one continued (the run checks that it
 * holds this run), with the backtest group commit unless the URL says otherwise (the run flushes after every
 * market event and before every order it sends outside the process).
 * @throws EventStoreError when the file is not a perpsource store (nothing is written to it).
 */
export async function openStoreForLive(url: string): Promise<EventStore> {
  return openEventStore(url, { groupCommit: BACKTEST_GROUP_COMMIT });
}

/**
 * Opens an existing store to append to it beside its other writers and readers (`halt`, `resume`): each
 * append commits at once.
 * @throws Error when `url` names a sqlite file that does not exist (rather than creating an empty one);
 *   EventStoreError when the file is not a perpsource store (nothing is written to it).
 */
export async function openExistingStoreForAppend(url: string): Promise<EventStore> {
  const file = sqliteFile(url);
  if (file !== undefined && !existsSync(file)) throw new Error(`store ${url} not found: no file ${file}`);
  return openEventStore(url);
}

async function holdsEvents(store: EventStore): Promise<boolean> {
  for await (const _ of store.readAll({ limit: 1 })) return true;
  return false;
}
