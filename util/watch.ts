/**
 * A watched latest value: readers see the newest value and can wait for the
 * next one. Config reaches the proxy this way, never as a restart.
 *
 * @example
 * ```ts
 * const w = new Watched<number>(1);
 * const stop = w.subscribe((v) => console.log("now", v));
 * w.set(2); // logs "now 2"
 * stop();
 * ```
 * @module
 */

/** Holds the latest value of something and tells subscribers when it changes. */
export class Watched<T> {
  #value: T;
  #subs = new Set<(value: T) => void>();
  #waiters: Array<(value: T) => void> = [];

  constructor(initial: T) {
    this.#value = initial;
  }

  /** The latest value. */
  get(): T {
    return this.#value;
  }

  /** Replaces the value and notifies subscribers and waiters. */
  set(value: T): void {
    this.#value = value;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(value);
    for (const s of this.#subs) s(value);
  }

  /** Calls `fn` on every change; returns a function that stops it. */
  subscribe(fn: (value: T) => void): () => void {
    this.#subs.add(fn);
    return () => this.#subs.delete(fn);
  }

  /** Resolves with the next value set after this call. */
  next(): Promise<T> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
