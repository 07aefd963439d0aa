/**
 * Debounce with a maximum wait, as istiod debounces pushes (PILOT_DEBOUNCE_AFTER, default
 * 100 ms, and PILOT_DEBOUNCE_MAX, default 10 s): `fn` runs once things have been quiet for
 * `afterMs` since the last {@linkcode Debouncer.trigger}, or `maxMs` after the first trigger of
 * a burst, whichever comes first, so a steady stream of changes can't postpone it forever.
 * With `afterMs` equal to `maxMs` it is a throttle: at most one run per interval.
 *
 * @example
 * ```ts
 * const d = new Debouncer({ afterMs: 100, maxMs: 10_000, fn: push });
 * d.trigger(); d.trigger(); // one push, 100 ms after the second
 * ```
 * @module
 */
import { type Clock, realClock } from "./clock.ts";

/** What a {@linkcode Debouncer} runs and when. */
export interface DebounceOptions {
  /** Quiet time after the last trigger. */
  afterMs: number;
  /** Longest wait after the first trigger of a burst (at least `afterMs`). */
  maxMs: number;
  fn: () => void;
  clock?: Clock;
}

/** Runs `fn` once per burst of triggers. */
export class Debouncer {
  readonly #o: Required<DebounceOptions>;
  #timer: unknown;
  #first: number | undefined;
  #last = 0;
  #closed = false;

  constructor(o: DebounceOptions) {
    if (!(o.afterMs >= 0) || !(o.maxMs >= o.afterMs)) {
      throw new RangeError(`debounce: need 0 ≤ after (${o.afterMs}) ≤ max (${o.maxMs})`);
    }
    this.#o = { clock: realClock, ...o };
  }

  /** Whether a run is pending. */
  get pending(): boolean {
    return this.#first !== undefined;
  }

  /** Asks for a run (after the quiet time, or the maximum wait). */
  trigger(): void {
    if (this.#closed) return;
    const now = this.#o.clock.now();
    this.#last = now;
    if (this.#first === undefined) this.#first = now;
    this.#arm();
  }

  #arm(): void {
    const c = this.#o.clock;
    if (this.#timer !== undefined) c.clearTimeout(this.#timer);
    const now = c.now();
    const due = Math.min(this.#last + this.#o.afterMs, this.#first! + this.#o.maxMs);
    this.#timer = c.setTimeout(() => this.#fire(), Math.max(0, due - now));
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#first === undefined || this.#closed) return;
    const now = this.#o.clock.now();
    const due = Math.min(this.#last + this.#o.afterMs, this.#first + this.#o.maxMs);
    if (now < due) return this.#arm(); // a trigger came in since the timer was set
    this.#first = undefined;
    this.#o.fn();
  }

  /** Runs a pending `fn` now (nothing when none is pending). */
  flush(): void {
    if (this.#first === undefined) return;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#first = undefined;
    this.#o.fn();
  }

  /** Drops a pending run; later triggers do nothing. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#first = undefined;
  }
}
