/**
 * How the peer's recently closed streams ended, for the frames that still arrive on them
 * (RFC 9113 §5.1 "closed", §5.1.1): frames on a stream we reset are ignored (the peer may
 * have sent them before our RST_STREAM arrived); DATA or HEADERS after the peer's own
 * RST_STREAM are a stream error STREAM_CLOSED; after END_STREAM both ways a connection error
 * STREAM_CLOSED; HEADERS on a lower stream id the peer never opened (it skipped it) a
 * connection error PROTOCOL_ERROR. Memory is bounded: the oldest ids are forgotten, and
 * frames on forgotten streams are ignored.
 *
 * @example
 * ```ts
 * const closed = new ClosedStreams();
 * closed.add(1, "local-reset");
 * closed.check(1, "DATA"); // undefined: ignored
 * closed.add(3, "done");
 * closed.check(3, "DATA"); // throws H2ConnectionError STREAM_CLOSED
 * ```
 * @module
 */
import { H2_ERROR, H2ConnectionError, H2StreamError } from "./errors.ts";

/** How a stream closed: we reset it, the peer reset it, or both sides ended it. */
export type ClosedHow = "local-reset" | "peer-reset" | "done";

/** The peer's closed streams, at most `max` remembered. */
export class ClosedStreams {
  readonly #how = new Map<number, ClosedHow>();
  /** Every id at or below this was forgotten. */
  #floor = 0;
  readonly #max: number;

  constructor(max = 256) {
    this.#max = max;
  }

  /** Remembers that stream `id` closed (a reset by us wins over anything else). */
  add(id: number, how: ClosedHow): void {
    if (id <= this.#floor) return;
    const was = this.#how.get(id);
    if (was === "local-reset") return;
    if (was !== undefined) this.#how.delete(id);
    this.#how.set(id, how);
    if (this.#how.size > this.#max) {
      const [old] = this.#how.keys();
      this.#how.delete(old);
      if (old > this.#floor) this.#floor = old;
    }
  }

  /**
   * What a DATA or HEADERS frame on closed stream `id` (at or below the peer's last id, not
   * open) means: undefined (ignore it), a stream error to answer, or a thrown connection error.
   */
  check(id: number, frame: "DATA" | "HEADERS"): H2StreamError | undefined {
    if (id <= this.#floor) return undefined;
    const how = this.#how.get(id);
    if (how === "local-reset") return undefined;
    if (how === "peer-reset") {
      return new H2StreamError(H2_ERROR.STREAM_CLOSED, id, `${frame} after RST_STREAM`);
    }
    if (how === "done") {
      throw new H2ConnectionError(H2_ERROR.STREAM_CLOSED, `${frame} on closed stream ${id}`);
    }
    if (frame === "HEADERS") {
      throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, `HEADERS on stream ${id}: ids go up`);
    }
    throw new H2ConnectionError(H2_ERROR.STREAM_CLOSED, `DATA on closed stream ${id}`);
  }
}
