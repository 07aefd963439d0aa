/**
 * How an HTTP/2 connection (`connection.ts`) is set up: the options, our default settings,
 * timeouts, and the shape of a close reason.
 *
 * @example
 * ```ts
 * import { H2_LOCAL_SETTINGS, type H2ConnectionOptions } from "./options.ts";
 * const o: H2ConnectionOptions = {
 *   role: "server",
 *   settings: { ...H2_LOCAL_SETTINGS, initialWindowSize: 1 << 20 },
 *   timeouts: { idleMs: 60_000 },
 * };
 * ```
 * @module
 */
import type { Clock } from "../../util/clock.ts";
import type { H2Limits } from "./limits.ts";
import type { H2Settings } from "./settings.ts";
import type { H2Stream } from "./stream.ts";

/** The client connection preface (§3.4). */
export const PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Our settings (announced in our SETTINGS frame). */
export type H2LocalSettings = Pick<
  H2Settings,
  | "headerTableSize"
  | "maxConcurrentStreams"
  | "initialWindowSize"
  | "maxFrameSize"
  | "maxHeaderListSize"
  | "enableConnectProtocol"
>;

/** Our default settings. */
export const H2_LOCAL_SETTINGS: Readonly<H2LocalSettings> = Object.freeze({
  headerTableSize: 4096,
  maxConcurrentStreams: 100,
  initialWindowSize: 256 * 1024,
  maxFrameSize: 16384,
  maxHeaderListSize: 64 * 1024,
  enableConnectProtocol: false,
});

/** Timeouts in milliseconds; 0 turns one off. */
export interface H2Timeouts {
  /** Our SETTINGS must be acknowledged within this (else SETTINGS_TIMEOUT). */
  settingsAckMs: number;
  /** A connection without streams closes (GOAWAY NO_ERROR) after this long. */
  idleMs: number;
  /** The preface and SETTINGS (server), and each header block, must arrive whole within this. */
  headersMs: number;
  /** `close()` waits this long for in-flight streams, then fails them. */
  closeMs: number;
  /** `ping()` rejects when its ACK takes longer. */
  pingMs: number;
}

/** The default timeouts. */
export const H2_TIMEOUTS: Readonly<H2Timeouts> = Object.freeze({
  settingsAckMs: 10_000,
  idleMs: 300_000,
  headersMs: 10_000,
  closeMs: 10_000,
  pingMs: 10_000,
});

/** How a connection is set up. */
export interface H2ConnectionOptions {
  role: "server" | "client";
  /** Server: bytes already read from the socket (the preface, or part of it, and more). */
  initialBytes?: Uint8Array;
  /** Server: called for each new request stream. */
  onStream?: (stream: H2Stream) => void | Promise<void>;
  settings?: Partial<H2LocalSettings>;
  /** The connection's receive window (the sum over streams we buffer at most). */
  connectionWindow?: number;
  timeouts?: Partial<H2Timeouts>;
  limits?: Partial<H2Limits>;
  clock?: Clock;
  /** Huffman-code header strings when shorter (default true). */
  huffman?: boolean;
}

/** Why a connection closed. */
export interface H2CloseReason {
  /** NO_ERROR for a graceful close. */
  code: number;
  /** Who ended it: us, the peer (GOAWAY or a close), or the socket failing. */
  by: "local" | "peer" | "socket";
  error?: Error;
}

/** What `request()` takes besides the header fields. */
export interface H2RequestOptions {
  /** The request has no body. */
  endStream?: boolean;
  /** Field names to encode never-indexed. */
  sensitive?: ReadonlySet<string>;
}

/** One HTTP/2 connection. */
