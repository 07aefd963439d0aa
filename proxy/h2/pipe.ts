/**
 * A web `ReadableStream` written onto an HTTP/2 stream with backpressure: each chunk waits
 * for the peer's windows and the socket (`stream.write`), a reset of the stream cancels the
 * source at once (not at its next chunk), and a failure on either side cancels the source.
 *
 * @example
 * ```ts
 * stream.respond([[":status", "200"]]);
 * await writeBody(stream, response.body!);
 * await stream.end();
 * ```
 * @module
 */
import type { H2Stream } from "./stream.ts";

/** Writes `body` on `stream` (which must have responded, or be a client stream); rejects on failure. */
export async function writeBody(stream: H2Stream, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  stream.closed.then((err) => {
    if (err) reader.cancel(err).catch(() => {});
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length) await stream.write(value);
    }
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  } finally {
    reader.releaseLock();
  }
}
