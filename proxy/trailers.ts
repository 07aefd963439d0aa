/**
 * Trailers beside a web `Response` (or `Request`), which has no place for them: the codec that
 * reads a message (HTTP/2 or chunked HTTP/1.1) attaches a promise of its trailers, and the codec
 * that writes the message on reads it. Anything that rebuilds a message (header changes,
 * retries) carries the trailers over with {@linkcode copyTrailers}. gRPC's `grpc-status` lives
 * here.
 *
 * The promise resolves when the body has been read to its end, with `[]` when there were none;
 * it never rejects (a body that failed has no trailers).
 *
 * @example
 * ```ts
 * const res = new Response(body, { status: 200 });
 * withTrailers(res, Promise.resolve([["grpc-status", "0"]]));
 * const t = await trailersOf(res); // [["grpc-status", "0"]]
 * const copy = copyTrailers(res, new Response(res.body, res));
 * ```
 * @module
 */

/** Trailer fields: lower-case names and values. */
export type TrailerFields = [string, string][];

const TRAILERS = new WeakMap<object, Promise<TrailerFields>>();
const NONE: Promise<TrailerFields> = Promise.resolve([]);

/** Attaches `trailers` to `message`; returns `message`. A rejection reads as no trailers. */
export function withTrailers<T extends Request | Response>(
  message: T,
  trailers: Promise<TrailerFields>,
): T {
  TRAILERS.set(message, trailers.catch(() => []));
  return message;
}

/** Whether `message` carries trailers (attached by a codec or a handler). */
export function hasTrailers(message: Request | Response): boolean {
  return TRAILERS.has(message);
}

/** The trailers of `message`: `[]` when none were attached. */
export function trailersOf(message: Request | Response): Promise<TrailerFields> {
  return TRAILERS.get(message) ?? NONE;
}

/** Gives `to` the trailers of `from`, if it has any; returns `to`. */
export function copyTrailers<T extends Request | Response>(from: Request | Response, to: T): T {
  const t = TRAILERS.get(from);
  if (t && from !== to) TRAILERS.set(to, t);
  return to;
}
