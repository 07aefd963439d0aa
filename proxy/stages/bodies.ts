/**
 * Response bodies the concrete stage hands on: one that releases what the request held (a
 * circuit-breaker slot, a LEAST_REQUEST count) when it ends, and one cut off at the route's
 * deadline, as Envoy's route timeout covers the whole response.
 *
 * @example
 * ```ts
 * const body = untilDeadline(onEnd(res.body, release), { ms: 1000, clock: realClock });
 * ```
 * @module
 */
import type { Clock } from "../../util/clock.ts";

/** `body`, calling `fn` once when it ends, fails or is cancelled. */
export function onEnd(
  body: ReadableStream<Uint8Array>,
  fn: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          fn();
          c.close();
        } else c.enqueue(value);
      } catch (err) {
        fn();
        c.error(err);
      }
    },
    cancel(reason) {
      fn();
      return reader.cancel(reason);
    },
  });
}

/** The error a body cut off by the route timeout ends with. */
export class RouteTimeoutError extends Error {
  constructor(ms: number) {
    super(`upstream request timeout: the response body didn't end within the route's ${ms} ms`);
    this.name = "RouteTimeoutError";
  }
}

/** How long a body may still stream, on which clock. */
export interface Deadline {
  ms: number;
  clock: Clock;
}

/**
 * `body`, ended with a {@link RouteTimeoutError} (and the upstream side cancelled) when it is
 * still streaming after `d.ms` milliseconds.
 */
export function untilDeadline(
  body: ReadableStream<Uint8Array>,
  d: Deadline,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let timer: unknown;
  const clear = () => d.clock.clearTimeout(timer);
  return new ReadableStream<Uint8Array>({
    start(c) {
      timer = d.clock.setTimeout(() => {
        const err = new RouteTimeoutError(Math.round(d.ms));
        reader.cancel(err).catch(() => {});
        try {
          c.error(err);
        } catch { /* already closed */ }
      }, Math.max(0, d.ms));
    },
    async pull(c) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          clear();
          c.close();
        } else c.enqueue(value);
      } catch (err) {
        clear();
        try {
          c.error(err);
        } catch { /* already errored by the deadline */ }
      }
    },
    cancel(reason) {
      clear();
      return reader.cancel(reason);
    },
  });
}
