/**
 * Opens an event store from a URL:
 * - `memory:` → InMemoryEventStore;
 * - `sqlite:PATH[?groupCommit=off|on|EVENTS,MARKET_MS]` → SqliteEventStore in PATH (relative to the working
 *   directory; parent folders are created for writers). `groupCommit` overrides the opener's default: `on` is
 *   `BACKTEST_GROUP_COMMIT` (1000 events or one day of market time per unit of work), `off` commits each
 *   append, `EVENTS,MARKET_MS` sets both bounds;
 * - `esdb://…`, `esdb+discover://…`, `kurrentdb://…`, `kurrentdb+discover://…` → EventStoreDB / KurrentDB
 *   (the connection string is passed unchanged to its client).
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { EventStore } from "../../events/store.ts";
import { InMemoryEventStore } from "./memory.ts";
import { BACKTEST_GROUP_COMMIT, type GroupCommitOptions, SqliteEventStore } from "./sqlite.ts";

const ESDB_URL = /^(esdb|kurrentdb)(\+discover)?:\/\//i;
const ACCEPTED = "memory:, sqlite:PATH[?groupCommit=…], esdb://HOST:PORT?… or kurrentdb://HOST:PORT?…";

/** How to open a store. */
export interface OpenStoreOptions {
  /**
   * Never write: a SQLite file must exist and be a perpsource store (it is not modified); appends reject with
   * EventStoreError. `memory:` cannot be opened read-only (it would always be empty).
   */
  readOnly?: boolean;
  /** The SQLite group commit when the URL does not say (default none: each append commits). */
  groupCommit?: GroupCommitOptions;
}

/**
 * Opens the store `url` names (forms above).
 * @throws Error naming the URL and the accepted forms for any other URL, or naming a bad `groupCommit`
 *   value; EventStoreError when the store cannot be opened (e.g. a file that is not a perpsource store).
 */
export async function openEventStore(url: string, options: OpenStoreOptions = {}): Promise<EventStore> {
  const readOnly = options.readOnly === true;
  if (url === "memory:") {
    if (readOnly) throw new Error("the memory: store cannot be opened read-only: it would always be empty");
    return new InMemoryEventStore();
  }
  if (url.startsWith("sqlite:")) {
    const { path, groupCommit } = parseSqliteUrl(url);
    const file = resolve(process.cwd(), path);
    if (!readOnly) mkdirSync(dirname(file), { recursive: true });
    const chosen = groupCommit === undefined ? options.groupCommit : (groupCommit ?? undefined);
    return SqliteEventStore.open(file, { readOnly, ...(chosen ? { groupCommit: chosen } : {}) });
  }
  if (ESDB_URL.test(url)) {
    const { EventStoreDbEventStore } = await import("./eventstoredb.ts");
    return EventStoreDbEventStore.connect(url, { readOnly });
  }
  throw new Error(
    `unsupported event store URL ${JSON.stringify(describeStoreUrl(url))}; accepted: ${ACCEPTED}`,
  );
}

/**
 * The file path and group commit of a `sqlite:` URL: groupCommit undefined when the URL does not say, null
 * for `off`.
 * @throws Error naming the URL for an empty path, an unknown parameter or a bad groupCommit value.
 */
export function parseSqliteUrl(url: string): {
  path: string;
  groupCommit: GroupCommitOptions | null | undefined;
} {
  const rest = url.slice("sqlite:".length);
  const query = rest.lastIndexOf("?");
  const path = query < 0 ? rest : rest.slice(0, query);
  if (path.length === 0) throw new Error(`event store URL ${url} has no file path; expected sqlite:PATH`);
  if (query < 0) return { path, groupCommit: undefined };
  let groupCommit: GroupCommitOptions | null | undefined;
  for (const [key, value] of new URLSearchParams(rest.slice(query + 1))) {
    if (key !== "groupCommit") {
      throw new Error(
        `event store URL ${url}: unknown parameter ${JSON.stringify(key)}; accepted: groupCommit`,
      );
    }
    groupCommit = parseGroupCommit(url, value);
  }
  return { path, groupCommit };
}

function parseGroupCommit(url: string, value: string): GroupCommitOptions | null {
  if (value === "off") return null;
  if (value === "on") return BACKTEST_GROUP_COMMIT;
  const match = /^(\d+),(\d+)$/.exec(value);
  const maxEvents = Number(match?.[1]);
  const maxMarketMs = Number(match?.[2]);
  if (!match || maxEvents < 1 || !Number.isSafeInteger(maxEvents) || !Number.isSafeInteger(maxMarketMs)) {
    throw new Error(
      `event store URL ${url}: groupCommit=${value} is invalid; expected off, on, or EVENTS,MARKET_MS ` +
        "(events ≥ 1 and market-time ms per unit of work, e.g. groupCommit=1000,60000)",
    );
  }
  return { maxEvents, maxMarketMs };
}

/** The URL with any `user:password@` credentials replaced by `***@`, for logs and error messages. */
export function describeStoreUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, "$1***@");
}
