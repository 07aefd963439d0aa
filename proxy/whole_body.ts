/**
 * A response body that is already whole in memory, riding beside the web `Response` made of
 * it: a listener that writes the response can take the bytes as they are instead of reading
 * them back out of the `Response` (which makes a `ReadableStream`, reads it and copies). A
 * symbol-keyed property, as `h2_serve.ts` keeps `:path`: no side table for the collector.
 *
 * Only a `Response` whose body was never touched carries it: {@linkcode wholeBody} checks
 * `bodyUsed`, and a derived `Response` (header changes make a new one) simply has none.
 *
 * @example
 * ```ts
 * const res = withWholeBody(new Response(bytes, { headers }), bytes);
 * const bytesAgain = wholeBody(res); // bytes, without reading res.body
 * ```
 * @module
 */

const WHOLE = Symbol("mesh.wholeBody");
type WithWhole = Response & { [WHOLE]?: Uint8Array };

/** Marks `res` (made from `bytes`) as carrying them whole; returns `res`. */
export function withWholeBody(res: Response, bytes: Uint8Array): Response {
  (res as WithWhole)[WHOLE] = bytes;
  return res;
}

/** The bytes `res` was made from, while its body is untouched; else undefined. */
export function wholeBody(res: Response): Uint8Array | undefined {
  const b = (res as WithWhole)[WHOLE];
  return b !== undefined && !res.bodyUsed ? b : undefined;
}
