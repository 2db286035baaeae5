/**
 * The interchange's pending tasks: lower `priority` first, FIFO among equals,
 * tasks without a priority after all that have one (as Parsl's interchange).
 * @module
 */
import type { TaskEnvelope } from "./protocol.js";

interface Entry {
  task: TaskEnvelope;
  seq: number;
}

/** A priority queue with FIFO ties, plus removal by id. */
export class TaskQueue {
  #heap: Entry[] = [];
  #fifo: TaskEnvelope[] = [];
  #head = 0;
  #seq = 0;
  #removed = new Set<number>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(t: TaskEnvelope): void {
    this.#size++;
    if (t.priority === undefined) {
      this.#fifo.push(t);
      return;
    }
    const h = this.#heap;
    h.push({ task: t, seq: this.#seq++ });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  /** Puts tasks back at the front (a manager could not take them). */
  unshift(tasks: TaskEnvelope[]): void {
    for (const t of tasks) this.push(t);
  }

  /** The next task, without taking it. */
  peek(): TaskEnvelope | undefined {
    this.#skipRemoved();
    return this.#heap[0]?.task ?? this.#fifo[this.#head];
  }

  shift(): TaskEnvelope | undefined {
    this.#skipRemoved();
    let t: TaskEnvelope | undefined;
    if (this.#heap.length > 0) t = this.#popHeap();
    else if (this.#head < this.#fifo.length) {
      t = this.#fifo[this.#head++];
      if (this.#head > 1024 && this.#head * 2 > this.#fifo.length) {
        this.#fifo = this.#fifo.slice(this.#head);
        this.#head = 0;
      }
    }
    if (t !== undefined) this.#size--;
    return t;
  }

  /** Drops a queued task; true if it was queued. */
  remove(id: number): boolean {
    const queued = this.#heap.some((e) => e.task.id === id) || this.#fifo.slice(this.#head).some((t) => t.id === id);
    if (queued && !this.#removed.has(id)) {
      this.#removed.add(id);
      this.#size--;
    }
    return queued;
  }

  /** Takes every queued task (for failing them all). */
  drain(): TaskEnvelope[] {
    const out: TaskEnvelope[] = [];
    for (let t = this.shift(); t !== undefined; t = this.shift()) out.push(t);
    return out;
  }

  #skipRemoved(): void {
    if (this.#removed.size === 0) return;
    while (this.#heap.length > 0 && this.#removed.delete(this.#heap[0]!.task.id)) this.#popHeap();
    while (
      this.#heap.length === 0 &&
      this.#head < this.#fifo.length &&
      this.#removed.delete(this.#fifo[this.#head]!.id)
    ) {
      this.#head++;
    }
  }

  #popHeap(): TaskEnvelope {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top.task;
  }
}

function less(a: Entry, b: Entry): boolean {
  const pa = a.task.priority!;
  const pb = b.task.priority!;
  return pa < pb || (pa === pb && a.seq < b.seq);
}
