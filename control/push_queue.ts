/**
 * The push queue: proxies due a push, sent to in slices so a push to
 * thousands of proxies never holds the event loop (TLS handshakes, certificate
 * signing and acks are served between slices). A proxy is in the queue at most
 * once: being due again before its turn merges into the one entry, and what
 * it gets is computed at its turn, from the latest snapshot.
 *
 * The bytes being written at once are bounded too (as Istio's
 * `PILOT_PUSH_THROTTLE` bounds pushes at once, but by size): a send reports its
 * bytes and a promise, and holds that much of `budgetBytes` until the promise
 * settles (the proxy answered) or `slotMs` passes, whichever is first. When
 * the budget is spent the rest wait (one send always goes when none holds
 * any). So a storm of thousands of whole configs never has them all in socket
 * and TLS buffers at once (each is freed as its proxy reads it), small pushes
 * (an endpoint change) hardly wait at all, and a proxy that never answers
 * holds its share for `slotMs` only: it never holds up the others.
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
/** Bytes of sends awaiting their proxy's answer at once: ~64 whole 200-service configs. */
export const PUSH_BUDGET_BYTES = 32 * 1024 * 1024;
/** The longest a send holds its share of the budget (ms). */
export const PUSH_SLOT_MS = 1000;

/** What a send reports: its bytes, held until `answered` settles. */
export interface SendResult {
  bytes: number;
  answered?: Promise<unknown>;
}

/** Settings of a {@linkcode PushQueue}. */
export interface PushQueueOptions<T> {
  /** Sends to `item`; its bytes count against the budget until `answered` settles. */
  send: (item: T) => SendResult | void;
  batch?: number;
  sliceMs?: number;
  budgetBytes?: number;
  slotMs?: number;
}

/** Items due a send, sent in slices. */
export class PushQueue<T> {
  readonly #due = new Set<T>();
  readonly #o: Required<PushQueueOptions<T>>;
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;
  #waiters: Array<() => void> = [];
  /** Bytes of sends not yet answered. */
  #active = 0;
  /** The slot timers running, stopped by `close()`. */
  readonly #slots = new Set<ReturnType<typeof setTimeout>>();

  constructor(o: PushQueueOptions<T>) {
    this.#o = {
      batch: PUSH_BATCH,
      sliceMs: PUSH_SLICE_MS,
      budgetBytes: PUSH_BUDGET_BYTES,
      slotMs: PUSH_SLOT_MS,
      ...o,
    };
  }

  /** Items waiting. */
  get size(): number {
    return this.#due.size;
  }

  /** Bytes of sends awaiting an answer now. */
  get active(): number {
    return this.#active;
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
    if (this.#due.size === 0) this.#wake();
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
    for (const t of this.#slots) clearTimeout(t);
    this.#slots.clear();
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
    if (this.#spent) return; // an answer freeing budget kicks again
    this.#timer = setTimeout(() => this.#run(), 0);
  }

  #run(): void {
    this.#timer = undefined;
    const started = performance.now();
    let n = 0;
    for (const item of this.#due) {
      if (this.#spent) break;
      this.#due.delete(item);
      let sent: SendResult | void = undefined;
      try {
        sent = this.#o.send(item);
      } catch (err) {
        log.error("a push failed; the proxy keeps its current config", { error: err });
      }
      if (sent && sent.answered && sent.bytes > 0) this.#hold(sent.bytes, sent.answered);
      if (++n >= this.#o.batch || performance.now() - started >= this.#o.sliceMs) break;
    }
    if (this.#due.size) this.#kick();
    else this.#wake();
  }

  get #spent(): boolean {
    return this.#active > 0 && this.#active >= this.#o.budgetBytes;
  }

  /** Holds `bytes` of the budget until `pending` settles or the slot time runs out. */
  #hold(bytes: number, pending: Promise<unknown>): void {
    this.#active += bytes;
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      clearTimeout(timer);
      this.#slots.delete(timer);
      this.#active -= bytes;
      if (this.#due.size) this.#kick();
    };
    const timer = setTimeout(free, this.#o.slotMs);
    this.#slots.add(timer);
    pending.then(free, free);
  }
}
