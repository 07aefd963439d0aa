/**
 * HTTP/1.1 framing shared by the proxy's client and server: finding the end
 * of a head, parsing header lines, chunked decoding and encoding, and body
 * streams with backpressure.
 * @module
 */
import type { Socket } from "node:net";

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
  transferEncoding?: string;
  contentLength?: string;
  connection?: string;
  expect?: string;
}

/** Parses header lines (`lines[1..]`); framing headers are also returned apart. */
export function parseHeaderLines(lines: string[]): ParsedHeaders | string {
  const out: ParsedHeaders = { headers: [] };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const c = line.indexOf(":");
    if (c <= 0) return `malformed header line ${JSON.stringify(line.slice(0, 60))}`;
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    if (name === "transfer-encoding") out.transferEncoding = value.toLowerCase();
    else if (name === "content-length") {
      if (out.contentLength !== undefined && out.contentLength !== value) {
        return "conflicting content-length headers";
      }
      out.contentLength = value;
    } else if (name === "connection") out.connection = value.toLowerCase();
    else if (name === "expect") out.expect = value.toLowerCase();
    out.headers.push([name, value]);
  }
  return out;
}

/** Incremental chunked-transfer decoder. */
export class ChunkedDecoder {
  #left = 0;
  #state: "size" | "data" | "data-crlf" | "trailers" = "size";
  #line: Uint8Array = new Uint8Array(0);
  /** Set once the terminating chunk and trailers were read. */
  done = false;

  /**
   * Feeds bytes; calls `emit` with body data. Returns the number of bytes of
   * `data` consumed (less than its length only when done), or an error message.
   */
  feed(data: Uint8Array, emit: (chunk: Uint8Array) => void): number | string {
    let i = 0;
    while (i < data.length && !this.done) {
      if (this.#state === "data") {
        const take = Math.min(this.#left, data.length - i);
        emit(data.slice(i, i + take));
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
        if (this.#line.length > 4096) return "chunk line too long";
        return i;
      }
      const line = latin1.decode(this.#line).trim();
      this.#line = new Uint8Array(0);
      if (this.#state === "data-crlf") {
        if (line !== "") return "missing CRLF after chunk data";
        this.#state = "size";
      } else if (this.#state === "size") {
        const hex = line.split(";")[0].trim();
        if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) return `bad chunk size ${JSON.stringify(hex)}`;
        const size = parseInt(hex, 16);
        if (size === 0) this.#state = "trailers";
        else {
          this.#left = size;
          this.#state = "data";
        }
      } else if (line === "") {
        this.done = true;
      }
    }
    return i;
  }
}

/**
 * A body stream fed by a socket, pausing the socket while the consumer is
 * behind (backpressure) and resuming it when the consumer pulls.
 */
export class SocketBody {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #socket: Socket;
  #closed = false;

  constructor(socket: Socket, onCancel: () => void) {
    this.#socket = socket;
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        if (!this.#closed) socket.resume();
      },
      cancel: () => {
        this.#closed = true;
        onCancel();
      },
    }, { highWaterMark: 4 });
  }

  /** Passes data on; pauses the socket when the consumer's queue is full. */
  push(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#controller.enqueue(chunk);
    if ((this.#controller.desiredSize ?? 1) <= 0) this.#socket.pause();
  }

  /** Ends the body. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#controller.close();
    } catch { /* cancelled */ }
    this.#socket.resume();
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
      if (!ok) await new Promise((r) => socket.once("drain", r));
    }
  } finally {
    reader.releaseLock();
  }
  const tail = chunked ? encoder.encode(`0${CRLF}${CRLF}`) : null;
  if (pending || tail) {
    socket.write(pending && tail ? concat(pending, tail) : (pending ?? tail)!);
  }
}
