/**
 * A small HTTP/1.1 server loop over any connected socket (a `node:tls`
 * socket from the mTLS inbound listener): requests are parsed incrementally,
 * bodies stream with backpressure, responses go out head-first with
 * content-length or chunked framing, and keep-alive is handled here rather
 * than through write callbacks. Parsing is strict (see `h1_codec.ts`), and a
 * connection is protected as Envoy's HTTP connection manager protects one: a
 * request head must arrive whole within `requestHeadersTimeoutMs` of its first
 * byte (slowloris), heads are limited in bytes and header count (431), an idle
 * connection closes after `idleTimeoutMs`, and a connection ends with a delayed
 * close (FIN, then at most a second of discarded input before it is destroyed).
 *
 * @example
 * ```ts
 * tls.createServer(opts, (socket) => serveH1(socket, async (req) => ({ status: 200, headers: [], body: "hi" })));
 * ```
 * @module
 */
import type { Socket } from "node:net";
import { STATUS_CODES } from "node:http";
import { pauseReading, resumeReading } from "./flow.ts";
import {
  BARE_LF,
  ChunkedDecoder,
  concat,
  CRLF,
  findHeadEnd,
  HOP_BY_HOP,
  latin1,
  parseHeaderLines,
  requestFraming,
  SocketBody,
  writeBody,
} from "./h1_codec.ts";

/** A request as the handler sees it. */
export interface H1ServerRequest {
  method: string;
  /** The request target as sent (origin-form `/path?q`, or absolute-form). */
  target: string;
  /** Header pairs, names lowercase, including framing headers. */
  headers: [string, string][];
  /** The body stream, or null when the request has none. */
  body: ReadableStream<Uint8Array> | null;
  /** Body length when sent with content-length. */
  length?: number;
  socket: Socket;
}

/** What the handler answers. */
export interface H1ServerResponse {
  status: number;
  /** Header pairs; hop-by-hop and framing headers are dropped and set by the server. */
  headers: [string, string][];
  body: ReadableStream<Uint8Array> | Uint8Array | string | null;
  /** Length of a streamed body when known (sent as content-length). */
  length?: number;
  /**
   * With status 101: takes the connection over once the head (`headers` as given, hop-by-hop
   * ones included) is written, with the bytes the client sent after its request head.
   */
  upgrade?: (socket: Socket, rest: Uint8Array) => void;
}

/** Handles one request. */
export type H1Handler = (req: H1ServerRequest) => Promise<H1ServerResponse> | H1ServerResponse;

/**
 * Protection settings of one connection (all optional; {@linkcode H1_SERVER_DEFAULTS} fill
 * in the rest). Zero turns a timeout off.
 */
export interface H1ServerOptions {
  /** A request head must be complete this long after its first byte (Envoy `request_headers_timeout`). */
  requestHeadersTimeoutMs?: number;
  /** A connection with no request in flight closes after this long without traffic. */
  idleTimeoutMs?: number;
  /** A connection with a request in flight closes after this long without traffic (Envoy `stream_idle_timeout`). */
  streamIdleTimeoutMs?: number;
  /** Largest request head, request line included (Envoy `max_request_headers_kb`); more is 431. */
  maxRequestHeadersBytes?: number;
  /** Most header lines in a request head (Envoy `max_headers_count`); more is 431. */
  maxRequestHeaders?: number;
  /** HTTP/1.1 requests without a Host header are refused with 400 (RFC 9112 §3.2). */
  requireHost?: boolean;
}

/** The defaults, Envoy's where it has one that suits a sidecar (see docs/performance.md). */
export const H1_SERVER_DEFAULTS: Readonly<Required<H1ServerOptions>> = Object.freeze({
  requestHeadersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  streamIdleTimeoutMs: 300_000,
  maxRequestHeadersBytes: 60 * 1024,
  maxRequestHeaders: 100,
  requireHost: true,
});

/** How long a closing connection's unread input is discarded before it is destroyed. */
export const DELAYED_CLOSE_MS = 1_000;

const encoder = new TextEncoder();
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP\/1\.([01])$/;
/** Idle keep-alive connections close after this long (the default of `idleTimeoutMs`). */
export const IDLE_TIMEOUT_MS = H1_SERVER_DEFAULTS.idleTimeoutMs;

function plain(status: number, text: string): H1ServerResponse {
  return { status, headers: [["content-type", "text/plain"]], body: text };
}

/**
 * Takes over a connection after a `CONNECT` request: gets the request target
 * and any bytes that followed the request head; owns the socket from then on.
 */
export type H1ConnectHandler = (target: string, socket: Socket, rest: Uint8Array) => void;

/**
 * Serves HTTP/1.1 on `socket` until it closes (or a CONNECT hands it to `onConnect`).
 * `options` sets the connection's limits and timeouts (defaults: {@linkcode H1_SERVER_DEFAULTS}).
 */
export function serveH1(
  socket: Socket,
  handler: H1Handler,
  onConnect?: H1ConnectHandler,
  options?: H1ServerOptions,
): void {
  const o = options ? { ...H1_SERVER_DEFAULTS, ...options } : H1_SERVER_DEFAULTS;
  socket.setNoDelay?.(true);
  // One socket timer, never re-armed per request (that costs): when it fires with a request
  // in flight, the quiet time adds up until the stream idle timeout.
  const idleMs = o.idleTimeoutMs;
  let quietMs = 0;
  const onTimeout = () => {
    quietMs += idleMs;
    if (busy && quietMs < o.streamIdleTimeoutMs) socket.setTimeout(idleMs);
    else socket.destroy();
  };
  socket.setTimeout(idleMs, onTimeout);
  let buf: Uint8Array = new Uint8Array(0);
  let scanned = 0; // bytes of `buf` already searched for the end of the head
  let busy = false; // a request is being handled
  let closed = false;
  let headTimer: ReturnType<typeof setTimeout> | undefined;
  let pipelinePaused = false; // reading stopped: pipelined bytes wait for the current request
  // Body state of the current request.
  let body: SocketBody | undefined;
  let remaining = 0;
  let chunked: ChunkedDecoder | undefined;
  let bodyDone = true;

  const clearHeadTimer = () => {
    if (headTimer !== undefined) {
      clearTimeout(headTimer);
      headTimer = undefined;
    }
  };

  /** Ends the connection: FIN after what was written, input discarded, destroyed soon after. */
  const close = () => {
    closed = true;
    clearHeadTimer();
    socket.removeListener("data", onData);
    socket.on("data", () => {}); // discard input so that our FIN isn't turned into a reset
    resumeReading(socket);
    socket.end();
    socket.once("finish", () => {
      const t = setTimeout(() => socket.destroy(), DELAYED_CLOSE_MS);
      socket.once("close", () => clearTimeout(t));
    });
  };

  /** Answers a request the server refuses, then closes. */
  const refuse = (status: number, why: string, method = "GET") => {
    closed = true;
    clearHeadTimer();
    respond(plain(status, `${why}\n`), method, false).finally(close);
  };

  const onBodyData = (data: Uint8Array): Uint8Array => {
    // Returns bytes past the end of the body (a pipelined next request).
    if (chunked) {
      const used = chunked.feed(data, (c) => body?.push(c));
      if (typeof used === "string") {
        body?.error(new Error(used));
        socket.destroy();
        return new Uint8Array(0);
      }
      if (chunked.done) {
        bodyDone = true;
        body?.close();
        chunked = undefined;
        return data.subarray(used);
      }
      return new Uint8Array(0);
    }
    const take = Math.min(remaining, data.length);
    if (take > 0) body?.push(take === data.length ? data : data.subarray(0, take));
    remaining -= take;
    if (remaining === 0) {
      bodyDone = true;
      body?.close();
      return data.subarray(take);
    }
    return new Uint8Array(0);
  };

  const respond = async (res: H1ServerResponse, method: string, keepAlive: boolean) => {
    const noBody = method === "HEAD" || res.status === 204 || res.status === 304;
    let head = `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? "Status"}${CRLF}`;
    for (const [k, v] of res.headers) {
      if (HOP_BY_HOP.has(k) || k === "content-length") continue;
      head += `${k}: ${v}${CRLF}`;
    }
    if (!keepAlive) head += `connection: close${CRLF}`;
    let bytes: Uint8Array | undefined;
    if (typeof res.body === "string") bytes = encoder.encode(res.body);
    else if (res.body instanceof Uint8Array) bytes = res.body;
    if (noBody) {
      const cl = res.headers.find(([k]) => k === "content-length");
      if (cl) head += `content-length: ${cl[1]}${CRLF}`;
      socket.write(head + CRLF);
      await (res.body instanceof ReadableStream ? res.body.cancel() : undefined);
    } else if (bytes || res.body === null) {
      const b = bytes ?? new Uint8Array(0);
      head += `content-length: ${b.length}${CRLF}${CRLF}`;
      socket.write(b.length ? concat(encoder.encode(head), b) : head);
    } else {
      head += res.length !== undefined
        ? `content-length: ${res.length}${CRLF}${CRLF}`
        : `transfer-encoding: chunked${CRLF}${CRLF}`;
      await writeBody(
        encoder.encode(head),
        res.body as ReadableStream<Uint8Array>,
        socket,
        res.length === undefined,
      );
    }
  };

  const next = () => {
    if (busy || closed) return;
    if (pipelinePaused) {
      pipelinePaused = false;
      resumeReading(socket);
    }
    // Empty lines before a request line are ignored (RFC 9112 §2.2).
    let skip = 0;
    while (skip + 1 < buf.length && buf[skip] === 13 && buf[skip + 1] === 10) skip += 2;
    if (skip) {
      buf = buf.subarray(skip);
      scanned = Math.max(0, scanned - skip);
    }
    if (buf.length === 0) return;
    const end = findHeadEnd(buf, scanned);
    if (end === BARE_LF) return refuse(400, "bad request: bare LF line ending in the request head");
    if (end < 0) {
      scanned = buf.length;
      if (buf.length > o.maxRequestHeadersBytes) {
        return refuse(
          431,
          `request headers over ${Math.floor(o.maxRequestHeadersBytes / 1024)} KiB`,
        );
      }
      // The first byte of a head starts its clock; more bytes don't reset it (slowloris).
      if (headTimer === undefined && o.requestHeadersTimeoutMs > 0) {
        headTimer = setTimeout(() => {
          headTimer = undefined;
          if (!busy && !closed) refuse(408, "request headers timeout");
        }, o.requestHeadersTimeoutMs);
      }
      return;
    }
    clearHeadTimer();
    if (end + 4 > o.maxRequestHeadersBytes) {
      return refuse(431, `request headers over ${Math.floor(o.maxRequestHeadersBytes / 1024)} KiB`);
    }
    const lines = latin1.decode(buf.subarray(0, end)).split(CRLF);
    let rest = buf.subarray(end + 4);
    buf = new Uint8Array(0);
    scanned = 0;
    if (lines.length - 1 > o.maxRequestHeaders) {
      return refuse(431, `more than ${o.maxRequestHeaders} request headers`);
    }
    const m = REQUEST_LINE.exec(lines[0]);
    if (!m) return refuse(400, "bad request: malformed request line");
    const method = m[1];
    const h = parseHeaderLines(lines);
    if (typeof h === "string") return refuse(400, `bad request: ${h}`, method);
    if ((h.hosts ?? 0) > 1) return refuse(400, "bad request: more than one host header", method);
    if (m[3] === "1" && o.requireHost && h.hosts === undefined) {
      return refuse(400, "bad request: missing host header", method);
    }
    if (method === "CONNECT") {
      closed = true;
      socket.removeListener("data", onData);
      socket.setTimeout(0);
      if (!onConnect) {
        respond(plain(405, "CONNECT is not allowed here\n"), method, false).finally(close);
        return;
      }
      onConnect(m[2], socket, rest);
      return;
    }
    const framing = requestFraming(h);
    if ("error" in framing) return refuse(framing.status, `bad request: ${framing.error}`, method);
    const keepAlive = m[3] === "1" ? h.connection !== "close" : h.connection === "keep-alive";
    let length: number | undefined;
    body = undefined;
    chunked = undefined;
    remaining = 0;
    bodyDone = true;
    if (framing.kind === "chunked") {
      chunked = new ChunkedDecoder();
      bodyDone = false;
    } else if (framing.kind === "length") {
      length = framing.length;
      remaining = length;
      bodyDone = false;
    } else if (h.contentLength !== undefined) length = 0;
    if (!bodyDone) {
      body = new SocketBody(socket, () => {});
      if (h.expect === "100-continue") socket.write(`HTTP/1.1 100 Continue${CRLF}${CRLF}`);
      if (rest.length) rest = onBodyData(rest);
    }
    buf = rest;
    busy = true;
    quietMs = 0;
    const req: H1ServerRequest = {
      method,
      target: m[2],
      headers: h.headers,
      body: body ? body.stream : null,
      length,
      socket,
    };
    Promise.resolve()
      .then(() => handler(req))
      .catch((err) => plain(500, `internal error: ${(err as Error).message}\n`))
      .then(async (res) => {
        if (res.status === 101 && res.upgrade) return switchProtocols(res, res.upgrade);
        // A request body the handler left unread would desynchronise the
        // connection: such a response says `connection: close` and ends it.
        const reuse = keepAlive && !closed && bodyDone;
        await respond(res, method, reuse);
        if (!reuse || !bodyDone) {
          close();
          return;
        }
        busy = false;
        next();
      })
      .catch(() => socket.destroy());
  };

  /** Writes a 101 head and hands the connection (and what the client sent since) over. */
  const switchProtocols = (
    res: H1ServerResponse,
    take: (socket: Socket, rest: Uint8Array) => void,
  ) => {
    closed = true;
    clearHeadTimer();
    socket.removeListener("data", onData);
    socket.removeListener("timeout", onTimeout);
    socket.setTimeout(0);
    if (!bodyDone) {
      // An upgrade request with a body still coming: no protocol to switch to. The taker
      // still gets the (closed) socket, so that it closes its side too.
      socket.destroy();
      take(socket, new Uint8Array(0));
      return;
    }
    let head = `HTTP/1.1 101 Switching Protocols${CRLF}`;
    for (const [k, v] of res.headers) {
      if (k !== "content-length" && k !== "transfer-encoding") head += `${k}: ${v}${CRLF}`;
    }
    socket.write(head + CRLF);
    const rest = buf;
    buf = new Uint8Array(0);
    take(socket, rest);
  };

  const onData = (chunk: Uint8Array) => {
    if (closed) return;
    if (!bodyDone) {
      const rest = onBodyData(chunk);
      if (rest.length) buf = concat(buf, rest);
    } else {
      buf = concat(buf, chunk);
    }
    if (busy && !pipelinePaused && buf.length > o.maxRequestHeadersBytes) {
      pipelinePaused = true; // a client pipelining ahead waits; its bytes are bounded
      pauseReading(socket);
    }
    next();
  };
  socket.on("data", onData);
  socket.on("error", () => {
    closed = true;
    clearHeadTimer();
    body?.error(new Error("client connection failed"));
  });
  socket.on("close", () => {
    closed = true;
    clearHeadTimer();
    if (!bodyDone) body?.error(new Error("client closed the connection mid-body"));
  });
}
