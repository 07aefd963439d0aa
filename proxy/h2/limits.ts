/**
 * The defences of an HTTP/2 connection against misbehaving peers: the limits and their
 * defaults, and {@linkcode RateCounter}, which counts events in a fixed time window. Over a
 * limit the connection ends with GOAWAY ENHANCE_YOUR_CALM.
 *
 * - rapid reset (CVE-2023-44487): streams the peer resets before our response is complete,
 *   and streams we refuse or reset for the peer's errors, per window;
 * - ping flood (CVE-2019-9512), settings flood (CVE-2019-9515): PING and SETTINGS per window
 *   (a PING that follows stream traffic of ours isn't counted: gRPC's bandwidth probes);
 * - empty frames flood (CVE-2019-9518): DATA without payload or END_STREAM, and PRIORITY
 *   frames (which we ignore), per window;
 * - reset flood (CVE-2019-9514) and any flood of frames we must answer: control frames we owe
 *   while the peer doesn't read ours (the socket's buffer is full) are capped;
 * - CONTINUATION flood and zero-length headers (CVE-2019-9516): header blocks are capped in
 *   bytes and CONTINUATION frames (`frame_reader.ts`), empty field names are malformed.
 *
 * @example
 * ```ts
 * import { RateCounter } from "./limits.ts";
 * import { realClock } from "../../util/clock.ts";
 * const pings = new RateCounter({ clock: realClock, windowMs: 10_000, max: 2 });
 * pings.hit(); pings.hit(); // false, false
 * pings.hit(); // true: over the limit
 * ```
 * @module
 */
import type { Clock } from "../../util/clock.ts";

/** Caps on what a peer may make us do. */
export interface H2Limits {
  /** The window the rate caps below count in. */
  windowMs: number;
  /** Streams reset by the peer before our response was complete, or refused/reset by us. */
  maxResets: number;
  /** PING frames (not ACKs) with no HEADERS or DATA from us since the one before. */
  maxPings: number;
  /** SETTINGS frames (not ACKs). */
  maxSettings: number;
  /** DATA frames with no payload and no END_STREAM, and PRIORITY frames. */
  maxEmptyFrames: number;
  /** Control frames (ACKs, RST_STREAM, WINDOW_UPDATE) owed while the socket's buffer is full. */
  maxOutboundControl: number;
  /** Largest header block in bytes, all fragments (`frame_reader.ts`). */
  maxHeaderBlockSize: number;
  /** Most CONTINUATION frames in one header block. */
  maxContinuations: number;
}

/** The defaults: generous for real clients, far below what an attack needs. */
export const H2_LIMITS: Readonly<H2Limits> = Object.freeze({
  windowMs: 10_000,
  maxResets: 500,
  maxPings: 500,
  maxSettings: 100,
  maxEmptyFrames: 1000,
  maxOutboundControl: 1000,
  maxHeaderBlockSize: 256 * 1024,
  maxContinuations: 64,
});

/** What {@linkcode RateCounter} counts against. */
export interface RateCounterOptions {
  clock: Clock;
  windowMs: number;
  max: number;
}

/** Counts events in a fixed window; {@linkcode hit} says when the count goes over `max`. */
export class RateCounter {
  readonly #o: RateCounterOptions;
  #start = -Infinity;
  #count = 0;

  constructor(o: RateCounterOptions) {
    this.#o = o;
  }

  /** Counts one event; true when the window's count is now over the limit. */
  hit(): boolean {
    const now = this.#o.clock.now();
    if (now - this.#start >= this.#o.windowMs) {
      this.#start = now;
      this.#count = 0;
    }
    return ++this.#count > this.#o.max;
  }

  /** Events counted in the current window. */
  get count(): number {
    return this.#count;
  }
}
