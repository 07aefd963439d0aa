/**
 * Whether a request's client went away, beside the web `Request`: the listeners set the
 * signal of the client's connection (HTTP/1.1) or stream (HTTP/2) on the request they hand
 * over, and the stages read it to cancel the upstream side. A symbol-keyed property, not the
 * `Request`'s own `signal`: passing a signal to `new Request` makes a dependent signal per
 * request, and a WeakMap entry per request costs the collector ephemeron work.
 *
 * @example
 * ```ts
 * setClientGone(req, stream.abortSignal);
 * clientGone(req).addEventListener("abort", () => upstream.cancel());
 * ```
 * @module
 */

const CLIENT_SIGNAL = Symbol("mesh.clientSignal");
type WithSignal = Request & { [CLIENT_SIGNAL]?: AbortSignal };

/** Marks `req`'s client-gone signal (aborted when its connection or stream goes away). */
export function setClientGone(req: Request, signal: AbortSignal): void {
  (req as WithSignal)[CLIENT_SIGNAL] = signal;
}

/**
 * Aborted once the client of `req` went away: its HTTP/1.1 connection closed, or its HTTP/2
 * stream was reset or its connection closed; the `Request`'s own signal when none was set.
 */
export function clientGone(req: Request): AbortSignal {
  return (req as WithSignal)[CLIENT_SIGNAL] ?? req.signal;
}
