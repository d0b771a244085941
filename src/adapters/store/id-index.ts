/**
 * The event-id index of the in-memory store: event id → index in its log, for the uniqueness check every append
 * makes. An open-addressing hash table over typed arrays (linear probing, load ≤ 1/2) holding each id's 32-bit
 * hash and log index; the ids themselves stay in the log. A `Map` keyed by the id strings costs several cache
 * misses per lookup once it holds a long run's events, and the collector scans all of it; these arrays it does
 * not scan, and a lookup touches one or two cache lines.
 */

/** Capacity of a new index (slots; a power of two). */
const INITIAL_CAPACITY = 1 << 10;

/** FNV-1a over the UTF-16 units of `id`, then a murmur3 finaliser to spread it over the low bits (the mask). */
export function hashEventId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** See the module comment. `idAt(i)` is the id of the log's event at index `i`. */
export class EventIdIndex {
  private mask = INITIAL_CAPACITY - 1;
  /** Per slot: 1 + the log index of the id stored there; 0 for an empty slot. */
  private slots = new Int32Array(INITIAL_CAPACITY);
  /** Per slot: `hashEventId` of the id stored there. */
  private hashes = new Int32Array(INITIAL_CAPACITY);
  private size = 0;

  constructor(private readonly idAt: (index: number) => string) {}

  /** The log index of `id` (whose `hashEventId` is `hash`), or −1 when it is not indexed. */
  find(id: string, hash: number): number {
    const { slots, hashes, mask } = this;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = slots[i]!;
      if (slot === 0) return -1;
      if (hashes[i] === hash && this.idAt(slot - 1) === id) return slot - 1;
    }
  }

  /** Indexes the event at log index `index`, whose id has `hash` and is not indexed yet (`find` gave −1). */
  add(hash: number, index: number): void {
    if (2 * (this.size + 1) > this.slots.length) this.grow();
    this.place(hash, index + 1);
    this.size++;
  }

  private place(hash: number, slot: number): void {
    const { slots, mask } = this;
    let i = hash & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = slot;
    this.hashes[i] = hash;
  }

  /** Doubles the table and re-places every entry (their hashes are kept: no id is read). */
  private grow(): void {
    const { slots, hashes } = this;
    this.slots = new Int32Array(slots.length * 2);
    this.hashes = new Int32Array(slots.length * 2);
    this.mask = slots.length * 2 - 1;
    for (let i = 0; i < slots.length; i++) if (slots[i] !== 0) this.place(hashes[i]!, slots[i]!);
  }
}
