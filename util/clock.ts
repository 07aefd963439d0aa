/**
 * The clock the proxy reads time and sets timers from: {@linkcode realClock} in a process,
 * {@linkcode FakeClock} in tests, which drive route timeouts, per-try timeouts, retry backoff,
 * fault delays and HTTP/2's timers and rate windows without waiting. `await advance(ms)` lets
 * promise callbacks run between timers (for code that awaits, then sets a timer); `tick(ms)`
 * fires due timers synchronously.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const slept = sleep(clock, 1000);
 * await clock.advance(1000); // `slept` resolves
 * ```
 * @module
 */

/** Time (milliseconds, monotonic) and timers. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's clock. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number),
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** An AbortSignal aborted after `ms` on `clock`, and a function that cancels the timer. */
export function timeoutSignal(clock: Clock, ms: number): { signal: AbortSignal; clear(): void } {
  const abort = new AbortController();
  const handle = clock.setTimeout(() => abort.abort(), ms);
  return { signal: abort.signal, clear: () => clock.clearTimeout(handle) };
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that moves only when told to (tests). */
export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers = new Map<number, Timer>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time on by `ms`, firing due timers in order, synchronously. */
  tick(ms: number): void {
    const end = this.#now + ms;
    for (let first = this.#due(end); first; first = this.#due(end)) {
      this.#timers.delete(first[0]);
      this.#now = first[1].at;
      first[1].fn();
    }
    this.#now = end;
  }

  /** The first timer due by `end` (earliest, then in the order set). */
  #due(end: number): [number, Timer] | undefined {
    let first: [number, Timer] | undefined;
    for (const e of this.#timers) {
      const t = e[1];
      if (
        t.at <= end &&
        (!first || t.at < first[1].at || (t.at === first[1].at && t.seq < first[1].seq))
      ) {
        first = e;
      }
    }
    return first;
  }

  /**
   * Moves time on by `ms`, firing due timers in order; between timers (and at the end) it lets
   * promise callbacks run, so code that awaits and then sets a new timer is followed.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (let first = this.#due(end); first; first = this.#due(end)) {
      this.#timers.delete(first[0]);
      this.#now = first[1].at;
      first[1].fn();
      await settle();
    }
    this.#now = end;
    await settle();
  }
}

/** Lets pending promise callbacks (and those they schedule) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}
