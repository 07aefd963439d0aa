/**
 * Exponential backoff with jitter, for reconnects and retries that must never
 * spin or give up while the process runs.
 *
 * @example
 * ```ts
 * const b = new Backoff();
 * await b.wait(signal); // 250 ms, then 500 ms, ... up to 30 s
 * b.reset();
 * ```
 * @module
 */

/** Growing delays between attempts. */
export class Backoff {
  #attempt = 0;
  readonly baseMs: number;
  readonly maxMs: number;

  constructor(baseMs = 250, maxMs = 30_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  /** The next delay in milliseconds (with ±20% jitter). */
  next(): number {
    const d = Math.min(this.maxMs, this.baseMs * 2 ** this.#attempt++);
    return Math.round(d * (0.8 + Math.random() * 0.4));
  }

  /** Starts over after a success. */
  reset(): void {
    this.#attempt = 0;
  }

  /** Sleeps for the next delay; resolves early (false) when `signal` aborts. */
  wait(signal?: AbortSignal): Promise<boolean> {
    const ms = this.next();
    return sleep(ms, signal);
  }
}

/** Sleeps `ms`; resolves false if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
