/**
 * Serialised responses of the projection routes, so identical requests at the same log position are
 * serialised once: keyed by route and normalised query, valid while the projections and their last position
 * are those the body was built at. Concurrent requests for a body being built share it.
 */

/** What a cached body was built from: the projections object (a reload replaces it) and its last position. */
export interface CacheVersion {
  source: object;
  position: number | null;
}

interface Entry {
  version: CacheVersion;
  body: Promise<Buffer>;
}

/** At most `capacity` bodies; the least recently used goes first. */
export class ResponseCache {
  private readonly entries = new Map<string, Entry>();

  constructor(readonly capacity = 64) {}

  /**
   * The body cached under `key` at `version`, or the one `build` makes (then cached). A failed build is not
   * cached: its rejection reaches every request that shared it.
   */
  get(key: string, version: CacheVersion, build: () => Promise<Buffer>): Promise<Buffer> {
    const entry = this.entries.get(key);
    this.entries.delete(key);
    if (entry && entry.version.source === version.source && entry.version.position === version.position) {
      this.entries.set(key, entry);
      return entry.body;
    }
    const body = build();
    const fresh = { version, body };
    this.entries.set(key, fresh);
    body.catch(() => {
      if (this.entries.get(key) === fresh) this.entries.delete(key);
    });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return body;
  }

  /** Bodies held. */
  get size(): number {
    return this.entries.size;
  }
}

/** A cache key: the route and its parsed parameters with sorted keys (so `?a=1&b=2` ≡ `?b=2&a=1`). */
export function cacheKey(route: string, params: object): string {
  const entries = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${route} ${JSON.stringify(entries)}`;
}
