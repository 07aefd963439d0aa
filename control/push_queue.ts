/**
 * The push queue: proxies due a push, sent to in slices so a push to
 * thousands of proxies never holds the event loop (TLS handshakes, certificate
 * signing and acks are served between slices). A proxy is in the queue at most
 * once: being due again before its turn merges into the one entry, and what
 * it gets is computed at its turn, from the latest snapshot.
 *
 * @example
 * ```ts
 * const q = new PushQueue<Conn>({ send: (c) => c.send(), batch: 64 });
 * q.add(conn); q.add(conn); // one send
 * ```
 * @module
 */
import { logger } from "../util/log.ts";

const log = logger("push");

/** Proxies sent to per slice. */
export const PUSH_BATCH = 64;
/** A slice ends after this long even when the batch isn't done (ms). */
export const PUSH_SLICE_MS = 20;

/** Settings of a {@linkcode PushQueue}. */
export interface PushQueueOptions<T> {
  send: (item: T) => void;
  batch?: number;
  sliceMs?: number;
}

/** Items due a send, sent in slices. */
export class PushQueue<T> {
  readonly #due = new Set<T>();
  readonly #o: Required<PushQueueOptions<T>>;
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;
  #waiters: Array<() => void> = [];

  constructor(o: PushQueueOptions<T>) {
    this.#o = { batch: PUSH_BATCH, sliceMs: PUSH_SLICE_MS, ...o };
  }

  /** Items waiting. */
  get size(): number {
    return this.#due.size;
  }

  /** Marks `item` due (a no-op when it already is). */
  add(item: T): void {
    if (this.#closed) return;
    this.#due.add(item);
    this.#kick();
  }

  /** Forgets `item` (its proxy went away). */
  delete(item: T): void {
    this.#due.delete(item);
  }

  /** Resolves when nothing is waiting (at once when nothing is). */
  idle(): Promise<void> {
    if (this.#due.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Stops sending. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#due.clear();
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #kick(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => this.#run(), 0);
  }

  #run(): void {
    this.#timer = undefined;
    const started = performance.now();
    let n = 0;
    for (const item of this.#due) {
      this.#due.delete(item);
      try {
        this.#o.send(item);
      } catch (err) {
        log.error("a push failed; the proxy keeps its current config", { error: err });
      }
      if (++n >= this.#o.batch || performance.now() - started >= this.#o.sliceMs) break;
    }
    if (this.#due.size) this.#kick();
    else this.#wake();
  }
}
