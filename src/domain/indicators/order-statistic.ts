/**
 * A multiset of float64 values with rank queries: a treap (randomised balanced BST) whose nodes live in parallel
 * arrays, with subtree sizes for order statistics. insert, remove and kth are O(log n) expected. Priorities come
 * from a fixed hash of a node counter, never Math.random, so a run is deterministic; the values a query returns
 * depend only on the multiset, not on the tree's shape.
 */

const NIL = -1;

/** splitmix32 of `n`: a deterministic pseudo-random 32-bit priority. */
function priority(n: number): number {
  let z = (n + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** An order-statistic multiset of finite numbers. */
export class OrderStatisticTree {
  private key: number[] = [];
  private pri: number[] = [];
  private left: number[] = [];
  private right: number[] = [];
  private size: number[] = [];
  private free: number[] = [];
  private root = NIL;
  private created = 0;

  /** Number of values held. */
  get length(): number {
    return this.root === NIL ? 0 : this.size[this.root]!;
  }

  /** Adds `x` (finite, else throws). O(log n) expected. */
  insert(x: number): void {
    if (!Number.isFinite(x)) throw new Error(`OrderStatisticTree.insert: value must be finite, got ${x}`);
    const node = this.free.pop() ?? this.key.length;
    this.key[node] = x;
    this.pri[node] = priority(this.created++);
    this.left[node] = NIL;
    this.right[node] = NIL;
    this.size[node] = 1;
    this.root = this.insertAt(this.root, node);
  }

  /** Removes one occurrence of `x`; throws when `x` is not held. O(log n) expected. */
  remove(x: number): void {
    const before = this.length;
    this.root = this.removeAt(this.root, x);
    if (this.length === before) throw new Error(`OrderStatisticTree.remove: ${x} is not in the set`);
  }

  /** The k-th smallest value, k = 0 … length − 1 (throws when out of range). O(log n) expected. */
  kth(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k >= this.length)
      throw new Error(`OrderStatisticTree.kth: rank ${k} out of range 0..${this.length - 1}`);
    let t = this.root;
    for (;;) {
      const ls = this.sizeOf(this.left[t]!);
      if (k < ls) t = this.left[t]!;
      else if (k === ls) return this.key[t]!;
      else {
        k -= ls + 1;
        t = this.right[t]!;
      }
    }
  }

  private sizeOf(t: number): number {
    return t === NIL ? 0 : this.size[t]!;
  }

  private update(t: number): void {
    this.size[t] = 1 + this.sizeOf(this.left[t]!) + this.sizeOf(this.right[t]!);
  }

  private rotateRight(t: number): number {
    const l = this.left[t]!;
    this.left[t] = this.right[l]!;
    this.right[l] = t;
    this.update(t);
    this.update(l);
    return l;
  }

  private rotateLeft(t: number): number {
    const r = this.right[t]!;
    this.right[t] = this.left[r]!;
    this.left[r] = t;
    this.update(t);
    this.update(r);
    return r;
  }

  private insertAt(t: number, node: number): number {
    if (t === NIL) return node;
    if (this.key[node]! < this.key[t]!) {
      this.left[t] = this.insertAt(this.left[t]!, node);
      this.update(t);
      return this.pri[this.left[t]!]! > this.pri[t]! ? this.rotateRight(t) : t;
    }
    this.right[t] = this.insertAt(this.right[t]!, node);
    this.update(t);
    return this.pri[this.right[t]!]! > this.pri[t]! ? this.rotateLeft(t) : t;
  }

  private removeAt(t: number, x: number): number {
    if (t === NIL) return NIL;
    const k = this.key[t]!;
    if (x < k) this.left[t] = this.removeAt(this.left[t]!, x);
    else if (x > k) this.right[t] = this.removeAt(this.right[t]!, x);
    else return this.removeRoot(t);
    this.update(t);
    return t;
  }

  /** Deletes node `t` from the subtree it roots, rotating it down to a leaf. */
  private removeRoot(t: number): number {
    const l = this.left[t]!;
    const r = this.right[t]!;
    if (l === NIL || r === NIL) {
      this.free.push(t);
      return l === NIL ? r : l;
    }
    if (this.pri[l]! > this.pri[r]!) {
      const top = this.rotateRight(t);
      this.right[top] = this.removeRoot(t);
      this.update(top);
      return top;
    }
    const top = this.rotateLeft(t);
    this.left[top] = this.removeRoot(t);
    this.update(top);
    return top;
  }
}
