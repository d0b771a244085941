/**
 * Serialised responses of the projection routes, so identical requests at the same log position are
 * serialised once: keyed by route and normalised query, valid while the projections and their last position
 * are those the body was built at. One build per key at a time: a request arriving while its key is being
 * built shares that build (a body as of the position at which the build began, which it reports), so a log
 * that moves on every event cannot make parallel requests each pay for a build.
 */

/** What a cached body was built from: the projections object (a reload replaces it) and its last position. */
export interface CacheVersion {
  source: object;
  position: number | null;
}

/** A body and the log position it shows. */
export interface CachedBody {
  body: Buffer;
  position: number | null;
}

interface Entry {
  version: CacheVersion;
  built: Promise<CachedBody>;
  /** Size of the built body; 0 while it is being built. */
  bytes: number;
}

/**
 * At most `capacity` entries and `maxBytes` bytes of built bodies; the least recently used go first (a body
 * larger than `maxBytes` is still served to the requests that shared its build, then dropped).
 */
export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    readonly capacity = 64,
    readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  /**
   * The body cached under `key` at `version`, the one being built under `key`, or the one `build` makes
   * (then cached). `build` is called synchronously, so it reads the projections at `version`. A failed build
   * (a throw or a rejection) is not cached: its error reaches every request that shared it.
   */
  get(key: string, version: CacheVersion, build: () => Promise<Buffer>): Promise<CachedBody> {
    const entry = this.entries.get(key);
    if (entry && (entry.bytes === 0 || sameVersion(entry.version, version))) {
      this.entries.delete(key);
      this.entries.set(key, entry); // most recently used
      return entry.built;
    }
    if (entry) this.remove(key, entry);
    let body: Promise<Buffer>;
    try {
      body = build(); // now, so the body is of the position `version` names
    } catch (err) {
      return Promise.reject(err);
    }
    const fresh: Entry = {
      version,
      built: body.then((buffer) => ({ body: buffer, position: version.position })),
      bytes: 0,
    };
    this.entries.set(key, fresh);
    fresh.built.then(
      ({ body }) => {
        if (this.entries.get(key) !== fresh) return;
        fresh.bytes = Math.max(1, body.length);
        this.bytes += fresh.bytes;
        this.evict();
      },
      () => {
        if (this.entries.get(key) === fresh) this.remove(key, fresh);
      },
    );
    this.evict();
    return fresh.built;
  }

  /** Entries held (built or being built). */
  get size(): number {
    return this.entries.size;
  }

  /** Bytes of the built bodies held. */
  get heldBytes(): number {
    return this.bytes;
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  /** Drops the least recently used entries while over `capacity` or `maxBytes`. */
  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.capacity && this.bytes <= this.maxBytes) return;
      this.remove(key, entry);
    }
  }
}

function sameVersion(a: CacheVersion, b: CacheVersion): boolean {
  return a.source === b.source && a.position === b.position;
}

/** A cache key: the route and its parsed parameters with sorted keys (so `?a=1&b=2` ≡ `?b=2&a=1`). */
export function cacheKey(route: string, params: object): string {
  const entries = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${route} ${JSON.stringify(entries)}`;
}
