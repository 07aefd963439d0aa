/**
 * HTTP/2 error codes (RFC 9113 §7) and the two kinds of failure: a connection error
 * ({@linkcode H2ConnectionError}: GOAWAY, then the connection closes) and a stream error
 * ({@linkcode H2StreamError}: RST_STREAM, the connection carries on).
 *
 * @example
 * ```ts
 * import { H2_ERROR, H2ConnectionError, errorName } from "./errors.ts";
 * const e = new H2ConnectionError(H2_ERROR.FRAME_SIZE_ERROR, "PING of 9 bytes");
 * errorName(e.code); // "FRAME_SIZE_ERROR"
 * ```
 * @module
 */

/** The error codes of RFC 9113 §7. */
export const H2_ERROR = Object.freeze({
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
});

/** The name of an error code. */
export type H2ErrorName = keyof typeof H2_ERROR;

const NAMES = new Map<number, string>(Object.entries(H2_ERROR).map(([k, v]) => [v, k]));

/** The name of `code`, or `UNKNOWN(0x..)` for codes RFC 9113 doesn't define (they're legal). */
export function errorName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN(0x${code.toString(16)})`;
}

/** A failure of the whole connection: it ends with GOAWAY carrying {@linkcode code}. */
export class H2ConnectionError extends Error {
  /** The error code (one of {@linkcode H2_ERROR}, or any code a peer sent). */
  readonly code: number;
  /** True when the peer sent it (its GOAWAY), false when we detected it. */
  readonly remote: boolean;
  constructor(code: number, message: string, o?: { remote?: boolean; cause?: unknown }) {
    super(
      `${errorName(code)}: ${message}`,
      o?.cause === undefined ? undefined : { cause: o.cause },
    );
    this.name = "H2ConnectionError";
    this.code = code;
    this.remote = o?.remote ?? false;
  }
}

/** What else describes a stream error. */
export interface H2StreamErrorOptions {
  /** The peer reset the stream (its RST_STREAM) rather than us. */
  remote?: boolean;
  /**
   * The peer never processed the stream (REFUSED_STREAM, or above a GOAWAY's last stream id),
   * so the request can be retried, on another connection when this one is going away.
   */
  retryable?: boolean;
  cause?: unknown;
}

/** A failure of one stream: it ends with RST_STREAM carrying {@linkcode code}. */
export class H2StreamError extends Error {
  readonly code: number;
  /** The stream's id (0 for a request that never got one). */
  readonly streamId: number;
  readonly remote: boolean;
  readonly retryable: boolean;
  constructor(code: number, streamId: number, message: string, o?: H2StreamErrorOptions) {
    super(
      `${errorName(code)} on stream ${streamId}: ${message}`,
      o?.cause === undefined ? undefined : { cause: o.cause },
    );
    this.name = "H2StreamError";
    this.code = code;
    this.streamId = streamId;
    this.remote = o?.remote ?? false;
    this.retryable = o?.retryable ?? false;
  }
}
