/**
 * Capped exponential backoff with jitter, for reconnects and retries that must
 * never spin or give up while the process runs.
 *
 * Each delay is drawn from the upper half of the current step ("equal
 * jitter"): `base · 2^n`, capped at `maxMs`, then a random point in
 * `[step/2, step]`. So no delay is ever shorter than `baseMs / 2` (no spin) or
 * longer than `maxMs` (a returning peer is found within `maxMs`), and many
 * clients that lost the same peer don't come back in lockstep.
 *
 * @example
 * ```ts
 * const b = new Backoff(250, 2000);
 * await b.wait(signal); // 125–250 ms, then 250–500 ms, ... up to 1–2 s
 * b.reset();
 * ```
 * @module
 */

/** Default first step. */
export const DEFAULT_BACKOFF_BASE_MS = 250;
/** Default cap. */
export const DEFAULT_BACKOFF_MAX_MS = 3000;

/** Growing delays between attempts. */
export class Backoff {
  #attempt = 0;
  readonly baseMs: number;
  readonly maxMs: number;
  #random: () => number;

  /** `random` is for tests (defaults to `Math.random`). */
  constructor(
    baseMs = DEFAULT_BACKOFF_BASE_MS,
    maxMs = DEFAULT_BACKOFF_MAX_MS,
    random: () => number = Math.random,
  ) {
    if (!(baseMs > 0)) throw new RangeError(`backoff base must be positive, got ${baseMs}`);
    this.baseMs = baseMs;
    this.maxMs = Math.max(baseMs, maxMs);
    this.#random = random;
  }

  /** Attempts since the last {@linkcode reset}. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The next delay in milliseconds, in `[step/2, step]` with `step = min(max, base·2^n)`. */
  next(): number {
    // The exponent stops growing once the cap is reached (no overflow to Infinity).
    const step = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    const r = Math.min(1, Math.max(0, this.#random()));
    return Math.round(step / 2 + r * (step / 2));
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
