/**
 * A binary min-heap of flow timers in parallel typed arrays (no object per timer), ordered by
 * (deadline, seq). `seq` is immutable per flow and unique per node, so the order in which flows
 * due at the same instant fire does not depend on how the heap was built: a restored engine fires
 * them in the same order as the one that never stopped.
 *
 * Entries are never removed from the middle (lazy deletion): the engine ignores a popped entry
 * unless its slot still holds the flow of that seq with that deadline as its one valid entry. A
 * deadline that moves later is not re-pushed at all: the early entry pops, and the engine re-pushes
 * the real one. 16 bytes per entry.
 */
export class TimerHeap {
  #deadline = new Float64Array(16);
  #seq = new Uint32Array(16);
  #slot = new Uint32Array(16);
  #n = 0;

  /** Number of entries, valid or stale. */
  get size(): number {
    return this.#n;
  }

  /** Deadline of the first entry (Infinity when empty). */
  topDeadline(): number {
    return this.#n === 0 ? Number.POSITIVE_INFINITY : (this.#deadline[0] as number);
  }

  topSeq(): number {
    return this.#seq[0] as number;
  }

  topSlot(): number {
    return this.#slot[0] as number;
  }

  /** Adds an entry in O(log n). */
  push(deadline: number, seq: number, slot: number): void {
    this.append(deadline, seq, slot);
    this.#up(this.#n - 1);
  }

  /** Adds an entry without ordering it; call heapify() after a batch (restore). */
  append(deadline: number, seq: number, slot: number): void {
    if (this.#n === this.#deadline.length) this.#grow();
    const i = this.#n++;
    this.#deadline[i] = deadline;
    this.#seq[i] = seq;
    this.#slot[i] = slot;
  }

  /** Restores heap order in O(n) after append(). */
  heapify(): void {
    for (let i = (this.#n >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  /** Removes the first entry in O(log n). */
  pop(): void {
    const last = --this.#n;
    if (last > 0) {
      this.#move(last, 0);
      this.#down(0);
    }
  }

  /** Every entry, in storage order (not sorted). */
  forEach(fn: (slot: number, seq: number, deadline: number) => void): void {
    for (let i = 0; i < this.#n; i++)
      fn(this.#slot[i] as number, this.#seq[i] as number, this.#deadline[i] as number);
  }

  clear(): void {
    this.#n = 0;
  }

  #less(i: number, j: number): boolean {
    const a = this.#deadline[i] as number;
    const b = this.#deadline[j] as number;
    return a < b || (a === b && (this.#seq[i] as number) < (this.#seq[j] as number));
  }

  #move(from: number, to: number): void {
    this.#deadline[to] = this.#deadline[from] as number;
    this.#seq[to] = this.#seq[from] as number;
    this.#slot[to] = this.#slot[from] as number;
  }

  #swap(i: number, j: number): void {
    const d = this.#deadline[i] as number;
    const s = this.#seq[i] as number;
    const l = this.#slot[i] as number;
    this.#move(j, i);
    this.#deadline[j] = d;
    this.#seq[j] = s;
    this.#slot[j] = l;
  }

  #up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) return;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const n = this.#n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && this.#less(r, l) ? r : l;
      if (!this.#less(c, i)) return;
      this.#swap(i, c);
      i = c;
    }
  }

  #grow(): void {
    // ×1.5 rather than ×2: heaps of busy nodes are large, slack is memory per flow.
    const cap = Math.ceil(this.#deadline.length * 1.5);
    const d = new Float64Array(cap);
    d.set(this.#deadline);
    this.#deadline = d;
    const s = new Uint32Array(cap);
    s.set(this.#seq);
    this.#seq = s;
    const l = new Uint32Array(cap);
    l.set(this.#slot);
    this.#slot = l;
  }
}
