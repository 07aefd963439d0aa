/**
 * HTTP/1.1 framing shared by the proxy's client and server: finding the end
 * of a head, parsing header lines strictly (RFC 9112 as Envoy enforces it: no bare LF, no
 * obs-fold, Transfer-Encoding only `chunked` and never with Content-Length), chunked
 * decoding and encoding, and body streams with backpressure.
 * @module
 */
import type { Socket } from "node:net";
import { pauseReading, resumeReading } from "./flow.ts";

/** CRLF. */
export const CRLF = "\r\n";
/** Latin-1 decoder for heads (HTTP header bytes are not UTF-8). */
export const latin1 = new TextDecoder("latin1");
/** Largest head (request or response) accepted. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Hop-by-hop headers, never forwarded. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "proxy-authenticate",
  "http2-settings",
]);

/** Index of the `\r\n\r\n` that ends a head, searching from `from - 3`; -1 when absent. */
export function indexOfHeadEnd(buf: Uint8Array, from: number): number {
  for (let i = Math.max(0, from - 3); i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/** {@linkcode findHeadEnd}'s answer for a head with a bare LF (an LF not after a CR). */
export const BARE_LF = -2;

/**
 * Index of the `\r\n\r\n` that ends a head, looking at the bytes from `from` on (those
 * before were looked at already): -1 while the head is incomplete, {@linkcode BARE_LF} when
 * a line ends in a bare LF (refused, as Envoy does: a bare LF is how requests are smuggled
 * past parsers that disagree on line ends).
 */
export function findHeadEnd(buf: Uint8Array, from: number): number {
  let i = buf.indexOf(10, Math.max(0, from));
  while (i >= 0) {
    if (i === 0 || buf[i - 1] !== 13) return BARE_LF;
    if (i >= 3 && buf[i - 2] === 10 && buf[i - 3] === 13) return i - 3;
    i = buf.indexOf(10, i + 1);
  }
  return -1;
}

/** Concatenates two byte arrays (returns `b` when `a` is empty). */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Header lines parsed into lowercase-name pairs plus the framing headers. */
export interface ParsedHeaders {
  headers: [string, string][];
  /** Every Transfer-Encoding value, lower case, joined with ", ". */
  transferEncoding?: string;
  contentLength?: string;
  connection?: string;
  expect?: string;
  /** The Host header; `hosts` counts them (more than one is refused by the server). */
  host?: string;
  hosts?: number;
}

/** A header name: an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters other than HTAB are not allowed in a header value (nor CR, LF, NUL). */
// deno-lint-ignore no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Trims spaces and tabs only (a value's other bytes are its own). */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Parses header lines (`lines[1..]`) strictly: obs-fold (a line starting with a space or
 * tab), whitespace before the colon, a name that isn't a token and a value with control
 * characters are errors (the message is returned), as are differing Content-Length values.
 * Framing headers are also returned apart.
 */
export function parseHeaderLines(lines: string[]): ParsedHeaders | string {
  const out: ParsedHeaders = { headers: [] };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) return "obs-fold (a folded header line) is not allowed";
    const c = line.indexOf(":");
    if (c <= 0) return `malformed header line ${JSON.stringify(line.slice(0, 60))}`;
    const raw = line.slice(0, c);
    if (!TOKEN.test(raw)) return `invalid header name ${JSON.stringify(raw.slice(0, 60))}`;
    const name = raw.toLowerCase();
    const value = trimOws(line.slice(c + 1));
    if (BAD_VALUE.test(value)) return `invalid character in the value of header ${name}`;
    switch (name) {
      case "transfer-encoding":
        out.transferEncoding = out.transferEncoding === undefined
          ? value.toLowerCase()
          : `${out.transferEncoding}, ${value.toLowerCase()}`;
        break;
      case "content-length":
        if (out.contentLength !== undefined && out.contentLength !== value) {
          return "conflicting content-length headers";
        }
        out.contentLength = value;
        break;
      case "connection":
        out.connection = value.toLowerCase();
        break;
      case "expect":
        out.expect = value.toLowerCase();
        break;
      case "host":
        out.host = value;
        out.hosts = (out.hosts ?? 0) + 1;
        break;
    }
    out.headers.push([name, value]);
  }
  return out;
}

/** How a message's body is delimited. */
export type Framing =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** Until the connection closes (responses only). */
  | { kind: "close" };

/** A framing the receiver refuses: the status a server answers (400 or 501) and why. */
export interface FramingError {
  status: number;
  error: string;
}

const DIGITS = /^\d{1,15}$/;

/**
 * The body framing of a request (RFC 9112 §6.3), strictly as Envoy: Transfer-Encoding must be
 * exactly `chunked` (anything else, `x, chunked` or `identity` included, is 501), and
 * Transfer-Encoding with Content-Length is refused (400), as is a Content-Length that isn't
 * one number.
 */
export function requestFraming(h: ParsedHeaders): Framing | FramingError {
  if (h.transferEncoding !== undefined) {
    if (h.contentLength !== undefined) {
      return { status: 400, error: "both transfer-encoding and content-length" };
    }
    if (h.transferEncoding !== "chunked") {
      return {
        status: 501,
        error: `transfer-encoding ${JSON.stringify(h.transferEncoding)} is not supported`,
      };
    }
    return { kind: "chunked" };
  }
  if (h.contentLength !== undefined) {
    if (!DIGITS.test(h.contentLength)) return { status: 400, error: "bad content-length" };
    const length = Number(h.contentLength);
    return length === 0 ? { kind: "none" } : { kind: "length", length };
  }
  return { kind: "none" };
}

/**
 * The body framing of a response to `method` with `status`: the same rules as requests
 * (an upstream that breaks them gets the exchange failed), else until the connection closes.
 */
export function responseFraming(
  h: ParsedHeaders,
  method: string,
  status: number,
): Framing | FramingError {
  if (method === "HEAD" || status === 204 || status === 304) return { kind: "none" };
  const f = requestFraming(h);
  if ("error" in f) return f;
  if (f.kind === "none" && h.contentLength === undefined) return { kind: "close" };
  return f;
}

/** Largest chunk-size line (with extensions) and largest trailer section. */
const MAX_CHUNK_LINE = 4096;
const MAX_TRAILER_BYTES = 60 * 1024;
const CHUNK_SIZE = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/;

/** Incremental chunked-transfer decoder (strict: CRLF line ends, hex sizes, valid trailers). */
export class ChunkedDecoder {
  #left = 0;
  #state: "size" | "data" | "data-crlf" | "trailers" = "size";
  #line: Uint8Array = new Uint8Array(0);
  #trailerBytes = 0;
  /** Set once the terminating chunk and trailers were read. */
  done = false;

  /**
   * Feeds bytes; calls `emit` with body data (views into `data`, not copies). Returns the
   * number of bytes of `data` consumed (less than its length only when done), or an error
   * message.
   */
  feed(data: Uint8Array, emit: (chunk: Uint8Array) => void): number | string {
    let i = 0;
    while (i < data.length && !this.done) {
      if (this.#state === "data") {
        const take = Math.min(this.#left, data.length - i);
        emit(data.subarray(i, i + take));
        i += take;
        this.#left -= take;
        if (this.#left === 0) this.#state = "data-crlf";
        continue;
      }
      const nl = data.indexOf(10, i);
      const part = data.subarray(i, nl < 0 ? data.length : nl + 1);
      this.#line = concat(this.#line, part);
      i += part.length;
      if (nl < 0) {
        if (this.#line.length > MAX_CHUNK_LINE) return "chunk line too long";
        return i;
      }
      const bytes = this.#line;
      this.#line = new Uint8Array(0);
      if (bytes.length < 2 || bytes[bytes.length - 2] !== 13) return "bare LF in a chunked body";
      const line = latin1.decode(bytes.subarray(0, bytes.length - 2));
      if (this.#state === "data-crlf") {
        if (line !== "") return "missing CRLF after chunk data";
        this.#state = "size";
      } else if (this.#state === "size") {
        const m = CHUNK_SIZE.exec(line);
        if (!m || BAD_VALUE.test(line)) {
          return `bad chunk size ${JSON.stringify(line.slice(0, 40))}`;
        }
        const size = parseInt(m[1], 16);
        if (size === 0) this.#state = "trailers";
        else {
          this.#left = size;
          this.#state = "data";
        }
      } else if (line === "") {
        this.done = true;
      } else {
        this.#trailerBytes += bytes.length;
        if (this.#trailerBytes > MAX_TRAILER_BYTES) return "trailers too large";
        const t = parseHeaderLines(["", line]);
        if (typeof t === "string") return `bad trailer: ${t}`;
      }
    }
    return i;
  }
}

/**
 * How many body bytes wait in a body stream for its consumer before the socket is paused
 * (the per-stream window, per direction, besides the socket's own buffers).
 */
export const BODY_HIGH_WATER_BYTES = 64 * 1024;

/**
 * A body stream fed by a socket, pausing the socket while the consumer is
 * behind (backpressure: at most {@linkcode BODY_HIGH_WATER_BYTES} queued) and resuming it
 * when the consumer pulls.
 */
export class SocketBody {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #socket: Socket;
  #closed = false;
  #paused = false;

  constructor(socket: Socket, onCancel: () => void) {
    this.#socket = socket;
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        if (!this.#closed && this.#paused) {
          this.#paused = false;
          resumeReading(socket);
        }
      },
      cancel: () => {
        this.#closed = true;
        onCancel();
      },
    }, { highWaterMark: BODY_HIGH_WATER_BYTES, size: (c) => c.byteLength });
  }

  /** Passes data on; pauses the socket when the consumer's queue is full. */
  push(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#controller.enqueue(chunk);
    if (!this.#paused && (this.#controller.desiredSize ?? 1) <= 0) {
      this.#paused = true;
      pauseReading(this.#socket);
    }
  }

  /** Ends the body. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#controller.close();
    } catch { /* cancelled */ }
    if (this.#paused) {
      this.#paused = false;
      resumeReading(this.#socket);
    }
  }

  /** Fails the body. */
  error(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#controller.error(err);
    } catch { /* cancelled */ }
  }
}

/** Resolves when `socket` can take more writes (`drain`), or once it closed. */
export function drained(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}

/** An empty, closed body stream. */
export function emptyBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}

const encoder = new TextEncoder();

function frame(chunk: Uint8Array, chunked: boolean): Uint8Array {
  if (!chunked) return chunk;
  const size = encoder.encode(`${chunk.length.toString(16)}${CRLF}`);
  const out = new Uint8Array(size.length + chunk.length + 2);
  out.set(size, 0);
  out.set(chunk, size.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/**
 * Writes `head` and then a body stream to a socket, chunked when `chunked`.
 * The head goes out together with the first body chunk (one TLS record and
 * one syscall for small bodies instead of two), and writing waits for
 * `drain` whenever the socket buffer is full. Resolves when the last byte is
 * queued.
 */
export async function writeBody(
  head: Uint8Array | null,
  body: ReadableStream<Uint8Array>,
  socket: Socket,
  chunked: boolean,
): Promise<void> {
  const reader = body.getReader();
  let pending = head;
  try {
    for (;;) {
      const next = reader.read();
      if (pending) {
        // Send the head with the first chunk only if that chunk is already here: a
        // slow stream (server-sent events, a long upload) must not hold the head back.
        let ready = false;
        next.then(() => ready = true, () => ready = true);
        for (let i = 0; i < 4 && !ready; i++) await Promise.resolve();
        if (!ready) {
          socket.write(pending);
          pending = null;
        }
      }
      const { done, value } = await next;
      if (socket.destroyed) throw new Error("connection closed while sending a body");
      if (done) break;
      if (value.length === 0) continue;
      const framed = frame(value, chunked);
      const ok = socket.write(pending ? concat(pending, framed) : framed);
      pending = null;
      // The writer waits while the socket's buffer is full: backpressure towards the source.
      if (!ok) await drained(socket);
    }
  } finally {
    reader.releaseLock();
  }
  const tail = chunked ? encoder.encode(`0${CRLF}${CRLF}`) : null;
  if (pending || tail) {
    socket.write(pending && tail ? concat(pending, tail) : (pending ?? tail)!);
  }
}
